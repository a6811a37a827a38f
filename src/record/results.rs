//! The Results directory, written as the run goes: one `timeseries.csv` row per request per second
//! and one interval-log entry per second are appended and flushed the moment the second closes, so
//! a crash loses at most the second in progress; `summary.json` is written atomically at the end
//! (also on Ctrl-C, marked interrupted).

use super::interval::{Interval, ReqInterval, Shape};
use super::hist::Hist;
use std::borrow::Cow;
use super::summary::Summary;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

// The name of every file a run, a report, a merge or a capacity search writes into a Results
// directory is declared here and nowhere else (a test below holds every other source file to it),
// so a rename or a new file cannot leave a reader, `--force` or a writer behind.

pub const SUMMARY: &str = "summary.json";
/// `summary.json` while it is written (temp file + rename).
pub const SUMMARY_TMP: &str = ".summary.json.tmp";
pub const TIMESERIES: &str = "timeseries.csv";
pub const HLOG: &str = "latency.hlog";
pub const SCENARIO_COPY: &str = "scenario.toml";
pub const PODS: &str = "pods.csv";
pub const LABELS: &str = "labels.csv";
/// Completions by HTTP status code per second (`second,status,completed`).
pub const STATUS: &str = "status.csv";
/// Every intended second's arrivals and how many of them ended completed or dropped (written at
/// the end, once each arrival has ended): the no-censoring invariant, checkable per second.
pub const ACCOUNTING: &str = "accounting.csv";
/// Latency and service time by the stage of each request's intended start (`record::by_stage`;
/// runs of two or more stages), so a stage is judged by the requests it scheduled.
pub const STAGES: &str = "stages.hlog";
/// Latency and service time by the second of each request's intended start (`record::intended`),
/// so a judged span (a window, a fault, a second of recovery) is judged by the requests it
/// scheduled, however late they ended.
pub const INTENDED: &str = "intended.hlog";
/// `faults.json`: what each fault did, for verify and the report.
pub const FAULTS: &str = "faults.json";
/// The fault journal's copy for the run in progress (what is applied, to clean up after a kill).
pub const FAULTS_STATE: &str = "faults.state.json";
/// The checks' verdict (`verify`), when the run had checks, faults or a baseline.
pub const VERDICT: &str = "verdict.json";
/// `skyload capacity`'s steps, answer and plan.
pub const CAPACITY: &str = "capacity.json";
/// The slowest requests with their trace ids (traced runs).
pub const SLOW: &str = "slow.csv";
/// TLS handshakes per second (https targets).
pub const HANDSHAKES: &str = "handshakes.csv";
/// The CA of an embedded TLS gateway, for calling it by hand.
pub const GATEWAY_CA: &str = "gateway-ca.pem";
/// The HTML report of one run, and of a comparison.
pub const REPORT_HTML: &str = "report.html";
pub const COMPARE_HTML: &str = "compare.html";
/// CI outputs (`--junit`, `--summary-json`) when written into the directory.
pub const JUNIT: &str = "junit.xml";
pub const GATE: &str = "gate.json";

/// Every file a run, a report, a merge or a capacity search writes into a Results directory
/// (`--force` empties a directory holding nothing else).
pub const KNOWN: [&str; 22] = [
    SUMMARY, TIMESERIES, HLOG, SCENARIO_COPY, PODS, LABELS, STATUS, FAULTS, VERDICT, REPORT_HTML, COMPARE_HTML, CAPACITY, SLOW, JUNIT, GATE,
    SUMMARY_TMP, FAULTS_STATE, ACCOUNTING, GATEWAY_CA, HANDSHAKES, STAGES, INTENDED,
];

/// Per-second connection columns of `timeseries.csv` (filled on the `*` row; absent from files
/// written before they existed, which readers accept): the p99 wait for a connection and the
/// arrivals the connection cap held back, so a reader sees *which* seconds were connection-limited.
pub const CONN_WAIT_P99: &str = "conn_wait_p99_ms";
pub const CONN_LIMITED: &str = "connection_limited";

