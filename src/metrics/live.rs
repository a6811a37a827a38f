//! The live view a scrape reads: cumulative counters and histograms folded from the collector's
//! merged seconds, once a second, on the collector's thread. The generator threads never see any
//! of this, so publishing costs the hot path nothing beyond the per-second shipping it already does.

use super::expo::{Buckets, Exemplar, Format, Kind, Writer};
use crate::load::schedule::Schedule;
use crate::load::shard::Shard;
use crate::record::interval::Interval;
use crate::record::outcome::Classifier;
use crate::scenario::{FaultAction, GatewayFault, Plan};
use std::collections::BTreeMap;

/// Counters and histograms of one request name in one stage.
#[derive(Debug, Clone)]
struct ReqSeries {
    scheduled: u64,
    sent: u64,
    dropped: u64,
    /// Completions by outcome id.
    completed: Vec<u64>,
    latency: Buckets,
    service: Buckets,
}

#[derive(Debug, Clone)]
struct FaultSeries {
    name: String,
    kind: String,
}

/// Everything the endpoint serves, updated once a second.
#[derive(Debug)]
pub struct Live {
    scenario: String,
    shard: String,
    requests: Vec<String>,
    outcomes: Vec<String>,
    stages: Vec<String>,
    schedule: Schedule,
    /// `[stage][request]`.
    series: Vec<Vec<ReqSeries>>,
    lag: Buckets,
    cpu_s: f64,
    in_flight: u64,
    target_rps: f64,
    /// Seconds of the schedule folded in so far.
    seconds: u64,
    pods: BTreeMap<String, u64>,
    /// Planned fault windows; empty on a shard that does not drive faults.
    faults: Vec<FaultSeries>,
    finished: bool,
    /// The seed that names trace ids, when tracing (exemplars on the latency histograms).
    trace_seed: Option<u64>,
    /// Wall-clock time of second 0, fixed when the first second is folded in.
    t0_unix: Option<f64>,
}

/// Faults the driver has really applied (true) or removed (false), by name: the gauge follows
/// these, not the planned window, so a fault that applied late or failed to apply shows as it was.
/// One process runs one timeline at a time (`Live::new` forgets the previous run's entries).
static FAULTS_ACTUAL: std::sync::Mutex<BTreeMap<String, bool>> = std::sync::Mutex::new(BTreeMap::new());

/// The fault driver's hook: fault `name` was just applied (`on`) or removed.
pub fn fault_event(name: &str, on: bool) {
    if let Ok(mut m) = FAULTS_ACTUAL.lock() {
        m.insert(name.to_string(), on);
    }
}

/// Stage labels: the stage's name, made unique with its position when two share one.
fn stage_labels(plan: &Plan) -> Vec<String> {
    let names: Vec<&str> = plan.stages.iter().map(|s| s.name.as_str()).collect();
    names
        .iter()
        .enumerate()
        .map(|(i, n)| if names.iter().filter(|m| *m == n).count() > 1 || n.is_empty() { format!("{}-{n}", i + 1) } else { n.to_string() })
        .collect()
}

fn fault_kind(a: &FaultAction) -> String {
    match a {
        FaultAction::Gateway { fault: GatewayFault::Kill, .. } => "kill".into(),
        FaultAction::Gateway { fault: GatewayFault::Latency { .. }, .. } => "latency".into(),
        FaultAction::Gateway { fault: GatewayFault::Errors { .. }, .. } => "errors".into(),
        FaultAction::Toxic { toxic, .. } => toxic.kind.clone(),
        FaultAction::Exec { .. } => "exec".into(),
    }
}

