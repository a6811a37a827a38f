//! Per-function token bucket, written as GCRA (the generic cell rate algorithm): one atomic
//! "theoretical arrival time" instead of a token count and a timestamp, so the check is a single
//! compare-and-swap with no lock, and the admitted rate is exact over any window longer than the burst.
//!
//! The math is a pure function of (state, now) so it is tested with a fake clock.

use std::sync::atomic::{AtomicU64, Ordering};

/// `rate` per second with `burst` saved up; times are nanoseconds on the gateway's clock.
#[derive(Debug)]
pub struct TokenBucket {
    /// Nanoseconds between tokens.
    interval: u64,
    /// How far ahead of now the theoretical arrival time may run: burst × interval.
    tolerance: u64,
    tat: AtomicU64,
}

/// Why a request was refused: how long until a token is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after_ns: u64,
}

impl Limited {
    /// `Retry-After` wants whole seconds; round up so a client that obeys it is admitted.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after_ns.div_ceil(1_000_000_000).max(1)
    }
}

/// One GCRA step: with theoretical arrival time `tat`, may a request at `now` pass, and what is the
/// new `tat`? A full bucket is `tat <= now`; each request pushes `tat` one interval later.
pub fn gcra(tat: u64, now: u64, interval: u64, tolerance: u64) -> Result<u64, Limited> {
    let next = tat.max(now) + interval;
    if next - now <= tolerance {
        Ok(next)
    } else {
        Err(Limited {
            retry_after_ns: next - now - tolerance,
        })
    }
}

impl TokenBucket {
    pub fn new(rate: f64, burst: u32) -> TokenBucket {
        let interval = ((1e9 / rate).round() as u64).max(1);
        TokenBucket {
            interval,
            tolerance: interval * burst.max(1) as u64,
            tat: AtomicU64::new(0),
        }
    }

    /// Takes a token at `now` (nanoseconds since the gateway's epoch) or says how long to wait.
    pub fn try_acquire(&self, now: u64) -> Result<(), Limited> {
        let mut cur = self.tat.load(Ordering::Relaxed);
        loop {
            let next = gcra(cur, now, self.interval, self.tolerance)?;
            match self
                .tat
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn burst_then_exact_rate() {
        // 100/s, burst 10: ten at once, then one per 10 ms.
        let b = TokenBucket::new(100.0, 10);
        let t0 = 5 * S;
        let first: usize = (0..20).filter(|_| b.try_acquire(t0).is_ok()).count();
        assert_eq!(first, 10);
        assert!(b.try_acquire(t0 + 9_000_000).is_err());
        assert!(b.try_acquire(t0 + 10_000_000).is_ok());
        assert!(b.try_acquire(t0 + 10_000_000).is_err());
    }

    #[test]
    fn admitted_rate_is_exact_under_double_load() {
        // Offer 200/s for 3 s (one every 5 ms) to a 100/s, burst 5 bucket: admit 300 + burst.
        let b = TokenBucket::new(100.0, 5);
        let t0 = S;
        let admitted = (0..600)
            .filter(|i| b.try_acquire(t0 + i * 5_000_000).is_ok())
            .count();
        assert!((300..=306).contains(&admitted), "{admitted}");
    }

    #[test]
    fn idle_time_refills_only_up_to_burst() {
        let b = TokenBucket::new(10.0, 3);
        let t = 100 * S;
        assert_eq!((0..10).filter(|_| b.try_acquire(t).is_ok()).count(), 3);
        let later = t + 60 * S;
        assert_eq!((0..10).filter(|_| b.try_acquire(later).is_ok()).count(), 3);
    }

    #[test]
    fn retry_after_rounds_up_to_a_second() {
        // 0.5/s: after the one token, the next is 2 s away.
        let b = TokenBucket::new(0.5, 1);
        assert!(b.try_acquire(10 * S).is_ok());
        let e = b.try_acquire(10 * S).unwrap_err();
        assert_eq!(e.retry_after_ns, 2 * S);
        assert_eq!(e.retry_after_secs(), 2);
        assert_eq!(Limited { retry_after_ns: 1 }.retry_after_secs(), 1);
        assert_eq!(gcra(0, S, 10, 10), Ok(S + 10));
    }
}
