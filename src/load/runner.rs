//! Runs one plan against a target URL: starts the generator threads, and collects their seconds
//! in order into the Results directory as the run goes. A stop signal (Ctrl-C in the CLI, a handle
//! in tests) ends the schedule early; what was recorded up to then is written, and the summary is
//! marked interrupted. Booting the embedded gateway and driving faults belong to the layer above
//! (the session module), which hands in the URL and a [`FaultHook`].

use super::engine::{EngineCtx, Msg};
use super::request::RequestSet;
use super::schedule::Schedule;
use super::shard::{epoch_instant, ShardError, Sharding};
use crate::record::interval::{Interval, Shape, Totals, MAX_LABELS};
use crate::record::outcome::{Classifier, CONNECT};
use crate::record::redact;
use crate::record::results::ResultsWriter;
use crate::record::summary::{scenario_fingerprint, RunMeta, RunStatus, Shards, Summary};
use crate::scenario::{ConnectionPlan, Plan, TargetUrl};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot write results to {dir}: {source}")]
    Results { dir: PathBuf, source: std::io::Error },
    #[error("cannot resolve target host `{host}`: {reason}")]
    Resolve { host: String, reason: String },
    #[error("cannot start a runtime: {0}")]
    Runtime(std::io::Error),
    /// A bad `--start-at` (the usage is wrong, not the run).
    #[error(transparent)]
    Shard(#[from] ShardError),
    /// The pre-run probe's finding (a certificate refused, a protocol mismatch, ...).
    #[error(transparent)]
    Probe(#[from] super::probe::ProbeError),
}

/// Ends a run early from outside (Ctrl-C handler, tests, abort conditions). An abort carries its
/// reason, so the summary says `aborted` and why rather than `interrupted`.
#[derive(Clone)]
pub struct StopHandle {
    /// Flips to `true` once; every generator thread watches it.
    stopped: Arc<watch::Sender<bool>>,
    /// Why an abort condition stopped the run (`None`: not stopped, or stopped by the user).
    abort_reason: Arc<std::sync::Mutex<Option<String>>>,
}

impl StopHandle {
    pub fn new() -> StopHandle {
        StopHandle { stopped: Arc::new(watch::channel(false).0), abort_reason: Arc::default() }
    }
    pub fn stop(&self) {
        let _ = self.stopped.send(true);
    }
    /// Stops the run because an abort condition held; the first reason wins.
    pub fn abort(&self, reason: impl Into<String>) {
        self.abort_reason.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(|| reason.into());
        self.stop();
    }
    pub fn abort_reason(&self) -> Option<String> {
        self.abort_reason.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    pub fn is_stopped(&self) -> bool {
        *self.stopped.borrow()
    }
    fn subscribe(&self) -> watch::Receiver<bool> {
        self.stopped.subscribe()
    }
}

impl Default for StopHandle {
    fn default() -> Self {
        Self::new()
    }
}

/// Called once per closed second with the merged interval (for progress display).
pub trait Observer {
    fn second(&mut self, _iv: &Interval, _target_rps: f64, _shape: &Shape) {}
}

/// An observer that shows nothing.
pub struct Silent;
impl Observer for Silent {}

pub struct RunSettings {
    pub out_dir: PathBuf,
    pub stop: StopHandle,
}

pub struct RunResult {
    pub summary: Summary,
    pub dir: PathBuf,
    /// Nothing answered at the start and every request failed to connect.
    pub target_unreachable: bool,
}

/// The fault timeline as the runner sees it: started against the run's second 0 before the first
/// generator thread, finished after the last one has joined. Defined here and implemented above
/// (the session module) so the runner needs neither the fault driver nor its endpoints.
pub trait FaultHook {
    /// Second 0 of the schedule is `t0`; `dir` is the Results directory.
    fn start(&mut self, t0: Instant, dir: &Path);
    /// Removes whatever is still applied and writes what each fault did into `dir`.
    fn finish(&mut self, dir: &Path) -> std::io::Result<()>;
    /// After `finish`: the first fault that could not be applied or removed, said in full.
    fn failure(&self) -> Option<String> {
        None
    }
}

/// The default results directory: `reports/<scenario>-<UTC timestamp>`.
pub fn default_out_dir(plan: &Plan) -> PathBuf {
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let stamp = now.format(&fmt).unwrap_or_else(|_| "now".into());
    Path::new("reports").join(format!("{}-{stamp}", plan.name))
}

/// Runs the plan against `target` to its end (or until stopped). Blocking: it owns its threads
/// and runtimes. `faults` is driven only when this run (or shard) drives the plan's faults.
pub fn run_against(
    plan: &Plan,
    target: &TargetUrl,
    settings: RunSettings,
    sharding: Sharding,
    observer: &mut dyn Observer,
    faults: &mut dyn FaultHook,
) -> Result<RunResult, RunError> {
    // A start time already past is refused before anything is started.
    if let Some(at) = sharding.start_at {
        epoch_instant(at, SystemTime::now(), Instant::now())?;
    }
    let prepared = super::probe::prepare(plan, target)?;
    let reachable = prepared.reachable;
    if !reachable {
        tracing::warn!("{} does not accept connections: requests will be recorded as `connect` failures", target.to_url());
    }
    let http2 = prepared.http2;
    let shard = sharding.shard();
    let requests = RequestSet::new(plan, &target.authority, &target.base_path, http2).with_rows_by_seq(sharding.shard.is_some()).with_trace(plan.metrics.trace.then_some(plan.metrics.slow));
    let classifier = Classifier::new(&plan.matchers);
    let labels: Vec<http::HeaderName> = plan.labels.iter().take(MAX_LABELS).cloned().collect();
    let shape = Arc::new(Shape {
        requests: requests.names().to_vec(),
        outcomes: classifier.table().clone(),
        labels: labels.iter().map(|h| h.as_str().to_string()).collect(),
    });
    let weights = requests.weights();
    // A shard's targets and expected counts are its share (1/N) of the schedule's.
    let share = 1.0 / f64::from(shard.count);
    let schedule = Schedule::new(&plan.stages);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = plan
        .threads
        .unwrap_or_else(|| {
            let churn = if plan.connections.per_request { 1.0 } else { plan.connections.max_requests.map_or(0.0, |n| 1.0 / n.max(1) as f64) };
            default_threads(schedule.peak_rate() * share, churn, prepared.endpoint.dialer.tls.is_some(), cores)
        })
        .clamp(1, 64)
        .min(plan.connections.max.max(1));

    // Start a moment ahead so every thread is ready for second 0, or at the shards' common epoch.
    let (now, now_wall) = (Instant::now(), SystemTime::now());
    let (t0, start_wall) = match sharding.start_at {
        Some(at) => (epoch_instant(at, now_wall, now)?, at),
        None => {
            let lead = Duration::from_millis(50);
            (now + lead, now_wall + lead)
        }
    };
    let dir = settings.out_dir.clone();
    let results_err = |source| RunError::Results { dir: dir.clone(), source };
    let scenario_text = redact::scenario_text(plan);
    let mut writer = ResultsWriter::create(&dir, shape.clone(), start_wall, &scenario_text).map_err(results_err)?;
    writer.begin_intended().map_err(results_err)?;

    let ctx = Arc::new(EngineCtx {
        schedule: schedule.clone(),
        requests,
        classifier,
        endpoint: prepared.endpoint.clone(),
        conns: ConnectionPlan { http2, max: fit_open_files(plan.connections.max), ..plan.connections.clone() },
        timeout: plan.timeout,
        max_lag: plan.max_lag,
        max_in_flight: plan.max_in_flight,
        pod_header: plan.pod_header.clone(),
        labels,
        seed: plan.seed,
        threads,
        shape: shape.clone(),
        t0,
        shard,
        pacer: plan.pacer,
        stages: crate::record::by_stage::StageHists::for_plan(&plan.stages, &shape),
    });
    // Faults run on their own thread against the same second 0; finishing (or dropping) the
    // driver removes whatever is still applied, however the run ends.
    // In a sharded run only shard 0 drives faults, so each fault happens once.
    let drives_faults = sharding.shard.is_none_or(|s| s.drives_faults()) && !plan.faults.is_empty();
    if drives_faults {
        faults.start(t0, &dir);
    }
    // Held until the generator threads have ended; dropping it withdraws the request.
    let (cpu_latency_request, cpu_latency) = super::cpu_latency::for_pacer(plan.pacer);
    let (tx, rx) = mpsc::channel();
    let failures = super::guard::Failures::default();
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (ctx, tx, stop) = (ctx.clone(), tx.clone(), settings.stop.subscribe());
            let (failures, handle) = (failures.clone(), settings.stop.clone());
            std::thread::Builder::new()
                .name(format!("skyload-gen-{i}"))
                .spawn(move || super::guard::generator(i, ctx, tx, stop, &failures, || handle.stop()))
                .expect("spawn generator thread")
        })
        .collect();
    drop(tx);

    let mut collector = Collector::new(threads, shape.clone());
    let mut write_error = None;
    let mut handshakes = super::probe::HandshakeSeries::start(&prepared, &dir).map_err(results_err)?;
    for msg in rx {
        for iv in collector.accept(msg) {
            if let Err(e) = handshakes.second(iv.second) {
                write_error.get_or_insert(e);
            }
            collector.totals.guard.judge(&iv, threads);
            let secs = iv.second as f64;
            let target_rps = schedule.due_between(secs, secs + 1.0) * share;
            let per_req: Vec<f64> = weights.iter().map(|w| w * target_rps).collect();
            if let Err(e) = writer.write_interval(&iv, &per_req) {
                write_error.get_or_insert(e);
            }
            observer.second(&iv, target_rps, &shape);
        }
    }
    for (i, h) in handles.into_iter().enumerate() {
        if let Err(p) = h.join() {
            failures.record(format!("generator thread {i} panicked: {}", crate::out::panic_cause(&*p)));
        }
    }
    drop(cpu_latency_request);
    let ended = Instant::now();
    if drives_faults {
        faults.finish(&dir).map_err(results_err)?;
    }
    let interrupted = settings.stop.is_stopped();
    let duration = if interrupted {
        ended.saturating_duration_since(t0).min(schedule.duration())
    } else {
        schedule.duration()
    };
    handshakes.finish(collector.next.saturating_sub(1)).map_err(results_err)?;
    let totals = collector.totals;
    // The intended seconds still open when the threads finished (the last `horizon` seconds').
    writer.write_intended(&totals.intended).map_err(results_err)?;
    writer.write_accounting(&totals.by_intended).map_err(results_err)?;
    if let Some(stages) = &totals.by_stage {
        stages.write(&dir, &shape).map_err(results_err)?;
    }
    if plan.metrics.trace {
        crate::record::slow::write_csv(&dir, &crate::record::slow::rows(&totals.slow, &shape, plan.seed, start_wall)).map_err(results_err)?;
    }
    let drill_failure = faults.failure();
    // Read once, after the generator threads ended: an abort condition judged on the last second
    // may have fired after `interrupted` was read, and its reason must still make the run aborted.
    let abort_reason = settings.stop.abort_reason();
    let meta = RunMeta {
        scenario: plan.name.clone(),
        scenario_file: plan.source_path.as_ref().map(|p| p.display().to_string()),
        status: RunStatus::Completed,
        started_at: rfc3339(start_wall),
        start_unix_ms: start_wall.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis() as u64,
        planned_duration_s: schedule.duration().as_secs_f64(),
        duration_s: duration.as_secs_f64(),
        target: target.to_url(),
        threads,
        expected: schedule.due_by(duration.as_secs_f64()) * share,
        shards: sharding.shard.map(|s| Shards { count: s.count, indices: vec![s.index] }),
        scenario_fingerprint: scenario_fingerprint(&scenario_text),
    };
    let mut summary = Summary::build(&meta, &shape, &totals);
    let all_connect = summary.totals.completed > 0 && summary.totals.outcomes.get(shape.outcomes.name(CONNECT)) == Some(&summary.totals.completed);
    summary.abort_reason = match abort_reason {
        // Too short for the dead-target rule to fire: the same answer, so it is never "completed".
        None if !reachable && all_connect => Some(NO_CONNECTION.to_string()),
        r => r,
    };
    summary.status = run_status(failures.first().is_some(), interrupted, summary.abort_reason.is_some(), drill_failure.is_some());
    summary.failure = failures.first().or(drill_failure);
    summary.tls = prepared.tls_run();
    summary.generator.pacer = plan.pacer.name().to_string();
    summary.generator.cpu_latency = cpu_latency;
    writer.write_summary(&summary).map_err(results_err)?;
    if let Some(e) = write_error {
        return Err(results_err(e));
    }
    Ok(RunResult { summary, dir, target_unreachable: !reachable && all_connect })
}

