//! Human units shared by scenario files and gateway configs: durations (`500ms`, `1.5s`, `2m`) and
//! byte sizes. Both parse from strings so a file says what it means; a bare number is refused for
//! durations because "5" could be seconds or milliseconds and a load test must not guess.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A duration written with a unit: `us`, `ms`, `s`, `m`, `h` (decimals allowed: `1.5s`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub const fn from_millis(ms: u64) -> Self {
        HumanDuration(Duration::from_millis(ms))
    }
    pub const fn from_secs(s: u64) -> Self {
        HumanDuration(Duration::from_secs(s))
    }
    pub fn get(self) -> Duration {
        self.0
    }
}

/// What a duration is written as, for messages.
const DURATION_FORM: &str = "a number with a unit, one of us, ms, s, m, h (e.g. 250ms, 1.5s, 2m)";

/// Why a duration string was refused; each message shows the value as typed and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("`{0}` is not a duration: write {DURATION_FORM}")]
    Form(String),
    /// `-1s`: said apart, since "not a duration" leaves the reader looking for a typo.
    #[error("`{0}` is negative: a duration is 0 or more, written as {DURATION_FORM}")]
    Negative(String),
    #[error("`{0}` is too long to be meant: at most 1e9 seconds (about 31 years)")]
    TooLong(String),
}

/// A duration as written in scenario files, check thresholds and flags: a decimal number, then a
/// unit, optionally with spaces between (`2s`, `2 s`; the check language's `p99 < 50 ms` reads the
/// same way). Spaces inside the number or the unit, a sign or a second number are refused.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(if is_negative_number(t) { DurationError::Negative(s.to_string()) } else { DurationError::Form(s.to_string()) });
    }
    let err = || DurationError::Form(s.to_string());
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(err)?;
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| err())?;
    let scale = unit_seconds(unit.trim_start()).ok_or_else(err)?;
    let secs = n * scale;
    if !secs.is_finite() || secs > 1e9 {
        return Err(DurationError::TooLong(s.to_string()));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Seconds in one of a duration's units.
fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit {
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return None,
    })
}

/// `d` in the unit `typed` was written in (`12000ms` for 12s when the user wrote `1500ms`), so a
/// bound reads in the user's terms; as `HumanDuration` shows it when `typed` has no unit or `d`
/// would need more than 3 decimals or 7 digits in it.
pub fn in_unit_of(d: Duration, typed: &str) -> String {
    let unit = typed.trim().trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '-').trim_start();
    let Some(scale) = unit_seconds(unit) else { return HumanDuration(d).to_string() };
    let x = d.as_secs_f64() / scale;
    let r = (x * 1e3).round() / 1e3;
    if (r - x).abs() > 1e-9 * x.max(1.0) || r >= 1e7 {
        return HumanDuration(d).to_string();
    }
    let n = format!("{r:.3}");
    format!("{}{unit}", n.trim_end_matches('0').trim_end_matches('.'))
}

/// `-5`, `-0.5s`: a minus then a number, said apart from a typo in every flag's message.
fn is_negative_number(t: &str) -> bool {
    t.strip_prefix('-').is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit() || c == '.'))
}

/// What a whole-number flag allows, for its messages: "the number of generator threads, a whole
/// number from 1 to 1024".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountRange {
    /// What the number counts, in words.
    pub what: &'static str,
    pub min: u64,
    /// None: no bound but the type's (`max` then only shows in a "too large" message).
    pub max: Option<u64>,
}

impl fmt::Display for CountRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.max {
            Some(max) => write!(f, "{}, a whole number from {} to {max}", self.what, self.min),
            None => write!(f, "{}, a whole number, {} or more", self.what, self.min),
        }
    }
}

/// Why a whole number was refused; as `DurationError`, the value as typed and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountError {
    #[error("`{0}` is not a number: {1}")]
    Form(String, CountRange),
    #[error("`{0}` is negative: {1}")]
    Negative(String, CountRange),
    #[error("`{0}` is not allowed: {1}")]
    Outside(String, CountRange),
    #[error("`{0}` is too large: at most {1}")]
    TooLarge(String, u64),
}

