//! Metrics over one stretch of data. Every scope a check can have (the whole run, a stage, a
//! window, one live second for abort rules) is first reduced to the same `Data`, and `measure`
//! computes a metric from it. An empty stretch yields `NoData` with the reason, never a number
//! that could pass a check by accident.

use super::expr::{Metric, Stat};
use crate::record::interval::{Interval, Shape};
use crate::record::hist::{add, decode, new_hist, Hist};
use crate::record::outcome::OutcomeTable;
use crate::record::summary::Summary;
use std::collections::BTreeMap;

/// Counts and histograms of one stretch of a run. `None` means "not recorded at this scope"
/// (e.g. pods per request), which a check reports as such.
#[derive(Debug, Clone, Default)]
pub struct Data {
    /// Length of the stretch in seconds (the divisor of every rate).
    pub seconds: f64,
    pub scheduled: u64,
    pub sent: u64,
    pub completed: u64,
    pub dropped: u64,
    pub outcomes: BTreeMap<String, u64>,
    pub latency: Option<Hist>,
    pub service: Option<Hist>,
    /// Latency and service time by outcome. Service time by outcome is kept for the whole run and
    /// per request only (None for a stretch of seconds, whose per-second histograms hold latency by
    /// outcome for all requests together: one more histogram per outcome per second is what the
    /// hot path can afford, two would double it). None: not recorded at this scope.
    pub by_outcome: Option<BTreeMap<String, (Hist, Option<Hist>)>>,
    pub pods: Option<BTreeMap<String, u64>>,
    pub labels: Option<BTreeMap<String, BTreeMap<String, u64>>>,
    /// Completions by outcome counted in the same seconds as `labels` (by completion), when
    /// `outcomes` is counted otherwise (by the stage or second of the intended start): a share
    /// among the responses that carried a header divides counts of one set of requests.
    pub label_outcomes: Option<BTreeMap<String, u64>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Measured {
    Value(f64),
    /// Nothing to measure, and why (the check fails).
    NoData(String),
}

/// Outcomes that count as failures in an error rate.
pub const FAILURES: [&str; 6] = ["error", "timeout", "connect", "reset", "protocol", "tls"];

pub fn measure(m: &Metric, d: &Data) -> Measured {
    use Measured::{NoData, Value};
    if d.seconds <= 0.0 {
        return NoData("no data: the window holds no second of the run".into());
    }
    let none_completed = || NoData("no data: no request completed in this window".into());
    // A share of the arrivals, dropped ones included (as `error_rate`): `ratio(ok) >= 99%` must not
    // read 100% on a run that dropped half its arrivals and completed the rest.
    let ratio = |n: u64| match d.completed + d.dropped {
        0 => none_completed(),
        all => Value(n as f64 / all as f64),
    };
    match m {
        Metric::Latency { stat, service, outcome } => {
            let one;
            let h = match outcome {
                None if *service => &d.service,
                None => &d.latency,
                Some(o) => match &d.by_outcome {
                    None => return NoData(format!("not recorded: latency of `{o}` alone is kept per second for all requests together, not per request")),
                    Some(m) => match m.get(o) {
                        // Results written before per-second latency by outcome was kept.
                        None if d.outcomes.get(o).is_some_and(|n| *n > 0) => {
                            return NoData(format!("not recorded: these Results hold no per-second latency of `{o}` (written by an older skyload): re-run to check it in a window"))
                        }
                        None => return NoData(format!("no data: no request ended as `{o}`")),
                        Some((_, None)) if *service => {
                            return NoData(format!("not recorded: service time of `{o}` alone is kept for the whole run and per request, not per second (use p99({o}), the latency from the intended start)"))
                        }
                        Some((l, sv)) => {
                            one = Some(if *service { sv.clone().unwrap_or_else(new_hist) } else { l.clone() });
                            &one
                        }
                    },
                },
            };
            match h {
                None => NoData(format!("not recorded: {} is kept for all requests together, not per request, in a window", if *service { "service time" } else { "latency" })),
                Some(h) if h.is_empty() => none_completed(),
                Some(h) => Value(match stat {
                    Stat::Quantile(q) => h.value_at_quantile(*q) as f64,
                    Stat::Max => h.max() as f64,
                    Stat::Mean => h.mean(),
                }),
            }
        }
        Metric::Rate => Value(d.completed as f64 / d.seconds),
        Metric::SendRate => Value(d.sent as f64 / d.seconds),
        Metric::Dropped => Value(d.dropped as f64),
        // Dropped arrivals are failures of the run, as in summary.json's `error_rate`: a run that
        // dropped half its arrivals must not pass `error_rate < 1%` on the half that completed.
        Metric::ErrorRate => match d.completed + d.dropped {
            0 => none_completed(),
            all => Value((FAILURES.iter().map(|o| d.outcomes.get(*o).copied().unwrap_or(0)).sum::<u64>() + d.dropped) as f64 / all as f64),
        },
        Metric::Ratio(o) => ratio(d.outcomes.get(o).copied().unwrap_or(0)),
        Metric::RatioAmong { outcome, header } => {
            let Some(labels) = &d.labels else { return NoData("not recorded: header values are counted over all requests, not per request".into()) };
            let total: u64 = labels.get(header).map_or(0, |v| v.values().sum());
            if total == 0 {
                return NoData(format!("no data: no response in this window carried the header `{header}`"));
            }
            let outcomes = d.label_outcomes.as_ref().unwrap_or(&d.outcomes);
            Value(outcomes.get(outcome).copied().unwrap_or(0) as f64 / total as f64)
        }
        Metric::Split { header, value } => {
            let Some(labels) = &d.labels else { return NoData("not recorded: header values are counted over all requests, not per request".into()) };
            let values = labels.get(header);
            let total: u64 = values.map_or(0, |v| v.values().sum());
            if total == 0 {
                return NoData(format!("no data: no response in this window carried the header `{header}`"));
            }
            Value(values.and_then(|v| v.get(value)).copied().unwrap_or(0) as f64 / total as f64)
        }
        Metric::PodQpsMin | Metric::PodQpsMean | Metric::PodImbalance | Metric::Pods => {
            let Some(pods) = &d.pods else { return NoData("not recorded: pods are counted over all requests, not per request".into()) };
            if pods.is_empty() {
                return NoData("no data: no response in this window named its pod".into());
            }
            let n = pods.len() as f64;
            let (min, max) = (pods.values().min().copied().unwrap_or(0) as f64, pods.values().max().copied().unwrap_or(0) as f64);
            let mean = pods.values().sum::<u64>() as f64 / n;
            Value(match m {
                Metric::PodQpsMin => min / d.seconds,
                Metric::PodQpsMean => mean / d.seconds,
                Metric::PodImbalance => if mean > 0.0 { (max - min) / mean } else { 0.0 },
                _ => n,
            })
        }
        Metric::CapacityRps | Metric::KneeRps => NoData("a capacity result is only known after `skyload capacity`".into()),
    }
}

impl Data {
    /// The whole run, or one request of it, from summary.json (exact totals histograms).
    pub fn from_summary(s: &Summary, request: Option<&str>) -> Data {
        let (overall, by_request) = match request {
            Some(r) => match s.requests.iter().find(|q| q.name == r) {
                Some(q) => (&q.overall, true),
                None => return Data::default(),
            },
            None => (&s.totals, false),
        };
        let (mut latency, mut service) = (new_hist(), new_hist());
        let mut by_outcome: BTreeMap<String, (Hist, Option<Hist>)> = BTreeMap::new();
        for h in s.histograms.iter().filter(|h| request.map_or(true, |r| h.request == r)) {
            if let Ok(x) = decode(&h.data) {
                let slot = || (new_hist(), Some(new_hist()));
                match h.kind.as_str() {
                    "latency" => {
                        add(&mut latency, &x);
                        add(&mut by_outcome.entry(h.outcome.clone()).or_insert_with(slot).0, &x);
                    }
                    "service" => {
                        add(&mut service, &x);
                        add(by_outcome.entry(h.outcome.clone()).or_insert_with(slot).1.get_or_insert_with(new_hist), &x);
                    }
                    _ => {}
                }
            }
        }
        Data {
            seconds: s.duration_s,
            scheduled: overall.scheduled,
            sent: overall.sent,
            completed: overall.completed,
            dropped: overall.dropped,
            outcomes: overall.outcomes.clone(),
            latency: Some(latency),
            service: Some(service),
            by_outcome: Some(by_outcome),
            pods: (!by_request).then(|| s.pods.iter().map(|p| (p.name.clone(), p.count)).collect()),
            labels: (!by_request).then(|| s.labels.clone()),
            label_outcomes: None,
        }
    }

