//! What `skyload capacity` found, as written to `capacity.json`: every step with its verdict and
//! figures, the answer, the knee and the plan. Declared here, beside the search that produces it,
//! so that the report and `compare` read it without importing the command that drives the steps.

use super::{Phase, Stop, StepVerdict};
use crate::verify::CheckResult;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepReport {
    pub rate: f64,
    pub hold_s: f64,
    pub phase: Phase,
    pub verdict: StepVerdict,
    pub achieved_rps: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub error_rate: f64,
    pub dropped: u64,
    pub pods: usize,
    pub failed_checks: Vec<String>,
    pub notes: Vec<String>,
    pub dir: String,
    /// Sub-windows of the step that kept the SLO, of how many.
    #[serde(default)]
    pub windows_passed: usize,
    #[serde(default)]
    pub windows: usize,
    /// For a failing step: the first sub-window that broke, the check, the outcomes that were
    /// not ok (with status codes), and whether the time was the target's or spent before sending.
    #[serde(default)]
    pub broke_first: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapacityReport {
    pub scenario: String,
    pub slo: Vec<String>,
    pub steps: Vec<StepReport>,
    pub stop: Option<Stop>,
    /// Highest rate that kept the SLO and was confirmed by holding it (None: none was).
    pub max_sustainable_rps: Option<f64>,
    /// Lowest rate from which every try failed.
    pub first_failing_rps: Option<f64>,
    /// When tries disagreed: the band (low, high) in which the verdict depends on the moment.
    #[serde(default)]
    pub unstable_band: Option<(f64, f64)>,
    pub pods: usize,
    /// `declared` ([capacity] pods / --pods) or `pod_header`.
    pub pods_from: String,
    pub per_pod_rps: Option<f64>,
    pub knee_rps: Option<f64>,
    pub plan: Option<super::CapacityPlan>,
    pub targets: Vec<CheckResult>,
    pub notes: Vec<String>,
    pub seconds: f64,
    /// How close to the true capacity the answer's holds get (None: no answer, a bound only, or
    /// no latency limit in the SLO).
    #[serde(default)]
    pub resolution: Option<super::HoldResolution>,
}
