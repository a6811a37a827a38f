//! `summary.json`: the run in one document, versioned so later tools (compare, merge, report) can
//! refuse what they do not understand. It carries the full totals histograms (encoded like the
//! interval log), so anything derived later is computed from the data, not from rounded figures.

use super::interval::{Shape, Totals};
use super::hist::{self, add, new_hist, Hist, Percentiles};
use super::guard::SecondsGuard;
use super::outcome::OutcomeTable;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The schedule ran to its end.
    Completed,
    /// Stopped by Ctrl-C (or SIGTERM); everything up to then is recorded.
    Interrupted,
    /// Stopped by an abort condition or a fatal error.
    Aborted,
    /// The generator itself broke (a thread panicked): the figures are not to be trusted.
    Failed,
    /// The run never finished writing (killed): rebuilt from its per-second files.
    Incomplete,
    /// The load ran to its end but the drill did not: a fault could not be applied or removed
    /// (`failure` says which). Never a pass: the checks judged a run without the planned fault.
    DrillFailed,
}

impl RunStatus {
    /// The name summary.json and `--summary-json` give it (`drill_failed`).
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Aborted => "aborted",
            RunStatus::Failed => "failed",
            RunStatus::Incomplete => "incomplete",
            RunStatus::DrillFailed => "drill_failed",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub schema_version: u32,
    pub skyload_version: String,
    pub scenario: String,
    pub scenario_file: Option<String>,
    pub status: RunStatus,
    /// Why an aborted run was stopped (the abort condition that held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_reason: Option<String>,
    /// What broke: in a `failed` run a panic's message, with the thread it happened in; in a
    /// `drill_failed` run the fault that could not be applied or removed, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// Unix epoch milliseconds of second 0 of the schedule.
    pub start_unix_ms: u64,
    pub planned_duration_s: f64,
    pub duration_s: f64,
    pub target: String,
    pub outcome_names: Vec<String>,
    /// The headline: every completed request, whatever its outcome, from its intended start.
    pub totals: Overall,
    /// Latency of all requests split by outcome (`ok` alone, each error outcome alone): a fast 503
    /// or a refused connection does not pull the successes' percentiles down here.
    #[serde(default)]
    pub by_outcome: BTreeMap<String, OutcomeSummary>,
    pub requests: Vec<RequestSummary>,
    pub pods: Vec<PodSummary>,
    /// Completions per value of each label header (`x-fn-version` → {v1: n, v2: m}).
    pub labels: BTreeMap<String, BTreeMap<String, u64>>,
    pub generator: GeneratorHealth,
    /// Full totals histograms, V2-deflate base64, for exact comparison and merging.
    pub histograms: Vec<EncodedHist>,
    /// Which interleaved shares of the schedule these Results hold (absent: the whole schedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<Shards>,
    /// FNV-1a of `scenario.toml`: Results merge only with Results of the same scenario.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scenario_fingerprint: String,
    /// The Results directories a merge was made from (empty for a run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
    /// How an `https://` target was reached (absent for cleartext and merged runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<super::tls::TlsRun>,
}

/// Shares of an interleaved split of the schedule: a shard run holds one index of `count`, a merge
/// the union of its inputs' indices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shards {
    pub count: u32,
    pub indices: Vec<u32>,
}

