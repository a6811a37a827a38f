//! The check language: `p99 < 50ms`, `ratio(fallback) >= 95%`, `split(x-fn-version=v2) <= 12%`,
//! `error_rate > 50% for 5s`, `p99(ok) < 50ms` (latency of one outcome). A small hand-written parser so every mistake points at the column
//! inside the string where it is (the caller adds the string's own position in the file), and a
//! bad unit or unknown metric gets a "did you mean". Pure: no I/O, no knowledge of a run.

use crate::scenario::did_you_mean;
use std::fmt;

/// What a check measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// Latency from the intended start (`service == false`) or from the actual send; of every
    /// completion (the headline), or of one outcome only (`p99(ok)`): fast 503s then neither hide
    /// slow successes nor pass a check for them.
    Latency { stat: Stat, service: bool, outcome: Option<String> },
    /// Completed requests per second.
    Rate,
    /// Sent requests per second.
    SendRate,
    /// (`error` + transport failures) / completed.
    ErrorRate,
    /// Requests not sent (in-flight cap or max_lag), a count.
    Dropped,
    /// Completions with this outcome / completed.
    Ratio(String),
    /// Completions with this outcome / responses that carried header `header` (any value): the
    /// share of fallbacks among the requests a failed pod affected, `ratio(fallback, x-failed-pod)`.
    RatioAmong { outcome: String, header: String },
    /// Responses whose header `h` had value `v` / responses that carried `h`.
    Split { header: String, value: String },
    /// Lowest per-pod completions per second.
    PodQpsMin,
    /// Mean per-pod completions per second.
    PodQpsMean,
    /// (busiest pod − idlest pod) / mean, over the pods' completions.
    PodImbalance,
    /// Number of pods seen.
    Pods,
    /// Capacity results (only in `[capacity] targets`): the maximum sustainable rate, the knee.
    CapacityRps,
    KneeRps,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    Quantile(f64),
    Max,
    Mean,
}

/// The kind of number a metric yields; decides which units a threshold may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Microseconds.
    Latency,
    /// A fraction 0..=1 (written as `0.95` or `95%`).
    Ratio,
    /// Requests per second.
    Rate,
    /// A plain count.
    Count,
}

impl Metric {
    pub fn kind(&self) -> Kind {
        match self {
            Metric::Latency { .. } => Kind::Latency,
            Metric::ErrorRate | Metric::Ratio(_) | Metric::RatioAmong { .. } | Metric::Split { .. } | Metric::PodImbalance => Kind::Ratio,
            Metric::Rate | Metric::SendRate | Metric::PodQpsMin | Metric::PodQpsMean => Kind::Rate,
            Metric::CapacityRps | Metric::KneeRps => Kind::Rate,
            Metric::Dropped | Metric::Pods => Kind::Count,
        }
    }
    /// Metrics that need the pod header.
    pub fn needs_pods(&self) -> bool {
        matches!(self, Metric::PodQpsMin | Metric::PodQpsMean | Metric::PodImbalance | Metric::Pods)
    }
    /// Latency of one outcome: kept for the whole run and per request, and per second for all
    /// requests together (stages, windows, abort and recovery rules).
    pub fn outcome(&self) -> Option<&str> {
        match self {
            Metric::Latency { outcome: Some(o), .. } => Some(o),
            _ => None,
        }
    }
    /// Results of a capacity search, not of one run.
    pub fn is_capacity_only(&self) -> bool {
        matches!(self, Metric::CapacityRps | Metric::KneeRps)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Latency { stat, service, outcome } => {
                if *service {
                    f.write_str("service_")?;
                }
                let written = match stat {
                    Stat::Max => f.write_str("max"),
                    Stat::Mean => f.write_str("mean"),
                    Stat::Quantile(q) => match (q * 1000.0).round() as u32 {
                        999 => f.write_str("p99.9"),
                        m => write!(f, "p{}", m / 10),
                    },
                };
                written?;
                match outcome {
                    Some(o) => write!(f, "({o})"),
                    None => Ok(()),
                }
            }
            Metric::Rate => f.write_str("rate"),
            Metric::SendRate => f.write_str("send_rate"),
            Metric::ErrorRate => f.write_str("error_rate"),
            Metric::Dropped => f.write_str("dropped"),
            Metric::Ratio(o) => write!(f, "ratio({o})"),
            Metric::RatioAmong { outcome, header } => write!(f, "ratio({outcome}, {header})"),
            Metric::Split { header, value } => write!(f, "split({header}={value})"),
            Metric::PodQpsMin => f.write_str("per_pod_qps"),
            Metric::PodQpsMean => f.write_str("per_pod_qps_mean"),
            Metric::PodImbalance => f.write_str("pod_imbalance"),
            Metric::Pods => f.write_str("pods"),
            Metric::CapacityRps => f.write_str("capacity_rps"),
            Metric::KneeRps => f.write_str("knee_rps"),
        }
    }
}