/// Why a run whose every request failed to connect was aborted, when it ended before the
/// dead-target rule (`verify::abort`, 3 seconds) could say so itself.
pub const NO_CONNECTION: &str = "the target accepted no connection (every connect was refused or timed out): is it running and is the URL right?";

/// How a run ended, worst first: the generator broke; an abort condition held (also one judged
/// on the last second, after the schedule ended: it is read after the threads stopped); the user
/// stopped it; a fault of the drill could not be applied or removed; or it ran as planned.
fn run_status(generator_broke: bool, interrupted: bool, aborted: bool, drill_failed: bool) -> RunStatus {
    match (generator_broke, aborted, interrupted, drill_failed) {
        (true, ..) => RunStatus::Failed,
        (_, true, ..) => RunStatus::Aborted,
        (_, _, true, _) => RunStatus::Interrupted,
        (.., true) => RunStatus::DrillFailed,
        _ => RunStatus::Completed,
    }
}

#[cfg(test)]
mod status_tests {
    use super::run_status;
    use crate::record::summary::RunStatus::*;

    /// The worst cause wins; an abort reason makes a run aborted even when the threads had
    /// already reached the schedule's end (the last second's judgement came after it).
    #[test]
    fn the_worst_ending_wins() {
        assert_eq!(run_status(false, false, false, false), Completed);
        assert_eq!(run_status(false, false, false, true), DrillFailed);
        assert_eq!(run_status(false, true, false, true), Interrupted);
        assert_eq!(run_status(false, false, true, false), Aborted);
        assert_eq!(run_status(false, true, true, true), Aborted);
        assert_eq!(run_status(true, true, true, true), Failed);
    }
}

