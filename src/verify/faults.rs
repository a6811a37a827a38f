//! Fault drills judged from the Results: what happened inside each fault's window (outcomes,
//! fallback ratio, error rate), how long the system took to come back inside the run's SLO after
//! the fault ended (3 good seconds in a row), and whether the fault was applied and removed at all.
//! The window's own `expect` checks are ordinary window checks (see `spec`); this adds the rest.

use super::expr::{Expr, Metric};
use super::metrics::{measure, Measured};
use super::spec::{Scope, VerifyPlan};
use super::verdict::CheckResult;
use super::window::{SavedRun, Span};
use super::VerifyError;
use crate::fault::timeline::{recovery_time, FaultRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Consecutive good seconds that count as recovered.
pub const RECOVERY_STREAK: usize = 3;
/// How far past a fault's end recovery is looked for when no `recover_within` bounds it.
const RECOVERY_HORIZON_S: f64 = 120.0;

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
    /// Seconds from the fault's end until 3 consecutive seconds inside the SLO; None: not measured
    /// (no SLO) or not recovered within the data.
    pub recovery_s: Option<f64>,
    /// Why recovery could not be measured, when it could not.
    pub recovery_note: Option<String>,
    /// The fault could not be applied or removed.
    pub error: Option<String>,
    /// Every check about this fault (its `expect`, recovery, apply/remove) passed.
    pub passed: bool,
}

/// The run's SLO for recovery: the run-wide latency and error-rate checks.
fn slo(vp: &VerifyPlan) -> Vec<&Expr> {
    vp.checks
        .iter()
        .filter(|c| c.scope == Scope::Run && matches!(c.expr.metric, Metric::Latency { service: false, .. } | Metric::ErrorRate))
        .map(|c| &c.expr)
        .collect()
}

/// Whether each second from 0 to `until` was inside the SLO (None: nothing completed in it).
fn good_seconds(run: &SavedRun, slo: &[&Expr], until: f64) -> Result<Vec<Option<bool>>, VerifyError> {
    let last = until.min(run.summary.duration_s).ceil() as u64;
    let mut out = Vec::new();
    for k in 0..last {
        let d = run.data(Span { from: k as f64, to: Some(k as f64 + 1.0) }, None)?;
        if d.completed == 0 {
            out.push(None);
            continue;
        }
        let ok = slo.iter().all(|e| matches!(measure(&e.metric, &d), Measured::Value(v) if e.op.holds(v, e.value)));
        out.push(Some(ok));
    }
    Ok(out)
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
        let d = run.data(Span { from, to: Some(to) }, None)?;
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

        let (recovery_s, recovery_note) = if slo.is_empty() {
            (None, Some("no SLO to recover to: add latency or error_rate checks to [checks] run".to_string()))
        } else if r.applied_at_s.is_none() {
            (None, Some("the fault was never applied".to_string()))
        } else {
            let horizon = to + r.recover_within_s.map_or(RECOVERY_HORIZON_S, |w| w + RECOVERY_STREAK as f64 + 1.0);
            let good = good_seconds(run, &slo, horizon)?;
            match recovery_time(&good, to, RECOVERY_STREAK) {
                Some(t) => (Some(t), None),
                None => (None, Some(format!("not back inside the SLO for {RECOVERY_STREAK} seconds in a row before the data ends"))),
            }
        };
        if let Some(within) = r.recover_within_s {
            let ok = recovery_s.is_some_and(|t| t <= within);
            passed &= ok;
            results.push(CheckResult {
                scope: scope.clone(),
                check: format!("recovery <= {within}s"),
                expected: format!("<= {within}s"),
                measured: recovery_s.map_or("not recovered".to_string(), |t| format!("{t:.1}s")),
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
            recovery_note,
            error: r.failed(),
            passed,
        });
    }
    Ok((reports, results))
}
