//! Comparison tolerances (`p99 +10%`, `rate -2%`, `p99 +5ms`, `error_rate +0.1pp`) as written in
//! `[checks] compare` or `--tolerance`: the type and its parser. Judging a comparison with them
//! (`Tolerance::regressed`) stays in `verify::compare`.

use super::expr::{Kind, Metric, ParseError};

#[derive(Debug, Clone, PartialEq)]
pub struct Tolerance {
    pub source: String,
    pub metric: Metric,
    /// true: a rise is bad (`+`); false: a fall is bad (`-`).
    pub rise_is_bad: bool,
    pub amount: Amount,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    /// A fraction of the baseline (`10%` → 0.10).
    Relative(f64),
    /// In the metric's base unit (µs, fraction, rps, count).
    Absolute(f64),
}

pub fn parse_tolerance(s: &str) -> Result<Tolerance, ParseError> {
    let t = s.trim_end();
    let sign_at = t.rfind(['+', '-']).filter(|i| *i > 0).ok_or_else(|| ParseError { at: t.len(), message: "expected METRIC +N% or METRIC -N% (e.g. `p99 +10%`, `rate -2%`, `p99 +5ms`)".into() })?;
    let (m, rest) = t.split_at(sign_at);
    // Reuse the check parser for the metric name and its argument.
    let probe = super::expr::parse(&format!("{} >= 0{}", m.trim_end(), unit_probe(m)))
        .map_err(|e| ParseError { at: e.at.min(m.len()), message: e.message })?;
    let metric = probe.metric;
    let rise_is_bad = rest.starts_with('+');
    if let Some(good) = worse_when(&metric).filter(|w| *w != rise_is_bad) {
        let (sign, other) = if good { ('-', '+') } else { ('+', '-') };
        let (which, passes) = if good { ("fall", "rise") } else { ("rise", "fall") };
        return Err(ParseError {
            at: sign_at,
            message: format!(
                "`{sign}` bounds a {which} of {metric}, which is an improvement, so a {passes} (the regression) would pass; write `{} {other}{}` (+ bounds a rise, - a fall)",
                m.trim_end(),
                rest[1..].trim()
            ),
        });
    }
    let num_at = sign_at + 1;
    let body = rest[1..].trim();
    let split = body.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(body.len());
    let (num, unit) = body.split_at(split);
    let n: f64 = num.parse().map_err(|_| ParseError { at: num_at, message: format!("expected a number after `{}`", &rest[..1]) })?;
    let unit = unit.trim();
    let amount = match (metric.kind(), unit) {
        (_, "%") => Amount::Relative(n / 100.0),
        (Kind::Latency, "us") => Amount::Absolute(n),
        (Kind::Latency, "ms") => Amount::Absolute(n * 1e3),
        (Kind::Latency, "s") => Amount::Absolute(n * 1e6),
        // A share moves at most 100 points (0% to 100%): a larger bound is a typo (`+0.5` meant?)
        // that would pass every change.
        (Kind::Ratio, "pp") if n > 100.0 => {
            return Err(ParseError { at: num_at, message: format!("{num}pp is not allowed: a share moves at most 100 percentage points, so a tolerance in pp is a number from 0 to 100") });
        }
        (Kind::Ratio, "pp") => Amount::Absolute(n / 100.0),
        (Kind::Rate, "rps") | (Kind::Count, "") => Amount::Absolute(n),
        (kind, u) => {
            let allowed = match kind {
                Kind::Latency => "% (of the baseline) or us, ms, s",
                Kind::Ratio => "% (of the baseline) or pp (percentage points)",
                Kind::Rate => "% (of the baseline) or rps",
                Kind::Count => "% (of the baseline) or none",
            };
            return Err(ParseError { at: num_at + num.len(), message: format!("`{u}` is not a tolerance unit for {metric}; allowed: {allowed}") });
        }
    };
    Ok(Tolerance { source: s.trim().to_string(), metric, rise_is_bad, amount })
}

/// Whether a rise (`Some(true)`) or a fall (`Some(false)`) of the metric is the regression, when
/// only one can be: a build whose latency, error rate or drops went up, or whose completed rate
/// went down. `p99 -10%` would flag only a faster build and pass every slower one, so the wrong
/// sign is refused. Shares of an outcome or a header value (`ratio(fallback)`, `split`) and the
/// pod figures can be bad either way.
fn worse_when(metric: &Metric) -> Option<bool> {
    match metric {
        Metric::Latency { .. } | Metric::ErrorRate | Metric::Dropped => Some(true),
        Metric::Rate | Metric::SendRate | Metric::PodQpsMin | Metric::PodQpsMean => Some(false),
        _ => None,
    }
}

/// A unit that makes the metric part parse as a check (only the metric is kept).
pub fn unit_probe(m: &str) -> &'static str {
    match super::expr::parse(&format!("{} >= 0ms", m.trim_end())) {
        Ok(_) => "ms",
        Err(_) => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerances_parse() {
        let t = parse_tolerance("p99 +10%").unwrap();
        assert_eq!((t.metric.to_string(), t.rise_is_bad, t.amount), ("p99".into(), true, Amount::Relative(0.1)));
        let t = parse_tolerance("rate -2%").unwrap();
        assert_eq!((t.metric, t.rise_is_bad), (Metric::Rate, false));
        assert_eq!(parse_tolerance("p99.9 +5ms").unwrap().amount, Amount::Absolute(5000.0));
        assert_eq!(parse_tolerance("error_rate +0.1pp").unwrap().amount, Amount::Absolute(0.001));
        assert_eq!(parse_tolerance("error_rate +100pp").unwrap().amount, Amount::Absolute(1.0));
        assert_eq!(parse_tolerance("ratio(fallback) -1pp").unwrap().metric, Metric::Ratio("fallback".into()));
        assert_eq!(parse_tolerance("dropped +0").unwrap().amount, Amount::Absolute(0.0));
        // Shares and pod figures may regress either way.
        assert!(parse_tolerance("ratio(fallback) +5pp").unwrap().rise_is_bad);
        assert!(!parse_tolerance("split(x-fn-version=v2) -5pp").unwrap().rise_is_bad);
        assert!(!parse_tolerance("pods -1").unwrap().rise_is_bad);
        for (s, msg) in [("p99 10%", "expected METRIC +N%"), ("p98 +10%", "unknown metric"), ("p99 +10pp", "not a tolerance unit"), ("rate -x", "expected a number"), ("p99 -10%", "`-` bounds a fall of p99, which is an improvement, so a rise (the regression) would pass; write `p99 +10%`"), ("rate +2%", "write `rate -2%`"), ("error_rate -0.1pp", "write `error_rate +0.1pp`"), ("p99(ok) -5ms", "bounds a fall"), ("dropped -0", "bounds a fall"), ("error_rate +150pp", "150pp is not allowed: a share moves at most 100 percentage points"), ("ratio(fallback) -100.5pp", "from 0 to 100")] {
            let e = parse_tolerance(s).unwrap_err();
            assert!(e.message.contains(msg), "{s}: {}", e.message);
        }
    }
}
