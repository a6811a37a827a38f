//! A Results directory read back into the data it was made from, so that it can be merged exactly
//! and written again as a normal Results directory. Run totals come from `summary.json`'s full
//! histograms and counters; seconds come from `timeseries.csv` (counters), `latency.hlog`
//! (per-second histograms, so percentiles are recomputed, never averaged), `pods.csv` and
//! `labels.csv`. Nothing here compares or merges: that is `merge`.
//!
//! Two figures are kept in the units the files show them in, so that sums are exact integers and
//! merging is associative: per-second targets in tenths of a request (`target_rps` has one
//! decimal) and per-second generator CPU in milliseconds (`generator_cpu_pct` has one decimal).
//! The interval log has no per-request service time, so a second's whole service-time histogram is
//! held by its first request (the files written from it are the same).

use super::interval::{Interval, PodTotals, Shape, Totals};
use super::hist::{add, decode, new_hist, CodecError, Hist};
use super::outcome::OutcomeTable;
use super::results::{self, ResultsWriter, ACCOUNTING, ALL_REQUESTS, HLOG, LABELS, PODS, SCENARIO_COPY, STATUS, TIMESERIES};
use super::summary::{scenario_fingerprint, RunMeta, Shards, Summary};
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{dir}: cannot read {file}: {source} (is it a skyload Results directory of a finished run?)")]
    Io { dir: PathBuf, file: &'static str, source: std::io::Error },
    #[error("{dir}: {file}: {what}")]
    Bad { dir: PathBuf, file: &'static str, what: String },
    #[error("{dir}: summary.json has no `{kind}` histograms: it was written by a skyload without exact merging; re-run with this version")]
    Missing { dir: PathBuf, kind: &'static str },
    #[error("{dir}: {file}: {source}")]
    Codec { dir: PathBuf, file: &'static str, source: CodecError },
}

/// One second of the run, from all the per-second files.
#[derive(Debug, Clone)]
pub struct Second {
    pub iv: Interval,
    /// Per request: arrivals the schedule called for, in tenths.
    pub target_tenths: Vec<u64>,
}

/// A Results directory in memory.
#[derive(Debug, Clone)]
pub struct Results {
    /// What the summary says about the run besides its totals: the same type the runner writes
    /// it from. `shards` is always set here (a run that was not sharded holds share 0 of 1), and
    /// `scenario_fingerprint` is computed from the `scenario.toml` read back.
    pub info: RunMeta,
    pub scenario_text: String,
    pub shape: Shape,
    pub totals: Totals,
    pub seconds: BTreeMap<u64, Second>,
    /// The run directories this was made from (just its own for a run).
    pub sources: Vec<String>,
    /// How an https run reached its target (summary.json `tls`), kept through rebuilds and merges.
    pub tls: Option<crate::record::tls::TlsRun>,
    /// How the shares were paced, kept through rebuilds and merges.
    pub pacing: Pacing,
    /// Why a share did not run as planned (summary.json `abort_reason`, `failure`), kept through
    /// merges so the merged summary says why its status is what it is (the first of each).
    pub why: Why,
    /// Whether `totals.by_intended` holds every share's arrivals (`accounting.csv`): a killed
    /// run's and an older skyload's Results have none, and a merge with one of them writes no
    /// accounting rather than rows that do not add up to the schedule.
    pub accounted: bool,
    /// TLS handshakes and resumptions per second (`handshakes.csv`; None for a plain-http run).
    pub handshakes: Option<BTreeMap<u64, (u64, u64)>>,
    /// Latency and service time by intended second (`intended.hlog`, every entry of a second
    /// added); None for Results written before the file existed, and for a merge in which a
    /// share has none.
    pub intended: Option<BTreeMap<u64, super::intended::IntendedSecond>>,
}

/// summary.json `abort_reason` and `failure`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Why {
    pub abort_reason: Option<String>,
    pub failure: Option<String>,
}

impl Why {
    pub fn or(&self, other: &Why) -> Why {
        Why { abort_reason: self.abort_reason.clone().or_else(|| other.abort_reason.clone()), failure: self.failure.clone().or_else(|| other.failure.clone()) }
    }
}

/// summary.json `generator.pacer` and `generator.cpu_latency`, as the set of values the shares
/// had: a merge of shards that were paced differently says so rather than naming one of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pacing {
    pub pacer: BTreeSet<String>,
    pub cpu_latency: BTreeSet<String>,
}

/// How a summary field says that the merged shards had different values.
const DIFFER: &str = "differs between shards: ";

impl Pacing {
    fn of(g: &super::summary::GeneratorHealth) -> Pacing {
        Pacing { pacer: values(&g.pacer, "not recorded"), cpu_latency: values(&g.cpu_latency, "none") }
    }

    pub fn merge(&mut self, o: &Pacing) {
        self.pacer.extend(o.pacer.iter().cloned());
        self.cpu_latency.extend(o.cpu_latency.iter().cloned());
    }

    fn write(&self, g: &mut super::summary::GeneratorHealth) {
        g.pacer = text(&self.pacer, "not recorded");
        g.cpu_latency = text(&self.cpu_latency, "none");
    }
}

/// A field's values: one, or those a merge listed after `DIFFER` (`empty` stands for "").
fn values(field: &str, empty: &str) -> BTreeSet<String> {
    match field.strip_prefix(DIFFER) {
        Some(list) => list.split("; ").map(|v| if v == empty { String::new() } else { v.to_string() }).collect(),
        None => BTreeSet::from([field.to_string()]),
    }
}

fn text(values: &BTreeSet<String>, empty: &str) -> String {
    match values.len() {
        0 => String::new(),
        1 => values.first().cloned().unwrap_or_default(),
        _ => DIFFER.to_string() + &values.iter().map(|v| if v.is_empty() { empty } else { v }).collect::<Vec<_>>().join("; "),
    }
}

impl Results {
    /// The shares of the schedule held; a run that was not sharded holds share 0 of 1.
    pub fn shards(&self) -> Shards {
        self.info.shards.clone().unwrap_or(Shards { count: 1, indices: vec![0] })
    }

    /// `summary.json` recomputed from the totals: `measured_summary` plus, for a merge that holds
    /// only some shards, a note saying which are missing.
    pub fn summary(&self) -> Summary {
        let mut s = self.measured_summary();
        let shards = self.shards();
        let (have, of) = (shards.indices.len(), shards.count as usize);
        if have < of {
            let missing: Vec<String> =
                (0..shards.count).filter(|k| !shards.indices.contains(k)).map(|k| k.to_string()).collect();
            s.generator.notes.push(format!(
                "holds {have} of {of} shards (missing: {}): the load offered was that share of the schedule",
                missing.join(", ")
            ));
        }
        s
    }

    /// The summary of what these shares measured, without the note on missing shards: a shard's
    /// own generator guard is judged on it (that note is no limit of the generator, yet counted
    /// as a note it made one late second on a 3 s shard fail the merged run's generator check).
    pub fn measured_summary(&self) -> Summary {
        let shards = self.shards();
        let meta = RunMeta { shards: (shards.count > 1).then(|| shards.clone()), ..self.info.clone() };
        let mut s = Summary::build(&meta, &self.shape, &self.totals);
        if self.sources.len() > 1 {
            s.merged_from = self.sources.clone();
        }
        s.tls = self.tls.clone();
        s.abort_reason = self.why.abort_reason.clone();
        s.failure = self.why.failure.clone();
        self.pacing.write(&mut s.generator);
        s
    }

    /// Writes a normal Results directory: every file a run writes from its data (`report.html`,
    /// `verdict.json` and `faults.json` are judged and drawn over these by the command).
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let shape = Arc::new(self.shape.clone());
        let start = UNIX_EPOCH + Duration::from_millis(self.info.start_unix_ms);
        let mut w = ResultsWriter::create(dir, shape.clone(), start, &self.scenario_text)?;
        let last = self.seconds.keys().next_back().copied();
        for k in last.map_or(0..0, |l| 0..l + 1) {
            let empty;
            let (iv, tenths) = match self.seconds.get(&k) {
                Some(s) => (&s.iv, &s.target_tenths[..]),
                None => {
                    empty = Interval::new(k, &shape);
                    (&empty, &[][..])
                }
            };
            let targets: Vec<f64> =
                (0..shape.requests.len()).map(|r| tenths.get(r).copied().unwrap_or(0) as f64 / 10.0).collect();
            w.write_interval(iv, &targets)?;
        }
        if let Some(seconds) = &self.handshakes {
            // The log takes running totals, as the run hands them over.
            let mut log = super::tls::HandshakeLog::create(dir)?;
            let (mut h, mut r) = (0, 0);
            for (k, (dh, dr)) in seconds {
                (h, r) = (h + dh, r + dr);
                log.second(*k, h, r)?;
            }
        }
        if self.accounted {
            w.write_accounting(&self.totals.by_intended)?;
        }
        if let Some(stages) = &self.totals.by_stage {
            stages.write(dir, &shape)?;
        }
        if let Some(intended) = &self.intended {
            w.begin_intended()?;
            w.write_intended(intended.values())?;
        }
        w.write_summary(&self.summary())
    }
}

