//! The arrival schedule as pure math: no clock, no I/O. A run is a piecewise-linear rate function
//! r(t) over its stages; N(t) = ∫r is the number of requests due by time t. The n-th uniform arrival
//! is due when N(t) = n (wrk2's t0 + n/rate, generalised to ramps and steps). Poisson arrivals use the
//! time-change theorem: unit-mean exponential gaps in "count space", mapped through N⁻¹, give an
//! inhomogeneous Poisson process with exactly the stage's rate, and stay reproducible from a seed.
//! Because every arrival gets its sequence number here, threads or machines that take every k-th
//! arrival together send exactly the one-machine schedule.

use crate::scenario::{Arrivals as Mode, Stage, StageShape};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

/// One linear piece of the rate function.
#[derive(Debug, Clone, PartialEq)]
struct Segment {
    start: f64,
    dur: f64,
    r0: f64,
    r1: f64,
    /// N(start): requests due before this segment.
    before: f64,
    mode: Mode,
    stage: usize,
}

impl Segment {
    fn count(&self) -> f64 {
        (self.r0 + self.r1) * 0.5 * self.dur
    }
    /// Requests due in the first `tau` seconds of the segment.
    fn count_at(&self, tau: f64) -> f64 {
        let tau = tau.clamp(0.0, self.dur);
        let a = (self.r1 - self.r0) / self.dur;
        self.r0 * tau + 0.5 * a * tau * tau
    }
    /// Inverse of `count_at`: the offset at which `y` requests are due. The form
    /// 2y / (r0 + sqrt(r0² + 2ay)) is the quadratic's root without cancellation, and is exact for
    /// constant rates (a = 0) and ramps from zero (r0 = 0) alike.
    fn offset_of(&self, y: f64) -> f64 {
        if y <= 0.0 {
            return 0.0;
        }
        let a = (self.r1 - self.r0) / self.dur;
        let disc = (self.r0 * self.r0 + 2.0 * a * y).max(0.0);
        let denom = self.r0 + disc.sqrt();
        if denom <= 0.0 {
            return self.dur;
        }
        (2.0 * y / denom).min(self.dur)
    }
    fn rate_at(&self, tau: f64) -> f64 {
        self.r0 + (self.r1 - self.r0) * (tau / self.dur)
    }
}

/// The whole run's rate function.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    segments: Vec<Segment>,
    duration: f64,
    total: f64,
}

impl Schedule {
    pub fn new(stages: &[Stage]) -> Schedule {
        let mut segments = Vec::new();
        let (mut t, mut n) = (0.0, 0.0);
        let mut push = |r0: f64, r1: f64, dur: f64, mode: Mode, stage: usize| {
            if dur <= 0.0 {
                return;
            }
            let seg = Segment { start: t, dur, r0, r1, before: n, mode, stage };
            n += seg.count();
            t += dur;
            segments.push(seg);
        };
        for (i, s) in stages.iter().enumerate() {
            let d = s.duration.as_secs_f64();
            match &s.shape {
                StageShape::Constant { rate } => push(*rate, *rate, d, s.arrivals, i),
                StageShape::Ramp { from, to } => push(*from, *to, d, s.arrivals, i),
                StageShape::Steps { rates } => {
                    let step = d / rates.len().max(1) as f64;
                    for r in rates {
                        push(*r, *r, step, s.arrivals, i);
                    }
                }
            }
        }
        Schedule { segments, duration: t, total: n }
    }

