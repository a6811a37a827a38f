//! Capacity search as pure math, with no clock and no I/O: which rate to try next (`search`: ramp,
//! bisect, retest the boundary, confirm the answer by holding it), how a step is judged (the
//! scenario's checks as the SLO, over the whole step and over each of its sub-windows, with the
//! generator guard making a step inconclusive rather than silently passing or failing), what broke
//! first in a failing step, where latency bends (the knee), and the capacity plan (pods for a
//! peak, daily volume). The driver that runs each step is `commands::capacity`.

pub mod search;
pub mod report;
pub use search::{Answer, Search, Try};

use crate::record::summary::Summary;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepVerdict {
    Pass,
    Fail,
    /// The generator may have been the limit: this step says nothing about the target.
    Inconclusive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Ramp,
    Bisect,
    /// The first failing rate run again: a real limit fails twice.
    Retest,
    /// The answer held again, `confirm` times for `confirm_hold`, before it is reported.
    Confirm,
}

/// Why the search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// Last good and first bad are within the precision.
    Converged,
    /// Every step up to `max` passed: capacity is at least `max`.
    ReachedMax,
    /// A step was inconclusive (generator-limited): capacity is at least the last good rate.
    GeneratorLimited,
    /// Even the lowest rate tried failed.
    NothingSustainable,
    /// Tries disagreed (a rate passed and failed, or a confirmation hold failed): the answer is a
    /// band, not a number.
    Unstable,
}

/// Whether a step's sub-windows pass consistently: at least `consistency` (a fraction) of them
/// passed. No sub-windows (a step shorter than one) is not consistency.
pub fn consistent(windows: &[bool], consistency: f64) -> bool {
    !windows.is_empty() && windows.iter().filter(|w| **w).count() as f64 >= consistency * windows.len() as f64 - 1e-9
}

/// Judges a step: the checks' outcome, corrected by the generator guard. A pass from a run whose
/// generator fell behind is inconclusive (the target never saw the load); so is a failure while
/// the generator's threads were saturated. A failure with drops but an idle generator is the
/// target's (requests waited for a connection because the target was slow).
pub fn judge_step(checks_passed: bool, s: &Summary) -> (StepVerdict, Vec<String>) {
    let g = &s.generator;
    let saturated = g.threads > 0 && g.cpu_cores / g.threads as f64 > 0.9;
    let mut notes = g.notes.clone();
    let fell_behind = g.limited(s.duration_s);
    let v = match (checks_passed, fell_behind) {
        (true, false) => StepVerdict::Pass,
        (true, true) => StepVerdict::Inconclusive,
        (false, _) if saturated => StepVerdict::Inconclusive,
        (false, fell) => {
            if fell {
                notes.push("counted as the target's failure: the generator's threads were not saturated, so requests waited on a slow target".into());
            }
            StepVerdict::Fail
        }
    };
    (v, notes)
}

/// One sub-window of a step: where it starts (seconds into the step) and, when it broke the SLO,
/// the first check it broke with what it measured.
#[derive(Debug, Clone, PartialEq)]
pub struct SubWindow {
    pub from_s: f64,
    pub failed: Option<String>,
}

/// What broke first in a failing step, in words: the first sub-window that broke and its check,
/// the outcomes that were not `ok` (with the status codes of answered errors), and where the time
/// went (latency from the intended start far above the service time means requests waited before
/// they were sent — for a connection, or in a connect/TLS handshake — rather than in the target).
pub fn diagnose(subs: &[SubWindow], s: &Summary) -> String {
    let mut parts = Vec::new();
    match subs.iter().find(|w| w.failed.is_some()) {
        Some(w) => parts.push(format!("second {:.0}: {}", w.from_s, w.failed.as_deref().unwrap_or_default())),
        None => parts.push("every sub-window kept the SLO; the whole step did not".to_string()),
    }
    let t = &s.totals;
    let mut bad: Vec<(String, u64)> = t.outcomes.iter().filter(|(k, n)| k.as_str() != "ok" && **n > 0).map(|(k, n)| (k.clone(), *n)).collect();
    bad.sort_by(|a, b| b.1.cmp(&a.1));
    if !bad.is_empty() {
        let codes: Vec<String> = t.status_codes.iter().filter(|(c, n)| !c.starts_with('2') && !c.starts_with('3') && **n > 0).map(|(c, n)| format!("{c} ×{n}")).collect();
        parts.push(format!(
            "{}{}",
            bad.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", "),
            if codes.is_empty() { String::new() } else { format!(" (status {})", codes.join(", ")) }
        ));
    }
    if t.dropped > 0 {
        parts.push(format!("{} dropped (never sent)", t.dropped));
    }
    let (lat, svc) = (t.latency.p99_us, t.service_time.p99_us);
    if lat > 0 {
        if lat > 2 * svc + 1000 {
            parts.push(format!("time before sending: p99 {} from the intended start vs {} service time (waiting for a connection, connect or TLS)", crate::units::format_us(lat), crate::units::format_us(svc)));
        } else {
            parts.push(format!("the target's own time: service p99 {} (latency p99 {})", crate::units::format_us(svc), crate::units::format_us(lat)));
        }
    }
    parts.join("; ")
}