/// Reads a Results directory.
pub fn results(dir: &Path) -> Result<Results, LoadError> {
    let io = |file: &'static str| move |source| LoadError::Io { dir: dir.to_path_buf(), file, source };
    let summary = results::read_summary(dir).map_err(io(results::SUMMARY))?;
    if let Some(s) = &summary.shards {
        crate::scenario::bounds::shards(s.count, &s.indices)
            .map_err(|what| LoadError::Bad { dir: dir.to_path_buf(), file: results::SUMMARY, what })?;
    }
    let scenario_text = std::fs::read_to_string(dir.join(SCENARIO_COPY)).map_err(io(SCENARIO_COPY))?;
    let shape = Shape {
        requests: summary.requests.iter().map(|r| r.name.clone()).collect(),
        outcomes: OutcomeTable::from_names(summary.outcome_names.clone()),
        labels: summary.labels.keys().cloned().collect(),
    };
    let mut totals = totals_of(dir, &summary, &shape)?;
    let accounting = read_accounting(dir)?;
    let accounted = accounting.is_some();
    totals.by_intended = accounting.unwrap_or_default();
    totals.by_stage = super::by_stage::StageHists::read(dir, &shape)?;
    let intended = super::intended::read(dir, &shape)?;
    let handshakes = super::tls::read_handshakes(dir)
        .map_err(|e| LoadError::Bad { dir: dir.to_path_buf(), file: super::tls::HANDSHAKES, what: e.to_string() })?
        .map(|rows| {
            let mut by_second = BTreeMap::new();
            add_handshakes(&mut by_second, rows);
            by_second
        });
    let mut seconds = BTreeMap::new();
    read_timeseries(dir, &shape, &mut seconds)?;
    read_hlog(dir, &shape, &mut seconds)?;
    read_counts(dir, &shape, &mut seconds)?;
    let sources = if summary.merged_from.is_empty() { vec![dir.display().to_string()] } else { summary.merged_from.clone() };
    Ok(Results {
        info: RunMeta {
            scenario: summary.scenario.clone(),
            scenario_file: summary.scenario_file.clone(),
            status: summary.status,
            started_at: summary.started_at.clone(),
            start_unix_ms: summary.start_unix_ms,
            planned_duration_s: summary.planned_duration_s,
            duration_s: summary.duration_s,
            target: summary.target.clone(),
            threads: summary.generator.threads,
            expected: summary.generator.expected,
            shards: Some(summary.shards.clone().unwrap_or(Shards { count: 1, indices: vec![0] })),
            scenario_fingerprint: scenario_fingerprint(&scenario_text),
        },
        scenario_text,
        shape,
        totals,
        seconds,
        sources,
        tls: summary.tls.clone(),
        pacing: Pacing::of(&summary.generator),
        why: Why { abort_reason: summary.abort_reason.clone(), failure: summary.failure.clone() },
        accounted,
        handshakes,
        intended,
    })
}

