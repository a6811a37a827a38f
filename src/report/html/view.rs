//! The report's view model: everything the page and the charts show, computed once from the data
//! of one or more Results directories. Pure (no I/O, no clock), so what a report says is tested
//! here without rendering; the charts and the HTML only lay it out.

use super::verify_views::{CapacityData, FaultWindow, ReportVerdict, VerdictStatus};
use super::input::{RunData, SecondRow};
use crate::record::hist::{self, add, new_hist, Hist};
use crate::record::redact;
use crate::record::summary::{RunStatus, Summary};

/// Most points drawn per line: a one-hour run is shown in 3-second buckets.
pub const MAX_POINTS: usize = 1200;
/// Most pods drawn as bars; the table lists them all.
pub const MAX_POD_BARS: usize = 24;
/// Outcomes that are failures, drawn together as `error` in the rate chart.
const FAILURES: [&str; 6] = ["error", "timeout", "connect", "reset", "protocol", "tls"];

#[derive(Debug, Clone)]
pub struct Report {
    pub current: RunView,
    /// Earlier runs to compare with, the first being the baseline drawn under the current run.
    pub others: Vec<RunView>,
    pub diff: Vec<DiffRow>,
    /// Where the report was made, and when (RFC 3339): given by the caller so this stays pure.
    pub host: String,
    pub generated_at: String,
}

impl Report {
    pub fn baseline(&self) -> Option<&RunView> {
        self.others.first()
    }
}

#[derive(Debug, Clone)]
pub struct RunView {
    /// The directory's name, to tell runs apart in a comparison.
    pub label: String,
    pub summary: Summary,
    pub banner: Banner,
    /// Names of the stacked layers of the rate chart, bottom first (`dropped` is drawn on top).
    pub groups: Vec<String>,
    /// Seconds of data in each point (1 unless the run was long).
    pub bucket_s: u64,
    pub series: Vec<Point>,
    /// Responses by status code per second (`status.csv`), or why there are none.
    pub status: super::status::StatusCodes,
    /// HDR percentile curves: (1/(1-p), milliseconds).
    pub hdr_latency: Vec<(f64, f64)>,
    pub hdr_service: Vec<(f64, f64)>,
    pub pods: Vec<PodBar>,
    /// Pods left out of the bar chart (the table still has them).
    pub pods_hidden: usize,
    pub scenario_text: Option<String>,
    pub verdict: Option<ReportVerdict>,
    pub faults: Vec<FaultWindow>,
    pub capacity: Option<CapacityData>,
    pub saturation: Option<crate::report::saturation::Saturation>,
    pub warnings: Vec<String>,
    /// `slow.csv` of a traced run.
    pub slow: Option<super::slow::SlowView>,
    /// `handshakes.csv` rows (second, handshakes, resumed) of an https run.
    pub handshakes: Vec<(u64, u64, u64)>,
}

/// One point of the time charts (a second, or a bucket of seconds in a long run): rates are per
/// second averaged over the bucket, p50/p90 the mean and p99/max the maximum over it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Point {
    pub t: f64,
    pub target: f64,
    pub sent: f64,
    pub completed: f64,
    pub dropped: f64,
    /// Completions per second by layer, aligned with `RunView::groups`.
    pub stack: Vec<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    /// Wait for a connection, p99 (ms): the worst second of the bucket.
    pub conn_wait_p99: Option<f64>,
    /// Arrivals held back for a connection in the bucket (summed): > 0 marks it connection-limited.
    pub connection_limited: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PodBar {
    pub name: String,
    pub rps: f64,
    pub p99_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BannerKind {
    Pass,
    Fail,
    Aborted,
    NoChecks,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Banner {
    pub kind: BannerKind,
    pub title: String,
    /// Failed checks, each as `name [scope]: expected …, measured …` (no scope for the whole run).
    pub failed: Vec<String>,
}

/// A line of the comparison table: the figure in every run and its change against the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffRow {
    pub metric: String,
    pub values: Vec<String>,
    /// The change against the first run (None for the baseline itself).
    pub changes: Vec<Option<Change>>,
    /// Whether a rise is bad news (latency, errors) rather than good (throughput).
    pub lower_is_better: bool,
}

/// One run's change against the baseline, as the comparison table shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// `+12.5%`; `+10.0pp` for a ratio (an error rate from 0% to 10% is ten points, not "–" or
    /// infinitely many percent); `new: 0 → 12` from a zero baseline; `±0` when nothing changed.
    pub text: String,
    /// Some(true) when the change is large enough to colour and bad news, Some(false) good news,
    /// None when it is within the noise (under 5% relative, under 0.1 points of a ratio).
    pub worse: Option<bool>,
}