/// File descriptors kept free for everything that is not a target connection (Results files, the
/// embedded gateway's listener and its own connections are counted separately by the OS).
const FD_RESERVE: u64 = 256;

/// The connection cap, lowered to what the open-file limit allows (the soft limit is raised to
/// the hard one first), so a slow target meets more connections, never EMFILE.
fn fit_open_files(max: usize) -> usize {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read and write the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return max;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    // An embedded gateway shares the process: it needs one descriptor per accepted connection too.
    let budget = (lim.rlim_cur.saturating_sub(FD_RESERVE) / 2).max(1);
    let fit = max.min(usize::try_from(budget).unwrap_or(usize::MAX));
    if fit < max {
        tracing::info!("connections.max lowered from {max} to {fit} to fit the open-file limit ({})", lim.rlim_cur);
    }
    fit
}

pub use crate::units::rfc3339;

/// Puts the threads' seconds back in order: second k is complete once every thread has shipped
/// through k (or finished).
struct Collector {
    through: Vec<Option<u64>>,
    done: Vec<bool>,
    pending: BTreeMap<u64, Interval>,
    next: u64,
    shape: Arc<Shape>,
    totals: Totals,
}

impl Collector {
    fn new(threads: usize, shape: Arc<Shape>) -> Collector {
        let totals = Totals::new(&shape);
        Collector { through: vec![None; threads], done: vec![false; threads], pending: BTreeMap::new(), next: 0, shape, totals }
    }