    /// Planned length of the run.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration)
    }

    /// Expected number of requests in the whole run (exact for uniform arrivals, the mean for Poisson).
    pub fn expected_total(&self) -> f64 {
        self.total
    }

    /// N(t): requests due in [0, t).
    pub fn due_by(&self, t: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        match self.segment_at(t) {
            Some(s) => s.before + s.count_at(t - s.start),
            None => self.total,
        }
    }

    /// Expected requests in [t0, t1): the "target" column of a per-second time series.
    pub fn due_between(&self, t0: f64, t1: f64) -> f64 {
        self.due_by(t1) - self.due_by(t0)
    }

    /// The target rate at time t (0 after the end).
    pub fn rate_at(&self, t: f64) -> f64 {
        self.segment_at(t).map_or(0.0, |s| s.rate_at(t - s.start))
    }

    /// Index of the stage running at time t, if any.
    pub fn stage_at(&self, t: f64) -> Option<usize> {
        self.segment_at(t).map(|s| s.stage)
    }

    /// Highest target rate anywhere in the run.
    pub fn peak_rate(&self) -> f64 {
        self.segments.iter().map(|s| s.r0.max(s.r1)).fold(0.0, f64::max)
    }

    fn segment_at(&self, t: f64) -> Option<&Segment> {
        if t < 0.0 || t >= self.duration {
            return None;
        }
        let i = self.segments.partition_point(|s| s.start + s.dur <= t);
        self.segments.get(i)
    }

    /// N⁻¹(x): when the x-th request (in count space) is due, or None past the end.
    fn time_of(&self, x: f64, hint: &mut usize) -> Option<f64> {
        if x >= self.total {
            return None;
        }
        // Positions only grow, so the segment search resumes where it stopped.
        while let Some(s) = self.segments.get(*hint) {
            if x < s.before + s.count() {
                return Some(s.start + s.offset_of(x - s.before));
            }
            *hint += 1;
        }
        None
    }

    fn mode_at_count(&self, x: f64, hint: usize) -> Mode {
        let mut i = hint;
        while let Some(s) = self.segments.get(i) {
            if x < s.before + s.count() {
                return s.mode;
            }
            i += 1;
        }
        Mode::Uniform
    }

    /// Every arrival of the run, in order, with its sequence number. `shard = (i, n)` keeps only the
    /// arrivals whose sequence number is i mod n; the union over i is the whole schedule.
    pub fn arrivals(&self, seed: u64, shard: (u64, u64)) -> ArrivalIter<'_> {
        ArrivalIter {
            sched: self,
            x: 0.0,
            seq: 0,
            seg: 0,
            rng: SmallRng::seed_from_u64(seed ^ 0x5eed_a55),
            shard,
            started: false,
        }
    }
}

/// One request due: its sequence number in the run and its intended offset from the run's start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    pub seq: u64,
    pub at: Duration,
}

pub struct ArrivalIter<'a> {
    sched: &'a Schedule,
    x: f64,
    seq: u64,
    seg: usize,
    rng: SmallRng,
    shard: (u64, u64),
    started: bool,
}

impl ArrivalIter<'_> {
    fn advance(&mut self) {
        let step = match self.sched.mode_at_count(self.x, self.seg) {
            Mode::Uniform => 1.0,
            // Exp(1) by inversion; 1 - u keeps the argument of ln in (0, 1].
            Mode::Poisson => -(1.0 - self.rng.gen::<f64>()).ln(),
        };
        self.x += step;
        self.seq += 1;
    }
}