impl Live {
    /// `shard` is None for an unsharded run.
    pub fn new(plan: &Plan, shard: Option<Shard>) -> Live {
        let requests: Vec<String> = plan.requests.iter().map(|r| r.name.clone()).collect();
        let outcomes = Classifier::new(&plan.matchers).table().names().to_vec();
        let stages = stage_labels(plan);
        let series = stages
            .iter()
            .map(|_| {
                requests
                    .iter()
                    .map(|_| ReqSeries {
                        scheduled: 0,
                        sent: 0,
                        dropped: 0,
                        completed: vec![0; outcomes.len()],
                        latency: Buckets::new(),
                        service: Buckets::new(),
                    })
                    .collect()
            })
            .collect();
        let drives_faults = shard.is_none_or(|s| s.drives_faults());
        if let Ok(mut m) = FAULTS_ACTUAL.lock() {
            plan.faults.iter().for_each(|f| _ = m.remove(&f.name));
        }
        let faults = if drives_faults {
            plan.faults.iter().map(|f| FaultSeries { name: f.name.clone(), kind: fault_kind(&f.action) }).collect()
        } else {
            Vec::new()
        };
        Live {
            scenario: plan.name.clone(),
            shard: shard.map_or("0".into(), |s| s.index.to_string()),
            requests,
            outcomes,
            stages,
            schedule: Schedule::new(&plan.stages),
            series,
            lag: Buckets::new(),
            cpu_s: 0.0,
            in_flight: 0,
            target_rps: 0.0,
            seconds: 0,
            pods: BTreeMap::new(),
            faults,
            finished: false,
            trace_seed: plan.metrics.trace.then_some(plan.seed),
            t0_unix: None,
        }
    }

    /// Folds in one closed second (merged over threads) and the target rate for it.
    pub fn second(&mut self, iv: &Interval, target_rps: f64) {
        let secs = iv.second as f64;
        let stage = self.schedule.stage_at(secs).unwrap_or(self.stages.len().saturating_sub(1));
        if let Some(row) = self.series.get_mut(stage) {
            for (s, r) in row.iter_mut().zip(&iv.requests) {
                s.scheduled += r.scheduled;
                s.sent += r.sent;
                s.dropped += r.dropped;
                for (a, b) in s.completed.iter_mut().zip(&r.outcomes) {
                    *a += b;
                }
                s.latency.add_hist(&r.latency);
                s.service.add_hist(&r.service);
            }
        }
        if let (Some(seed), Some(row)) = (self.trace_seed, self.series.get_mut(stage)) {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
            // Shipped a little after the second closed; near enough for an exemplar's timestamp.
            let t0 = *self.t0_unix.get_or_insert(now - (iv.second + 1) as f64);
            for (s, by_bucket) in row.iter_mut().zip(&iv.slow.by_request) {
                for (slot, e) in by_bucket.iter().enumerate() {
                    if let Some(e) = e {
                        s.latency.exemplars[slot] = Some(Exemplar {
                            label: "trace_id",
                            id: String::from_utf8_lossy(&crate::load::trace_id::trace_id_hex(seed, e.seq)).into_owned(),
                            value_s: e.latency_ns as f64 / 1e9,
                            at_unix: t0 + e.done_ns as f64 / 1e9,
                        });
                    }
                }
            }
        }
        self.lag.add_hist(&iv.lag);
        for (pod, n) in &iv.pods {
            *self.pods.entry(pod.clone()).or_default() += n;
        }
        self.cpu_s += iv.cpu.as_secs_f64();
        self.in_flight = iv.in_flight;
        self.target_rps = target_rps;
        self.seconds = self.seconds.max(iv.second + 1);
    }

