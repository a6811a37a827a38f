//! What a run recorded, second by second and in total: the per-second `Interval` (with each request
//! name's `ReqInterval`), the run `Totals` and the `Shape` that gives their indices names, with the
//! merge arithmetic that sums threads and shards. Held apart from `accum` (the generator thread's
//! recorder that fills them) so readers of Results import data, not the hot path.

use super::hist::{add, new_hist, Hist};
use super::outcome::OutcomeTable;
use std::collections::BTreeMap;
use std::time::Duration;

/// Names that give the indices used in samples a meaning.
#[derive(Debug, Clone)]
pub struct Shape {
    pub requests: Vec<String>,
    pub outcomes: OutcomeTable,
    /// Response headers whose values are counted per second (canary version, cold start...).
    pub labels: Vec<String>,
}

pub use crate::scenario::MAX_LABELS;
/// Distinct values kept per label header before the rest are lumped into `(other)`.
pub const MAX_LABEL_VALUES: usize = 64;

/// Distinct pod names tracked before the rest are lumped together (a misconfigured `pod_header`
/// that carries a request id must not grow memory without bound).
pub const MAX_PODS: usize = 512;
pub const OTHER_POD: &str = "(other)";

/// Counters and histograms of one request name over one interval.
#[derive(Debug, Clone)]
pub struct ReqInterval {
    /// Arrivals due (handed to the engine) in this second.
    pub scheduled: u64,
    pub sent: u64,
    pub dropped: u64,
    pub completed: u64,
    /// Completions by outcome id.
    pub outcomes: Vec<u64>,
    /// Latency from the intended start (corrected).
    pub latency: Hist,
    /// Service time: from the actual send.
    pub service: Hist,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl ReqInterval {
    fn new(outcomes: usize) -> Self {
        ReqInterval {
            scheduled: 0,
            sent: 0,
            dropped: 0,
            completed: 0,
            outcomes: vec![0; outcomes],
            latency: new_hist(),
            service: new_hist(),
            bytes_in: 0,
            bytes_out: 0,
        }
    }
    pub fn merge(&mut self, o: &ReqInterval) {
        self.scheduled += o.scheduled;
        self.sent += o.sent;
        self.dropped += o.dropped;
        self.completed += o.completed;
        merge_counts(&mut self.outcomes, &o.outcomes);
        add(&mut self.latency, &o.latency);
        add(&mut self.service, &o.service);
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
    }
}

/// Everything recorded in one second of the run (by the time events happened: sends by send time,
/// completions by completion time).
#[derive(Debug, Clone)]
pub struct Interval {
    pub second: u64,
    pub requests: Vec<ReqInterval>,
    /// Pacer lag: handed to a worker minus intended send (the generator's own lateness).
    pub lag: Hist,
    /// Waiting for a connection: actual send minus hand-over (pool wait, connect). Part of the
    /// latency, but the target's or the connection cap's, not the pacer's.
    pub conn_wait: Hist,
    /// Arrivals that found every connection busy and the connection cap reached.
    pub conn_limited: u64,
    /// Latency from the intended start by outcome id, all requests together, so a check over a
    /// stretch of seconds can select one outcome (`p99(ok)`) without fast 503s or refused
    /// connections pulling it down. Only outcomes that occurred in the second get a histogram
    /// (at most one allocation per outcome per second per thread, never one per request).
    pub outcome_latency: Vec<Option<Hist>>,
    /// The most requests in flight at any moment of the second: handed to a connection worker
    /// and not yet ended, those still waiting for a connection included (a stalled target's
    /// backlog at its worst, even when it cleared before the second ended). Summed over threads
    /// and shards: exact for one thread, else the sum of their peaks, an upper bound of the
    /// whole's (a stall raises them together).
    pub in_flight: u64,
    /// CPU time the generator threads used in this second.
    pub cpu: Duration,
    /// Completions per pod in this second.
    pub pods: BTreeMap<String, u64>,
    /// Completions per value, one map per label header.
    pub labels: Vec<BTreeMap<String, u64>>,
    /// Completions by HTTP status code in this second (`status.csv`), so a burst of 503s can be
    /// placed in time; requests that failed below HTTP have no code and are not here.
    pub status: BTreeMap<u16, u64>,
    /// While the second is open: counts indexed by status code (a bump, never a map insert, per
    /// completion), turned into `status` when shipped.
    pub(super) status_slots: Vec<u64>,
    /// Per-thread counts by pod / label slot, turned into the named maps when shipped.
    pub(super) pod_slots: Vec<u64>,
    pub(super) label_slots: Vec<Vec<u64>>,
    /// When tracing: the slowest request of each latency bucket (exemplars).
    pub slow: super::slow::SecondSlow,
    /// While the second is open: latency and service per (request, outcome), at
    /// `request * outcomes + outcome` — the only histograms a completion records into. The
    /// per-request, per-outcome and run-total histograms above are their sums, added when the
    /// second is shipped (two records per completion instead of five); empty once shipped.
    pub(super) by_pair: Vec<Option<OutcomeHists>>,
    /// Intended seconds (`record::intended`) that closed when this second was shipped: latency
    /// by the second requests were scheduled, which ended up to a request timeout earlier.
    /// Entries of one second from threads shipped together are added here (`merge`).
    pub intended: Vec<super::intended::IntendedSecond>,
}

impl Interval {
    pub fn new(second: u64, shape: &Shape) -> Interval {
        Interval {
            second,
            requests: (0..shape.requests.len()).map(|_| ReqInterval::new(shape.outcomes.len())).collect(),
            lag: new_hist(),
            conn_wait: new_hist(),
            conn_limited: 0,
            outcome_latency: vec![None; shape.outcomes.len()],
            in_flight: 0,
            cpu: Duration::ZERO,
            pods: BTreeMap::new(),
            labels: vec![BTreeMap::new(); shape.labels.len()],
            status: BTreeMap::new(),
            status_slots: Vec::new(),
            pod_slots: Vec::new(),
            label_slots: vec![Vec::new(); shape.labels.len()],
            slow: Default::default(),
            by_pair: Vec::new(),
            intended: Vec::new(),
        }
    }
    pub fn merge(&mut self, o: &Interval) {
        merge_named(&mut self.pods, &o.pods);
        for (code, n) in &o.status {
            *self.status.entry(*code).or_default() += n;
        }
        for (a, b) in self.labels.iter_mut().zip(&o.labels) {
            merge_named(a, b);
        }
        for (a, b) in self.requests.iter_mut().zip(&o.requests) {
            a.merge(b);
        }
        add(&mut self.lag, &o.lag);
        add(&mut self.conn_wait, &o.conn_wait);
        self.conn_limited += o.conn_limited;
        if self.outcome_latency.len() < o.outcome_latency.len() {
            self.outcome_latency.resize(o.outcome_latency.len(), None);
        }
        for (a, b) in self.outcome_latency.iter_mut().zip(&o.outcome_latency) {
            if let Some(b) = b {
                add(a.get_or_insert_with(new_hist), b);
            }
        }
        self.slow.merge(&o.slow);
        super::intended::merge_entries(&mut self.intended, &o.intended);
        self.in_flight += o.in_flight;
        self.cpu += o.cpu;
    }
}

/// Histograms of one request name × outcome for the whole run.
#[derive(Debug, Clone)]
pub struct OutcomeHists {
    pub latency: Hist,
    pub service: Hist,
}

/// One request name over the whole run.
#[derive(Debug, Clone)]
pub struct ReqTotals {
    pub scheduled: u64,
    pub sent: u64,
    pub dropped: u64,
    /// How late dropped arrivals were when they were given up (intended → dropped).
    pub dropped_wait: Hist,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// By outcome id; None where the outcome never happened.
    pub by_outcome: Vec<Option<OutcomeHists>>,
}

#[derive(Debug, Clone)]
pub struct PodTotals {
    pub name: String,
    pub outcomes: Vec<u64>,
    pub latency: Hist,
}

impl PodTotals {
    pub fn count(&self) -> u64 {
        self.outcomes.iter().sum()
    }
}

/// The whole run, for one thread or (merged) for all.
#[derive(Debug, Clone)]
pub struct Totals {
    pub requests: Vec<ReqTotals>,
    /// Pacer lag (intended → handed to a worker).
    pub lag: Hist,
    /// Connection wait (handed → on the wire).
    pub conn_wait: Hist,
    /// Arrivals held back by the connection cap.
    pub conn_limited: u64,
    /// `[scheduled, completed, dropped]` by intended second: every arrival of second k ends in
    /// exactly one outcome, whenever that happens. 24 bytes per second of run.
    pub by_intended: Vec<[u64; 3]>,
    /// Seconds the generator guard flagged (judged on merged seconds by the collector).
    pub guard: super::guard::SecondsGuard,
    pub status: BTreeMap<u16, u64>,
    pub pods: Vec<PodTotals>,
    /// Completions per value, one map per label header.
    pub labels: Vec<BTreeMap<String, u64>>,
    pub cpu: Duration,
    /// When tracing: the slowest and first failed requests (`slow.csv`).
    pub slow: super::slow::SlowTotals,
    /// Latency and service time by the stage of the intended start (runs of two or more stages;
    /// `stages.hlog`). None: one stage, or Results without the file.
    pub by_stage: Option<super::by_stage::StageHists>,
    /// Intended seconds still open when the threads finished (`record::intended`), closed then
    /// and written to `intended.hlog` after the last shipped second; empty in Results read back
    /// (the file's seconds are `read::Results::intended`).
    pub intended: Vec<super::intended::IntendedSecond>,
}

impl Totals {
    pub fn new(shape: &Shape) -> Totals {
        Totals {
            requests: shape
                .requests
                .iter()
                .map(|_| ReqTotals {
                    scheduled: 0,
                    sent: 0,
                    dropped: 0,
                    dropped_wait: new_hist(),
                    bytes_in: 0,
                    bytes_out: 0,
                    by_outcome: vec![None; shape.outcomes.len()],
                })
                .collect(),
            lag: new_hist(),
            conn_wait: new_hist(),
            conn_limited: 0,
            by_intended: Vec::new(),
            guard: Default::default(),
            status: BTreeMap::new(),
            pods: Vec::new(),
            labels: vec![BTreeMap::new(); shape.labels.len()],
            cpu: Duration::ZERO,
            slow: Default::default(),
            by_stage: None,
            intended: Vec::new(),
        }
    }