/// How `current` differs from `base` for a metric formatted by `fmt`. A zero baseline has no
/// relative change, but the move from nothing is still a change and is shown as one.
pub fn change(base: f64, current: f64, lower_is_better: bool, ratio: bool, fmt: fn(f64) -> String) -> Change {
    let delta = current - base;
    let direction = |big: bool| (big && delta != 0.0).then_some((delta > 0.0) == lower_is_better);
    if delta == 0.0 {
        return Change { text: "±0".into(), worse: None };
    }
    if ratio {
        return Change { text: format!("{:+.1}pp", delta * 100.0), worse: direction(delta.abs() >= 0.001) };
    }
    if base == 0.0 {
        return Change { text: format!("new: 0 → {}", fmt(current)), worse: direction(true) };
    }
    let rel = delta / base;
    Change { text: format!("{:+.1}%", rel * 100.0), worse: direction(rel.abs() >= 0.05) }
}

/// `runs` in the order given on the command line: the first is the baseline, the last the
/// current run. One run gives a plain report.
pub fn build(runs: Vec<RunData>, host: String, generated_at: String) -> Report {
    let mut views: Vec<RunView> = runs.into_iter().map(run_view).collect();
    let current = views.pop().expect("at least one run");
    let diff = if views.is_empty() { Vec::new() } else { diff_rows(&views, &current) };
    Report { current, others: views, diff, host, generated_at }
}

pub fn run_view(d: RunData) -> RunView {
    let label = d.dir.file_name().map_or_else(|| d.dir.display().to_string(), |n| n.to_string_lossy().into_owned());
    let (groups, members) = outcome_groups(&d.outcome_columns, &d.seconds);
    let bucket_s = (d.seconds.len() as u64).div_ceil(MAX_POINTS as u64).max(1);
    let series = downsample(&d.seconds, &members, bucket_s);
    let status = super::status::view(d.status.as_ref(), d.seconds.last().map_or(0, |r| r.second + 1), bucket_s);
    let (hdr_latency, hdr_service) = hdr_curves(&d.summary);
    let mut pods: Vec<PodBar> =
        d.summary.pods.iter().map(|p| PodBar { name: p.name.clone(), rps: p.rps, p99_ms: p.latency.p99_us as f64 / 1000.0 }).collect();
    pods.sort_by(|a, b| b.rps.total_cmp(&a.rps).then_with(|| a.name.cmp(&b.name)));
    let pods_hidden = pods.len().saturating_sub(MAX_POD_BARS);
    pods.truncate(MAX_POD_BARS);
    pods.sort_by(|a, b| a.name.cmp(&b.name));
    RunView {
        slow: super::slow::read(&d.dir),
        handshakes: crate::record::tls::read_handshakes(&d.dir).ok().flatten().unwrap_or_default(),
        label,
        banner: banner(&d.summary, d.verdict.as_ref(), d.capacity.as_ref()),
        groups,
        bucket_s,
        series,
        status,
        hdr_latency,
        hdr_service,
        pods,
        pods_hidden,
        scenario_text: d.scenario_text.as_deref().map(redact::text),
        summary: d.summary,
        verdict: d.verdict,
        faults: d.faults,
        capacity: d.capacity,
        saturation: d.saturation,
        warnings: d.warnings,
    }
}

