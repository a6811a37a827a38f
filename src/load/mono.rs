//! An `Instant` as a CLOCK_MONOTONIC reading in ns. `Instant` is CLOCK_MONOTONIC on Linux but hides
//! its value, so the pacer trace (printing instants on the kernel's clock, to lay them against
//! `perf sched`) converts through one pair of readings taken together, and the generator threads'
//! `Clock` places the schedule's second 0 on that clock once.
//!
//! The hot path keeps its instants as CLOCK_MONOTONIC nanoseconds (`MonoNs`, a `u64`): a
//! difference is one subtraction, where `Instant - Instant` was a checked `Timespec` subtraction
//! (about 35 instructions, some 13 per request), and a reading is `clock_gettime` without the
//! conversion to a `Timespec`.

use crate::record::accum::MonoNs;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A generator thread's clock: CLOCK_MONOTONIC in ns (`now`), the schedule's second 0 on it
/// (`origin`), and the way back to an `Instant` for tokio's timers (`instant`).
///
/// Every thread of the process converts second 0 through the same `MonoBase` pair, so all of
/// them place it on the same nanosecond. That nanosecond is at or after the true `t0` by the
/// pair's spread (under a microsecond): arrivals and every reading are on the one clock, so lag,
/// connection wait, service time and latency are exact differences all the same.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin: MonoNs,
    t0: Instant,
}

impl Clock {
    pub(crate) fn at(t0: Instant) -> Clock {
        static BASE: OnceLock<MonoBase> = OnceLock::new();
        let ns = BASE.get_or_init(MonoBase::now).ns_of(t0);
        Clock { origin: u64::try_from(ns).unwrap_or(0), t0 }
    }

    /// CLOCK_MONOTONIC now, in ns.
    #[inline]
    pub(crate) fn now(&self) -> MonoNs {
        mono_now()
    }

    /// The schedule's second 0.
    #[inline]
    pub(crate) fn origin(&self) -> MonoNs {
        self.origin
    }

    /// `offset` after second 0 (an arrival's instant).
    #[inline]
    pub(crate) fn after(&self, offset: Duration) -> MonoNs {
        self.origin + ns(offset)
    }

    /// `at` as an `Instant`, for tokio's timers (within the `MonoBase` pair's spread).
    pub(crate) fn instant(&self, at: MonoNs) -> Instant {
        if at >= self.origin {
            self.t0 + Duration::from_nanos(at - self.origin)
        } else {
            self.t0.checked_sub(Duration::from_nanos(self.origin - at)).unwrap_or(self.t0)
        }
    }
}

/// A duration in whole ns, saturating (a `Duration::MAX` limit stays unreachable).
#[inline]
pub(crate) fn ns(d: Duration) -> u64 {
    d.as_secs().saturating_mul(1_000_000_000).saturating_add(u64::from(d.subsec_nanos()))
}

/// CLOCK_MONOTONIC in ns, as `MonoNs`.
#[inline]
pub(crate) fn mono_now() -> MonoNs {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes into the timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }
    #[cfg(not(target_os = "linux"))]
    {
        // `Instant` is still monotonic there; its origin is this process's first reading.
        static START: OnceLock<Instant> = OnceLock::new();
        ns(START.get_or_init(Instant::now).elapsed()) + 1_000_000_000
    }
}

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
    i128::from(mono_now())
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

    /// A generator thread's clock: readings move with `Instant`, second 0 converts back to `t0`
    /// within the pair's spread, and threads converting the same `t0` agree to the nanosecond.
    #[test]
    fn the_clock_places_second_0_once_and_converts_back() {
        let t0 = Instant::now() + Duration::from_millis(50);
        let c = Clock::at(t0);
        assert_eq!(std::thread::spawn(move || Clock::at(t0).origin()).join().unwrap(), c.origin());
        assert_eq!(c.after(Duration::from_millis(7)) - c.origin(), 7_000_000);
        assert_eq!(c.instant(c.origin()), t0);
        assert_eq!(c.instant(c.after(Duration::from_micros(3))), t0 + Duration::from_micros(3));
        assert_eq!(c.instant(c.origin() - 2_000), t0 - Duration::from_micros(2));
        let (a, i) = (c.now(), Instant::now());
        let b = c.now();
        let waited = Duration::from_millis(2);
        while i.elapsed() < waited {}
        assert!(c.now() - a >= ns(waited) && b >= a);
        assert_eq!(ns(Duration::MAX), u64::MAX);
        assert_eq!(ns(Duration::new(3, 7)), 3_000_000_007);
    }
}
