//! Fault drills judged from the Results: what happened inside each fault's window (outcomes,
//! fallback ratio, error rate, latency before and inside), how long the system took to come back
//! after the fault ended, and whether the fault was applied and removed at all. The window's own
//! `expect` checks are ordinary window checks (see `spec`); this adds the rest.
//!
//! "Recovered" must mean what an operator means: latency and errors inside the SLO is not enough
//! when a fallback keeps answering fast 200s while every upstream is still broken. So a fault has
//! recovered when, for `RECOVERY_STREAK` seconds in a row, its `recovered_when` checks hold, or by
//! default: the run's SLO holds, every outcome ratio its `expect` names (a fallback share, an
//! error rate) is back at its level before the fault, *and* typical (p50) latency is back near its
//! level before the fault (see `latency_limit`: a service that stays 3× slower but inside a loose
//! SLO has not recovered). The median, not p99: a second's p99 at 100 requests/s is its slowest
//! request or two, and one scheduling hiccup of the machine must not read as "not recovered";
//! the run's p99 SLO already judges the tail in every second. A run that stopped before recovery could be
//! seen, or a fault that never happened, is "not measured", never "not recovered".

use super::expr::{Expr, Metric};
use super::metrics::{measure, Data, Measured};
use super::spec::{Scope, VerifyPlan};
use super::verdict::CheckResult;
use super::window::{SavedRun, Span};
use super::VerifyError;
use crate::fault::timeline::{recovery_time, FaultRecord};
use crate::record::summary::RunStatus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Consecutive good seconds that count as recovered.
pub const RECOVERY_STREAK: usize = 3;
/// How far past a fault's end recovery is looked for when no `recover_within` bounds it.
const RECOVERY_HORIZON_S: f64 = 120.0;
/// How much of the time before a fault gives the level its ratios must come back to.
const BEFORE_S: f64 = 10.0;
/// p50 counts as back when within this factor of the p50 before the fault…
pub const LATENCY_BACK_FACTOR: f64 = 1.5;
/// …or within this many µs of it, whichever is looser: a 2 ms service must not count as "not
/// recovered" over a few milliseconds of scheduling noise.
pub const LATENCY_BACK_SLACK_US: u64 = 10_000;

/// The highest per-second p50 that counts as "back" after a fault: the looser of 1.5 × the p50
/// of the seconds before the fault, that p50 + 10 ms, and the worst single second's p50 before
/// the fault (a second as slow as one the system had before the fault is its normal noise, not
/// an after-effect).
pub fn latency_limit(before_p50_us: u64, worst_second_before_us: u64) -> u64 {
    ((before_p50_us as f64 * LATENCY_BACK_FACTOR) as u64).max(before_p50_us + LATENCY_BACK_SLACK_US).max(worst_second_before_us)
}

/// Whether the system came back after a fault.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Recovery {
    #[serde(rename = "recovered")]
    Recovered,
    /// The data after the fault was long enough and recovery was not in it.
    #[serde(rename = "not recovered")]
    NotRecovered,
    /// Nothing to judge: the fault never happened, the run stopped too soon, or no criterion.
    #[default]
    #[serde(rename = "not measured")]
    NotMeasured,
}

impl Recovery {
    pub fn as_str(self) -> &'static str {
        match self {
            Recovery::Recovered => "recovered",
            Recovery::NotRecovered => "not recovered",
            Recovery::NotMeasured => "not measured",
        }
    }
}

/// Latency percentiles of one stretch, µs (None: nothing completed in it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyPair {
    pub p50_us: u64,
    pub p99_us: u64,
}

/// One thing that must hold in a second for it to count towards recovery.
#[derive(Debug, Clone, PartialEq)]
pub enum Criterion {
    /// A check as written (`recovered_when`, or the run's SLO).
    Check(Expr),
    /// A ratio back at its level before the fault, within what chance allows in a second of `n`
    /// completions: 3 binomial standard deviations plus one request or 2%, whichever is more.
    BackTo { metric: Metric, level: f64 },
    /// p50 latency of the second at most `limit_us` (see `latency_limit`); `before_us` is the p50
    /// before the fault, kept to say what it is compared with.
    LatencyBack { before_us: u64, limit_us: u64 },
}

