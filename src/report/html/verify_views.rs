//! The report's view of the optional inputs other parts of skyload write into a Results
//! directory: `verdict.json` (checks, by `verify`), `faults.json` (fault windows, by the fault
//! timeline and `verify::faults`) and `capacity.json` (`skyload capacity`). The files keep their
//! writers' shapes; the functions here turn them into what the page shows, so the page does not
//! depend on how verify or the capacity search lay out their data.

use serde::{Deserialize, Serialize};

pub use crate::record::results::{CAPACITY, FAULTS, VERDICT};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictStatus {
    Pass,
    Fail,
    Aborted,
    NoChecks,
}

/// `verdict.json`: one row per check, as `verify` evaluated it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportVerdict {
    pub status: VerdictStatus,
    #[serde(default)]
    pub checks: Vec<CheckRow>,
    #[serde(default)]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRow {
    /// What is checked, e.g. `p99 hello` or `fallback_ratio during kill-pod`.
    pub name: String,
    /// As written for people: `< 50ms`, `>= 95%`.
    pub expected: String,
    /// The measured value, formatted: `42.1ms`, `97.3%`; empty when it could not be measured.
    pub measured: String,
    pub passed: bool,
    /// The window it was evaluated over: `run`, a stage name or a fault name.
    #[serde(default)]
    pub window: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultWindow {
    pub name: String,
    pub planned_start_s: f64,
    pub planned_end_s: f64,
    /// When the fault was really applied and removed (None: not known, e.g. it failed to apply).
    #[serde(default)]
    pub actual_start_s: Option<f64>,
    #[serde(default)]
    pub actual_end_s: Option<f64>,
    /// Fallback answers over completions inside the window.
    #[serde(default)]
    pub fallback_ratio: Option<f64>,
    /// Seconds from the end of the fault until the run was healthy again.
    #[serde(default)]
    pub recovery_s: Option<f64>,
    /// The fault's expectations, when it had any.
    #[serde(default)]
    pub passed: Option<bool>,
    /// `recovered`, `not recovered` or `not measured`, and why when not recovered.
    #[serde(default)]
    pub recovery: Option<String>,
    #[serde(default)]
    pub recovery_note: Option<String>,
    /// Latency p50/p99 (µs) in the seconds before the fault and inside its window.
    #[serde(default)]
    pub latency_before: Option<(u64, u64)>,
    #[serde(default)]
    pub latency_inside: Option<(u64, u64)>,
    /// Why the fault ended before its window did (its lease lapsed): `actual_end_s` is then the
    /// first renewal that failed, not a removal.
    #[serde(default)]
    pub ended_early: Option<String>,
}

impl FaultWindow {
    /// The window to shade: what happened when known, else what was planned.
    pub fn shaded(&self) -> (f64, f64) {
        (self.actual_start_s.unwrap_or(self.planned_start_s), self.actual_end_s.unwrap_or(self.planned_end_s))
    }
}

/// `capacity.json`: the steps of a capacity search and the plan derived from them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityData {
    pub steps: Vec<CapacityStep>,
    /// The p99 latency objective, in microseconds (drawn as the SLO line).
    #[serde(default)]
    pub slo_p99_us: Option<u64>,
    /// Where latency starts to climb: the highest rate before the curve bends.
    #[serde(default)]
    pub knee_rps: Option<f64>,
    /// The highest rate that passed the SLO.
    #[serde(default)]
    pub max_rps: Option<f64>,
    /// Pods that served the search.
    #[serde(default)]
    pub pods: Option<u32>,
    /// `max_rps / pods`.
    #[serde(default)]
    pub per_pod_rps: Option<f64>,
    /// The peak the plan is for, and the spare fraction kept on top (0.3 = 30%).
    #[serde(default)]
    pub peak_qps: Option<f64>,
    #[serde(default)]
    pub headroom: Option<f64>,
    /// `ceil(peak_qps * (1 + headroom) / per_pod_rps)`.
    #[serde(default)]
    pub pods_needed: Option<u64>,
    /// Calls a day at the measured maximum (`max_rps * 86400`).
    #[serde(default)]
    pub daily_calls: Option<f64>,
    /// Whether the target held what the scenario required of it.
    #[serde(default)]
    pub passed: Option<bool>,
    #[serde(default)]
    pub notes: Vec<String>,
    /// The search stopped at its maximum or the generator's before it found the limit:
    /// `max_rps` and everything planned from it are bounds, said so wherever they are shown.
    #[serde(default)]
    pub lower_bound: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityStep {
    /// Offered rate, requests per second.
    pub rate: f64,
    #[serde(default)]
    pub achieved_rps: Option<f64>,
    pub p99_us: u64,
    pub error_rate: f64,
    pub passed: bool,
}