/// Adds (second, handshakes, resumed) rows into per-second sums (a run's last second can have two
/// rows; a merge adds its shares').
pub(super) fn add_handshakes(sum: &mut BTreeMap<u64, (u64, u64)>, rows: impl IntoIterator<Item = (u64, u64, u64)>) {
    for (k, h, r) in rows {
        let s = sum.entry(k).or_default();
        (s.0, s.1) = (s.0 + h, s.1 + r);
    }
}

/// `accounting.csv` (`second,scheduled,completed,dropped`, one row per intended second from 0);
/// None when the directory has none.
fn read_accounting(dir: &Path) -> Result<Option<Vec<[u64; 3]>>, LoadError> {
    if !dir.join(ACCOUNTING).exists() {
        return Ok(None);
    }
    let bad = |what: String| LoadError::Bad { dir: dir.to_path_buf(), file: ACCOUNTING, what };
    let mut rows = Vec::new();
    for (n, row) in csv_reader(dir, ACCOUNTING)?.records().enumerate() {
        let line = n + 2;
        let row = row.map_err(|e| bad(format!("line {line}: {e}")))?;
        let f: Vec<u64> = row
            .iter()
            .map(|v| v.parse().map_err(|_| bad(format!("line {line}: `{v}` is not a count"))))
            .collect::<Result<_, _>>()?;
        match f[..] {
            [k, scheduled, completed, dropped] if k == rows.len() as u64 => rows.push([scheduled, completed, dropped]),
            _ => return Err(bad(format!("line {line}: expected `{},scheduled,completed,dropped`", rows.len()))),
        }
    }
    Ok(Some(rows))
}