    fn accept(&mut self, msg: Msg) -> Vec<Interval> {
        match msg {
            Msg::Intervals(i, ivs) => {
                for iv in ivs {
                    self.through[i] = Some(self.through[i].map_or(iv.second, |t| t.max(iv.second)));
                    match self.pending.get_mut(&iv.second) {
                        Some(p) => p.merge(&iv),
                        None => {
                            self.pending.insert(iv.second, iv);
                        }
                    }
                }
            }
            Msg::Done(i, mut totals) => {
                // The first thread's totals become the run's (what the collector judged so far is
                // merged into them), so its histograms are not copied once more at the end.
                if !self.done.contains(&true) {
                    std::mem::swap(&mut self.totals, &mut totals);
                }
                self.done[i] = true;
                self.totals.merge(&totals);
            }
        }
        let mut out = Vec::new();
        loop {
            let k = self.next;
            let ready = (0..self.done.len()).all(|i| self.done[i] || self.through[i].is_some_and(|t| t >= k));
            if !ready {
                break;
            }
            match self.pending.remove(&k) {
                Some(iv) => out.push(iv),
                None if self.done.iter().all(|d| *d) && self.pending.is_empty() => break,
                None => out.push(Interval::new(k, &self.shape)),
            }
            self.next += 1;
        }
        out
    }
}