/// A whole number as typed for a count flag (`--connections 64`), within `range`; `type_max` is
/// the largest the flag's type holds, the bound when `range` has none.
pub fn parse_count(s: &str, range: CountRange, type_max: u64) -> Result<u64, CountError> {
    let t = s.trim();
    if is_negative_number(t) {
        return Err(CountError::Negative(s.to_string(), range));
    }
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CountError::Form(s.to_string(), range));
    }
    let max = range.max.unwrap_or(type_max).min(type_max);
    match t.parse::<u64>() {
        Ok(n) if n >= range.min && n <= max => Ok(n),
        Ok(n) if n < range.min || range.max.is_some() => Err(CountError::Outside(s.to_string(), range)),
        _ if range.max.is_some() => Err(CountError::Outside(s.to_string(), range)),
        _ => Err(CountError::TooLarge(s.to_string(), type_max)),
    }
}

/// A number from user input for a message: as typed when ordinary, in exponent form when huge,
/// since `1e308` written out is a screenful of digits.
pub fn compact(x: f64) -> String {
    if x.abs() >= 1e9 {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// `1st`, `2nd`, `3rd`, `4th`, `11th`, `22nd`: for "every Nth arrival".
pub fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Formats a duration the way people read latency: `850us`, `12.3ms`, `1.20s`, `2m30s`.
pub fn format_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0}us")
    } else if us < 10_000.0 {
        format!("{:.2}ms", us / 1000.0)
    } else if us < 1_000_000.0 {
        format!("{:.1}ms", us / 1000.0)
    } else if us < 60_000_000.0 {
        format!("{:.2}s", us / 1e6)
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// Formats microseconds (the unit of every histogram here).
pub fn format_us(us: u64) -> String {
    format_duration(Duration::from_micros(us))
}

impl FromStr for HumanDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(HumanDuration)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_nanos() == 0 && d.as_secs() > 0 {
            write!(f, "{}s", d.as_secs())
        } else if d.as_nanos() % 1_000_000 == 0 {
            write!(f, "{}ms", d.as_millis())
        } else {
            write!(f, "{}us", d.as_micros())
        }
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration string with a unit such as \"250ms\", \"1.5s\", \"2m\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "`{v}` has no unit: write it as a string with one of us, ms, s, m, h (e.g. \"{v}s\")"
                )))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "`{v}` has no unit: write it as a string with one of us, ms, s, m, h (e.g. \"{v}s\")"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// A wall-clock instant as RFC 3339 UTC (`2026-01-02T03:04:05.123456789Z`), as the Results and