impl Criterion {
    /// Whether it holds in one second's data (None: the second says nothing, e.g. no completion).
    pub fn holds(&self, d: &Data) -> Option<bool> {
        match self {
            Criterion::Check(e) => match measure(&e.metric, d) {
                Measured::Value(v) => Some(e.op.holds(v, e.value)),
                Measured::NoData(_) => None,
            },
            Criterion::BackTo { metric, level } => match measure(metric, d) {
                Measured::Value(v) => {
                    let n = d.completed as f64;
                    let allowed = 3.0 * (n * level * (1.0 - level)).max(0.0).sqrt() + (0.02 * n).max(1.0);
                    Some((v - level).abs() * n <= allowed)
                }
                Measured::NoData(_) => None,
            },
            Criterion::LatencyBack { limit_us, .. } => latency_pair(d).map(|l| l.p50_us <= *limit_us),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Criterion::Check(e) => format!("{} {}", e.metric, e.expected()),
            Criterion::BackTo { metric, level } => format!("{metric} back to {:.1}% (before the fault)", level * 100.0),
            Criterion::LatencyBack { before_us, limit_us } => format!(
                "p50 back to {} (before the fault: {}; allowed up to {})",
                crate::units::format_us(*before_us),
                crate::units::format_us(*before_us),
                crate::units::format_us(*limit_us)
            ),
        }
    }
}

/// One fault for tables and the report: what the timeline did, and how the system took it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultReport {
    /// Name, action, planned and actual window, errors, command output.
    #[serde(flatten)]
    pub fault: FaultRecord,
    /// Completions by outcome inside the window (as applied, else as planned).
    pub outcomes: BTreeMap<String, u64>,
    pub completed: u64,
    pub error_rate: Option<f64>,
    /// Share of `fallback` answers among the requests a failed pod affected (`x-failed-pod`), or
    /// among all requests in the window when that header is not counted.
    pub fallback_ratio: Option<f64>,
    /// Seconds from the fault's end until `RECOVERY_STREAK` consecutive good seconds; None unless
    /// `recovery` is `recovered`.
    pub recovery_s: Option<f64>,
    pub recovery: Recovery,
    /// What recovery was judged on, as people read it.
    pub recovered_when: Vec<String>,
    /// Why recovery is not measured or not recovered, when it is not recovered.
    pub recovery_note: Option<String>,
    /// Latency in the seconds before the fault (up to 10 s) and inside its window.
    pub latency_before: Option<LatencyPair>,
    pub latency_inside: Option<LatencyPair>,
    /// The fault could not be applied or removed.
    pub error: Option<String>,
    /// Every check about this fault (its `expect`, recovery, apply/remove) passed.
    pub passed: bool,
}

/// The run's SLO for recovery: the run-wide latency and error-rate checks.
fn slo(vp: &VerifyPlan) -> Vec<&Expr> {
    vp.checks
        .iter()
        .filter(|c| c.scope == Scope::Run && matches!(c.expr.metric, Metric::Latency { service: false, outcome: None, .. } | Metric::ErrorRate))
        .map(|c| &c.expr)
        .collect()
}

/// Whether each second from 0 to `until` met every criterion (None: nothing completed in it, or
/// no criterion could be measured in it). Judged spans (`Span::judged`): each second by the
/// answers to the requests scheduled in it (`intended.hlog`), so recovery starts with the first
/// second whose arrivals were answered well, not the second the backlog of the stall cleared.
/// Without that file the schedule's last second takes the answers after the schedule: a stall in
/// it is answered there, and recovery must not be read from the fast half of a second whose slow
/// half was answered after the run.
fn good_seconds(run: &SavedRun, criteria: &[Criterion], until: f64) -> Result<Vec<Option<bool>>, VerifyError> {
    let last = until.min(run.summary.duration_s).ceil() as u64;
    let mut out = Vec::new();
    for k in 0..last {
        let d = run.data(Span::judged(k as f64, Some(k as f64 + 1.0)), None)?;
        out.push(second_good(criteria, &d));
    }
    Ok(out)
}