/// The arrival rate one generator thread is given when `threads` is not set: a quarter of what one
/// thread held against nginx on loopback with full recording (~98,000/s over HTTP/1.1, 60,000/s
/// held over TLS and over HTTP/2, `benches/vs_wrk.sh`, `benches/tls.sh`), so heavier requests
/// (large bodies, many captures) still leave it headroom.
const RATE_PER_THREAD: f64 = 25_000.0;

/// New connections a second one thread is given on top: a resumed TLS handshake took ~280 µs of
/// the generator's CPU (`RATE=60000 bash benches/tls.sh`, per_request row: ~3,500/s on one core),
/// a cleartext connect and close far less.
const TLS_CONNECTS_PER_THREAD: f64 = 1_000.0;
const TCP_CONNECTS_PER_THREAD: f64 = 5_000.0;

/// Generator threads for a run whose peak rate (this process's share) is `peak`, opening `churn`
/// new connections per request (1 for `per_request`, 1/n for `max_requests = n`): as many as the
/// rate needs, never more than the cores. A thread per core at any rate was the old default; on a
/// machine that also runs the target (loopback tests, a laptop), idle-spinning or waking threads
/// on every core take the CPU the target needs and it preempts them back: with one generator
/// thread at 2,000/s the precise pacer's lag p99 fell from 13-118 µs to 4-31 µs, and each
/// thread's larger batches cost fewer wake-ups per request (docs/measurement.md, "One thread per
/// 25,000/s").
fn default_threads(peak: f64, churn: f64, tls: bool, cores: usize) -> usize {
    let connects = if tls { TLS_CONNECTS_PER_THREAD } else { TCP_CONNECTS_PER_THREAD };
    let need = (peak / RATE_PER_THREAD + peak * churn / connects).ceil();
    (need.max(1.0) as usize).clamp(1, cores.max(1))
}

#[cfg(test)]
mod default_threads_tests {
    use super::default_threads;

    #[test]
    fn one_thread_per_25k_per_second_up_to_the_cores() {
        let keep_alive = |peak, cores| default_threads(peak, 0.0, false, cores);
        assert_eq!(keep_alive(0.0, 8), 1);
        assert_eq!(keep_alive(100.0, 8), 1);
        assert_eq!(keep_alive(25_000.0, 8), 1);
        assert_eq!(keep_alive(25_001.0, 8), 2);
        assert_eq!(keep_alive(90_000.0, 8), 4);
        assert_eq!(keep_alive(1e9, 8), 8);
        assert_eq!(keep_alive(1e9, 0), 1);
        assert_eq!(default_threads(20_000.0, 0.0, true, 8), 1, "TLS on kept-alive connections costs little more");
    }

    /// A handshake per request is what costs: a thread is given 1,000 TLS or 5,000 cleartext new
    /// connections a second on top of its requests.
    #[test]
    fn new_connections_need_more_threads() {
        assert_eq!(default_threads(900.0, 1.0, true, 8), 1);
        assert_eq!(default_threads(2_000.0, 1.0, true, 8), 3, "2,000/s / 25,000 + 2,000 handshakes / 1,000");
        assert_eq!(default_threads(2_000.0, 1.0, false, 8), 1);
        assert_eq!(default_threads(20_000.0, 1.0, false, 8), 5);
        assert_eq!(default_threads(20_000.0, 0.01, true, 8), 1, "max_requests = 100: 200 handshakes a second fit beside 20,000 requests");
        assert_eq!(default_threads(24_000.0, 0.1, true, 8), 4, "max_requests = 10: 0.96 + 2.4 threads");
        assert_eq!(default_threads(50_000.0, 1.0, true, 2), 2, "never more than the cores");
    }
}
