//! The fault lease a skyload run asks for (`x-skyload-lease-ms`), read the same way by both
//! servers that honour it: the embedded gateway's `/_control/` and the built-in fault proxy's API.
//! One parser, so the two cannot drift apart on what they accept (they had a copy each, and an
//! out-of-range lease ignored instead of refused became a fault that never lapsed).

use super::http::LEASE_HEADER;
use std::ops::RangeInclusive;
use std::time::Duration;

/// Shortest and longest lease accepted, in ms: shorter would expire between two renewals (a run
/// renews every few seconds), longer is no lease at all.
pub const LEASE_MS: RangeInclusive<u64> = 1_000..=3_600_000;

/// A lease header that is present but not a whole number of ms in `LEASE_MS`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{LEASE_HEADER}: `{value}` is not allowed: a lease in ms from {} to {}", LEASE_MS.start(), LEASE_MS.end())]
pub struct BadLease {
    /// The value sent, cut to 40 characters (it is echoed back to the client).
    pub value: String,
}

/// The lease a request asks for: `Ok(None)` when it sends no lease header; a value that is not a
/// whole number of ms in `LEASE_MS` is refused, so a caller never applies the fault unleased.
pub fn parse_lease(h: &http::HeaderMap) -> Result<Option<Duration>, BadLease> {
    let Some(v) = h.get(LEASE_HEADER) else { return Ok(None) };
    let text = String::from_utf8_lossy(v.as_bytes());
    match text.trim().parse::<u64>() {
        Ok(ms) if LEASE_MS.contains(&ms) => Ok(Some(Duration::from_millis(ms))),
        _ => Err(BadLease { value: text.chars().take(40).collect() }),
    }
}

/// What a client must send when a lease is required but missing, with the allowed range.
pub fn lease_wanted() -> String {
    format!("send the lease as {LEASE_HEADER}: {}..{} (ms)", LEASE_MS.start(), LEASE_MS.end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(v: &[u8]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(LEASE_HEADER, http::HeaderValue::from_bytes(v).unwrap());
        h
    }

    #[test]
    fn absent_is_none_and_the_range_ends_are_accepted() {
        assert_eq!(parse_lease(&http::HeaderMap::new()), Ok(None));
        assert_eq!(parse_lease(&with(b"1000")), Ok(Some(Duration::from_secs(1))));
        assert_eq!(parse_lease(&with(b"10000")), Ok(Some(Duration::from_secs(10))));
        assert_eq!(parse_lease(&with(b" 3600000 ")), Ok(Some(Duration::from_secs(3600))));
    }

    #[test]
    fn bad_values_are_refused_naming_the_header_the_value_and_the_range() {
        for v in ["999", "0", "3600001", "ten", "-1", "-5", "1e3", "1000.5", "", "18446744073709551616"] {
            let e = parse_lease(&with(v.as_bytes())).unwrap_err();
            assert_eq!(e.value, v.trim());
            let m = e.to_string();
            assert!(m.starts_with("x-skyload-lease-ms: ") && m.contains(&format!("`{v}`")), "{m}");
            assert!(m.ends_with("is not allowed: a lease in ms from 1000 to 3600000"), "{m}");
        }
    }

    #[test]
    fn a_long_or_binary_value_is_cut_and_made_text_before_it_is_echoed() {
        let long = "9".repeat(200);
        let e = parse_lease(&with(long.as_bytes())).unwrap_err();
        assert_eq!(e.value.len(), 40);
        let e = parse_lease(&with(b"\xff\xfe12")).unwrap_err();
        assert_eq!(e.value, "\u{fffd}\u{fffd}12");
    }

    #[test]
    fn the_missing_lease_hint_names_header_and_range() {
        assert_eq!(lease_wanted(), "send the lease as x-skyload-lease-ms: 1000..3600000 (ms)");
    }
}