/// Layers of the rate chart: `ok`, then the scenario's own outcomes (fallback, limited, ...), then
/// every failure together as `error`; only those that happened (`ok` always). Returns the layer
/// names and, per layer, the outcome columns it sums.
fn outcome_groups(columns: &[String], rows: &[SecondRow]) -> (Vec<String>, Vec<Vec<usize>>) {
    let seen = |i: usize| rows.iter().any(|r| r.outcomes.get(i).copied().unwrap_or(0) > 0);
    let mut groups = vec!["ok".to_string()];
    let mut members = vec![columns.iter().position(|c| c == "ok").into_iter().collect::<Vec<_>>()];
    for (i, c) in columns.iter().enumerate() {
        if c != "ok" && !FAILURES.contains(&c.as_str()) && seen(i) {
            groups.push(c.clone());
            members.push(vec![i]);
        }
    }
    let failures: Vec<usize> = (0..columns.len()).filter(|&i| FAILURES.contains(&columns[i].as_str())).collect();
    if failures.iter().any(|&i| seen(i)) {
        groups.push("error".into());
        members.push(failures);
    }
    (groups, members)
}

fn downsample(rows: &[SecondRow], members: &[Vec<usize>], bucket: u64) -> Vec<Point> {
    rows.chunks(bucket as usize)
        .map(|chunk| {
            let n = chunk.len() as f64;
            let mean = |f: &dyn Fn(&SecondRow) -> f64| chunk.iter().map(f).sum::<f64>() / n;
            let present = |f: &dyn Fn(&SecondRow) -> Option<f64>| chunk.iter().filter_map(f).collect::<Vec<f64>>();
            let avg = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
            let top = |v: Vec<f64>| v.into_iter().reduce(f64::max);
            Point {
                t: chunk[0].second as f64,
                target: mean(&|r| r.target_rps),
                sent: mean(&|r| r.sent as f64),
                completed: mean(&|r| r.completed as f64),
                dropped: mean(&|r| r.dropped as f64),
                stack: members.iter().map(|m| mean(&|r| m.iter().map(|&i| r.outcomes.get(i).copied().unwrap_or(0) as f64).sum())).collect(),
                p50: avg(present(&|r| r.p50_ms)),
                p90: avg(present(&|r| r.p90_ms)),
                p99: top(present(&|r| r.p99_ms)),
                max: top(present(&|r| r.max_ms)),
                conn_wait_p99: top(present(&|r| r.conn_wait_p99_ms)),
                connection_limited: chunk.iter().map(|r| r.connection_limited).sum(),
            }
        })
        .collect()
}

/// The stretches of time (start, end) in which the generator was connection-limited (arrivals
/// waited because every connection was busy), adjacent points joined: shaded on the rate chart so
/// a plateau there reads as the cap's, not the target's.
pub fn limited_spans(series: &[Point], bucket_s: u64) -> Vec<(f64, f64)> {
    let mut spans: Vec<(f64, f64)> = Vec::new();
    for p in series.iter().filter(|p| p.connection_limited > 0) {
        let end = p.t + bucket_s as f64;
        match spans.last_mut() {
            Some(last) if last.1 >= p.t => last.1 = end,
            _ => spans.push((p.t, end)),
        }
    }
    spans
}

impl Point {
    /// The connection wait p99 of a connection-limited point, drawn on the latency chart. Other
    /// points' waits (microseconds, connections free) are left out: they would only stretch a log
    /// axis.
    pub fn limited_wait(&self) -> Option<f64> {
        self.conn_wait_p99.filter(|_| self.connection_limited > 0)
    }
}

/// The run's full histograms, every request and outcome together, as percentile curves.
fn hdr_curves(s: &Summary) -> (Vec<(f64, f64)>, Vec<(f64, f64)>) {
    let (mut lat, mut svc) = (new_hist(), new_hist());
    for e in &s.histograms {
        let Ok(h) = hist::decode(&e.data) else { continue };
        match e.kind.as_str() {
            "latency" => add(&mut lat, &h),
            "service" => add(&mut svc, &h),
            _ => {}
        }
    }
    (percentile_curve(&lat), percentile_curve(&svc))
}

