//! Abort conditions on live data: an `Observer` that judges each closed second against the
//! scenario's `abort_when` rules and stops the run (keeping everything recorded) once a rule has
//! held for its number of consecutive seconds. A second with nothing to measure breaks a streak:
//! an abort must be earned by data, like a check's pass.
//!
//! One rule is built in: a target that accepted no connection (each connect refused or timed out)
//! for the first `DEAD_AFTER` seconds (nothing but `connect` failures, never one answer) stops the
//! run, so a wrong URL or a target that is not running costs seconds, not the whole planned
//! duration.

use super::metrics::{measure, Data, Measured};
use super::spec::AbortRule;
use crate::load::runner::{Observer, StopHandle};
use crate::record::interval::{Interval, Shape};

/// Seconds of nothing but refused connections, from the start, before the run is stopped.
pub const DEAD_AFTER: u64 = 3;

pub struct AbortWatch<'a> {
    rules: Vec<(AbortRule, u64)>,
    /// Seconds in a row, from the start, in which every completion was a `connect` failure; None
    /// once anything answered.
    dead: Option<u64>,
    stop: StopHandle,
    inner: &'a mut dyn Observer,
    /// The reason, once a rule fired.
    pub fired: Option<String>,
}

impl<'a> AbortWatch<'a> {
    pub fn new(rules: &[AbortRule], stop: StopHandle, inner: &'a mut dyn Observer) -> AbortWatch<'a> {
        AbortWatch { rules: rules.iter().map(|r| (r.clone(), 0)).collect(), dead: Some(0), stop, inner, fired: None }
    }

    /// The built-in rule: the reason to stop once the target accepted no connection for
    /// `DEAD_AFTER` seconds from the start. A second with no completion (a connect still pending)
    /// neither counts nor resets; any other outcome disarms the rule for the rest of the run.
    pub fn judge_dead(&mut self, second: u64, d: &Data) -> Option<String> {
        let streak = self.dead.as_mut()?;
        if d.completed == 0 || self.fired.is_some() {
            return None;
        }
        if d.outcomes.get("connect").copied().unwrap_or(0) < d.completed {
            self.dead = None;
            return None;
        }
        *streak += 1;
        if *streak < DEAD_AFTER {
            return None;
        }
        let reason = format!("the target accepted no connection for the first {DEAD_AFTER} seconds (to second {second}; every connect was refused or timed out): is it running and is the URL right?");
        self.fired = Some(reason.clone());
        Some(reason)
    }

    /// Feeds one second's data; returns the reason when a rule fires.
    pub fn judge(&mut self, second: u64, d: &Data) -> Option<String> {
        if self.fired.is_some() {
            return None;
        }
        for (rule, streak) in &mut self.rules {
            let e = &rule.rule.expr;
            match measure(&e.metric, d) {
                Measured::Value(v) if e.op.holds(v, e.value) => *streak += 1,
                _ => *streak = 0,
            }
            if *streak >= rule.rule.seconds {
                let first = second + 1 - rule.rule.seconds;
                let reason = format!("abort_when `{}` held for {}s (seconds {first}-{second} of the run)", rule.source, rule.rule.seconds);
                self.fired = Some(reason.clone());
                return Some(reason);
            }
        }
        None
    }
}

impl Observer for AbortWatch<'_> {
    fn second(&mut self, iv: &Interval, target_rps: f64, shape: &Shape) {
        self.inner.second(iv, target_rps, shape);
        if self.rules.is_empty() && self.dead.is_none() {
            return;
        }
        let d = Data::from_interval(iv, shape);
        // The scenario's own rules first: when one holds too, its reason is the one to report.
        let fired = self.judge(iv.second, &d);
        if let Some(reason) = fired.or_else(|| self.judge_dead(iv.second, &d)) {
            self.stop.abort(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::runner::Silent;
    use crate::verify::expr::parse_abort;

    fn second(errors: u64, ok: u64) -> Data {
        Data { seconds: 1.0, completed: errors + ok, outcomes: [("connect".to_string(), errors), ("ok".to_string(), ok)].into(), ..Data::default() }
    }

    #[test]
    fn fires_after_consecutive_seconds_only() {
        let rule = AbortRule { source: "error_rate > 50% for 3s".into(), rule: parse_abort("error_rate > 50% for 3s").unwrap() };
        let mut silent = Silent;
        let mut w = AbortWatch::new(std::slice::from_ref(&rule), StopHandle::new(), &mut silent);
        let seq = [(9, 1), (9, 1), (1, 9), (9, 1), (0, 0), (9, 1), (9, 1)];
        for (s, (e, o)) in seq.iter().enumerate() {
            assert_eq!(w.judge(s as u64, &second(*e, *o)), None, "second {s}");
        }
        let r = w.judge(7, &second(10, 0)).expect("third bad second in a row");
        assert_eq!(r, "abort_when `error_rate > 50% for 3s` held for 3s (seconds 5-7 of the run)");
        assert_eq!(w.judge(8, &second(10, 0)), None, "fires once");
    }

    #[test]
    fn a_dead_target_stops_the_run_after_three_seconds_of_refusals() {
        let mut silent = Silent;
        let mut w = AbortWatch::new(&[], StopHandle::new(), &mut silent);
        assert_eq!(w.judge_dead(0, &second(50, 0)), None);
        assert_eq!(w.judge_dead(1, &second(0, 0)), None, "a second without completions neither counts nor resets");
        assert_eq!(w.judge_dead(2, &second(50, 0)), None);
        assert!(w.judge_dead(3, &second(50, 0)).expect("third refused second").contains("accepted no connection"));
        // Once anything answered, refusals later are the run's data (a fault, a restart), not a wrong URL.
        let mut w = AbortWatch::new(&[], StopHandle::new(), &mut silent);
        assert_eq!(w.judge_dead(0, &second(49, 1)), None);
        for s in 1..10 {
            assert_eq!(w.judge_dead(s, &second(50, 0)), None);
        }
    }
}