/// One second against every criterion: bad if any fails, unknown if none could be measured.
pub fn second_good(criteria: &[Criterion], d: &Data) -> Option<bool> {
    if d.completed == 0 {
        return None;
    }
    let mut any = false;
    for c in criteria {
        match c.holds(d) {
            Some(false) => return Some(false),
            Some(true) => any = true,
            None => {}
        }
    }
    any.then_some(true)
}

/// The ratios a fault's `expect` names, as plain per-second ratios (a share among the requests a
/// failed pod affected is, after the fault, a share of all requests: the header is gone).
fn expect_ratios(vp: &VerifyPlan, fault: &str) -> Vec<Metric> {
    let window = super::spec::fault_window_name(fault);
    let mut out: Vec<Metric> = Vec::new();
    for c in vp.checks.iter().filter(|c| matches!(c.scope, Scope::Window(i) if vp.windows[i].name == window)) {
        let m = match &c.expr.metric {
            Metric::Ratio(o) | Metric::RatioAmong { outcome: o, .. } => Metric::Ratio(o.clone()),
            m @ (Metric::ErrorRate | Metric::Split { .. }) => m.clone(),
            _ => continue,
        };
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// From the good seconds, the data's end and how the run ended: the verdict on recovery.
pub fn judge_recovery(good: &[Option<bool>], end_s: f64, data_end_s: f64, status: RunStatus) -> (Recovery, Option<f64>, Option<String>) {
    if let Some(t) = recovery_time(good, end_s, RECOVERY_STREAK) {
        return (Recovery::Recovered, Some(t), None);
    }
    let after = (data_end_s - end_s).max(0.0);
    // A drill with a failed fault still ran its load to the end: the others' recovery is measured.
    if !matches!(status, RunStatus::Completed | RunStatus::DrillFailed) {
        let how = match status {
            RunStatus::Interrupted => "interrupted",
            RunStatus::Aborted => "aborted",
            _ => "stopped early",
        };
        return (Recovery::NotMeasured, None, Some(format!("the run was {how} {after:.1}s after the fault ended, before {RECOVERY_STREAK} good seconds in a row")));
    }
    // Counted in the seconds `recovery_time` judges (from the first whose middle is after the end),
    // not in time: a fault removed 2 ms late in a run that went on 3 s more has its 3 seconds.
    let first = (end_s - 0.5).ceil().max(0.0) as usize;
    if good.len().saturating_sub(first) < RECOVERY_STREAK {
        return (Recovery::NotMeasured, None, Some(format!("the run ended {after:.1}s after the fault; {RECOVERY_STREAK} good seconds in a row are needed to see recovery")));
    }
    (Recovery::NotRecovered, None, Some(format!("not {RECOVERY_STREAK} good seconds in a row in the {after:.1}s after the fault")))
}

fn latency_pair(d: &Data) -> Option<LatencyPair> {
    let h = d.latency.as_ref().filter(|h| !h.is_empty())?;
    Some(LatencyPair { p50_us: h.value_at_quantile(0.5), p99_us: h.value_at_quantile(0.99) })
}

/// Judges every fault; returns the reports and their verdict lines (recovery and apply/remove;
/// the `expect` checks are already judged as window checks).
pub fn assess(vp: &VerifyPlan, records: &[FaultRecord], run: &SavedRun) -> Result<(Vec<FaultReport>, Vec<CheckResult>), VerifyError> {
    let slo = slo(vp);
    let mut reports = Vec::new();
    let mut results = Vec::new();
    for r in records {
        let scope = format!("fault {}", r.name);
        let from = r.applied_at_s.unwrap_or(r.planned_start_s);
        let to = r.removed_at_s.unwrap_or(r.planned_end_s);
        // A window that reaches the end of the schedule takes the answers after it, as its
        // `expect` checks (window checks) do: a stall in its last second is answered there.
        let d = run.data(Span::judged(from, Some(to)), None)?;
        let ratio = |name: &str| (d.completed > 0).then(|| *d.outcomes.get(name).unwrap_or(&0) as f64 / d.completed as f64);
        let error_rate = match measure(&Metric::ErrorRate, &d) {
            Measured::Value(v) => Some(v),
            Measured::NoData(_) => None,
        };
        // Among the requests a failed pod affected, when the gateway says which (x-failed-pod is
        // counted as a label); else over all requests in the window.
        let has_fallback = run.summary.outcome_names.iter().any(|o| o == "fallback");
        let fallback_ratio = match measure(&Metric::RatioAmong { outcome: "fallback".into(), header: "x-failed-pod".into() }, &d) {
            Measured::Value(v) if has_fallback => Some(v),
            _ if has_fallback => ratio("fallback"),
            _ => None,
        };

        let mut passed = true;
        if let Some(e) = r.failed() {
            passed = false;
            results.push(CheckResult {
                scope: scope.clone(),
                check: "applied and removed".into(),
                expected: "applied at its time and removed at the end".into(),
                measured: "failed".into(),
                passed: false,
                note: Some(e),
            });
        }

        let before = Span { from: (from - BEFORE_S).max(0.0), to: Some(from), tail: false };
        let pre = run.data(before, None)?;
        let latency_before = latency_pair(&pre);
        let latency_inside = latency_pair(&d);
        let mut notes = Vec::new();
        let criteria: Vec<Criterion> = match vp.recovered_when.iter().find(|(n, _)| *n == r.name) {
            Some((_, checks)) => checks.iter().map(|c| Criterion::Check(c.expr.clone())).collect(),
            None => {
                let mut c: Vec<Criterion> = slo.iter().map(|e| Criterion::Check((*e).clone())).collect();
                for m in expect_ratios(vp, &r.name) {
                    match measure(&m, &pre) {
                        Measured::Value(level) => c.push(Criterion::BackTo { metric: m, level }),
                        Measured::NoData(_) => notes.push(format!("{m}: no second before the fault to compare with")),
                    }
                }
                match latency_before {
                    Some(l) => {
                        let mut worst = 0;
                        let mut k = before.from.ceil();
                        while k + 1.0 <= from {
                            if let Some(p) = latency_pair(&run.data(Span { from: k, to: Some(k + 1.0), tail: false }, None)?) {
                                worst = worst.max(p.p50_us);
                            }
                            k += 1.0;
                        }
                        c.push(Criterion::LatencyBack { before_us: l.p50_us, limit_us: latency_limit(l.p50_us, worst) });
                    }
                    None => notes.push("p50: no completion before the fault to compare with".to_string()),
                }
                c
            }
        };
        let (recovery, recovery_s, mut recovery_note) = if criteria.is_empty() {
            (Recovery::NotMeasured, None, Some("nothing to recover to: add latency or error_rate checks to [checks] run, or recovered_when to the fault".to_string()))
        } else if r.applied_at_s.is_none() {
            (Recovery::NotMeasured, None, Some("the fault was never applied".to_string()))
        } else {
            let horizon = to + r.recover_within_s.map_or(RECOVERY_HORIZON_S, |w| w + RECOVERY_STREAK as f64 + 1.0);
            let good = good_seconds(run, &criteria, horizon)?;
            let data_end = run.summary.duration_s.min(horizon);
            judge_recovery(&good, to, data_end, run.summary.status)
        };
        if !notes.is_empty() {
            let n = notes.join("; ");
            recovery_note = Some(recovery_note.map_or(n.clone(), |x| format!("{x}; {n}")));
        }
        if let Some(within) = r.recover_within_s {
            let ok = recovery_s.is_some_and(|t| t <= within);
            passed &= ok;
            results.push(CheckResult {
                scope: scope.clone(),
                check: format!("recovery <= {within}s"),
                expected: format!("<= {within}s"),
                measured: recovery_s.map_or(recovery.as_str().to_string(), |t| format!("{t:.1}s")),
                passed: ok,
                note: recovery_note.clone(),
            });
        }
        // The fault's own expectations, judged as window checks.
        let window = super::spec::fault_window_name(&r.name);
        passed &= vp
            .checks
            .iter()
            .filter(|c| matches!(c.scope, Scope::Window(i) if vp.windows[i].name == window))
            .all(|c| matches!(measure(&c.expr.metric, &d), Measured::Value(v) if c.expr.op.holds(v, c.expr.value)));

        reports.push(FaultReport {
            fault: r.clone(),
            outcomes: d.outcomes.clone(),
            completed: d.completed,
            error_rate,
            fallback_ratio,
            recovery_s,
            recovery,
            recovered_when: criteria.iter().map(Criterion::describe).collect(),
            recovery_note,
            latency_before,
            latency_inside,
            error: r.failed(),
            passed,
        });
    }
    Ok((reports, results))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::hist::new_hist;
    use crate::verify::expr::parse;

    /// One second: `ok` and `fallback` completions, every one answered in `ms`.
    fn second(ok: u64, fallback: u64, ms: u64) -> Data {
        let mut h = new_hist();
        for _ in 0..ok + fallback {
            h.record(ms * 1000).unwrap();
        }
        Data {
            seconds: 1.0,
            completed: ok + fallback,
            outcomes: [("ok".to_string(), ok), ("fallback".to_string(), fallback)].into_iter().filter(|(_, n)| *n > 0).collect(),
            latency: Some(h),
            ..Data::default()
        }
    }

    fn default_criteria(level: f64) -> Vec<Criterion> {
        vec![
            Criterion::Check(parse("p99 < 200ms").unwrap()),
            Criterion::Check(parse("error_rate < 1%").unwrap()),
            Criterion::BackTo { metric: Metric::Ratio("fallback".into()), level },
            Criterion::LatencyBack { before_us: 2000, limit_us: latency_limit(2000, 2000) },
        ]
    }

    #[test]
    fn a_fallback_still_answering_is_not_recovered() {
        // Fault ends at 4 s; the fallback keeps answering fast 200s (inside the SLO) until 8 s.
        let c = default_criteria(0.0);
        let mut seconds: Vec<Data> = (0..2).map(|_| second(200, 0, 2)).collect();
        seconds.extend((2..8).map(|_| second(0, 200, 1)));
        seconds.extend((8..12).map(|_| second(200, 0, 2)));
        let good: Vec<Option<bool>> = seconds.iter().map(|d| second_good(&c, d)).collect();
        let (r, t, _) = judge_recovery(&good, 4.0, 12.0, RunStatus::Completed);
        assert_eq!((r, t), (Recovery::Recovered, Some(4.0)));
        // Judged on the SLO alone, as before, the same run "recovered in 0.0 s".
        let slo_only = &c[..2];
        let good: Vec<Option<bool>> = seconds.iter().map(|d| second_good(slo_only, d)).collect();
        assert_eq!(judge_recovery(&good, 4.0, 12.0, RunStatus::Completed).1, Some(0.0));
    }

    #[test]
    fn a_ratio_is_back_within_what_chance_allows() {
        let c = [Criterion::BackTo { metric: Metric::Ratio("fallback".into()), level: 0.02 }];
        // 1,000 requests at a 2% level: 30 (3%) is chance, 100 (10%) is not.
        assert_eq!(second_good(&c, &second(970, 30, 1)), Some(true));
        assert_eq!(second_good(&c, &second(900, 100, 1)), Some(false));
        // A level of zero allows one stray request in a small second, not five.
        let z = [Criterion::BackTo { metric: Metric::Ratio("fallback".into()), level: 0.0 }];
        assert_eq!(second_good(&z, &second(19, 1, 1)), Some(true));
        assert_eq!(second_good(&z, &second(15, 5, 1)), Some(false));
        // Nothing completed: the second says nothing.
        assert_eq!(second_good(&z, &second(0, 0, 1)), None);
    }

    #[test]
    fn not_measured_is_not_not_recovered() {
        let bad = vec![Some(false); 10];
        // Interrupted 2 s after the fault: not measured, and it says why.
        let (r, t, note) = judge_recovery(&bad, 8.0, 10.0, RunStatus::Interrupted);
        assert_eq!((r, t), (Recovery::NotMeasured, None));
        assert!(note.unwrap().contains("interrupted"));
        // Ended normally, but too soon after the fault to see three good seconds.
        assert_eq!(judge_recovery(&bad, 8.0, 10.0, RunStatus::Completed).0, Recovery::NotMeasured);
        // Long enough and never good: not recovered.
        let bad = vec![Some(false); 20];
        assert_eq!(judge_recovery(&bad, 8.0, 20.0, RunStatus::Completed).0, Recovery::NotRecovered);
        // A fault removed a few ms after 2 s in a 5 s run: seconds 2, 3 and 4 are the ones judged,
        // so bad ones are "not recovered", not "not measured" (the run ended 2.998 s after it).
        let late = [Some(true), Some(true), Some(false), Some(true), Some(false)];
        assert_eq!(judge_recovery(&late, 2.002, 5.0, RunStatus::Completed).0, Recovery::NotRecovered);
        assert_eq!(judge_recovery(&late[..4], 2.002, 4.0, RunStatus::Completed).0, Recovery::NotMeasured, "two seconds after it");
        // Recovered even in an interrupted run, when the recovery is in the data.
        let mut g = vec![Some(false); 9];
        g.extend([Some(true); 3]);
        assert_eq!(judge_recovery(&g, 8.0, 12.0, RunStatus::Interrupted), (Recovery::Recovered, Some(1.0), None));
    }

    #[test]
    fn recovery_serializes_as_people_read_it() {
        assert_eq!(serde_json::to_string(&Recovery::NotMeasured).unwrap(), "\"not measured\"");
        assert_eq!(serde_json::from_str::<FaultReport>("{}").unwrap().recovery, Recovery::NotMeasured);
    }

    #[test]
    fn latency_must_come_back_too() {
        // Before: p50 20 ms. After the fault ends at 4 s the service answers in 60 ms (inside a
        // 200 ms SLO, no errors, no fallbacks) until 7 s, then in 20 ms again.
        let c = vec![
            Criterion::Check(parse("p99 < 200ms").unwrap()),
            Criterion::Check(parse("error_rate < 1%").unwrap()),
            Criterion::LatencyBack { before_us: 20_000, limit_us: latency_limit(20_000, 22_000) },
        ];
        let mut seconds: Vec<Data> = (0..2).map(|_| second(200, 0, 20)).collect();
        seconds.extend((2..7).map(|_| second(200, 0, 60)));
        seconds.extend((7..12).map(|_| second(200, 0, 20)));
        let good: Vec<Option<bool>> = seconds.iter().map(|d| second_good(&c, d)).collect();
        assert_eq!(judge_recovery(&good, 4.0, 12.0, RunStatus::Completed), (Recovery::Recovered, Some(3.0), None));
        // On the SLO alone the 3× slower seconds would have counted as recovered at once.
        let good: Vec<Option<bool>> = seconds.iter().map(|d| second_good(&c[..2], d)).collect();
        assert_eq!(judge_recovery(&good, 4.0, 12.0, RunStatus::Completed).1, Some(0.0));
        // A second no slower than the worst one before the fault is back; 1 ms more is not.
        assert_eq!(c[2].holds(&second(200, 0, 22)), Some(true));
        assert_eq!(Criterion::LatencyBack { before_us: 20_000, limit_us: 30_000 }.holds(&second(200, 0, 31)), Some(false));
        assert!(c[2].describe().starts_with("p50 back to"), "{}", c[2].describe());
    }

    #[test]
    fn the_latency_band_is_the_looser_of_factor_slack_and_worst_second() {
        assert_eq!(latency_limit(2_000, 0), 12_000, "+10 ms for a fast service");
        assert_eq!(latency_limit(100_000, 0), 150_000, "1.5x for a slow one");
        assert_eq!(latency_limit(100_000, 180_000), 180_000, "no tighter than the noise before the fault");
    }
}