    /// One live second (for abort rules).
    pub fn from_interval(iv: &Interval, shape: &Shape) -> Data {
        let mut d = Data { seconds: 1.0, latency: Some(new_hist()), service: Some(new_hist()), ..Data::default() };
        let table: &OutcomeTable = &shape.outcomes;
        for r in &iv.requests {
            d.scheduled += r.scheduled;
            d.sent += r.sent;
            d.completed += r.completed;
            d.dropped += r.dropped;
            for (i, n) in r.outcomes.iter().enumerate().filter(|(_, n)| **n > 0) {
                *d.outcomes.entry(table.name(i as u16).to_string()).or_default() += n;
            }
            add(d.latency.as_mut().expect("set above"), &r.latency);
            add(d.service.as_mut().expect("set above"), &r.service);
        }
        d.by_outcome = Some(outcome_latency(&iv.outcome_latency, table));
        d.pods = Some(iv.pods.clone());
        d.labels = Some(shape.labels.iter().cloned().zip(iv.labels.iter().cloned()).collect());
        d
    }
}

/// Per-second latency by outcome (all requests together), named; no service time at this scope.
pub fn outcome_latency(by_id: &[Option<Hist>], table: &OutcomeTable) -> BTreeMap<String, (Hist, Option<Hist>)> {
    let mut m = BTreeMap::new();
    add_outcome_latency(&mut m, by_id, table);
    m
}

/// Adds one second's latency by outcome into a stretch's.
pub fn add_outcome_latency(into: &mut BTreeMap<String, (Hist, Option<Hist>)>, by_id: &[Option<Hist>], table: &OutcomeTable) {
    for (o, h) in by_id.iter().enumerate() {
        if let Some(h) = h.as_ref().filter(|h| !h.is_empty()) {
            add(&mut into.entry(table.name(o as u16).to_string()).or_insert_with(|| (new_hist(), None)).0, h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::expr::parse;

    fn data() -> Data {
        let mut lat = new_hist();
        for us in 1..=100u64 {
            lat.record(us * 1000).unwrap();
        }
        let mut fast = new_hist();
        for us in 1..=100u64 {
            fast.record(us * 10).unwrap();
        }
        Data {
            seconds: 10.0,
            scheduled: 1000,
            sent: 990,
            completed: 100,
            dropped: 10,
            outcomes: [("ok", 90), ("fallback", 5), ("error", 3), ("timeout", 2)].map(|(k, v)| (k.to_string(), v)).into(),
            latency: Some(lat.clone()),
            service: Some(lat.clone()),
            by_outcome: Some([("ok".to_string(), (fast.clone(), Some(fast))), ("error".to_string(), (lat.clone(), Some(lat)))].into()),
            pods: Some([("a", 600), ("b", 400)].map(|(k, v)| (k.to_string(), v)).into()),
            labels: Some([("x-fn-version".to_string(), [("v1", 75), ("v2", 25)].map(|(k, v)| (k.to_string(), v)).into())].into()),
            label_outcomes: None,
        }
    }

    fn value(s: &str, d: &Data) -> Measured {
        measure(&parse(s).unwrap().metric, d)
    }

    #[test]
    fn table_of_metrics() {
        let d = data();
        let near = |s: &str, want: f64| match value(s, &d) {
            Measured::Value(v) => assert!((v - want).abs() <= want.abs() * 0.002 + 1e-9, "{s}: {v} want {want}"),
            other => panic!("{s}: {other:?}"),
        };
        near("p50 < 1s", 50_000.0);
        near("p99 < 1s", 99_000.0);
        near("max < 1s", 100_000.0);
        near("mean < 1s", 50_500.0);
        near("service_p90 < 1s", 90_000.0);
        near("rate > 1", 10.0);
        near("send_rate > 1", 99.0);
        near("dropped == 0", 10.0);
        near("error_rate < 1%", 15.0 / 110.0);
        near("ratio(fallback) > 1%", 5.0 / 110.0); // of the 100 completed and 10 dropped
        near("ratio(limited) < 1%", 0.0);
        near("split(x-fn-version=v2) < 1%", 0.25);
        near("split(x-fn-version=v3) < 1%", 0.0);
        near("per_pod_qps > 1", 40.0);
        near("per_pod_qps_mean > 1", 50.0);
        near("pod_imbalance < 1%", 0.4);
        near("pods == 2", 2.0);
        // One outcome's latency, apart from the rest.
        near("p99(ok) < 1s", 990.0);
        near("service_p50(error) < 1s", 50_000.0);
    }

    #[test]
    fn latency_of_an_outcome_is_never_a_silent_pass() {
        let d = data();
        assert!(matches!(value("p99(reset) < 1s", &d), Measured::NoData(m) if m.contains("no request ended as `reset`")));
        let per_request = Data { by_outcome: None, ..data() };
        assert!(matches!(value("p99(ok) < 1s", &per_request), Measured::NoData(m) if m.contains("not per request")));
        // A stretch of seconds: latency by outcome, no service time by outcome.
        let mut fast = new_hist();
        fast.record(700).unwrap();
        let seconds = Data { by_outcome: Some([("ok".to_string(), (fast, None))].into()), ..data() };
        assert_eq!(value("p99(ok) < 1s", &seconds), Measured::Value(700.0));
        assert!(matches!(value("service_p99(ok) < 1s", &seconds), Measured::NoData(m) if m.contains("not per second")));
        // `error` happened (3 completions) but these Results kept no per-second histogram of it.
        assert!(matches!(value("p99(error) < 1s", &seconds), Measured::NoData(m) if m.contains("older skyload")));
        assert!(matches!(value("p99(reset) < 1s", &seconds), Measured::NoData(m) if m.contains("no request ended as `reset`")));
    }

    #[test]
    fn a_live_second_selects_one_outcome() {
        let shape = Shape { requests: vec!["a".into()], outcomes: OutcomeTable::new([]), labels: vec![] };
        let mut iv = Interval::new(0, &shape);
        let (mut ok, mut err) = (new_hist(), new_hist());
        for us in [100u64, 200, 300] {
            ok.record(us).unwrap();
        }
        err.record(2_000).unwrap();
        iv.outcome_latency[crate::record::outcome::OK as usize] = Some(ok);
        iv.outcome_latency[crate::record::outcome::ERROR as usize] = Some(err);
        let d = Data::from_interval(&iv, &shape);
        assert_eq!(value("max(ok) < 1s", &d), Measured::Value(300.0));
        assert_eq!(value("max(error) < 1s", &d), Measured::Value(2_000.0));
    }

    /// summary.json counts a dropped arrival as a failure; a check, `abort_when`, a fault window
    /// and `compare` read the same rate (they said 0% for a run that dropped half its arrivals).
    #[test]
    fn dropped_arrivals_are_failures_in_the_error_rate() {
        let d = Data { completed: 400, dropped: 400, outcomes: [("ok".to_string(), 400)].into(), ..data() };
        assert_eq!(value("error_rate < 10%", &d), Measured::Value(0.5));
        assert_eq!(value("ratio(ok) > 99%", &d), Measured::Value(0.5));
        let all_dropped = Data { completed: 0, dropped: 50, outcomes: BTreeMap::new(), latency: Some(new_hist()), ..data() };
        assert_eq!(value("error_rate < 10%", &all_dropped), Measured::Value(1.0));
    }

    #[test]
    fn empty_windows_have_no_data() {
        let mut d = data();
        assert!(matches!(value("split(x-cold=1) < 1%", &d), Measured::NoData(m) if m.contains("x-cold")));
        d.completed = 0;
        d.dropped = 0;
        d.latency = Some(new_hist());
        for s in ["p99 < 1s", "error_rate < 1%", "ratio(ok) > 1%"] {
            assert!(matches!(value(s, &d), Measured::NoData(_)), "{s}");
        }
        d.pods = Some(BTreeMap::new());
        assert!(matches!(value("per_pod_qps > 1", &d), Measured::NoData(_)));
        d.pods = None;
        assert!(matches!(value("pods > 1", &d), Measured::NoData(m) if m.contains("per request")));
        let empty = Data::default();
        assert!(matches!(value("dropped == 0", &empty), Measured::NoData(m) if m.contains("no second")));
    }
}
