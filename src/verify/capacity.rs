//! Capacity search as pure math: which rate to try next (step up by a factor or a step until a
//! step fails, then bisect between the last good and the first bad rate with shorter holds until
//! the bracket is within the precision), how a step is judged (the scenario's checks as the SLO,
//! with the generator guard making a step inconclusive rather than silently passing or failing),
//! where latency bends (the knee), and the capacity plan (pods for a peak, daily volume).
//! The driver that runs each step is `commands::capacity`.

use super::spec::{CapacitySettings, Growth};
use crate::record::summary::Summary;
use serde::{Deserialize, Serialize};
use std::time::Duration;

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
}

/// The search state: feed it each step's verdict, ask it for the next rate.
#[derive(Debug, Clone)]
pub struct Search {
    s: CapacitySettings,
    pub good: Option<f64>,
    pub bad: Option<f64>,
    next: Option<(f64, Phase)>,
    pub stop: Option<Stop>,
}

/// Rates are tried at 0.1 rps resolution.
fn round(r: f64) -> f64 {
    (r * 10.0).round() / 10.0
}

impl Search {
    pub fn new(s: CapacitySettings) -> Search {
        let start = round(s.start.min(s.max));
        Search { s, good: None, bad: None, next: Some((start, Phase::Ramp)), stop: None }
    }

    /// The next rate, its hold and its phase; None once the search is over.
    pub fn next(&self) -> Option<(f64, Duration, Phase)> {
        self.next.map(|(r, p)| (r, if p == Phase::Ramp { self.s.hold } else { self.s.bisect_hold }, p))
    }

    pub fn record(&mut self, rate: f64, v: StepVerdict) {
        let Some((_, phase)) = self.next else { return };
        match v {
            StepVerdict::Inconclusive => return self.finish(Stop::GeneratorLimited),
            StepVerdict::Pass => self.good = Some(self.good.map_or(rate, |g| g.max(rate))),
            StepVerdict::Fail => self.bad = Some(self.bad.map_or(rate, |b| b.min(rate))),
        }
        if phase == Phase::Ramp && v == StepVerdict::Pass {
            if rate >= self.s.max {
                return self.finish(Stop::ReachedMax);
            }
            let up = match self.s.growth {
                Growth::Factor(f) => rate * f,
                Growth::Step(s) => rate + s,
            };
            self.next = Some((round(up.min(self.s.max)), Phase::Ramp));
            return;
        }
        let (lo, hi) = (self.good.unwrap_or(0.0), self.bad.expect("a step failed"));
        if lo > 0.0 && (hi - lo) / lo <= self.s.precision {
            return self.finish(Stop::Converged);
        }
        if lo == 0.0 && hi <= (self.s.start * self.s.precision).max(1.0) {
            return self.finish(Stop::NothingSustainable);
        }
        let mid = round((lo + hi) / 2.0);
        if mid <= lo || mid >= hi {
            return self.finish(Stop::Converged);
        }
        self.next = Some((mid, Phase::Bisect));
    }

    fn finish(&mut self, stop: Stop) {
        self.stop = Some(stop);
        self.next = None;
    }
}

/// Judges a step: the checks' outcome, corrected by the generator guard. A pass from a run whose
/// generator fell behind is inconclusive (the target never saw the load); so is a failure while
/// the generator's threads were saturated. A failure with drops but an idle generator is the
/// target's (requests waited for a connection because the target was slow).
pub fn judge_step(checks_passed: bool, s: &Summary) -> (StepVerdict, Vec<String>) {
    let g = &s.generator;
    let saturated = g.threads > 0 && g.cpu_cores / g.threads as f64 > 0.9;
    let mut notes = g.notes.clone();
    let v = match (checks_passed, g.fell_behind) {
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

    fn settings() -> CapacitySettings {
        CapacitySettings { start: 200.0, growth: Growth::Factor(1.5), max: 5000.0, precision: 0.05, ..CapacitySettings::default() }
    }

    /// Runs the search against a target that holds `cap` rps; returns (tried rates, search).
    fn simulate(s: CapacitySettings, cap: f64) -> (Vec<(f64, Phase)>, Search) {
        let mut search = Search::new(s);
        let mut tried = Vec::new();
        while let Some((r, _, p)) = search.next() {
            tried.push((r, p));
            search.record(r, if r <= cap { StepVerdict::Pass } else { StepVerdict::Fail });
            assert!(tried.len() < 40, "search does not end: {tried:?}");
        }
        (tried, search)
    }

    #[test]
    fn ramps_then_bisects_to_the_precision() {
        let (tried, s) = simulate(settings(), 600.0);
        let rates: Vec<f64> = tried.iter().map(|t| t.0).collect();
        assert_eq!(&rates[..4], &[200.0, 300.0, 450.0, 675.0]);
        assert!(tried[4..].iter().all(|t| t.1 == Phase::Bisect));
        assert_eq!(s.stop, Some(Stop::Converged));
        let (lo, hi) = (s.good.unwrap(), s.bad.unwrap());
        assert!(lo <= 600.0 && hi > 600.0 && (hi - lo) / lo <= 0.05, "{lo}..{hi}");
        assert!(tried.len() <= 8, "{tried:?}");
    }

    #[test]
    fn table_of_outcomes() {
        for (cap, stop, good) in [
            (10_000.0, Stop::ReachedMax, Some(5000.0)),
            (0.0, Stop::NothingSustainable, None),
            (150.0, Stop::Converged, Some(150.0)),
        ] {
            let (_, s) = simulate(settings(), cap);
            assert_eq!(s.stop, Some(stop), "cap {cap}");
            match good {
                Some(g) => assert!((s.good.unwrap() - g).abs() / g <= 0.05, "cap {cap}: {:?}", s.good),
                None => assert_eq!(s.good, None),
            }
        }
        let mut s = Search::new(CapacitySettings { growth: Growth::Step(100.0), ..settings() });
        s.record(200.0, StepVerdict::Pass);
        assert_eq!(s.next().map(|n| n.0), Some(300.0));
        s.record(300.0, StepVerdict::Inconclusive);
        assert_eq!((s.next(), s.stop, s.good), (None, Some(Stop::GeneratorLimited), Some(200.0)));
    }

    #[test]
    fn knee_is_where_p99_doubles() {
        assert_eq!(knee(&[(100.0, 5_000.0), (200.0, 5_500.0), (400.0, 9_000.0), (600.0, 40_000.0), (500.0, 12_000.0)]), Some(400.0));
        assert_eq!(knee(&[(100.0, 300.0), (200.0, 1_200.0), (300.0, 2_000.0)]), Some(200.0), "+1ms floor");
        assert_eq!(knee(&[]), None);
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
