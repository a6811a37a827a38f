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
use crate::verify::expr::{Expr, Metric, Op, Stat};
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

/// How close to the true capacity a passing hold gets. A rate a fraction `e` over the capacity `c`
/// queues `e * c` requests more each second, which `c` a second serve, so a request sent `t`
/// seconds into the step waits `e * t` longer than at the capacity, and the last ones of a hold of
/// `T` seconds `e * T` longer. A latency check whose limit is `slack` above the latency without a
/// queue fails only once `e * T > slack`: the hold passes every rate up to `c * (1 + slack / T)`.
/// At a small overload the queue needs time to show (100 ms of slack fills in 3 s only at 3.3%
/// over capacity, in 30 s at 0.33%), so a short hold confirms a rate a little above the capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldResolution {
    /// The latency check of the SLO with the least slack, as written.
    pub check: String,
    /// Its limit minus the same figure at the lowest rate that passed (the p50 for `p50`, `mean`
    /// and lower quantiles, else the p99), µs: the queueing delay it lets pass.
    pub slack_us: f64,
    /// The longest hold the answer passed, seconds.
    pub hold_s: f64,
    /// The overload, as a fraction of the capacity, that this hold cannot see: slack / hold.
    pub unseen_overload: f64,
    /// The lowest the true capacity may be: the answer / (1 + `unseen_overload`).
    pub capacity_at_least_rps: f64,
}

/// The overload (a fraction of the capacity) that a hold of `hold_s` seconds cannot see against a
/// latency check with `slack_us` of slack (see `HoldResolution`).
pub fn unseen_overload(slack_us: f64, hold_s: f64) -> f64 {
    slack_us / 1e6 / hold_s.max(1e-9)
}

/// The hold, seconds, that sees an overload of `overload` (a fraction of the capacity) against a
/// latency check with `slack_us` of slack.
pub fn hold_to_see(slack_us: f64, overload: f64) -> f64 {
    slack_us / 1e6 / overload.max(1e-9)
}

/// The resolution of an `answer` the search confirmed with holds of at most `hold_s`, judged by
/// `slo` (checks as written, with their parsed form); `base` is the (p50, p99) µs at the lowest
/// rate that passed. None when the SLO has no upper limit on latency, or none with slack left.
pub fn resolution(slo: &[(&str, &Expr)], base: (u64, u64), answer: f64, hold_s: f64) -> Option<HoldResolution> {
    let slack = |e: &Expr| -> Option<f64> {
        let Metric::Latency { stat, .. } = &e.metric else { return None };
        if !matches!(e.op, Op::Lt | Op::Le) {
            return None;
        }
        let at_base = match stat {
            Stat::Quantile(q) if *q <= 0.5 => base.0,
            Stat::Mean => base.0,
            _ => base.1,
        };
        Some(e.value - at_base as f64).filter(|s| *s > 0.0)
    };
    let (check, slack_us) = slo.iter().filter_map(|(src, e)| slack(e).map(|s| (src.to_string(), s))).min_by(|a, b| a.1.total_cmp(&b.1))?;
    let e = unseen_overload(slack_us, hold_s);
    Some(HoldResolution { check, slack_us, hold_s, unseen_overload: e, capacity_at_least_rps: answer / (1.0 + e) })
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

    /// 609/s confirmed with 3 s holds for a server of 600/s: p99 < 100ms over a 10 ms service has
    /// 90 ms of slack, which a 1.5% overload fills only after 6 s. A 3 s hold cannot see under 3%,
    /// a 30 s hold under 0.3%.
    #[test]
    fn a_hold_sees_an_overload_only_once_its_queue_fills_the_slack() {
        let p99 = crate::verify::expr::parse("p99 < 100ms").unwrap();
        let p50 = crate::verify::expr::parse("p50 < 30ms").unwrap();
        let errors = crate::verify::expr::parse("error_rate < 1%").unwrap();
        let r = resolution(&[("p99 < 100ms", &p99), ("error_rate < 1%", &errors)], (9_000, 10_000), 609.0, 3.0).unwrap();
        assert_eq!((r.check.as_str(), r.slack_us), ("p99 < 100ms", 90_000.0));
        assert!((r.unseen_overload - 0.03).abs() < 1e-12, "{r:?}");
        assert!((r.capacity_at_least_rps - 609.0 / 1.03).abs() < 1e-9 && r.capacity_at_least_rps < 600.0, "{r:?}");
        // 1.5% over for 3 s queues 45 ms: inside the slack, so the hold passes; for 6 s it fills it.
        assert!(0.015 * 3.0 < r.slack_us / 1e6 && 0.015 * 6.0 >= r.slack_us / 1e6);
        assert!((resolution(&[("p99 < 100ms", &p99)], (9_000, 10_000), 609.0, 30.0).unwrap().unseen_overload - 0.003).abs() < 1e-12);
        // The tightest check decides, each against its own figure at the base: p50 has 21 ms.
        let r = resolution(&[("p99 < 100ms", &p99), ("p50 < 30ms", &p50)], (9_000, 10_000), 609.0, 3.0).unwrap();
        assert_eq!((r.check.as_str(), r.slack_us), ("p50 < 30ms", 21_000.0));
        // The hold that sees a 1% overload against 90 ms: 9 s.
        assert!((hold_to_see(90_000.0, 0.01) - 9.0).abs() < 1e-9);
        // No latency limit, or none with slack left: nothing to say.
        assert_eq!(resolution(&[("error_rate < 1%", &errors)], (9_000, 10_000), 609.0, 3.0), None);
        assert_eq!(resolution(&[("p99 < 100ms", &p99)], (9_000, 120_000), 609.0, 3.0), None);
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