/// the terminal write start times; an instant `time` cannot format gives "".
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::SystemTime::UNIX_EPOCH).unwrap_or_default();
    time::OffsetDateTime::from_unix_timestamp_nanos(d.as_nanos() as i128)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {

    #[test]
    fn ordinals_and_compact_numbers() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111, 112].into_iter().map(ordinal).collect();
        assert_eq!(got, ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "101st", "111th", "112th"]);
        assert_eq!(compact(1e308), "1e308");
        assert_eq!(compact(12.5), "12.5");
        assert_eq!(compact(-2e10), "-2e10");
    }

    use super::*;

    #[test]
    fn parses_units() {
        let cases = [
            ("100us", Duration::from_micros(100)),
            ("250ms", Duration::from_millis(250)),
            ("1.5s", Duration::from_millis(1500)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            (" 3s ", Duration::from_secs(3)),
        ];
        for (s, want) in cases {
            assert_eq!(parse_duration(s).unwrap(), want, "{s}");
        }
    }

    #[test]
    fn refuses_missing_or_unknown_units() {
        for s in ["5", "", "ms", "5 parsecs", "-1s", "1.2.3s", "+1s", "1e3s", "2s s"] {
            assert!(parse_duration(s).is_err(), "{s} should be refused");
        }
    }

    /// A space between number and unit is allowed, as in the check language (`p99 < 50 ms`) and
    /// humantime (Go's time.ParseDuration, which k6 uses, refuses it; a space never changes what
    /// `2 s` means, so refusing it would only cost the user a retry). A space that splits the
    /// number or the unit is refused: `1 0s` could be 10s or a typo.
    #[test]
    fn a_space_between_number_and_unit_is_allowed_nowhere_else() {
        for (s, want) in [("2 s", Duration::from_secs(2)), ("250 ms", Duration::from_millis(250)), ("1.5\th", Duration::from_secs(5400)), (" 2  m ", Duration::from_secs(120))] {
            assert_eq!(parse_duration(s), Ok(want), "{s:?}");
        }
        for s in ["1 0s", "2 m s", "2 s 3", "250 m s", ". s"] {
            assert_eq!(parse_duration(s), Err(DurationError::Form(s.to_string())), "{s:?}");
        }
    }

    #[test]
    fn a_bound_is_shown_in_the_unit_the_user_wrote() {
        assert_eq!(in_unit_of(Duration::from_secs(12), "1500ms"), "12000ms");
        assert_eq!(in_unit_of(Duration::from_millis(1), "0.5ms"), "1ms");
        assert_eq!(in_unit_of(Duration::from_millis(1), "2s"), "0.001s");
        assert_eq!(in_unit_of(Duration::from_secs(60), "90s"), "60s");
        assert_eq!(in_unit_of(Duration::from_secs(90), "2 m"), "1.5m");
        // 1ms in minutes needs more than 3 decimals; no unit at all: as HumanDuration shows it.
        assert_eq!(in_unit_of(Duration::from_millis(1), "2m"), "1ms");
        assert_eq!(in_unit_of(Duration::from_millis(1500), "x"), "1500ms");
        assert_eq!(in_unit_of(Duration::from_secs(10), "500us"), "10s");
    }

    /// A count flag's refusals show the value as typed, what it counts and its range.
    #[test]
    fn counts_say_what_is_wrong_and_what_is_allowed() {
        let threads = CountRange { what: "the number of generator threads", min: 1, max: Some(1024) };
        assert_eq!(parse_count("64", threads, u64::MAX), Ok(64));
        assert_eq!(parse_count(" 1024 ", threads, u64::MAX), Ok(1024));
        assert_eq!(parse_count("-5", threads, u64::MAX).unwrap_err().to_string(), "`-5` is negative: the number of generator threads, a whole number from 1 to 1024");
        assert_eq!(parse_count("0", threads, u64::MAX).unwrap_err().to_string(), "`0` is not allowed: the number of generator threads, a whole number from 1 to 1024");
        assert_eq!(parse_count("99999999999999999999999", threads, u64::MAX), Err(CountError::Outside("99999999999999999999999".into(), threads)));
        for s in ["x", "", "1.5", "+3", "1e3", "-x", "0x10"] {
            assert_eq!(parse_count(s, threads, u64::MAX), Err(CountError::Form(s.into(), threads)), "{s:?}");
        }
        let n = CountRange { what: "requests to send", min: 1, max: None };
        assert_eq!(parse_count("-1", n, 4_294_967_295).unwrap_err().to_string(), "`-1` is negative: requests to send, a whole number, 1 or more");
        assert_eq!(parse_count("4294967296", n, 4_294_967_295).unwrap_err().to_string(), "`4294967296` is too large: at most 4294967295");
        assert_eq!(parse_count("4294967295", n, 4_294_967_295), Ok(4_294_967_295));
    }

    /// Each refusal shows the value as typed and says what is wrong with it.
    #[test]
    fn messages_say_what_is_wrong_and_what_is_allowed() {
        assert_eq!(
            parse_duration("-1s").unwrap_err().to_string(),
            "`-1s` is negative: a duration is 0 or more, written as a number with a unit, one of us, ms, s, m, h (e.g. 250ms, 1.5s, 2m)"
        );
        assert_eq!(parse_duration("-0.5 ms").unwrap_err(), DurationError::Negative("-0.5 ms".into()));
        assert_eq!(parse_duration("-x").unwrap_err(), DurationError::Form("-x".into()));
        assert_eq!(parse_duration("5").unwrap_err().to_string(), "`5` is not a duration: write a number with a unit, one of us, ms, s, m, h (e.g. 250ms, 1.5s, 2m)");
        assert_eq!(parse_duration("99999999999h").unwrap_err(), DurationError::TooLong("99999999999h".into()));
    }

    #[test]
    fn display_round_trips() {
        for s in ["250ms", "3s", "150us"] {
            let d: HumanDuration = s.parse().unwrap();
            assert_eq!(d.to_string(), s);
        }
    }

    #[test]
    fn formats_latency() {
        assert_eq!(format_us(850), "850us");
        assert_eq!(format_us(1_234), "1.23ms");
        assert_eq!(format_us(45_600), "45.6ms");
        assert_eq!(format_us(2_500_000), "2.50s");
    }
}