/// Names a check may start with (for "did you mean").
pub const METRIC_NAMES: &[&str] = &[
    "p50", "p90", "p95", "p99", "p99.9", "max", "mean", "service_p50", "service_p90", "service_p95",
    "service_p99", "service_p99.9", "service_max", "service_mean", "rate", "send_rate", "error_rate",
    "dropped", "ratio", "split", "per_pod_qps", "pod_qps_min", "per_pod_qps_mean", "pod_qps_mean",
    "pod_imbalance", "pods", "capacity_rps", "knee_rps",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl Op {
    pub fn holds(self, measured: f64, threshold: f64) -> bool {
        match self {
            Op::Lt => measured < threshold,
            Op::Le => measured <= threshold,
            Op::Gt => measured > threshold,
            Op::Ge => measured >= threshold,
            Op::Eq => (measured - threshold).abs() <= threshold.abs() * 1e-9,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
        }
    }
}

/// `metric op value`, the value already in the metric's base unit (µs, fraction, rps, count).
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub metric: Metric,
    pub op: Op,
    pub value: f64,
    /// Byte offset in the source string of the metric's argument (for name errors), or of the metric.
    pub arg_at: usize,
}

impl Expr {
    /// The threshold as people write it: `< 50ms`, `>= 95%`.
    pub fn expected(&self) -> String {
        format!("{} {}", self.op.as_str(), format_value(self.metric.kind(), self.value))
    }
}

/// An abort rule: `error_rate > 50% for 5s` (the condition held in each of that many seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct AbortExpr {
    pub expr: Expr,
    pub seconds: u64,
}

/// A parse error at a byte offset inside the expression string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub at: usize,
    pub message: String,
}

fn err<T>(at: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError { at, message: message.into() })
}

/// A number formatted in a metric's natural unit.
pub fn format_value(kind: Kind, v: f64) -> String {
    match kind {
        Kind::Latency if v < 1000.0 => format!("{}us", trim(v.max(0.0))),
        Kind::Latency if v < 1e6 => format!("{}ms", trim(v / 1e3)),
        Kind::Latency => format!("{}s", trim(v / 1e6)),
        Kind::Ratio => format!("{}%", trim(v * 100.0)),
        Kind::Rate => format!("{} rps", trim(v)),
        Kind::Count => trim(v),
    }
}

/// Up to 3 decimals, no trailing zeros.
fn trim(v: f64) -> String {
    let s = if v.abs() >= 100.0 { format!("{v:.1}") } else if v.abs() >= 10.0 { format!("{v:.2}") } else { format!("{v:.3}") };
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" { "0".into() } else { s.to_string() }
}

struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) {
        while self.s[self.i..].starts_with(char::is_whitespace) {
            self.i += self.s[self.i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.i;
        while let Some(c) = self.s[self.i..].chars().next().filter(|c| f(*c)) {
            self.i += c.len_utf8();
        }
        &self.s[start..self.i]
    }
    fn eat(&mut self, t: &str) -> bool {
        if self.s[self.i..].starts_with(t) {
            self.i += t.len();
            true
        } else {
            false
        }
    }
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }
}

/// Parses `metric op value`. `for` clauses are refused (they belong to `abort_when`).
pub fn parse(s: &str) -> Result<Expr, ParseError> {
    let mut c = Cursor { s, i: 0 };
    let e = parse_expr(&mut c)?;
    c.ws();
    if !c.at_end() {
        if s[c.i..].starts_with("for") {
            return err(c.i, "`for` belongs to abort_when rules; a check holds over its whole window");
        }
        return err(c.i, format!("unexpected `{}` after the threshold", &s[c.i..]));
    }
    Ok(e)
}