    pub fn merge(&mut self, o: &Totals) {
        for (a, b) in self.requests.iter_mut().zip(&o.requests) {
            a.scheduled += b.scheduled;
            a.sent += b.sent;
            a.dropped += b.dropped;
            add(&mut a.dropped_wait, &b.dropped_wait);
            a.bytes_in += b.bytes_in;
            a.bytes_out += b.bytes_out;
            for (x, y) in a.by_outcome.iter_mut().zip(&b.by_outcome) {
                if let Some(y) = y {
                    let x = x.get_or_insert_with(|| OutcomeHists { latency: new_hist(), service: new_hist() });
                    add(&mut x.latency, &y.latency);
                    add(&mut x.service, &y.service);
                }
            }
        }
        add(&mut self.lag, &o.lag);
        add(&mut self.conn_wait, &o.conn_wait);
        self.conn_limited += o.conn_limited;
        self.guard.merge(&o.guard);
        if self.by_intended.len() < o.by_intended.len() {
            self.by_intended.resize(o.by_intended.len(), [0; 3]);
        }
        for (a, b) in self.by_intended.iter_mut().zip(&o.by_intended) {
            for i in 0..3 {
                a[i] += b[i];
            }
        }
        for (code, n) in &o.status {
            *self.status.entry(*code).or_default() += n;
        }
        for p in &o.pods {
            match self.pods.iter_mut().find(|q| q.name == p.name) {
                Some(q) => {
                    merge_counts(&mut q.outcomes, &p.outcomes);
                    add(&mut q.latency, &p.latency);
                }
                None => self.pods.push(p.clone()),
            }
        }
        for (a, b) in self.labels.iter_mut().zip(&o.labels) {
            merge_named(a, b);
        }
        self.cpu += o.cpu;
        self.slow.merge(&o.slow);
        super::intended::merge_entries(&mut self.intended, &o.intended);
        // Threads start from an empty total: the first that kept stage histograms brings them.
        // Stages that differ (never within one scenario) cannot be added: neither is kept.
        match (&mut self.by_stage, &o.by_stage) {
            (Some(a), Some(b)) => {
                if !a.merge(b) {
                    self.by_stage = None;
                }
            }
            (None, Some(b)) => self.by_stage = Some(b.clone()),
            _ => {}
        }
    }
}

pub(super) fn merge_named(a: &mut BTreeMap<String, u64>, b: &BTreeMap<String, u64>) {
    for (k, v) in b {
        *a.entry(k.clone()).or_default() += v;
    }
}

pub(super) fn bump(v: &mut Vec<u64>, i: usize) {
    if v.len() <= i {
        v.resize(i + 1, 0);
    }
    v[i] += 1;
}
pub(super) fn merge_counts(a: &mut Vec<u64>, b: &[u64]) {
    if a.len() < b.len() {
        a.resize(b.len(), 0);
    }
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}