/// The run totals, rebuilt from the summary's histograms and counters.
fn totals_of(dir: &Path, s: &Summary, shape: &Shape) -> Result<Totals, LoadError> {
    let bad = |what: String| LoadError::Bad { dir: dir.to_path_buf(), file: results::SUMMARY, what };
    let mut t = Totals::new(shape);
    for (r, rs) in t.requests.iter_mut().zip(&s.requests) {
        let o = &rs.overall;
        (r.scheduled, r.sent, r.dropped, r.bytes_in, r.bytes_out) = (o.scheduled, o.sent, o.dropped, o.bytes_in, o.bytes_out);
    }
    let (mut lag, mut pod_hists) = (None, BTreeMap::new());
    for h in &s.histograms {
        let hist = decode(&h.data).map_err(|source| LoadError::Codec { dir: dir.to_path_buf(), file: results::SUMMARY, source })?;
        match h.kind.as_str() {
            "latency" | "service" => {
                let ri = shape.requests.iter().position(|n| *n == h.request).ok_or_else(|| bad(format!("histogram of unknown request `{}`", h.request)))?;
                let oi = shape.outcomes.id(&h.outcome).ok_or_else(|| bad(format!("histogram of unknown outcome `{}`", h.outcome)))?;
                let slot = t.requests[ri].by_outcome[oi as usize]
                    .get_or_insert_with(|| super::interval::OutcomeHists { latency: new_hist(), service: new_hist() });
                add(if h.kind == "latency" { &mut slot.latency } else { &mut slot.service }, &hist);
            }
            "lag" => lag = Some(hist),
            "conn_wait" => t.conn_wait = hist,
            "dropped_wait" => {
                if let Some(ri) = shape.requests.iter().position(|n| *n == h.request) {
                    t.requests[ri].dropped_wait = hist;
                }
            }
            "pod" => {
                pod_hists.insert(h.request.clone(), hist);
            }
            _ => {} // a kind added later: not needed to rebuild the totals
        }
    }
    t.lag = lag.ok_or(LoadError::Missing { dir: dir.to_path_buf(), kind: "lag" })?;
    for p in &s.pods {
        let mut outcomes = vec![0; shape.outcomes.len()];
        for (name, n) in &p.outcomes {
            let oi = shape.outcomes.id(name).ok_or_else(|| bad(format!("pod `{}`: unknown outcome `{name}`", p.name)))?;
            outcomes[oi as usize] = *n;
        }
        let latency = pod_hists.remove(&p.name).ok_or(LoadError::Missing { dir: dir.to_path_buf(), kind: "pod" })?;
        t.pods.push(PodTotals { name: p.name.clone(), outcomes, latency });
    }
    for (code, n) in &s.totals.status_codes {
        let c: u16 = code.parse().map_err(|_| bad(format!("status code `{code}`")))?;
        t.status.insert(c, *n);
    }
    for (slot, h) in t.labels.iter_mut().zip(&shape.labels) {
        *slot = s.labels.get(h).cloned().unwrap_or_default();
    }
    // CPU times are whole microseconds (getrusage), so rounding there undoes the f64 exactly.
    t.guard = s.generator.seconds.clone();
    t.conn_limited = s.generator.connection_limited;
    t.cpu = Duration::from_micros((s.generator.cpu_seconds.max(0.0) * 1e6).round() as u64);
    Ok(t)
}

fn second<'a>(seconds: &'a mut BTreeMap<u64, Second>, k: u64, shape: &Shape) -> &'a mut Second {
    seconds
        .entry(k)
        .or_insert_with(|| Second { iv: Interval::new(k, shape), target_tenths: vec![0; shape.requests.len()] })
}