/// Points at x = 1/(1-p), evenly spaced on a log axis from p = 0 up to the resolution the count
/// gives (a run of 13,000 requests reaches 99.99%), ending at the maximum.
pub fn percentile_curve(h: &Hist) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let decades = (h.len() as f64).log10().ceil().clamp(1.0, 6.0);
    let steps = 40 * decades as usize;
    (0..=steps)
        .map(|k| {
            let x = 10f64.powf(decades * k as f64 / steps as f64);
            let p = if k == steps { 1.0 } else { 1.0 - 1.0 / x };
            (x, h.value_at_quantile(p) as f64 / 1000.0)
        })
        .collect()
}

fn banner(s: &Summary, v: Option<&ReportVerdict>, cap: Option<&CapacityData>) -> Banner {
    let failed: Vec<String> = v
        .map(|v| {
            v.checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| {
                    // The scope tells apart one check written for the run and for a stage or
                    // window, which otherwise read as the same line twice with two values.
                    let scope = c.window.as_deref().filter(|w| !w.is_empty() && *w != "run").map_or(String::new(), |w| format!(" [{w}]"));
                    format!("{}{scope}: expected {}, measured {}", c.name, c.expected, if c.measured.is_empty() { "nothing" } else { &c.measured })
                })
                .collect()
        })
        .unwrap_or_default();
    let checks = v.map_or(0, |v| v.checks.len());
    let stopped = match s.status {
        RunStatus::Completed => None,
        RunStatus::Interrupted => Some(format!("INTERRUPTED after {:.0}s of {:.0}s: the figures cover only that part of the run", s.duration_s, s.planned_duration_s)),
        RunStatus::Aborted => Some(format!(
            "ABORTED: stopped after {:.0}s of {:.0}s{}",
            s.duration_s,
            s.planned_duration_s,
            s.abort_reason.as_ref().map_or(String::new(), |r| format!(": {r}"))
        )),
        RunStatus::DrillFailed => Some(format!("DRILL FAILED: {}; the load ran, the planned fault did not", s.failure.as_deref().unwrap_or("a fault could not be applied or removed"))),
        RunStatus::Failed => Some(format!("FAILED: {}", s.failure.as_deref().unwrap_or("the generator broke"))),
        RunStatus::Incomplete => Some(format!("INCOMPLETE: the run was killed after {:.0}s of {:.0}s", s.duration_s, s.planned_duration_s)),
    };
    let (kind, title) = match (stopped, v.map(|v| v.status)) {
        (Some(t), _) => (BannerKind::Aborted, t),
        (None, Some(VerdictStatus::Aborted)) => (BannerKind::Aborted, "ABORTED: the run was stopped by an abort condition".into()),
        (None, Some(VerdictStatus::Fail)) => (BannerKind::Fail, format!("FAIL: {} of {checks} checks failed", failed.len())),
        (None, Some(VerdictStatus::Pass)) => (BannerKind::Pass, format!("PASS: all {checks} checks passed")),
        // A capacity search without checks of its own is judged by its answer (its SLO), not
        // called unchecked: the directory's own run is only its last step.
        (None, Some(VerdictStatus::NoChecks) | None) if cap.is_some() => {
            let c = cap.expect("checked");
            match (c.max_rps, c.passed) {
                (Some(r), Some(true) | None) if c.lower_bound => (BannerKind::Pass, format!("CAPACITY: at least {r:.1} req/s sustainable within the SLO (the limit was not reached)")),
                (Some(r), Some(true) | None) => (BannerKind::Pass, format!("CAPACITY: {r:.1} req/s sustainable within the SLO")),
                (Some(r), Some(false)) => (BannerKind::Fail, format!("FAIL: {r:.1} req/s sustainable, short of the scenario's capacity targets")),
                (None, _) => (BannerKind::Fail, "FAIL: no rate kept the SLO".into()),
            }
        }
        (None, Some(VerdictStatus::NoChecks) | None) => {
            (BannerKind::NoChecks, "NO CHECKS DEFINED: the run completed; nothing was asserted".into())
        }
    };
    Banner { kind, title, failed }
}