/// The request column value of the per-second row that sums every request.
pub const ALL_REQUESTS: &str = "*";

pub struct ResultsWriter {
    dir: PathBuf,
    csv: BufWriter<File>,
    hlog: BufWriter<File>,
    pods: BufWriter<File>,
    labels: BufWriter<File>,
    status: BufWriter<File>,
    /// `intended.hlog`, once `begin_intended` opened it (runs; a rewrite of Results that had one).
    intended: Option<BufWriter<File>>,
    serializer: V2DeflateSerializer,
    shape: Arc<Shape>,
}

impl ResultsWriter {
    /// Creates the directory (and parents) and the append-as-you-go files. `scenario_text` must
    /// already be free of secrets.
    pub fn create(dir: &Path, shape: Arc<Shape>, start: SystemTime, scenario_text: &str) -> io::Result<ResultsWriter> {
        fs::create_dir_all(dir)?;
        fs::write(dir.join(SCENARIO_COPY), scenario_text)?;
        let mut csv = BufWriter::new(File::create(dir.join(TIMESERIES))?);
        write!(csv, "second,request,target_rps,scheduled,sent,completed,dropped")?;
        for o in shape.outcomes.names() {
            write!(csv, ",{o}")?;
        }
        writeln!(csv, ",p50_ms,p90_ms,p99_ms,max_ms,bytes_in,lag_p99_ms,in_flight,generator_cpu_pct,{CONN_WAIT_P99},{CONN_LIMITED}")?;
        csv.flush()?;

        let mut pods = BufWriter::new(File::create(dir.join(PODS))?);
        writeln!(pods, "second,pod,completed")?;
        pods.flush()?;
        let mut labels = BufWriter::new(File::create(dir.join(LABELS))?);
        writeln!(labels, "second,header,value,completed")?;
        labels.flush()?;
        let mut status = BufWriter::new(File::create(dir.join(STATUS))?);
        writeln!(status, "second,status,completed")?;
        status.flush()?;
        let mut hlog = BufWriter::new(File::create(dir.join(HLOG))?);
        let secs = start.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        writeln!(hlog, "#[skyload interval log: values in microseconds; untagged = latency from intended start (all requests)]")?;
        writeln!(hlog, "#[Tags: service = service time (from actual send), lag = send lag, req.<name> = latency of one request, outcome.<name> = latency of one outcome (all requests), conn_wait = wait for a connection]")?;
        writeln!(hlog, "#[StartTime: {secs:.3} (seconds since epoch)]")?;
        writeln!(hlog, "#[BaseTime: {secs:.3} (seconds since epoch)]")?;
        writeln!(hlog, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"")?;
        hlog.flush()?;
        Ok(ResultsWriter { dir: dir.to_path_buf(), csv, hlog, pods, labels, status, intended: None, serializer: V2DeflateSerializer::new(), shape })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Opens `intended.hlog`, appended to by `write_interval` (the intended seconds each shipped
    /// second closed) and `write_intended`. Not opened by `create`: Results without the file
    /// (written before it existed) must stay without it when rewritten, or their windows would
    /// read an empty log as no latency at all.
    pub fn begin_intended(&mut self) -> io::Result<()> {
        let mut f = BufWriter::new(File::create(self.dir.join(INTENDED))?);
        f.write_all(super::intended::HEADER.as_bytes())?;
        f.flush()?;
        self.intended = Some(f);
        Ok(())
    }

    /// Appends intended seconds to `intended.hlog` (nothing when it was not begun) and flushes.
    pub fn write_intended<'a>(&mut self, entries: impl IntoIterator<Item = &'a super::intended::IntendedSecond>) -> io::Result<()> {
        let Some(f) = self.intended.as_mut() else { return Ok(()) };
        let mut w = IntervalLogWriterBuilder::new().begin_log_with(&mut *f, &mut self.serializer)?;
        for e in entries {
            for (tag, h) in super::intended::tagged(e, &self.shape) {
                w.write_histogram(h, Duration::from_secs(e.second), Duration::from_secs(1), Tag::new(&tag))
                    .map_err(|e| io::Error::other(format!("{INTENDED}: {e:?}")))?;
            }
        }
        drop(w);
        f.flush()
    }

    /// Appends one closed second. `target` is the schedule's expected arrivals in that second per
    /// request (by weight share).
    pub fn write_interval(&mut self, iv: &Interval, target: &[f64]) -> io::Result<()> {
        // Every request together, borrowed when there is one: its latency and service histograms
        // are the second's untagged and `service` entries, so no copy of them is made.
        let all: Cow<ReqInterval> = if let [one] = &iv.requests[..] {
            Cow::Borrowed(one)
        } else {
            let mut all = iv.requests[0].clone();
            for r in &iv.requests[1..] {
                all.merge(r);
            }
            Cow::Owned(all)
        };
        let lag_p99 = ms(iv.lag.value_at_quantile(0.99));
        let cpu_pct = iv.cpu.as_secs_f64() * 100.0;
        for (i, r) in iv.requests.iter().enumerate() {
            self.row(iv.second, &self.shape.requests[i].clone(), target[i], r, None)?;
            self.csv_connections(None)?;
        }
        let total_target: f64 = target.iter().sum();
        let conn_wait_p99 = if iv.conn_wait.is_empty() { String::new() } else { ms(iv.conn_wait.value_at_quantile(0.99)) };
        self.row(iv.second, ALL_REQUESTS, total_target, &all, Some((lag_p99, iv.in_flight, cpu_pct)))?;
        self.csv_connections(Some((conn_wait_p99, iv.conn_limited)))?;
        self.csv.flush()?;
        for (pod, n) in &iv.pods {
            writeln!(self.pods, "{},{},{n}", iv.second, csv_field(pod))?;
        }
        self.pods.flush()?;
        for (h, values) in self.shape.labels.iter().zip(&iv.labels) {
            for (v, n) in values {
                writeln!(self.labels, "{},{h},{},{n}", iv.second, csv_field(v))?;
            }
        }
        self.labels.flush()?;
        for (code, n) in &iv.status {
            writeln!(self.status, "{},{code},{n}", iv.second)?;
        }
        self.status.flush()?;

        let start = Duration::from_secs(iv.second);
        let len = Duration::from_secs(1);
        self.hist_entry(&all.latency, start, len, None)?;
        self.hist_entry(&all.service, start, len, Some("service"))?;
        self.hist_entry(&iv.lag, start, len, Some("lag"))?;
        self.hist_entry(&iv.conn_wait, start, len, Some("conn_wait"))?;
        for (o, h) in iv.outcome_latency.iter().enumerate() {
            if let Some(h) = h.as_ref().filter(|h| !h.is_empty()) {
                let tag = format!("outcome.{}", self.shape.outcomes.name(o as u16));
                self.hist_entry(h, start, len, Some(&tag))?;
            }
        }
        if iv.requests.len() > 1 {
            for (i, r) in iv.requests.iter().enumerate() {
                let tag = format!("req.{}", self.shape.requests[i]);
                self.hist_entry(&r.latency, start, len, Some(&tag))?;
            }
        }
        self.hlog.flush()?;
        if !iv.intended.is_empty() {
            self.write_intended(&iv.intended)?;
        }
        Ok(())
    }

    fn row(
        &mut self,
        second: u64,
        name: &str,
        target: f64,
        r: &super::interval::ReqInterval,
        generator: Option<(String, u64, f64)>,
    ) -> io::Result<()> {
        let h = &r.latency;
        write!(
            self.csv,
            "{second},{name},{target:.1},{},{},{},{}",
            r.scheduled, r.sent, r.completed, r.dropped
        )?;
        for n in &r.outcomes {
            write!(self.csv, ",{n}")?;
        }
        let q = |p: f64| if h.is_empty() { String::new() } else { ms(h.value_at_quantile(p)) };
        write!(self.csv, ",{},{},{},{},{}", q(0.5), q(0.9), q(0.99), q(1.0), r.bytes_in)?;
        match generator {
            Some((lag, inflight, cpu)) => write!(self.csv, ",{lag},{inflight},{cpu:.1}"),
            None => write!(self.csv, ",,,"),
        }
    }

    /// Ends a `timeseries.csv` row with the connection columns (empty on per-request rows).
    fn csv_connections(&mut self, c: Option<(String, u64)>) -> io::Result<()> {
        match c {
            Some((wait_p99, limited)) => writeln!(self.csv, ",{wait_p99},{limited}"),
            None => writeln!(self.csv, ",,"),
        }
    }

    fn hist_entry(&mut self, h: &Hist, start: Duration, len: Duration, tag: Option<&str>) -> io::Result<()> {
        let mut w = IntervalLogWriterBuilder::new().begin_log_with(&mut self.hlog, &mut self.serializer)?;
        w.write_histogram(h, start, len, tag.and_then(Tag::new))
            .map_err(|e| io::Error::other(format!("interval log: {e:?}")))
    }

    /// `accounting.csv` from `Totals::by_intended`.
    pub fn write_accounting(&self, by_intended: &[[u64; 3]]) -> io::Result<()> {
        use std::fmt::Write as _;
        let mut s = String::from("second,scheduled,completed,dropped\n");
        for (k, [a, b, c]) in by_intended.iter().enumerate() {
            let _ = writeln!(s, "{k},{a},{b},{c}");
        }
        std::fs::write(self.dir().join(ACCOUNTING), s)
    }

    /// Writes `summary.json` atomically (temp file + rename), so a reader never sees half of it.
    pub fn write_summary(&mut self, s: &Summary) -> io::Result<()> {
        self.csv.flush()?;
        self.hlog.flush()?;
        write_summary(&self.dir, s)
    }
}

pub fn write_summary(dir: &Path, s: &Summary) -> io::Result<()> {
    write_json(dir, SUMMARY, s)
}

/// `summary.json`, or for a run killed before writing it one rebuilt from its per-second files
/// (status `incomplete`; see `rebuild`).
pub fn read_summary(dir: &Path) -> io::Result<Summary> {
    if super::rebuild::is_killed_run(dir) {
        return super::rebuild::rebuild(dir).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()));
    }
    let text = fs::read_to_string(dir.join(SUMMARY))?;
    serde_json::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// A value from a response header, quoted when CSV needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Milliseconds with microsecond precision, as the CSV shows latency.
fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

/// Writes `faults.json`: the timeline's records as soon as the run ends (so they survive a failure
/// in judging), then the judged reports over them.
pub fn write_faults<T: serde::Serialize>(dir: &Path, faults: &[T]) -> io::Result<()> {
    write_json(dir, FAULTS, faults)
}

/// Writes a JSON Results file (`verdict.json`, `capacity.json`, ...) atomically, pretty-printed
/// with a final newline, so a reader never sees half of it.
pub fn write_json<T: serde::Serialize + ?Sized>(dir: &Path, name: &str, value: &T) -> io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    super::outdir::write_atomic(&dir.join(name), (text + "\n").as_bytes())
}

#[cfg(test)]
mod names_tests {
    use super::KNOWN;

    /// Each Results file name is spelled (as a string literal) in this file only: everything else
    /// names it through the constants above.
    #[test]
    fn each_results_file_name_is_declared_once() {
        let (src, files) = crate::layers::source_files();
        let own = src.join("record").join("results.rs");
        let mut elsewhere = Vec::new();
        for f in files.iter().filter(|f| **f != own) {
            let text = std::fs::read_to_string(f).unwrap();
            for name in KNOWN {
                if text.contains(&format!("\"{name}\"")) {
                    elsewhere.push(format!("{}: \"{name}\"", f.strip_prefix(&src).unwrap().display()));
                }
            }
        }
        assert!(elsewhere.is_empty(), "Results file names spelled outside record/results.rs (use its constants): {elsewhere:?}");
        let mut sorted = KNOWN.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), KNOWN.len(), "a name is listed twice in KNOWN");
    }
}
