//! The Prometheus text exposition format (0.0.4) and OpenMetrics 1.0, written by hand: the two
//! differ only in a few places (a counter family's name, `# EOF`, exemplars), and both the run's
//! endpoint and the gateway's `/metrics` write through here so they follow one set of conventions
//! (base units, `_total` counters, escaped label values, cumulative buckets ending in `+Inf`).

use std::fmt::Write;

/// Which exposition a scraper asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when the `Accept` header offers it (Prometheus does by default), else text.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

pub use crate::record::buckets::LATENCY_BUCKETS_US;

/// A sample attached to a bucket in OpenMetrics: the request that explains the bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// `trace_id` (from the traceparent) or `request_id`.
    pub label: &'static str,
    pub id: String,
    pub value_s: f64,
    /// Unix seconds when the request completed.
    pub at_unix: f64,
}

/// Counts per bucket (not cumulative; the last slot is above the highest bound), with a sum and
/// an exemplar per bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Buckets {
    pub counts: Vec<u64>,
    pub sum_us: f64,
    pub exemplars: Vec<Option<Exemplar>>,
}

impl Buckets {
    pub fn new() -> Buckets {
        Buckets {
            counts: vec![0; LATENCY_BUCKETS_US.len() + 1],
            sum_us: 0.0,
            exemplars: vec![None; LATENCY_BUCKETS_US.len() + 1],
        }
    }