/// Parses `metric op value for DURATION` (whole seconds, at least 1).
pub fn parse_abort(s: &str) -> Result<AbortExpr, ParseError> {
    let mut c = Cursor { s, i: 0 };
    let expr = parse_expr(&mut c)?;
    c.ws();
    let at = c.i;
    if !c.eat("for") {
        let msg = if c.at_end() { "missing `for DURATION`: how long the condition must hold before the run is stopped, e.g. `for 5s`".to_string() } else { format!("expected `for DURATION`, found `{}`", &s[at..]) };
        return err(at, msg);
    }
    c.ws();
    let dat = c.i;
    let d = crate::units::parse_duration(&s[dat..]).map_err(|e| ParseError { at: dat, message: e.to_string() })?;
    let secs = d.as_secs_f64();
    if secs < 1.0 || secs.fract() != 0.0 {
        return err(dat, format!("`{}`: abort conditions are judged once per second; give whole seconds >= 1s", s[dat..].trim()));
    }
    if expr.metric.is_capacity_only() {
        return err(expr.arg_at, format!("`{}` is a capacity result, not something measured each second", expr.metric));
    }
    Ok(AbortExpr { expr, seconds: secs as u64 })
}

fn parse_expr(c: &mut Cursor) -> Result<Expr, ParseError> {
    c.ws();
    let name_at = c.i;
    let name = c.take_while(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '.');
    if name.is_empty() {
        return err(name_at, format!("expected a metric such as p99, error_rate or ratio(ok){}", if c.at_end() { ", found nothing" } else { "" }));
    }
    let mut arg_at = name_at;
    let metric = match name {
        "ratio" | "split" => {
            c.ws();
            if !c.eat("(") {
                return err(c.i, format!("`{name}` takes an argument in parentheses: {}", if name == "ratio" { "ratio(fallback)" } else { "split(x-fn-version=v2)" }));
            }
            c.ws();
            arg_at = c.i;
            let arg = c.take_while(|ch| ch != ')').trim_end();
            if !c.eat(")") {
                return err(c.s.len(), "missing `)`");
            }
            if arg.is_empty() {
                return err(arg_at, format!("`{name}()` needs an argument"));
            }
            if name == "ratio" {
                let (outcome, among) = match arg.split_once(',') {
                    Some((o, h)) => (o.trim(), Some(h.trim().to_ascii_lowercase())),
                    None => (arg, None),
                };
                if !outcome.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_') {
                    return err(arg_at, format!("`{outcome}` is not an outcome name (lower-case letters, digits, `_`)"));
                }
                match among {
                    None => Metric::Ratio(outcome.to_string()),
                    Some(h) if http::HeaderName::from_bytes(h.as_bytes()).is_err() => {
                        return err(arg_at + arg.find(',').unwrap_or(0) + 1, format!("`{h}` is not a valid header name: write ratio(OUTCOME, HEADER), e.g. ratio(fallback, x-failed-pod)"));
                    }
                    Some(h) => Metric::RatioAmong { outcome: outcome.to_string(), header: h },
                }
            } else {
                let Some((h, v)) = arg.split_once('=') else {
                    return err(arg_at, format!("`{arg}`: write split(HEADER=VALUE), e.g. split(x-fn-version=v2)"));
                };
                let (h, v) = (h.trim().to_ascii_lowercase(), v.trim().to_string());
                if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                    return err(arg_at, format!("`{h}` is not a valid header name"));
                }
                if v.is_empty() {
                    return err(arg_at + arg.find('=').unwrap_or(0) + 1, "missing the header value after `=`");
                }
                Metric::Split { header: h, value: v }
            }
        }
        _ => match metric_by_name(name).ok_or_else(|| ParseError {
            at: name_at,
            message: format!(
                "unknown metric `{name}`{}; metrics: p50 p90 p95 p99 p99.9 max mean (and service_*), rate, send_rate, error_rate, dropped, ratio(OUTCOME), ratio(OUTCOME, HEADER), split(HEADER=VALUE), per_pod_qps, per_pod_qps_mean, pod_imbalance, pods",
                did_you_mean(name, METRIC_NAMES.iter().copied()).map_or(String::new(), |s| format!(" (did you mean `{s}`?)"))
            ),
        })? {
            // `p99(ok)`: the latency of one outcome.
            Metric::Latency { stat, service, .. } if c.s[c.i..].trim_start().starts_with('(') => {
                c.ws();
                c.eat("(");
                c.ws();
                arg_at = c.i;
                let arg = c.take_while(|ch| ch != ')').trim_end();
                if !c.eat(")") {
                    return err(c.s.len(), "missing `)`");
                }
                if arg.is_empty() || !arg.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_') {
                    return err(arg_at, format!("`{arg}` is not an outcome name (lower-case letters, digits, `_`): write {name}(ok), {name}(error), ..."));
                }
                Metric::Latency { stat, service, outcome: Some(arg.to_string()) }
            }
            m => m,
        },
    };
    c.ws();
    let op_at = c.i;
    let op = if c.eat("<=") {
        Op::Le
    } else if c.eat(">=") {
        Op::Ge
    } else if c.eat("==") {
        Op::Eq
    } else if c.eat("<") {
        Op::Lt
    } else if c.eat(">") {
        Op::Gt
    } else if c.eat("=") {
        return err(op_at, "`=` is not an operator; write `==` (or < <= > >=)");
    } else {
        return err(op_at, format!("expected an operator (< <= > >= ==) after `{metric}`"));
    };
    c.ws();
    let num_at = c.i;
    let num = c.take_while(|ch| ch.is_ascii_digit() || ch == '.' || ch == '-' || ch == '+' || ch == 'e');
    let n: f64 = match num.parse() {
        Ok(n) if f64::is_finite(n) => n,
        _ => return err(num_at, format!("expected a number after `{}`{}", op.as_str(), if num.is_empty() { String::new() } else { format!(", found `{num}`") })),
    };
    c.ws();
    let unit_at = c.i;
    // `rate < 40 for 5s`: a unitless threshold followed by an abort rule's `for` has no unit.
    let rest = &c.s[c.i..];
    let unit = if rest.strip_prefix("for").is_some_and(|r| !r.starts_with(|ch: char| ch.is_alphanumeric())) {
        ""
    } else {
        c.take_while(|ch| ch.is_alphabetic() || ch == '%' || ch == 'µ')
    };
    let value = apply_unit(&metric, n, unit, if unit.is_empty() { num_at } else { unit_at })?;
    if value < 0.0 {
        return err(num_at, "a threshold cannot be negative");
    }
    // A share cannot exceed 100% (a bare fraction over 1 is refused in `apply_unit`):
    // `error_rate < 150%` (1.5% meant?) would pass whatever happened and `ratio(ok) >= 150%` fail
    // whatever happened. Only pod_imbalance, a spread over the mean, goes past 100%.
    if metric.kind() == Kind::Ratio && metric != Metric::PodImbalance && value > 1.0 {
        return err(num_at, format!("`{}` is more than 100%: {metric} is a share, so the check could not tell a good run from a bad one; give at most 100%", &c.s[num_at..c.i]));
    }
    Ok(Expr { metric, op, value, arg_at })
}

