//! Time and randomness for the hot path. Time is nanoseconds since the gateway started, so state can
//! live in plain `AtomicU64`s; randomness is one `SmallRng` per worker thread, so no request ever
//! waits on another for a random number.

use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The gateway's epoch; `now_ns` is what every timestamp in its state means.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    pub fn new() -> Clock {
        Clock {
            epoch: Instant::now(),
        }
    }

    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// The tokio instant of a timestamp, for `sleep_until`.
    pub fn instant(&self, ns: u64) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.epoch + Duration::from_nanos(ns))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Base of the per-thread seeds; set from the config's `seed`, otherwise from the time.
static SEED_BASE: AtomicU64 = AtomicU64::new(0);
static THREADS: AtomicU64 = AtomicU64::new(0);

/// Fixes the seeds of worker threads that have not drawn yet. With one worker thread (`taskset` to
/// one core) a seeded gateway draws the same sequence every run; with several, the interleaving of
/// requests over threads still varies.
pub fn set_seed(seed: u64) {
    SEED_BASE.store(seed, Ordering::Relaxed);
}

thread_local! {
    static RNG: RefCell<SmallRng> = RefCell::new({
        let base = match SEED_BASE.load(Ordering::Relaxed) {
            0 => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                ^ std::process::id() as u64,
            s => s,
        };
        let n = THREADS.fetch_add(1, Ordering::Relaxed);
        SmallRng::seed_from_u64(base.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
    });
}

/// Runs `f` with this worker thread's generator.
pub fn with_rng<T>(f: impl FnOnce(&mut SmallRng) -> T) -> T {
    RNG.with(|r| f(&mut r.borrow_mut()))
}