    pub fn slot(us: u64) -> usize {
        crate::record::buckets::slot(us)
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds an HDR histogram of microseconds. Each HDR bin is placed by its lowest equivalent value
    /// (exact below 2,048 µs, within 0.1% above) and summed at its midpoint.
    pub fn add_hist(&mut self, h: &hdrhistogram::Histogram<u64>) {
        for v in h.iter_recorded() {
            let value = v.value_iterated_to();
            let n = v.count_at_value();
            self.counts[Self::slot(h.lowest_equivalent(value))] += n;
            self.sum_us += n as f64 * h.median_equivalent(value) as f64;
        }
    }
}

/// Label value escaping (both formats): backslash, double quote and newline.
pub fn escape_label(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A number as both formats want it: integers without a fraction, infinities as `+Inf`/`-Inf`.
pub fn number(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

pub type Labels<'a> = [(&'a str, &'a str)];

/// Writes one exposition into a String.
pub struct Writer<'a> {
    out: &'a mut String,
    format: Format,
}

impl<'a> Writer<'a> {
    pub fn new(out: &'a mut String, format: Format) -> Writer<'a> {
        Writer { out, format }
    }

    /// `# HELP` and `# TYPE` of a family. `name` is the base name: for counters without `_total`.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let (kind_s, type_name) = match (kind, self.format) {
            (Kind::Counter, Format::Text) => ("counter", format!("{name}_total")),
            (Kind::Counter, Format::OpenMetrics) => ("counter", name.to_string()),
            (Kind::Gauge, _) => ("gauge", name.to_string()),
            (Kind::Histogram, _) => ("histogram", name.to_string()),
        };
        let _ = write!(self.out, "# HELP {type_name} ");
        escape_help(help, self.out);
        let _ = writeln!(self.out, "\n# TYPE {type_name} {kind_s}");
    }

    fn labels(&mut self, labels: &Labels, extra: Option<(&str, &str)>) {
        if labels.is_empty() && extra.is_none() {
            return;
        }
        self.out.push('{');
        let mut first = true;
        for (k, v) in labels.iter().copied().chain(extra) {
            if !first {
                self.out.push(',');
            }
            first = false;
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_label(v, self.out);
            self.out.push('"');
        }
        self.out.push('}');
    }

    /// One sample: `name` is the full sample name (`..._total` for counters).
    pub fn sample(&mut self, name: &str, labels: &Labels, value: f64) {
        self.out.push_str(name);
        self.labels(labels, None);
        self.out.push(' ');
        number(value, self.out);
        self.out.push('\n');
    }

    /// A counter sample (`<name>_total`).
    pub fn counter(&mut self, name: &str, labels: &Labels, value: f64) {
        self.out.push_str(name);
        self.out.push_str("_total");
        self.labels(labels, None);
        self.out.push(' ');
        number(value, self.out);
        self.out.push('\n');
    }

    /// A histogram in seconds: cumulative buckets (`le`), `+Inf`, `_sum`, `_count`; exemplars in
    /// OpenMetrics only.
    pub fn histogram(&mut self, name: &str, labels: &Labels, b: &Buckets) {
        let bucket = format!("{name}_bucket");
        let mut cum = 0u64;
        let mut le = String::new();
        for (i, n) in b.counts.iter().enumerate() {
            cum += n;
            le.clear();
            match LATENCY_BUCKETS_US.get(i) {
                Some(&us) => number(us as f64 / 1e6, &mut le),
                None => le.push_str("+Inf"),
            }
            self.out.push_str(&bucket);
            self.labels(labels, Some(("le", &le)));
            let _ = write!(self.out, " {cum}");
            if let (Format::OpenMetrics, Some(Some(e))) = (self.format, b.exemplars.get(i)) {
                let _ = write!(self.out, " # {{{}=\"", e.label);
                escape_label(&e.id, self.out);
                self.out.push_str("\"} ");
                number(e.value_s, self.out);
                self.out.push(' ');
                number((e.at_unix * 1e3).round() / 1e3, self.out);
            }
            self.out.push('\n');
        }
        self.sample(&format!("{name}_sum"), labels, b.sum_us / 1e6);
        self.sample(&format!("{name}_count"), labels, cum as f64);
    }

    /// Ends the exposition (`# EOF` is required by OpenMetrics).
    pub fn finish(self) {
        if self.format == Format::OpenMetrics {
            self.out.push_str("# EOF\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::hist::{new_hist, record_us};
    use std::time::Duration;

    #[test]
    fn label_values_are_escaped() {
        let mut s = String::new();
        let mut w = Writer::new(&mut s, Format::Text);
        w.counter("x", &[("scenario", "a\"b\\c\nd")], 1.0);
        assert_eq!(s, "x_total{scenario=\"a\\\"b\\\\c\\nd\"} 1\n");
    }

    #[test]
    fn counter_family_names_differ_by_format() {
        let mut s = String::new();
        Writer::new(&mut s, Format::Text).family("skyload_x", Kind::Counter, "Things\\done.");
        assert_eq!(s, "# HELP skyload_x_total Things\\\\done.\n# TYPE skyload_x_total counter\n");
        let mut s = String::new();
        let mut w = Writer::new(&mut s, Format::OpenMetrics);
        w.family("skyload_x", Kind::Counter, "Things.");
        w.finish();
        assert_eq!(s, "# HELP skyload_x Things.\n# TYPE skyload_x counter\n# EOF\n");
    }

    fn parse_buckets(s: &str) -> Vec<(f64, u64)> {
        s.lines()
            .filter(|l| l.starts_with("h_bucket"))
            .map(|l| {
                let le = l.split("le=\"").nth(1).unwrap().split('"').next().unwrap();
                let le = if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap() };
                (le, l.split(' ').nth(1).unwrap().parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn buckets_from_hdr_are_cumulative_with_sum_and_count() {
        let mut h = new_hist();
        let values_us = [30u64, 50, 51, 999, 1_000, 1_001, 7_000, 7_000, 250_000, 90_000_000];
        for v in values_us {
            record_us(&mut h, Duration::from_micros(v));
        }
        let mut b = Buckets::new();
        b.add_hist(&h);
        let mut s = String::new();
        Writer::new(&mut s, Format::Text).histogram("h", &[("request", "get")], &b);
        let buckets = parse_buckets(&s);
        assert_eq!(buckets.len(), LATENCY_BUCKETS_US.len() + 1);
        assert!(buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1), "{s}");
        let at = |le: f64| buckets.iter().find(|b| b.0 == le).unwrap().1;
        assert_eq!(at(0.00005), 2, "50 µs is inside le=0.00005");
        assert_eq!(at(0.001), 5);
        assert_eq!(at(0.005), 6);
        assert_eq!(at(0.01), 8);
        assert_eq!(at(60.0), 9);
        assert_eq!(at(f64::INFINITY), values_us.len() as u64);
        assert!(s.contains("h_count{request=\"get\"} 10\n"), "{s}");
        let sum: f64 = s.lines().find(|l| l.starts_with("h_sum")).unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let exact = values_us.iter().sum::<u64>() as f64 / 1e6;
        assert!((sum - exact).abs() <= exact * 1e-3, "sum {sum} vs {exact}");
    }

    #[test]
    fn exemplars_only_in_openmetrics() {
        let mut b = Buckets::new();
        b.counts[4] = 1;
        b.exemplars[4] = Some(Exemplar { label: "trace_id", id: "abc".into(), value_s: 0.0008, at_unix: 1.5 });
        let mut s = String::new();
        Writer::new(&mut s, Format::OpenMetrics).histogram("h", &[], &b);
        assert!(s.contains("h_bucket{le=\"0.001\"} 1 # {trace_id=\"abc\"} 0.0008 1.5\n"), "{s}");
        let mut s = String::new();
        Writer::new(&mut s, Format::Text).histogram("h", &[], &b);
        assert!(!s.contains('#'), "{s}");
    }

    #[test]
    fn promtool_accepts_a_full_exposition() {
        let mut h = new_hist();
        record_us(&mut h, Duration::from_millis(2));
        let mut b = Buckets::new();
        b.add_hist(&h);
        let mut s = String::new();
        let mut w = Writer::new(&mut s, Format::Text);
        w.family("skyload_things", Kind::Counter, "Things done.");
        w.counter("skyload_things", &[("request", "a\"b")], 3.0);
        w.family("skyload_wait_seconds", Kind::Histogram, "Waits.");
        w.histogram("skyload_wait_seconds", &[("request", "a")], &b);
        w.finish();
        super::super::promtool::check(&s);
    }

    #[test]
    fn accept_header_picks_the_format() {
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::from_accept(Some(prom)), Format::OpenMetrics);
        assert_eq!(Format::from_accept(Some("*/*")), Format::Text);
        assert_eq!(Format::from_accept(None), Format::Text);
    }
}