/// A per-second file without a line cut off by a killed writer (the files are appended and
/// flushed a second at a time, so only the last line can be partial).
pub(super) fn csv_reader(dir: &Path, file: &'static str) -> Result<csv::Reader<std::io::Cursor<Vec<u8>>>, LoadError> {
    let bytes = std::fs::read(dir.join(file)).map_err(|source| LoadError::Io { dir: dir.to_path_buf(), file, source })?;
    Ok(csv::ReaderBuilder::new().flexible(true).from_reader(std::io::Cursor::new(complete_lines(bytes))))
}

/// The bytes up to and including the last newline.
pub(super) fn complete_lines(mut bytes: Vec<u8>) -> Vec<u8> {
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    bytes.truncate(keep);
    bytes
}

/// One line of `timeseries.csv`, as every reader of the file sees it (merge and rebuild here, the
/// HTML report's charts): one parser, so a column added to the file is read in one place.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimeseriesRow {
    pub second: u64,
    /// A request's name, or `*` (every request together).
    pub request: String,
    pub target_rps: f64,
    pub scheduled: u64,
    pub sent: u64,
    pub completed: u64,
    pub dropped: u64,
    /// Completions by outcome, aligned with `Timeseries::outcome_columns`.
    pub outcomes: Vec<u64>,
    /// Latency from the intended start, milliseconds (None: nothing completed that second).
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub bytes_in: u64,
    pub in_flight: u64,
    pub generator_cpu_pct: f64,
    /// Wait for a connection, p99 (`*` rows only; None when nothing waited, or the file predates
    /// the column).
    pub conn_wait_p99_ms: Option<f64>,
    /// Arrivals that waited because every connection was busy (0 in files without the column).
    pub connection_limited: u64,
}

/// A whole `timeseries.csv`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeseries {
    /// The outcome columns (between `dropped` and `p50_ms`), in file order.
    pub outcome_columns: Vec<String>,
    pub rows: Vec<TimeseriesRow>,
}

impl Timeseries {
    /// The outcome column's index in `TimeseriesRow::outcomes`.
    pub fn outcome(&self, name: &str) -> Option<usize> {
        self.outcome_columns.iter().position(|c| c == name)
    }
}

/// `timeseries.csv` of a Results directory (a line cut off by a killed writer is left out).
pub fn timeseries(dir: &Path) -> Result<Timeseries, LoadError> {
    let bytes = std::fs::read(dir.join(TIMESERIES)).map_err(|source| LoadError::Io { dir: dir.to_path_buf(), file: TIMESERIES, source })?;
    parse_timeseries(&complete_lines(bytes)).map_err(|what| LoadError::Bad { dir: dir.to_path_buf(), file: TIMESERIES, what })
}