impl Iterator for ArrivalIter<'_> {
    type Item = Arrival;
    fn next(&mut self) -> Option<Arrival> {
        loop {
            if self.started {
                self.advance();
            } else {
                self.started = true;
                // A Poisson process's first arrival also comes after an exponential gap.
                if self.sched.mode_at_count(0.0, 0) == Mode::Poisson {
                    self.x = -(1.0 - self.rng.gen::<f64>()).ln();
                }
            }
            let t = self.sched.time_of(self.x, &mut self.seg)?;
            if self.seq % self.shard.1 == self.shard.0 {
                return Some(Arrival { seq: self.seq, at: Duration::from_secs_f64(t) });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(shape: StageShape, secs: f64, arrivals: Mode) -> Stage {
        Stage { name: "s".into(), duration: Duration::from_secs_f64(secs), shape, arrivals }
    }
    fn constant(rate: f64, secs: f64) -> Stage {
        stage(StageShape::Constant { rate }, secs, Mode::Uniform)
    }
    fn ramp(from: f64, to: f64, secs: f64) -> Stage {
        stage(StageShape::Ramp { from, to }, secs, Mode::Uniform)
    }

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let s = Schedule::new(&[constant(1000.0, 5.0)]);
        let a: Vec<_> = s.arrivals(1, (0, 1)).collect();
        assert_eq!(a.len(), 5000);
        assert_eq!(a[0].at, Duration::ZERO);
        assert!((a[1].at.as_secs_f64() - 0.001).abs() < 1e-9);
        assert!((a[4999].at.as_secs_f64() - 4.999).abs() < 1e-9);
    }

    #[test]
    fn counts_over_a_table_of_shapes() {
        // (stages, expected total, due by t=1s)
        let cases: Vec<(Vec<Stage>, f64, f64)> = vec![
            (vec![constant(100.0, 10.0)], 1000.0, 100.0),
            (vec![ramp(0.0, 100.0, 10.0)], 500.0, 5.0),
            (vec![ramp(100.0, 0.0, 10.0)], 500.0, 95.0),
            (vec![constant(0.0, 2.0), constant(10.0, 2.0)], 20.0, 0.0),
            (vec![stage(StageShape::Steps { rates: vec![10.0, 20.0] }, 4.0, Mode::Uniform)], 60.0, 10.0),
        ];
        for (stages, total, at1) in cases {
            let s = Schedule::new(&stages);
            assert!((s.expected_total() - total).abs() < 1e-9, "{stages:?}");
            assert!((s.due_by(1.0) - at1).abs() < 1e-9, "{stages:?}");
            let n = s.arrivals(1, (0, 1)).count() as f64;
            assert!((n - total).abs() <= 1.0, "{stages:?}: {n} arrivals");
        }
    }

    #[test]
    fn ramp_arrivals_follow_the_integral() {
        let s = Schedule::new(&[ramp(0.0, 1000.0, 10.0)]);
        for a in s.arrivals(1, (0, 1)).step_by(97) {
            // The n-th arrival is due exactly when N(t) = n.
            let n = s.due_by(a.at.as_secs_f64());
            assert!((n - a.seq as f64).abs() < 1e-3, "seq {} due_by {n}", a.seq);
        }
        assert!((s.rate_at(5.0) - 500.0).abs() < 1e-9);
        assert_eq!(s.rate_at(10.0), 0.0);
    }

    #[test]
    fn pauses_are_skipped_not_filled() {
        let s = Schedule::new(&[constant(10.0, 1.0), constant(0.0, 5.0), constant(10.0, 1.0)]);
        let a: Vec<_> = s.arrivals(1, (0, 1)).collect();
        assert_eq!(a.len(), 20);
        assert!(a.iter().all(|a| a.at.as_secs_f64() < 1.0 || a.at.as_secs_f64() >= 6.0));
    }

    #[test]
    fn shards_partition_the_schedule() {
        let s = Schedule::new(&[stage(StageShape::Ramp { from: 50.0, to: 400.0 }, 3.0, Mode::Poisson)]);
        let whole: Vec<_> = s.arrivals(7, (0, 1)).collect();
        let mut union: Vec<_> = (0..3).flat_map(|i| s.arrivals(7, (i, 3)).collect::<Vec<_>>()).collect();
        union.sort_by_key(|a| a.seq);
        assert_eq!(whole, union);
    }

    #[test]
    fn poisson_has_the_right_rate_and_variance() {
        let s = Schedule::new(&[stage(StageShape::Constant { rate: 1000.0 }, 20.0, Mode::Poisson)]);
        let a: Vec<_> = s.arrivals(42, (0, 1)).collect();
        let n = a.len() as f64;
        // Mean 20,000, standard deviation ~141: 5 sigma either way.
        assert!((n - 20_000.0).abs() < 710.0, "{n}");
        let gaps: Vec<f64> = a.windows(2).map(|w| (w[1].at - w[0].at).as_secs_f64()).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        // Exponential gaps: standard deviation equals the mean (coefficient of variation 1).
        assert!((var.sqrt() / mean - 1.0).abs() < 0.05, "cv {}", var.sqrt() / mean);
        // Same seed, same schedule.
        assert_eq!(a[..100], s.arrivals(42, (0, 1)).take(100).collect::<Vec<_>>()[..]);
    }

    #[test]
    fn target_per_second_sums_to_total() {
        let s = Schedule::new(&[ramp(100.0, 300.0, 4.5), constant(50.0, 2.0)]);
        let sum: f64 = (0..7).map(|k| s.due_between(k as f64, k as f64 + 1.0)).sum();
        assert!((sum - s.expected_total()).abs() < 1e-6);
        assert_eq!(s.stage_at(5.0), Some(1));
        assert_eq!(s.peak_rate(), 300.0);
    }
}
