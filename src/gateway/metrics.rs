//! Counters and latency histograms kept in plain atomics (one set per pod, plus one per function for
//! answers no pod gave), rendered as Prometheus text on demand. Nothing here takes a lock, so
//! recording costs a few relaxed increments on the hot path.

use crate::metrics::expo::{Buckets, Format, Kind, Writer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How the gateway answered: a closed set, each with its own counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The pod answered 2xx-4xx itself.
    Ok,
    /// The pod answered 5xx (injected error) and there was no fallback.
    Error,
    /// The pod's queue was full (503).
    Shed,
    /// The pod did not answer within the timeout.
    Timeout,
    /// No healthy pod, or the pod was killed mid-request.
    Unavailable,
    /// The fallback answer replaced one of the failures above.
    Fallback,
    /// 429 from the rate limiter.
    Limited,
    /// 401 from authentication.
    Unauthorized,
}

impl Outcome {
    pub const ALL: [Outcome; 8] = [
        Outcome::Ok,
        Outcome::Error,
        Outcome::Shed,
        Outcome::Timeout,
        Outcome::Unavailable,
        Outcome::Fallback,
        Outcome::Limited,
        Outcome::Unauthorized,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Shed => "shed",
            Outcome::Timeout => "timeout",
            Outcome::Unavailable => "unavailable",
            Outcome::Fallback => "fallback",
            Outcome::Limited => "limited",
            Outcome::Unauthorized => "unauthorized",
        }
    }
}

/// Upper bounds of the latency buckets, in microseconds: the same as the run's live metrics, so
/// the gateway's and the generator's histograms line up on one dashboard.
pub use crate::metrics::expo::LATENCY_BUCKETS_US as BUCKETS_US;

/// Requests by outcome and their latency (from the gateway receiving the request to its answer).
#[derive(Debug, Default)]
pub struct Stats {
    outcomes: [AtomicU64; 8],
    /// Non-cumulative counts per bucket; the last slot is +Inf.
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
    cold: AtomicU64,
}

impl Stats {
    pub fn record(&self, outcome: Outcome, latency: Duration, cold: bool) {
        self.outcomes[outcome as usize].fetch_add(1, Ordering::Relaxed);
        let us = latency.as_micros().min(u64::MAX as u128) as u64;
        let i = BUCKETS_US.partition_point(|&b| b < us);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        if cold {
            self.cold.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn count(&self, outcome: Outcome) -> u64 {
        self.outcomes[outcome as usize].load(Ordering::Relaxed)
    }

    pub fn total(&self) -> u64 {
        self.outcomes
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    pub fn cold(&self) -> u64 {
        self.cold.load(Ordering::Relaxed)
    }
}

/// One labelled set of stats for rendering: function, version ("" when none), pod ("gateway" for
/// answers no pod gave).
pub struct Series<'a> {
    pub function: &'a str,
    pub version: &'a str,
    pub pod: &'a str,
    pub stats: &'a Stats,
}

/// Renders the Prometheus text exposition (0.0.4) or OpenMetrics, through the writer the run's
/// live endpoint uses, so both follow one set of conventions (escaped labels, seconds, `_total`).
pub fn render(series: &[Series<'_>], not_found: u64, format: Format, out: &mut String) {
    let mut w = Writer::new(out, format);
    w.family("skyload_gateway_requests", Kind::Counter, "Requests answered, by function, pod and outcome.");
    for s in series {
        for o in Outcome::ALL {
            let n = s.stats.count(o);
            if n > 0 || o == Outcome::Ok {
                w.counter("skyload_gateway_requests", &[("function", s.function), ("version", s.version), ("pod", s.pod), ("outcome", o.as_str())], n as f64);
            }
        }
    }
    w.family("skyload_gateway_cold_starts", Kind::Counter, "Requests that paid a cold start.");
    for s in series.iter().filter(|s| s.pod != "gateway") {
        w.counter("skyload_gateway_cold_starts", &[("function", s.function), ("version", s.version), ("pod", s.pod)], s.stats.cold() as f64);
    }
    w.family("skyload_gateway_request_duration_seconds", Kind::Histogram, "Time from request received to answer sent.");
    for s in series {
        let b = Buckets {
            counts: s.stats.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect(),
            sum_us: s.stats.sum_us.load(Ordering::Relaxed) as f64,
            exemplars: Vec::new(),
        };
        w.histogram("skyload_gateway_request_duration_seconds", &[("function", s.function), ("version", s.version), ("pod", s.pod)], &b);
    }
    w.family("skyload_gateway_not_found", Kind::Counter, "Requests for no known function or path.");
    w.counter("skyload_gateway_not_found", &[], not_found as f64);
    w.finish();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_count_matches() {
        let s = Stats::default();
        s.record(Outcome::Ok, Duration::from_micros(100), false);
        s.record(Outcome::Ok, Duration::from_micros(250), true);
        s.record(Outcome::Fallback, Duration::from_millis(3), false);
        s.record(Outcome::Timeout, Duration::from_secs(100), false);
        let mut out = String::new();
        render(
            &[Series {
                function: "f",
                version: "v1",
                pod: "f-1",
                stats: &s,
            }],
            2,
            Format::Text,
            &mut out,
        );
        assert!(out.contains("le=\"0.0002\"} 1\n") && out.contains("le=\"0.0005\"} 2\n"), "{out}");
        assert!(out.contains("le=\"0.005\"} 3\n"));
        assert!(out.contains("le=\"30\"} 3\n"));
        assert!(out.contains("le=\"+Inf\"} 4\n"));
        assert!(out.contains("_count{function=\"f\",version=\"v1\",pod=\"f-1\"} 4\n"));
        assert!(out.contains("outcome=\"fallback\"} 1\n"));
        assert!(out.contains(
            "skyload_gateway_cold_starts_total{function=\"f\",version=\"v1\",pod=\"f-1\"} 1\n"
        ));
        assert_eq!(s.total(), 4);
        crate::metrics::promtool::check(&out);
        let mut om = String::new();
        render(&[Series { function: "f", version: "v1", pod: "f-1", stats: &s }], 2, Format::OpenMetrics, &mut om);
        assert!(om.contains("# TYPE skyload_gateway_requests counter\n") && om.ends_with("# EOF\n"), "{om}");
    }
}
