//! An `Instant` as a CLOCK_MONOTONIC reading in ns. `Instant` is CLOCK_MONOTONIC on Linux but hides
//! its value, so the pacer's timerfd (armed at an absolute CLOCK_MONOTONIC time) and the pacer
//! trace (printing instants on the kernel's clock, to lay them against `perf sched`) convert
//! through one pair of readings taken together.

use std::time::{Duration, Instant};

/// A CLOCK_MONOTONIC reading and an `Instant` read just before it, from the tightest of a few
/// tries. The reading is never earlier than the instant, so a converted instant is at or after
/// the true one, never before: a timer armed through a pair taken across a preemption fired
/// milliseconds before its instant, and the wait for it never ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MonoBase {
    ns: i128,
    inst: Instant,
}

impl MonoBase {
    pub(crate) fn now() -> MonoBase {
        let read = || {
            let inst = Instant::now();
            let ns = mono_ns();
            (inst.elapsed(), MonoBase { ns, inst })
        };
        let mut best = read();
        for _ in 1..8 {
            if best.0 < Duration::from_micros(1) {
                break;
            }
            let next = read();
            if next.0 < best.0 {
                best = next;
            }
        }
        best.1
    }

    /// `at` on CLOCK_MONOTONIC, in ns.
    pub(crate) fn ns_of(&self, at: Instant) -> i128 {
        let d = if at >= self.inst { at.duration_since(self.inst).as_nanos() as i128 } else { -(self.inst.duration_since(at).as_nanos() as i128) };
        self.ns + d
    }

    /// The same pair, its reading moved `early` back: instants convert that much early.
    #[cfg(test)]
    pub(crate) fn skewed(self, early: Duration) -> MonoBase {
        MonoBase { ns: self.ns - early.as_nanos() as i128, inst: self.inst }
    }
}

fn mono_ns() -> i128 {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes into the timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A later instant converts to a later reading by the same amount, and an instant converts at
    /// or after a clock reading taken before it (never early).
    #[test]
    fn conversion_keeps_differences_and_never_runs_early() {
        let b = MonoBase::now();
        let t = Instant::now();
        assert_eq!(b.ns_of(t + Duration::from_millis(3)) - b.ns_of(t), 3_000_000);
        assert_eq!(b.ns_of(t) - b.ns_of(t - Duration::from_micros(7)), 7_000);
        #[cfg(target_os = "linux")]
        {
            let before = mono_ns();
            let at = Instant::now();
            assert!(b.ns_of(at) >= before, "converted early");
            assert!(b.skewed(Duration::from_millis(5)).ns_of(at) == b.ns_of(at) - 5_000_000);
        }
    }
}