fn metric_by_name(name: &str) -> Option<Metric> {
    let (service, stat) = match name.strip_prefix("service_") {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    let stat = match stat {
        "p50" => Some(Stat::Quantile(0.5)),
        "p90" => Some(Stat::Quantile(0.9)),
        "p95" => Some(Stat::Quantile(0.95)),
        "p99" => Some(Stat::Quantile(0.99)),
        "p99.9" | "p999" => Some(Stat::Quantile(0.999)),
        "max" => Some(Stat::Max),
        "mean" => Some(Stat::Mean),
        _ => None,
    };
    if let Some(stat) = stat {
        return Some(Metric::Latency { stat, service, outcome: None });
    }
    Some(match name {
        "rate" => Metric::Rate,
        "send_rate" => Metric::SendRate,
        "error_rate" => Metric::ErrorRate,
        "dropped" => Metric::Dropped,
        "per_pod_qps" | "pod_qps_min" => Metric::PodQpsMin,
        "per_pod_qps_mean" | "pod_qps_mean" => Metric::PodQpsMean,
        "pod_imbalance" => Metric::PodImbalance,
        "pods" => Metric::Pods,
        "capacity_rps" => Metric::CapacityRps,
        "knee_rps" => Metric::KneeRps,
        _ => return None,
    })
}

/// The value in the metric's base unit, or an error naming what units fit.
fn apply_unit(metric: &Metric, n: f64, unit: &str, at: usize) -> Result<f64, ParseError> {
    match (metric.kind(), unit) {
        (Kind::Latency, "us" | "µs") => Ok(n),
        (Kind::Latency, "ms") => Ok(n * 1e3),
        (Kind::Latency, "s") => Ok(n * 1e6),
        (Kind::Latency, "") => err(at, format!("`{n}` has no unit: latency needs one of us, ms, s (e.g. `{metric} < {n}ms`)")),
        (Kind::Ratio, "%") => Ok(n / 100.0),
        (Kind::Ratio, "") if n <= 1.0 => Ok(n),
        (Kind::Ratio, "") => err(at, format!("`{n}` is more than 1: {metric} is a fraction; write `{n}%` for a percentage")),
        (Kind::Rate, "rps" | "") => Ok(n),
        (Kind::Count, "") => Ok(n),
        (kind, u) => {
            let allowed = match kind {
                Kind::Latency => "us, ms, s",
                Kind::Ratio => "% (or a bare fraction like 0.99)",
                Kind::Rate => "rps (or none)",
                Kind::Count => "none (a count)",
            };
            let all = ["us", "ms", "s", "%", "rps"];
            let hint = did_you_mean(u, all).filter(|s| *s != u).map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
            err(at, format!("`{u}` is not a unit for {metric}; allowed: {allowed}{hint}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_metric_and_unit() {
        let lat = |q| Metric::Latency { stat: Stat::Quantile(q), service: false, outcome: None };
        let cases: Vec<(&str, Metric, Op, f64)> = vec![
            ("p99 < 50ms", lat(0.99), Op::Lt, 50_000.0),
            ("  p50<=2s", lat(0.5), Op::Le, 2e6),
            ("p99.9 < 800us", lat(0.999), Op::Lt, 800.0),
            ("p999 < 1.5ms", lat(0.999), Op::Lt, 1500.0),
            ("service_max <= 1s", Metric::Latency { stat: Stat::Max, service: true, outcome: None }, Op::Le, 1e6),
            ("mean < 3ms", Metric::Latency { stat: Stat::Mean, service: false, outcome: None }, Op::Lt, 3000.0),
            ("p99(ok) < 50ms", Metric::Latency { stat: Stat::Quantile(0.99), service: false, outcome: Some("ok".into()) }, Op::Lt, 50_000.0),
            ("service_p50 ( error ) <= 2ms", Metric::Latency { stat: Stat::Quantile(0.5), service: true, outcome: Some("error".into()) }, Op::Le, 2000.0),
            ("error_rate < 0.1%", Metric::ErrorRate, Op::Lt, 0.001),
            ("error_rate < 0.01", Metric::ErrorRate, Op::Lt, 0.01),
            ("rate >= 99.5 rps", Metric::Rate, Op::Ge, 99.5),
            ("send_rate > 10", Metric::SendRate, Op::Gt, 10.0),
            ("dropped == 0", Metric::Dropped, Op::Eq, 0.0),
            ("ratio(fallback) >= 95%", Metric::Ratio("fallback".into()), Op::Ge, 0.95),
            ("ratio(fallback, X-Failed-Pod) >= 0.9", Metric::RatioAmong { outcome: "fallback".into(), header: "x-failed-pod".into() }, Op::Ge, 0.9),
            ("split(X-Fn-Version = v2) <= 12%", Metric::Split { header: "x-fn-version".into(), value: "v2".into() }, Op::Le, 0.12),
            ("per_pod_qps >= 300", Metric::PodQpsMin, Op::Ge, 300.0),
            ("pod_qps_mean >= 300 rps", Metric::PodQpsMean, Op::Ge, 300.0),
            ("pod_imbalance < 20%", Metric::PodImbalance, Op::Lt, 0.2),
            ("pod_imbalance < 150%", Metric::PodImbalance, Op::Lt, 1.5),
            ("ratio(ok) >= 100%", Metric::Ratio("ok".into()), Op::Ge, 1.0),
            ("pods == 2", Metric::Pods, Op::Eq, 2.0),
        ];
        for (s, m, op, v) in cases {
            let e = parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!((&e.metric, e.op), (&m, op), "{s}");
            assert!((e.value - v).abs() < 1e-9, "{s}: {}", e.value);
        }
    }

    #[test]
    fn errors_point_at_the_column() {
        let cases = [
            ("p99 < 50", 6, "no unit"),
            ("p98 < 5ms", 0, "unknown metric `p98`"),
            ("eror_rate < 1%", 0, "did you mean `error_rate`"),
            ("p99 < 50 mz", 9, "not a unit for p99; allowed: us, ms, s (did you mean `ms`?)"),
            ("p99 = 5ms", 4, "write `==`"),
            ("p99 5ms", 4, "expected an operator"),
            ("p99 < fast", 6, "expected a number"),
            ("error_rate < 5", 13, "write `5%`"),
            ("ratio fallback > 1%", 6, "argument in parentheses"),
            ("split(x-v) < 1%", 6, "split(HEADER=VALUE)"),
            ("ratio(Fall back) < 1%", 6, "not an outcome name"),
            ("dropped < 1%", 11, "not a unit for dropped"),
            ("p99 < 5ms for 5s", 10, "belongs to abort_when"),
            ("", 0, "found nothing"),
            ("p99(OK) < 5ms", 4, "not an outcome name"),
            ("p99(ok < 5ms", 12, "missing `)`"),
            ("error_rate < 150%", 13, "`150%` is more than 100%: error_rate is a share"),
            ("ratio(ok) >= 100.5%", 13, "more than 100%"),
            ("split(x-v=2) <= 101%", 16, "more than 100%"),
        ];
        for (s, at, msg) in cases {
            let e = parse(s).unwrap_err();
            assert!(e.message.contains(msg), "{s}: {}", e.message);
            assert_eq!(e.at, at, "{s}: {}", e.message);
        }
    }

    #[test]
    fn abort_rules() {
        let a = parse_abort("error_rate > 50% for 5s").unwrap();
        assert_eq!((a.expr.metric, a.seconds), (Metric::ErrorRate, 5));
        // A unitless threshold (rates, counts) before `for` (it was taken for the unit `for`).
        for (s, metric, value) in [("rate < 40 for 5s", Metric::Rate, 40.0), ("rate < 40rps for 5s", Metric::Rate, 40.0), ("dropped > 0 for 3s", Metric::Dropped, 0.0)] {
            let a = parse_abort(s).unwrap_or_else(|e| panic!("{s}: {}", e.message));
            assert_eq!((a.expr.metric, a.expr.value), (metric, value), "{s}");
        }
        assert!(parse("rate < 40 for 5s").unwrap_err().message.contains("belongs to abort_when"));
        for (s, at, msg) in [
            ("error_rate > 50%", 16, "missing `for DURATION`"),
            ("error_rate > 50% for 1.5s", 21, "whole seconds"),
            ("error_rate > 50% for soon", 21, "not a duration"),
            ("error_rate > 50% during 5s", 17, "expected `for DURATION`"),
        ] {
            let e = parse_abort(s).unwrap_err();
            assert!(e.message.contains(msg), "{s}: {}", e.message);
            assert_eq!(e.at, at, "{s}");
        }
    }

    #[test]
    fn expected_reads_like_the_source() {
        assert_eq!(parse("p99( ok ) < 5ms").unwrap().metric.to_string(), "p99(ok)");
        for (s, want) in [("p99 < 50ms", "< 50ms"), ("p99 < 1.5s", "< 1.5s"), ("p50 < 800us", "< 800us"), ("error_rate <= 0.1%", "<= 0.1%"), ("per_pod_qps >= 300", ">= 300 rps"), ("dropped == 0", "== 0")] {
            assert_eq!(parse(s).unwrap().expected(), want);
        }
    }
}
