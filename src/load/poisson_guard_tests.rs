//! The generator guard over many Poisson schedules. A healthy generator (every arrival handed to a
//! worker tens of microseconds late, threads nearly idle) must never be blamed, whatever the seed.
//! The guard once compared the sent count with the schedule's *mean*, which a Poisson run of 100
//! arrivals misses by chance in about 45% of runs: the same seeds are counted against that rule
//! too, so the test shows it would catch that mistake, not only that today's guard is quiet.

use super::schedule::Schedule;
use crate::record::accum::{Completion, ThreadRecorder};
use crate::record::interval::Shape;
use crate::record::guard::SecondsGuard;
use crate::record::outcome::{OutcomeTable, OK};
use crate::record::summary::{RunMeta, RunStatus, Summary};
use crate::scenario::{Arrivals, Stage, StageShape};
use std::sync::Arc;
use std::time::Duration;

const SEEDS: u64 = 200;

/// One simulated run of `s` with `seed`: every arrival handed 20–59 µs late, on the wire 10 µs
/// later, answered 1 ms after that, 10 ms of generator CPU per second; judged and summarised as a
/// real run is.
fn healthy_run(s: &Schedule, seed: u64) -> Summary {
    let shape = Arc::new(Shape { requests: vec!["get".into()], outcomes: OutcomeTable::new([]), labels: vec![] });
    // Second 0 on a made-up CLOCK_MONOTONIC (ns), as the generator's clock reads it.
    let t0 = 9_000_000_000u64;
    let mut rec = ThreadRecorder::new(t0, shape.clone());
    for (i, a) in s.arrivals(seed, (0, 1)).enumerate() {
        let intended = t0 + crate::load::mono::ns(a.at);
        let handed = intended + (20 + (i as u64 * 7) % 40) * 1_000;
        let sent = handed + 10_000;
        rec.scheduled(0, intended);
        rec.handed(intended, handed);
        rec.sent(0, handed, sent, 100);
        rec.completed(&Completion { status: 200, ..Completion::failed(0, OK, intended, sent, sent + 1_000_000) });
    }
    let secs = s.duration().as_secs_f64();
    let mut guard = SecondsGuard::default();
    for k in 0..secs.ceil() as u64 + 1 {
        for iv in rec.take_through(k, Duration::from_millis(10)) {
            guard.judge(&iv, 1);
        }
    }
    let (_, mut totals) = rec.finish(Duration::ZERO);
    totals.guard = guard;
    let meta = RunMeta {
        scenario: "poisson".into(),
        scenario_file: None,
        status: RunStatus::Completed,
        started_at: "2026-01-01T00:00:00Z".into(),
        start_unix_ms: 0,
        planned_duration_s: secs,
        duration_s: secs,
        target: "http://127.0.0.1:1".into(),
        threads: 1,
        expected: s.expected_total(),
        shards: None,
        scenario_fingerprint: "f".into(),
    };
    Summary::build(&meta, &shape, &totals)
}

fn poisson(rate: f64, secs: f64) -> Schedule {
    Schedule::new(&[Stage { name: "p".into(), duration: Duration::from_secs_f64(secs), shape: StageShape::Constant { rate }, arrivals: Arrivals::Poisson }])
}

#[test]
fn a_healthy_poisson_run_is_never_blamed_on_the_generator() {
    // (rate, seconds, fewest seeds the old mean-based rule would have flagged): the count of
    // arrivals is Poisson(rate × seconds), below 99% of its mean with probability ~0.45 for a mean
    // of 100 and ~0.16 for 10,000; a floor at a third of that leaves over 5 binomial standard
    // deviations of room at 200 seeds (the seeds are fixed, so the count is too).
    for (rate, secs, old_rule_at_least) in [(100.0, 1.0, 30), (1_000.0, 10.0, 10)] {
        let s = poisson(rate, secs);
        let mut old_rule_flagged = 0;
        for seed in 0..SEEDS {
            let sum = healthy_run(&s, seed);
            let g = &sum.generator;
            assert!(!g.fell_behind && !g.limited(secs), "seed {seed} at {rate}/s: {:?}", g.notes);
            assert_eq!(g.send_ratio, 1.0, "seed {seed}");
            assert_eq!(sum.totals.scheduled, sum.totals.completed);
            if (sum.totals.sent as f64) < 0.99 * s.expected_total() {
                old_rule_flagged += 1;
            }
        }
        assert!(old_rule_flagged >= old_rule_at_least, "{rate}/s: the mean-based rule flagged only {old_rule_flagged} of {SEEDS}");
    }
}