/// A stable 64-bit FNV-1a of the scenario text, in hex: the same on every machine and build.
pub fn scenario_fingerprint(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Overall {
    pub scheduled: u64,
    pub sent: u64,
    pub completed: u64,
    /// Arrivals given up (in-flight cap, opt-in `max_lag`, interrupted): failures too.
    pub dropped: u64,
    /// Failures (`error`, transport failures, dropped) over completed + dropped.
    pub error_rate: f64,
    /// Completed requests per second of run time.
    pub achieved_rps: f64,
    pub outcomes: BTreeMap<String, u64>,
    pub status_codes: BTreeMap<String, u64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// From the intended start (corrected for coordinated omission).
    pub latency: Percentiles,
    /// From the actual send.
    pub service_time: Percentiles,
    /// How late dropped arrivals were when given up.
    #[serde(default)]
    pub dropped_wait: Percentiles,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestSummary {
    pub name: String,
    #[serde(flatten)]
    pub overall: Overall,
    pub by_outcome: BTreeMap<String, OutcomeSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutcomeSummary {
    pub count: u64,
    pub latency: Percentiles,
    pub service_time: Percentiles,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PodSummary {
    pub name: String,
    pub count: u64,
    pub rps: f64,
    pub outcomes: BTreeMap<String, u64>,
    pub latency: Percentiles,
}

impl GeneratorHealth {
    /// `1 thread` or `N threads`, for the terminal's and the report's generator lines.
    pub fn threads_text(&self) -> String {
        match self.threads {
            1 => "1 thread".to_string(),
            n => format!("{n} threads"),
        }
    }

    /// Whether the generator limited a run of `seconds`, for verdicts. Every flagged second is a
    /// warning in `notes`; the verdict fails only when more than max(1, 5% of the seconds) were
    /// flagged (or on drops / a low sent share, which are not per second): one late second — a
    /// scheduler hiccup on a shared machine, the last second's wind-down — is not a limited run.
    pub fn limited(&self, seconds: f64) -> bool {
        if !self.fell_behind {
            return false;
        }
        let g = &self.seconds;
        if !g.any() {
            return true;
        }
        let flagged = g.cpu_saturated.count.max(g.pacer_late.count).max(g.connection_limited.count);
        let per_second_only = self.notes.len() as u64 <= [g.cpu_saturated.count, g.pacer_late.count, g.connection_limited.count].iter().filter(|c| **c > 0).count() as u64;
        !per_second_only || flagged as f64 > (seconds * 0.05).max(1.0)
    }
}

/// Whether the generator, not the target, may have been the limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GeneratorHealth {
    pub threads: usize,
    /// Arrivals the schedule called for over the time the run lasted.
    pub expected: f64,
    pub target_rps: f64,
    pub send_rps: f64,
    /// Arrivals the pacer produced that were not dropped, over those produced (for Poisson stages
    /// the produced count, not the schedule's mean, is the reference).
    pub send_ratio: f64,
    /// The pacer's own lateness: handed to a worker minus intended send.
    pub schedule_lag: Percentiles,
    /// Waiting for a connection (pool wait, TCP connect): handed minus on the wire. Part of the
    /// latency, caused by the target or the connection cap, not by the pacer.
    #[serde(default)]
    pub connection_wait: Percentiles,
    /// Arrivals held back by the connection cap (`connections.max`).
    #[serde(default)]
    pub connection_limited: u64,
    /// Seconds flagged by the per-second guard.
    #[serde(default)]
    pub seconds: SecondsGuard,
    pub cpu_seconds: f64,
    /// Mean CPU cores busy in the generator threads.
    pub cpu_cores: f64,
    pub requests_per_cpu_second: f64,
    pub fell_behind: bool,
    pub notes: Vec<String>,
    /// The scenario's `pacer` (`sleep`, `precise`); empty in Results written before it existed.
    /// A merge of shards paced differently says `differs between shards: precise; sleep`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pacer: String,
    /// The precise pacer's request that idle CPUs wake at once (`load::cpu_latency`): `held at
    /// 0 µs`, or `not held: <why>`. Empty for the sleep pacer, which makes none, and in Results
    /// written before it existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cpu_latency: String,
}

impl GeneratorHealth {
    /// ` · pacer precise (CPU wake-up latency request held at 0 µs)` for the terminal's and the
    /// report's generator lines; empty for Results that name no pacer.
    pub fn pacer_text(&self) -> String {
        match (self.pacer.as_str(), self.cpu_latency.as_str()) {
            ("", _) => String::new(),
            (p, "") => format!(" · pacer {p}"),
            (p, c) => format!(" · pacer {p} (CPU wake-up latency request {c})"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EncodedHist {
    pub request: String,
    pub outcome: String,
    /// `latency` or `service` (per request × outcome); `lag` (send lag of the whole run, request
    /// and outcome `*`); `pod` (latency of the pod named in `request`, outcome `*`).
    pub kind: String,
    pub data: String,
}

/// What the runner knows that the totals do not.
#[derive(Debug, Clone)]
pub struct RunMeta {
    pub scenario: String,
    pub scenario_file: Option<String>,
    pub status: RunStatus,
    pub started_at: String,
    pub start_unix_ms: u64,
    pub planned_duration_s: f64,
    pub duration_s: f64,
    pub target: String,
    pub threads: usize,
    /// Schedule arrivals due over the run's actual length (this shard's share of them).
    pub expected: f64,
    pub shards: Option<Shards>,
    pub scenario_fingerprint: String,
}

impl Overall {
    fn from_parts(
        table: &OutcomeTable,
        counts: &[u64],
        latency: &Hist,
        service: &Hist,
        dropped_wait: &Hist,
        (scheduled, sent, dropped, bytes_in, bytes_out): (u64, u64, u64, u64, u64),
        duration_s: f64,
    ) -> Overall {
        let completed: u64 = counts.iter().sum();
        let failed: u64 = counts
            .iter()
            .enumerate()
            .filter(|(i, _)| OutcomeTable::is_failure(*i as u16))
            .map(|(_, n)| n)
            .sum();
        Overall {
            scheduled,
            sent,
            completed,
            dropped,
            error_rate: ratio(failed + dropped, completed + dropped),
            achieved_rps: if duration_s > 0.0 { completed as f64 / duration_s } else { 0.0 },
            outcomes: counts
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(i, n)| (table.name(i as u16).to_string(), *n))
                .collect(),
            status_codes: BTreeMap::new(),
            bytes_in,
            bytes_out,
            latency: Percentiles::of(latency),
            service_time: Percentiles::of(service),
            dropped_wait: Percentiles::of(dropped_wait),
        }
    }
}

pub fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl Summary {
    pub fn build(meta: &RunMeta, shape: &Shape, totals: &Totals) -> Summary {
        let table = &shape.outcomes;
        let d = meta.duration_s;
        let mut requests = Vec::new();
        let mut histograms = Vec::new();
        let (mut all_lat, mut all_svc, mut all_dw) = (new_hist(), new_hist(), new_hist());
        let mut outcome_hists: Vec<Option<(Hist, Hist)>> = vec![None; table.len()];
        let mut all_counts = vec![0u64; table.len()];
        let mut all_parts = (0, 0, 0, 0, 0);
        for (name, r) in shape.requests.iter().zip(&totals.requests) {
            let (mut lat, mut svc) = (new_hist(), new_hist());
            let mut counts = vec![0u64; table.len()];
            let mut by_outcome = BTreeMap::new();
            for (i, h) in r.by_outcome.iter().enumerate() {
                let Some(h) = h else { continue };
                let oname = table.name(i as u16).to_string();
                counts[i] = h.latency.len();
                let (ol, os) = outcome_hists[i].get_or_insert_with(|| (new_hist(), new_hist()));
                add(ol, &h.latency);
                add(os, &h.service);
                add(&mut lat, &h.latency);
                add(&mut svc, &h.service);
                by_outcome.insert(
                    oname.clone(),
                    OutcomeSummary {
                        count: h.latency.len(),
                        latency: Percentiles::of(&h.latency),
                        service_time: Percentiles::of(&h.service),
                    },
                );
                for (kind, hh) in [("latency", &h.latency), ("service", &h.service)] {
                    if let Ok(data) = hist::encode(hh) {
                        histograms.push(EncodedHist { request: name.clone(), outcome: oname.clone(), kind: kind.into(), data });
                    }
                }
            }
            let parts = (r.scheduled, r.sent, r.dropped, r.bytes_in, r.bytes_out);
            all_parts = (
                all_parts.0 + parts.0,
                all_parts.1 + parts.1,
                all_parts.2 + parts.2,
                all_parts.3 + parts.3,
                all_parts.4 + parts.4,
            );
            for (a, b) in all_counts.iter_mut().zip(&counts) {
                *a += b;
            }
            add(&mut all_lat, &lat);
            add(&mut all_svc, &svc);
            add(&mut all_dw, &r.dropped_wait);
            if !r.dropped_wait.is_empty() {
                if let Ok(data) = hist::encode(&r.dropped_wait) {
                    histograms.push(EncodedHist { request: name.clone(), outcome: "*".into(), kind: "dropped_wait".into(), data });
                }
            }
            requests.push(RequestSummary {
                name: name.clone(),
                overall: Overall::from_parts(table, &counts, &lat, &svc, &r.dropped_wait, parts, d),
                by_outcome,
            });
        }
        let mut overall = Overall::from_parts(table, &all_counts, &all_lat, &all_svc, &all_dw, all_parts, d);
        let by_outcome = outcome_hists
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.as_ref().map(|h| (i, h)))
            .map(|(i, (l, s))| {
                (table.name(i as u16).to_string(), OutcomeSummary { count: l.len(), latency: Percentiles::of(l), service_time: Percentiles::of(s) })
            })
            .collect();
        overall.status_codes = totals.status.iter().map(|(k, v)| (k.to_string(), *v)).collect();

        if let Ok(data) = hist::encode(&totals.lag) {
            histograms.push(EncodedHist { request: "*".into(), outcome: "*".into(), kind: "lag".into(), data });
        }
        if let Ok(data) = hist::encode(&totals.conn_wait) {
            histograms.push(EncodedHist { request: "*".into(), outcome: "*".into(), kind: "conn_wait".into(), data });
        }
        for p in &totals.pods {
            if let Ok(data) = hist::encode(&p.latency) {
                histograms.push(EncodedHist { request: p.name.clone(), outcome: "*".into(), kind: "pod".into(), data });
            }
        }
        let pods = totals
            .pods
            .iter()
            .map(|p| PodSummary {
                name: p.name.clone(),
                count: p.count(),
                rps: if d > 0.0 { p.count() as f64 / d } else { 0.0 },
                outcomes: p
                    .outcomes
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| **n > 0)
                    .map(|(i, n)| (table.name(i as u16).to_string(), *n))
                    .collect(),
                latency: Percentiles::of(&p.latency),
            })
            .collect();

        let generator = GeneratorHealth::assess(meta, &overall, totals);
        Summary {
            schema_version: SCHEMA_VERSION,
            skyload_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: meta.scenario.clone(),
            scenario_file: meta.scenario_file.clone(),
            status: meta.status,
            abort_reason: None,
            failure: None,
            started_at: meta.started_at.clone(),
            start_unix_ms: meta.start_unix_ms,
            planned_duration_s: meta.planned_duration_s,
            duration_s: d,
            target: meta.target.clone(),
            outcome_names: table.names().to_vec(),
            totals: overall,
            by_outcome,
            requests,
            pods,
            labels: shape.labels.iter().cloned().zip(totals.labels.iter().cloned()).collect(),
            generator,
            histograms,
            shards: meta.shards.clone(),
            scenario_fingerprint: meta.scenario_fingerprint.clone(),
            merged_from: Vec::new(),
            tls: None,
        }
    }
}

impl GeneratorHealth {
    /// The generator (not the target) may have limited the run when it dropped arrivals, when in
    /// some second its threads were saturated or its pacer ran late while connections were free,
    /// or when the connection cap held arrivals back. A target that stops answering raises
    /// latency, in-flight and connection wait, none of which is the generator's: it is not
    /// blamed. The send ratio is judged against the arrivals the pacer actually produced, never
    /// a Poisson schedule's mean (which a healthy run misses by chance).
    fn assess(meta: &RunMeta, overall: &Overall, totals: &Totals) -> GeneratorHealth {
        let d = meta.duration_s.max(1e-9);
        let cpu = totals.cpu.as_secs_f64();
        let cpu_cores = cpu / d;
        let g = &totals.guard;
        let mut notes = Vec::new();
        if overall.dropped > 0 {
            notes.push(format!(
                "{} requests were dropped (in-flight cap, max_lag or interrupted): the offered load was lower than planned",
                overall.dropped
            ));
        }
        if g.cpu_saturated.count > 0 {
            notes.push(format!(
                "generator threads were over {:.0}% busy in {} second(s) ({}): add threads or machines (shards)",
                super::guard::CPU_SATURATED * 100.0,
                g.cpu_saturated.count,
                g.cpu_saturated.list()
            ));
        }
        if g.pacer_late.count > 0 {
            notes.push(format!(
                "the pacer sent late (lag median over {} ms with connections free) in {} second(s) ({})",
                super::guard::PACER_LATE_US / 1000,
                g.pacer_late.count,
                g.pacer_late.list()
            ));
        }
        if g.connection_limited.count > 0 {
            notes.push(format!(
                "connection-limited: every connection was busy and connections.max reached in {} second(s) ({}); {} arrivals waited for a connection, so the load was not open-loop there: raise connections.max",
                g.connection_limited.count,
                g.connection_limited.list(),
                totals.conn_limited
            ));
        }
        GeneratorHealth {
            threads: meta.threads,
            expected: meta.expected.round(),
            target_rps: meta.expected / d,
            send_rps: overall.sent as f64 / d,
            send_ratio: if overall.scheduled > 0 { (overall.scheduled - overall.dropped.min(overall.scheduled)) as f64 / overall.scheduled as f64 } else { 1.0 },
            schedule_lag: Percentiles::of(&totals.lag),
            connection_wait: Percentiles::of(&totals.conn_wait),
            connection_limited: totals.conn_limited,
            seconds: g.clone(),
            cpu_seconds: cpu,
            cpu_cores,
            requests_per_cpu_second: if cpu > 0.0 { overall.completed as f64 / cpu } else { 0.0 },
            fell_behind: !notes.is_empty(),
            notes,
            pacer: String::new(),
            cpu_latency: String::new(),
        }
    }
}

/// An empty summary of one request named `get`, 3 s long, for tests of what reads summaries
/// (compare, the incomplete gate).
#[cfg(test)]
pub fn test_summary(name: &str, fingerprint: &str, status: RunStatus) -> Summary {
    let shape = Shape { requests: vec!["get".into()], outcomes: OutcomeTable::new([]), labels: vec![] };
    let meta = RunMeta {
        scenario: name.into(),
        scenario_file: None,
        status,
        started_at: String::new(),
        start_unix_ms: 0,
        planned_duration_s: 3.0,
        duration_s: 3.0,
        target: String::new(),
        threads: 1,
        expected: 0.0,
        shards: None,
        scenario_fingerprint: fingerprint.into(),
    };
    Summary::build(&meta, &shape, &Totals::new(&shape))
}

#[cfg(test)]
mod status_name_tests {
    use super::RunStatus::*;

    /// `name` is the serde name, so the JSON and the messages never disagree.
    #[test]
    fn names_are_the_json_names() {
        for s in [Completed, Interrupted, Aborted, Failed, Incomplete, DrillFailed] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.name(), "{s:?}");
        }
    }
}