fn diff_rows(others: &[RunView], current: &RunView) -> Vec<DiffRow> {
    let runs: Vec<&Summary> = others.iter().chain([current]).map(|v| &v.summary).collect();
    const ERROR_RATE: &str = "error rate";
    let metrics: [(&str, bool, fn(&Summary) -> f64, fn(f64) -> String); 9] = [
        ("completed requests", false, |s| s.totals.completed as f64, |v| format!("{v:.0}")),
        ("achieved rate (req/s)", false, |s| s.totals.achieved_rps, |v| format!("{v:.1}")),
        (ERROR_RATE, true, |s| s.totals.error_rate, |v| format!("{:.2}%", v * 100.0)),
        ("dropped", true, |s| s.totals.dropped as f64, |v| format!("{v:.0}")),
        ("p50 latency", true, |s| s.totals.latency.p50_us as f64, |v| crate::units::format_us(v as u64)),
        ("p90 latency", true, |s| s.totals.latency.p90_us as f64, |v| crate::units::format_us(v as u64)),
        ("p99 latency", true, |s| s.totals.latency.p99_us as f64, |v| crate::units::format_us(v as u64)),
        ("max latency", true, |s| s.totals.latency.max_us as f64, |v| crate::units::format_us(v as u64)),
        ("p99 service time", true, |s| s.totals.service_time.p99_us as f64, |v| crate::units::format_us(v as u64)),
    ];
    metrics
        .iter()
        .map(|(name, lower, get, fmt)| {
            let vals: Vec<f64> = runs.iter().map(|s| get(s)).collect();
            let base = vals[0];
            DiffRow {
                metric: name.to_string(),
                values: vals.iter().map(|v| fmt(*v)).collect(),
                changes: vals.iter().enumerate().map(|(i, v)| (i > 0).then(|| change(base, *v, *lower, *name == ERROR_RATE, *fmt))).collect(),
                lower_is_better: *lower,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(second: u64, ok: u64, err: u64, p99: Option<f64>) -> SecondRow {
        SecondRow {
            second,
            target_rps: 100.0,
            sent: ok + err,
            completed: ok + err,
            dropped: 1,
            outcomes: vec![ok, err, 0, 3, 0, 0, 0],
            p50_ms: p99.map(|p| p / 4.0),
            p90_ms: p99.map(|p| p / 2.0),
            p99_ms: p99,
            max_ms: p99.map(|p| p * 2.0),
            ..SecondRow::default()
        }
    }

    fn cols() -> Vec<String> {
        ["ok", "error", "timeout", "connect", "reset", "protocol", "fallback"].map(String::from).to_vec()
    }

    /// A capacity search that stopped at its maximum found a floor, not the limit.
    #[test]
    fn a_capacity_floor_is_called_one() {
        let s = crate::record::summary::test_summary("cap", "f", RunStatus::Completed);
        let mut c = CapacityData { max_rps: Some(800.0), passed: Some(true), ..CapacityData::default() };
        assert_eq!(banner(&s, None, Some(&c)).title, "CAPACITY: 800.0 req/s sustainable within the SLO");
        c.lower_bound = true;
        assert!(banner(&s, None, Some(&c)).title.starts_with("CAPACITY: at least 800.0 req/s"));
    }

    #[test]
    fn failures_are_one_layer_and_silent_outcomes_are_left_out() {
        let rows = vec![row(0, 90, 5, Some(10.0))];
        let (g, m) = outcome_groups(&cols(), &rows);
        assert_eq!(g, ["ok", "error"]);
        assert_eq!(m[1], [1, 2, 3, 4, 5]);
        let p = downsample(&rows, &m, 1);
        assert_eq!(p[0].stack, [90.0, 8.0]);
    }

    #[test]
    fn an_hour_is_bucketed_keeping_the_worst_tail() {
        let rows: Vec<SecondRow> = (0..3600)
            .map(|s| {
                row(
                    s,
                    100,
                    0,
                    if s == 1801 {
                        Some(500.0)
                    } else if s % 7 == 0 {
                        None
                    } else {
                        Some(10.0)
                    },
                )
            })
            .collect();
        let (_, m) = outcome_groups(&cols(), &rows);
        let bucket = (rows.len() as u64).div_ceil(MAX_POINTS as u64);
        let p = downsample(&rows, &m, bucket);
        assert_eq!(bucket, 3);
        assert_eq!(p.len(), 1200);
        assert_eq!(p[600].t, 1800.0);
        assert_eq!(p[600].p99, Some(500.0), "the spike survives");
        assert_eq!(p[600].max, Some(1000.0));
        assert_eq!(p[0].p50, Some(2.5), "mean of the seconds that had data");
        assert_eq!(p[0].stack[0], 100.0);
    }

    #[test]
    fn connection_limited_seconds_are_marked_and_their_wait_kept() {
        let mut rows: Vec<SecondRow> = (0..10).map(|s| row(s, 100, 0, Some(10.0))).collect();
        for (s, held, wait) in [(2, 5, 40.0), (3, 1, 250.0), (7, 2, 30.0)] {
            rows[s].connection_limited = held;
            rows[s].conn_wait_p99_ms = Some(wait);
        }
        rows[5].conn_wait_p99_ms = Some(0.5);
        let (_, m) = outcome_groups(&cols(), &rows);
        let p = downsample(&rows, &m, 1);
        assert_eq!(limited_spans(&p, 1), [(2.0, 4.0), (7.0, 8.0)], "adjacent seconds join; a wait alone is not a limit");
        assert_eq!(p[5].conn_wait_p99, Some(0.5));
        assert_eq!(p[0].conn_wait_p99, None, "no wait recorded (or an older file): no point drawn");
        assert_eq!((p[3].limited_wait(), p[5].limited_wait()), (Some(250.0), None), "only limited seconds' waits are drawn");
        let b = downsample(&rows, &m, 3);
        assert_eq!((b[0].connection_limited, b[1].connection_limited, b[2].connection_limited), (5, 1, 2));
        assert_eq!(b[1].conn_wait_p99, Some(250.0), "the bucket keeps its worst second");
        assert_eq!(limited_spans(&b, 3), [(0.0, 9.0)]);
        assert!(limited_spans(&downsample(&rows[..2], &m, 1), 1).is_empty());
    }

    #[test]
    fn percentile_curve_spans_the_count() {
        let mut h = new_hist();
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        let c = percentile_curve(&h);
        assert_eq!(c[0].0, 1.0);
        assert!((c.last().unwrap().0 - 10_000.0).abs() < 1e-6);
        assert!((c.last().unwrap().1 - 10.0).abs() < 0.02, "ends at the max");
        let mid = c.iter().find(|(x, _)| (*x - 100.0).abs() < 1e-6).unwrap();
        assert!((mid.1 - 9.9).abs() < 0.02, "x=100 is p99: {}", mid.1);
        assert!(c.windows(2).all(|w| w[0].1 <= w[1].1));
    }

    #[test]
    fn changes_from_a_zero_baseline_are_shown() {
        let pct = |v: f64| format!("{:.2}%", v * 100.0);
        let count = |v: f64| format!("{v:.0}");
        assert_eq!(change(0.0, 0.1, true, true, pct), Change { text: "+10.0pp".into(), worse: Some(true) }, "0% → 10% errors");
        assert_eq!(change(0.0, 12.0, true, false, count), Change { text: "new: 0 → 12".into(), worse: Some(true) });
        assert_eq!(change(0.0, 0.0, true, false, count), Change { text: "±0".into(), worse: None });
        assert_eq!(change(0.02, 0.0205, true, true, pct), Change { text: "+0.1pp".into(), worse: None }, "half a tenth of a point is noise");
        assert_eq!(change(100.0, 90.0, false, false, count), Change { text: "-10.0%".into(), worse: Some(true) }, "less throughput is worse");
        assert_eq!(change(100.0, 103.0, true, false, count), Change { text: "+3.0%".into(), worse: None });
    }
}
