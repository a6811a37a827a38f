//! The report's optional inputs, written into a Results directory by other parts of skyload:
//! `verdict.json` (checks, by `verify`), `faults.json` (fault windows, by the fault driver) and
//! `capacity.json` (a capacity search). They are defined here, as the report reads them, so the
//! writers have one shape to match; unknown fields are refused so a mismatch shows up in the
//! report as a warning instead of silently missing data.

use serde::{Deserialize, Serialize};

pub const VERDICT: &str = "verdict.json";
pub const FAULTS: &str = "faults.json";
pub const CAPACITY: &str = "capacity.json";

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

/// `faults.json`: `{"faults": [...]}`, times in seconds from the start of the schedule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsFile {
    pub faults: Vec<FaultWindow>,
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
        let f: FaultsFile = serde_json::from_str(
            r#"{"faults":[{"name":"kill","planned_start_s":10,"planned_end_s":20,"actual_start_s":10.1,"fallback_ratio":0.98,"recovery_s":1.5,"passed":true}]}"#,
        )
        .unwrap();
        assert_eq!(f.faults[0].shaded(), (10.1, 20.0));
        let c: CapacityData = serde_json::from_str(
            r#"{"steps":[{"rate":100,"p99_us":9000,"error_rate":0,"passed":true}],"slo_p99_us":50000,"knee_rps":550,"max_rps":600,"pods":2,"per_pod_rps":300,"peak_qps":5000,"headroom":0.3,"pods_needed":22,"daily_calls":51840000,"passed":true}"#,
        )
        .unwrap();
        assert_eq!(c.pods_needed, Some(22));
        assert!(serde_json::from_str::<ReportVerdict>(r#"{"status":"pass","extra":1}"#).is_err());
    }
}