/// A verdict as the report shows it; the run's status decides `aborted`.
pub fn verdict_view(v: &crate::verify::Verdict, status: crate::record::summary::RunStatus) -> ReportVerdict {
    let status = if status != crate::record::summary::RunStatus::Completed && status != crate::record::summary::RunStatus::Interrupted {
        VerdictStatus::Aborted
    } else if v.results.is_empty() {
        VerdictStatus::NoChecks
    } else if v.passed() {
        VerdictStatus::Pass
    } else {
        VerdictStatus::Fail
    };
    let checks = v
        .results
        .iter()
        .map(|r| CheckRow {
            name: r.check.clone(),
            expected: r.expected.clone(),
            measured: match &r.note {
                Some(n) => format!("{} ({n})", r.measured),
                None => r.measured.clone(),
            },
            passed: r.passed,
            window: Some(r.scope.clone()),
        })
        .collect();
    ReportVerdict { status, checks, notes: v.generator_notes.clone() }
}

/// A judged fault as a shaded, named window.
pub fn fault_view(f: &crate::verify::faults::FaultReport) -> FaultWindow {
    FaultWindow {
        name: f.fault.name.clone(),
        planned_start_s: f.fault.planned_start_s,
        planned_end_s: f.fault.planned_end_s,
        actual_start_s: f.fault.applied_at_s,
        actual_end_s: f.fault.removed_at_s,
        fallback_ratio: f.fallback_ratio,
        recovery_s: f.recovery_s,
        passed: Some(f.passed),
        recovery: Some(f.recovery.as_str().to_string()),
        recovery_note: f.recovery_note.clone(),
        latency_before: f.latency_before.map(|p| (p.p50_us, p.p99_us)),
        latency_inside: f.latency_inside.map(|p| (p.p50_us, p.p99_us)),
        ended_early: f.fault.ended_early.clone(),
    }
}

/// A capacity search as the report draws it. The SLO line is the search's p99 check, if it had one.
pub fn capacity_view(c: &crate::verify::capacity::report::CapacityReport) -> CapacityData {
    use crate::verify::expr::{parse, Metric, Stat};
    let slo_p99_us = c.slo.iter().filter_map(|s| parse(s.rsplit(": ").next().unwrap_or(s)).ok()).find_map(|e| match e.metric {
        Metric::Latency { stat: Stat::Quantile(q), service: false, .. } if (q - 0.99).abs() < 1e-9 => Some(e.value as u64),
        _ => None,
    });
    let plan = c.plan.as_ref();
    CapacityData {
        steps: c
            .steps
            .iter()
            .map(|s| CapacityStep {
                rate: s.rate,
                achieved_rps: Some(s.achieved_rps),
                p99_us: s.p99_us,
                error_rate: s.error_rate,
                passed: s.verdict == crate::verify::capacity::StepVerdict::Pass,
            })
            .collect(),
        slo_p99_us,
        knee_rps: c.knee_rps,
        max_rps: c.max_sustainable_rps,
        pods: Some(c.pods as u32),
        per_pod_rps: c.per_pod_rps,
        peak_qps: plan.and_then(|p| p.peak_qps),
        // The search's headroom is a factor (1.3); the report shows the spare fraction (30%).
        headroom: plan.map(|p| p.headroom - 1.0),
        pods_needed: plan.and_then(|p| p.pods_needed),
        daily_calls: plan.map(|p| p.daily_calls),
        passed: Some(c.targets.iter().all(|t| t.passed)),
        notes: c.notes.clone(),
        lower_bound: matches!(c.stop, Some(crate::verify::capacity::Stop::ReachedMax | crate::verify::capacity::Stop::GeneratorLimited)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_shapes_parse() {
        let v: ReportVerdict = serde_json::from_str(
            r#"{"status":"fail","checks":[{"name":"p99","expected":"< 50ms","measured":"72ms","passed":false,"window":"run"}],"notes":[]}"#,
        )
        .unwrap();
        assert_eq!(v.status, VerdictStatus::Fail);
        let f: FaultWindow = serde_json::from_str(
            r#"{"name":"kill","planned_start_s":10,"planned_end_s":20,"actual_start_s":10.1,"fallback_ratio":0.98,"recovery_s":1.5,"passed":true}"#,
        )
        .unwrap();
        assert_eq!(f.shaded(), (10.1, 20.0));
        let c: CapacityData = serde_json::from_str(
            r#"{"steps":[{"rate":100,"p99_us":9000,"error_rate":0,"passed":true}],"slo_p99_us":50000,"knee_rps":550,"max_rps":600,"pods":2,"per_pod_rps":300,"peak_qps":5000,"headroom":0.3,"pods_needed":22,"daily_calls":51840000,"passed":true}"#,
        )
        .unwrap();
        assert_eq!(c.pods_needed, Some(22));
        assert!(serde_json::from_str::<ReportVerdict>(r#"{"status":"pass","extra":1}"#).is_err());
    }
}