    /// The run is over: the values are final, nothing is in flight and nothing is offered.
    pub fn finish(&mut self) {
        self.finished = true;
        self.in_flight = 0;
        self.target_rps = 0.0;
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    pub fn render(&self, format: Format) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let mut w = Writer::new(&mut out, format);
        let base = [("scenario", self.scenario.as_str()), ("shard", self.shard.as_str())];

        type Pick = fn(&ReqSeries) -> u64;
        let counters: [(&str, &str, Pick); 3] = [
            ("skyload_requests_scheduled", "Arrivals due by the schedule (open loop), whether sent or dropped.", |s| s.scheduled),
            ("skyload_requests_sent", "Requests put on the wire.", |s| s.sent),
            ("skyload_requests_dropped", "Arrivals not sent (in-flight cap or max_lag): failures, never skipped silently.", |s| s.dropped),
        ];
        for (name, help, pick) in counters {
            w.family(name, Kind::Counter, help);
            for (st, row) in self.stages.iter().zip(&self.series) {
                for (req, s) in self.requests.iter().zip(row) {
                    w.counter(name, &[base[0], base[1], ("stage", st), ("request", req)], pick(s) as f64);
                }
            }
        }
        w.family("skyload_requests_completed", Kind::Counter, "Requests that ended, by outcome (transport failures included).");
        for (st, row) in self.stages.iter().zip(&self.series) {
            for (req, s) in self.requests.iter().zip(row) {
                for (o, n) in self.outcomes.iter().zip(&s.completed) {
                    w.counter("skyload_requests_completed", &[base[0], base[1], ("stage", st), ("request", req), ("outcome", o)], *n as f64);
                }
            }
        }
        w.family(
            "skyload_request_latency_seconds",
            Kind::Histogram,
            "Latency from each request's intended send time to its answer (open loop, no coordinated omission).",
        );
        for (st, row) in self.stages.iter().zip(&self.series) {
            for (req, s) in self.requests.iter().zip(row) {
                w.histogram("skyload_request_latency_seconds", &[base[0], base[1], ("stage", st), ("request", req)], &s.latency);
            }
        }
        w.family("skyload_request_service_seconds", Kind::Histogram, "Service time: from the actual send to the answer.");
        for (st, row) in self.stages.iter().zip(&self.series) {
            for (req, s) in self.requests.iter().zip(row) {
                w.histogram("skyload_request_service_seconds", &[base[0], base[1], ("stage", st), ("request", req)], &s.service);
            }
        }
        w.family("skyload_send_lag_seconds", Kind::Histogram, "Pacer lag: actual send time minus intended send time.");
        w.histogram("skyload_send_lag_seconds", &base, &self.lag);
        w.family("skyload_in_flight_requests", Kind::Gauge, "The most requests in flight (handed to a connection, not yet ended) at any moment of the last second.");
        w.sample("skyload_in_flight_requests", &base, self.in_flight as f64);
        w.family("skyload_target_requests_per_second", Kind::Gauge, "Rate the schedule offered in the last second (this shard's share).");
        w.sample("skyload_target_requests_per_second", &base, self.target_rps);
        w.family("skyload_generator_cpu_seconds", Kind::Counter, "CPU time used by the generator threads.");
        w.counter("skyload_generator_cpu_seconds", &base, self.cpu_s);
        w.family("skyload_run_elapsed_seconds", Kind::Gauge, "Seconds of the schedule published so far.");
        w.sample("skyload_run_elapsed_seconds", &base, self.seconds as f64);
        w.family("skyload_run_finished", Kind::Gauge, "1 once the run has ended and these values are final.");
        w.sample("skyload_run_finished", &base, if self.finished { 1.0 } else { 0.0 });
        if !self.faults.is_empty() {
            w.family("skyload_fault_active", Kind::Gauge, "1 while a fault is applied: from the driver's apply until its removal.");
            let actual = FAULTS_ACTUAL.lock().map(|m| m.clone()).unwrap_or_default();
            for f in &self.faults {
                let on = actual.get(&f.name).copied().unwrap_or(false);
                w.sample("skyload_fault_active", &[base[0], base[1], ("fault", &f.name), ("kind", &f.kind)], if on { 1.0 } else { 0.0 });
            }
        }
        if !self.pods.is_empty() {
            w.family("skyload_pod_completed", Kind::Counter, "Requests completed by the pod named in the pod header.");
            for (pod, n) in &self.pods {
                w.counter("skyload_pod_completed", &[base[0], base[1], ("pod", pod)], *n as f64);
            }
        }
        w.finish();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::interval::Shape;
    use crate::record::hist::record_us;
    use std::time::Duration;

    fn plan() -> Plan {
        let text = "name = \"live\"\n[target]\nurl = \"http://127.0.0.1:1\"\n[[stages]]\nname = \"warm\"\nrate = 10\nduration = \"2s\"\n[[stages]]\nname = \"hold\"\nrate = 20\nduration = \"2s\"\n[[requests]]\nname = \"get\"\npath = \"/\"\n";
        crate::scenario::load_str(text, std::path::Path::new("l.toml")).unwrap()
    }

    #[test]
    fn seconds_fold_into_their_stage() {
        let p = plan();
        let mut live = Live::new(&p, None);
        let shape = Shape { requests: vec!["get".into()], outcomes: Classifier::new(&p.matchers).table().clone(), labels: vec![] };
        for k in 0..4u64 {
            let mut iv = Interval::new(k, &shape);
            iv.requests[0].scheduled = 10 * (k + 1);
            iv.requests[0].completed = 3;
            iv.requests[0].outcomes[crate::record::outcome::OK as usize] = 3;
            for _ in 0..3 {
                record_us(&mut iv.requests[0].latency, Duration::from_millis(3));
            }
            iv.pods.insert("pod-1".into(), 3);
            live.second(&iv, 10.0);
        }
        live.finish();
        let s = live.render(Format::Text);
        assert!(s.contains("skyload_requests_scheduled_total{scenario=\"live\",shard=\"0\",stage=\"warm\",request=\"get\"} 30\n"), "{s}");
        assert!(s.contains("stage=\"hold\",request=\"get\"} 70\n"), "{s}");
        assert!(s.contains("skyload_request_latency_seconds_count{scenario=\"live\",shard=\"0\",stage=\"hold\",request=\"get\"} 6\n"), "{s}");
        assert!(s.contains("skyload_pod_completed_total{scenario=\"live\",shard=\"0\",pod=\"pod-1\"} 12\n"), "{s}");
        assert!(s.contains("skyload_run_finished{scenario=\"live\",shard=\"0\"} 1\n"), "{s}");
        let om = live.render(Format::OpenMetrics);
        assert!(om.ends_with("# EOF\n") && om.contains("# TYPE skyload_requests_completed counter\n"));
        crate::metrics::promtool::check(&s);
    }

    /// A traced run's latency buckets carry the slowest request of each bucket as an exemplar
    /// (OpenMetrics only), named by the trace id it was sent with.
    #[test]
    fn traced_seconds_give_exemplars() {
        let mut p = plan();
        p.metrics.trace = true;
        let mut live = Live::new(&p, None);
        let shape = Shape { requests: vec!["get".into()], outcomes: Classifier::new(&p.matchers).table().clone(), labels: vec![] };
        let mut iv = Interval::new(0, &shape);
        record_us(&mut iv.requests[0].latency, Duration::from_millis(3));
        let mut slots = [None; crate::record::slow::SLOTS];
        slots[6] = Some(crate::record::slow::Exemplar { seq: 17, latency_ns: 3_000_000, done_ns: 500_000_000 });
        iv.slow.by_request = vec![slots];
        live.second(&iv, 10.0);
        let om = live.render(Format::OpenMetrics);
        let id = String::from_utf8(crate::load::trace_id::trace_id_hex(p.seed, 17).to_vec()).unwrap();
        let line = om.lines().find(|l| l.contains("le=\"0.005\"") && l.contains("skyload_request_latency_seconds_bucket")).unwrap();
        assert!(line.contains(&format!(" 1 # {{trace_id=\"{id}\"}} 0.003 ")), "{line}");
        assert!(!live.render(Format::Text).contains("trace_id"));
        p.metrics.trace = false;
        let mut plain = Live::new(&p, None);
        plain.second(&iv, 10.0);
        assert!(!plain.render(Format::OpenMetrics).contains("trace_id"));
    }

    /// The fault gauge follows the driver's apply and remove, not the planned window.
    #[test]
    fn fault_gauge_follows_the_driver() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/drill-pod-kill.toml");
        let mut p = crate::scenario::load_file(&path).unwrap();
        p.faults[0].name = "gauge-test-kill".into();
        let live = Live::new(&p, None);
        let gauge = |live: &Live| {
            let s = live.render(Format::Text);
            s.lines().find(|l| l.starts_with("skyload_fault_active{") && l.contains("gauge-test-kill")).map(|l| l.rsplit(' ').next().unwrap().to_string()).unwrap()
        };
        assert_eq!(gauge(&live), "0");
        fault_event("gauge-test-kill", true);
        assert_eq!(gauge(&live), "1");
        fault_event("gauge-test-kill", false);
        assert_eq!(gauge(&live), "0");
        fault_event("gauge-test-kill", true);
        let next = Live::new(&p, None);
        assert_eq!(gauge(&next), "0", "a new run forgets the previous run's state");
    }
}