/// Columns are found by name, so files with other outcome sets or columns added later still read;
/// columns added after the first release (`conn_wait_p99_ms`, `connection_limited`) are optional.
/// An empty count is 0 and an empty latency None; anything else that does not parse is an error
/// naming the line and column.
pub fn parse_timeseries(bytes: &[u8]) -> Result<Timeseries, String> {
    let mut rd = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let head = rd.headers().map_err(|e| e.to_string())?.clone();
    let col = |name: &str| head.iter().position(|h| h == name).ok_or_else(|| format!("no `{name}` column"));
    let [c_sec, c_req, c_target, c_sched, c_sent, c_done, c_dropped, c_p50, c_p90, c_p99, c_max, c_bytes, c_inflight, c_cpu] = [
        col("second")?,
        col("request")?,
        col("target_rps")?,
        col("scheduled")?,
        col("sent")?,
        col("completed")?,
        col("dropped")?,
        col("p50_ms")?,
        col("p90_ms")?,
        col("p99_ms")?,
        col("max_ms")?,
        col("bytes_in")?,
        col("in_flight")?,
        col("generator_cpu_pct")?,
    ];
    let outcome_columns: Vec<String> =
        head.iter().skip(c_dropped + 1).take(c_p50.saturating_sub(c_dropped + 1)).map(String::from).collect();
    let c_wait = head.iter().position(|h| h == results::CONN_WAIT_P99);
    let c_limited = head.iter().position(|h| h == results::CONN_LIMITED);
    let mut rows = Vec::new();
    for (n, row) in rd.records().enumerate() {
        let line = n + 2;
        let row = row.map_err(|e| format!("line {line}: {e}"))?;
        let field = |i: usize| row.get(i).unwrap_or("");
        let name = |i: usize| head.get(i).unwrap_or("?");
        let int = |i: usize| -> Result<u64, String> {
            let f = field(i);
            if f.is_empty() {
                return Ok(0);
            }
            f.parse().map_err(|_| format!("line {line}: `{f}` in column {} is not a count", name(i)))
        };
        let num = |i: usize| -> Result<Option<f64>, String> {
            let f = field(i);
            if f.is_empty() {
                return Ok(None);
            }
            f.parse().map(Some).map_err(|_| format!("line {line}: `{f}` in column {} is not a number", name(i)))
        };
        rows.push(TimeseriesRow {
            second: int(c_sec)?,
            request: field(c_req).to_string(),
            target_rps: num(c_target)?.unwrap_or(0.0),
            scheduled: int(c_sched)?,
            sent: int(c_sent)?,
            completed: int(c_done)?,
            dropped: int(c_dropped)?,
            outcomes: (c_dropped + 1..c_p50).map(int).collect::<Result<_, _>>()?,
            p50_ms: num(c_p50)?,
            p90_ms: num(c_p90)?,
            p99_ms: num(c_p99)?,
            max_ms: num(c_max)?,
            bytes_in: int(c_bytes)?,
            in_flight: int(c_inflight)?,
            generator_cpu_pct: num(c_cpu)?.unwrap_or(0.0),
            conn_wait_p99_ms: c_wait.map(num).transpose()?.flatten(),
            connection_limited: c_limited.map(int).transpose()?.unwrap_or(0),
        });
    }
    Ok(Timeseries { outcome_columns, rows })
}

/// A figure the file shows with one decimal, in tenths (exact integers, so merges add up).
fn tenths(x: f64) -> u64 {
    (x * 10.0).round().max(0.0) as u64
}

pub(super) fn read_timeseries(dir: &Path, shape: &Shape, seconds: &mut BTreeMap<u64, Second>) -> Result<(), LoadError> {
    let bad = |what: String| LoadError::Bad { dir: dir.to_path_buf(), file: TIMESERIES, what };
    let ts = timeseries(dir)?;
    let outcome_cols: Vec<usize> =
        shape.outcomes.names().iter().map(|o| ts.outcome(o).ok_or_else(|| bad(format!("no `{o}` column")))).collect::<Result<_, _>>()?;
    for row in &ts.rows {
        let k = row.second;
        crate::scenario::bounds::results_second(k).map_err(bad)?;
        if row.request == ALL_REQUESTS {
            let s = second(seconds, k, shape);
            s.iv.in_flight = row.in_flight;
            s.iv.cpu = Duration::from_millis(tenths(row.generator_cpu_pct));
            // Files written before the column read as 0 arrivals held back.
            s.iv.conn_limited = row.connection_limited;
            continue;
        }
        let ri = shape.requests.iter().position(|n| *n == row.request).ok_or_else(|| bad(format!("unknown request `{}`", row.request)))?;
        let s = second(seconds, k, shape);
        s.target_tenths[ri] = tenths(row.target_rps);
        let r = &mut s.iv.requests[ri];
        (r.scheduled, r.sent, r.completed, r.dropped, r.bytes_in) = (row.scheduled, row.sent, row.completed, row.dropped, row.bytes_in);
        for (o, &ci) in outcome_cols.iter().enumerate() {
            r.outcomes[o] = row.outcomes[ci];
        }
    }
    Ok(())
}