/// The sentence for a search whose tries disagreed.
pub fn describe_unstable(a: &Answer) -> String {
    let (lo, hi) = a.unstable.unwrap_or((a.sustainable.unwrap_or(0.0), a.fails_from.unwrap_or(0.0)));
    let head = match a.sustainable {
        Some(s) => format!("sustainable {s:.1} rps, confirmed"),
        None => "no rate was confirmed".to_string(),
    };
    let tail = match a.fails_from {
        Some(f) => format!("; fails from {f:.1} rps"),
        None => String::new(),
    };
    format!("UNSTABLE: {head}; unstable {lo:.1}–{hi:.1} rps (tries there passed and failed by turns){tail}: a single number would not repeat")
}

/// How much higher than the lowest-rate p99 latency may be before it has "bent".
pub const KNEE_FACTOR: f64 = 2.0;

/// The knee: the highest rate up to which every judged step kept p99 within `KNEE_FACTOR` × the
/// p99 at the lowest rate (and within +1 ms, so microsecond noise does not count). Steps are
/// (rate, p99 µs); inconclusive steps are left out by the caller.
pub fn knee(steps: &[(f64, f64)]) -> Option<f64> {
    let mut s: Vec<(f64, f64)> = steps.iter().copied().filter(|(_, p)| *p > 0.0).collect();
    s.sort_by(|a, b| a.0.total_cmp(&b.0));
    let base = s.first()?.1;
    let limit = (base * KNEE_FACTOR).max(base + 1000.0);
    // Latency that never bent has no knee (it is not the highest rate tried).
    if s.iter().all(|(_, p)| *p <= limit) {
        return None;
    }
    s.iter().take_while(|(_, p)| *p <= limit).last().map(|(r, _)| *r)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityPlan {
    pub per_pod_rps: f64,
    pub peak_qps: Option<f64>,
    pub headroom: f64,
    /// ceil(peak × headroom / per-pod capacity).
    pub pods_needed: Option<u64>,
    /// Calls a day the measured capacity carries (max sustainable rps × 86 400).
    pub daily_calls: f64,
    pub daily_calls_per_pod: f64,
}

pub fn plan(max_rps: f64, pods: usize, peak_qps: Option<f64>, headroom: f64) -> CapacityPlan {
    let per_pod = max_rps / pods.max(1) as f64;
    CapacityPlan {
        per_pod_rps: per_pod,
        peak_qps,
        headroom,
        pods_needed: peak_qps.filter(|_| per_pod > 0.0).map(|p| (p * headroom / per_pod - 1e-9).ceil().max(1.0) as u64),
        daily_calls: max_rps * 86_400.0,
        daily_calls_per_pod: per_pod * 86_400.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unstable_sentence_names_the_band() {
        let a = Answer { sustainable: Some(2400.0), fails_from: Some(2900.0), unstable: Some((2400.0, 2900.0)), noisy_below: vec![] };
        let t = describe_unstable(&a);
        assert!(t.contains("sustainable 2400.0 rps, confirmed") && t.contains("2400.0–2900.0") && t.contains("fails from 2900.0"), "{t}");
    }

    #[test]
    fn consistency_over_sub_windows() {
        assert!(consistent(&[true; 5], 1.0));
        assert!(!consistent(&[true, true, false, true, true], 1.0), "one bad second fails a strict step");
        assert!(consistent(&[true, true, false, true, true], 0.8));
        assert!(!consistent(&[], 0.5));
    }

    #[test]
    fn knee_is_where_p99_doubles() {
        assert_eq!(knee(&[(100.0, 5_000.0), (200.0, 5_500.0), (400.0, 9_000.0), (600.0, 40_000.0), (500.0, 12_000.0)]), Some(400.0));
        assert_eq!(knee(&[(100.0, 300.0), (200.0, 1_200.0), (300.0, 2_000.0)]), Some(200.0), "+1ms floor");
        assert_eq!(knee(&[]), None);
        assert_eq!(knee(&[(1000.0, 2_000.0), (2000.0, 2_100.0), (3000.0, 2_600.0)]), None, "p99 never rose: no knee");
    }

    #[test]
    fn capacity_plan_math() {
        let p = plan(600.0, 2, Some(1000.0), 1.3);
        assert_eq!((p.per_pod_rps, p.pods_needed), (300.0, Some(5)));
        assert_eq!(p.daily_calls, 51_840_000.0);
        assert_eq!(plan(600.0, 2, Some(600.0), 1.0).pods_needed, Some(2), "exactly enough");
        assert_eq!(plan(600.0, 2, None, 1.3).pods_needed, None);
    }
}