pub(super) fn read_hlog(dir: &Path, shape: &Shape, seconds: &mut BTreeMap<u64, Second>) -> Result<(), LoadError> {
    let bad = |what: String| LoadError::Bad { dir: dir.to_path_buf(), file: HLOG, what };
    let bytes = complete_lines(std::fs::read(dir.join(HLOG)).map_err(|source| LoadError::Io { dir: dir.to_path_buf(), file: HLOG, source })?);
    let single = shape.requests.len() == 1;
    for entry in IntervalLogIterator::new(&bytes) {
        let LogEntry::Interval(e) = entry.map_err(|e| bad(format!("{e:?}")))? else { continue };
        let h: Hist = decode(e.encoded_histogram()).map_err(|source| LoadError::Codec { dir: dir.to_path_buf(), file: HLOG, source })?;
        let k = e.start_timestamp().as_secs_f64().round() as u64;
        crate::scenario::bounds::results_second(k).map_err(bad)?;
        let s = second(seconds, k, shape);
        match e.tag().map(|t| t.as_str()) {
            None if single => add(&mut s.iv.requests[0].latency, &h),
            None => {} // the sum of the req.<name> entries
            Some("service") => add(&mut s.iv.requests[0].service, &h),
            Some("lag") => add(&mut s.iv.lag, &h),
            Some("conn_wait") => add(&mut s.iv.conn_wait, &h),
            Some(t) if t.starts_with("outcome.") => {
                // Files written before per-second latency by outcome have no such entries: a check
                // then says "not recorded" (see verify::metrics), never a silent pass.
                if let Some(o) = shape.outcomes.id(&t["outcome.".len()..]) {
                    if let Some(slot) = s.iv.outcome_latency.get_mut(o as usize) {
                        add(slot.get_or_insert_with(new_hist), &h);
                    }
                }
            }
            Some(t) => {
                if let Some(ri) = t.strip_prefix("req.").and_then(|n| shape.requests.iter().position(|r| r == n)) {
                    add(&mut s.iv.requests[ri].latency, &h);
                }
            }
        }
    }
    Ok(())
}

/// `pods.csv` (second,pod,completed), `labels.csv` (second,header,value,completed) and
/// `status.csv` (second,status,completed; absent from Results written before it existed).
pub(super) fn read_counts(dir: &Path, shape: &Shape, seconds: &mut BTreeMap<u64, Second>) -> Result<(), LoadError> {
    for file in [PODS, LABELS] {
        let bad = |what: String| LoadError::Bad { dir: dir.to_path_buf(), file, what };
        let mut rd = csv_reader(dir, file)?;
        for row in rd.records() {
            let row = row.map_err(|e| bad(e.to_string()))?;
            let f = |i: usize| row.get(i).unwrap_or("");
            let num = |s: &str| s.parse::<u64>().map_err(|_| bad(format!("`{s}` is not a count")));
            let k = num(f(0))?;
            crate::scenario::bounds::results_second(k).map_err(bad)?;
            let s = second(seconds, k, shape);
            if file == PODS {
                *s.iv.pods.entry(f(1).to_string()).or_default() += num(f(2))?;
            } else if let Some(h) = shape.labels.iter().position(|h| h == f(1)) {
                *s.iv.labels[h].entry(f(2).to_string()).or_default() += num(f(3))?;
            }
        }
    }
    for (k, codes) in status_counts(dir)?.unwrap_or_default() {
        let s = second(seconds, k, shape);
        for (code, n) in codes {
            *s.iv.status.entry(code).or_default() += n;
        }
    }
    Ok(())
}

/// Completions by HTTP status code per second, from `status.csv` (rows of one second and code
/// added together); `None` when the directory has no `status.csv` (Results written before it
/// existed), so a reader can say so rather than show an empty run. The one parser of the file:
/// merging and the report both read it here.
pub fn status_counts(dir: &Path) -> Result<Option<BTreeMap<u64, BTreeMap<u16, u64>>>, LoadError> {
    if !dir.join(STATUS).exists() {
        return Ok(None);
    }
    let bad = |what: String| LoadError::Bad { dir: dir.to_path_buf(), file: STATUS, what };
    let mut out: BTreeMap<u64, BTreeMap<u16, u64>> = BTreeMap::new();
    let mut rd = csv_reader(dir, STATUS)?;
    for (i, row) in rd.records().enumerate() {
        let row = row.map_err(|e| bad(e.to_string()))?;
        let f = |i: usize| row.get(i).unwrap_or("");
        let line = i + 2;
        let num = |s: &str, col: &str| s.parse::<u64>().map_err(|_| bad(format!("line {line}: {col} `{s}` is not a count")));
        let k = num(f(0), "second")?;
        crate::scenario::bounds::results_second(k).map_err(|e| bad(format!("line {line}: {e}")))?;
        let code = f(1).parse::<u16>().map_err(|_| bad(format!("line {line}: status `{}` is not a status code", f(1))))?;
        *out.entry(k).or_default().entry(code).or_default() += num(f(2), "completed")?;
    }
    Ok(Some(out))
}
