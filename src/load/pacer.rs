//! Waiting for an arrival's intended instant, to the microsecond. tokio's timer wheel rounds every
//! deadline up to its next 1 ms tick, which made each request leave 0.5–1 ms late on average and
//! charged that to the target. The scenario's `pacer` (or `skyload run --pacer`) picks one of two
//! waits (`scenario::PacerKind`):
//!
//! - `sleep` (the default): one timerfd per generator thread, armed with the absolute
//!   CLOCK_MONOTONIC instant (the clock `Instant` reads) and polled through the runtime's epoll via
//!   `AsyncFd`, with the thread's timer slack set to 1 ns. The thread sleeps in the kernel until the
//!   instant, so waiting costs no CPU; the lag is the OS's wake-up lateness, which on a virtual
//!   machine is 50–110 µs typically and up to milliseconds at the tail (`benches/wakeup.rs`).
//! - `precise`: the same timerfd armed *early* by a high quantile (p99.9) of the wake-up lateness
//!   this thread has seen (`WakeLateness`, at most `EARLY_CAP`), and the rest spun with
//!   `yield_now` so the thread's workers keep running. Lateness below that quantile no longer
//!   reaches the lag; the price is CPU: about `early` of spinning per wait, never more than a
//!   quarter of the wait (`MAX_DUTY`), so the thread still sleeps most of the time.
//!
//! Off Linux both fall back to tokio's sleep to `SPIN_MARGIN` before the instant and a yield-spin.
//!
//! A wait shorter than `SHORT_WAIT` is never slept, whatever the kind: arming a timer is a
//! `timerfd_settime`, which reprograms the CPU's timer and on a virtual machine exits to the host
//! (6 µs measured here), and the sleep and wake-up after it cost as much again. Below that,
//! yielding to the runtime until the instant is both cheaper and more precise; the thread's workers
//! run at every yield, so at high rates (arrivals microseconds apart, the thread busy with
//! responses) this costs nothing, and when idle it spins at most `SHORT_WAIT`.

use super::mono::{mono_now, ns, Clock};
use super::pacer_trace::{self, Trace};
use crate::record::accum::MonoNs;
use crate::scenario::PacerKind;
use std::time::Duration;

/// Off Linux (no timerfd) the wait sleeps with tokio to this long before the instant (tokio's
/// tick is 1 ms and rounds up, so a sleep to `at - 1.2 ms` wakes between `at - 1.2 ms` and
/// `at - 0.2 ms`), then yield-spins.
const SPIN_MARGIN: Duration = Duration::from_micros(1_200);

/// The top of the wake-up lateness estimator's range: a wake-up later than this is a thread the OS
/// did not run, which no early arming fixes. The pacer arms by at most `EARLY_CAP` (below it), so
/// its CPU is bounded by waits per second × `EARLY_CAP`.
pub const MAX_EARLY: Duration = Duration::from_millis(2);

/// How early the precise pacer arms at most, below the estimator's range (`MAX_EARLY`): spinning
/// longer than the typical wake-up lateness buys nothing, because on a busy machine a spinning
/// thread is preempted like a sleeping one is woken late. Traced (`SKYLOAD_PACER_TRACE`, load 3–5):
/// the lags over 1 ms of `precise` were the thread runnable but not running while it spun, and
/// with the 2 ms bound at 100/s it spun 2 ms per arrival (0.16–0.18 cores, 550–610 requests per
/// CPU-second); capped at 250 µs, 0.03 cores and 3,190–3,320 per CPU-second, lag p50 1 µs either
/// way and the p99 / max within the noise (docs/measurement.md "Pacing"). 250 µs still covers a
/// quiet VM's wake-up lateness p99 (33–104 µs at 100 µs … 20 ms intervals with the CPU latency
/// request held; a lateness up to 300 µs leaves at most 50 µs of lag).
/// `SKYLOAD_PRECISE_MAX_EARLY_US` sets it for the benchmarks (at most `MAX_EARLY`).
pub const EARLY_CAP: Duration = Duration::from_micros(250);

fn max_early_from_env() -> Duration {
    knob("SKYLOAD_PRECISE_MAX_EARLY_US").map_or(EARLY_CAP, |us| Duration::from_micros(us).min(MAX_EARLY))
}

/// A benchmark knob: the environment variable `name` as a whole number, None when unset or not
/// one (the default then applies). Read once per generator thread, never per wait.
pub(crate) fn knob(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse::<u64>().ok())
}

/// The precise pacer spins at most 1/`MAX_DUTY` of each wait. A thread that spins most of its
/// time loses what a sleeping thread has on a busy machine: the scheduler lets a thread that
/// slept preempt the running one when it wakes, but makes a thread that used its share wait its
/// turn (milliseconds). Measured at 2,000/s with 2 threads (1 ms waits) and `early` reaching the
/// p99.9 of a busy VM (~2 ms): both threads spun all the time and lag p99 went from 3 to 19 ms.
const MAX_DUTY: u32 = 4;

/// Waits shorter than this are spun (yielding to the workers), never slept: see the module doc.
/// `SKYLOAD_SHORT_WAIT_US` overrides it for the benchmarks (0: always sleep).
const SHORT_WAIT: Duration = Duration::from_micros(20);

fn short_wait() -> Duration {
    knob("SKYLOAD_SHORT_WAIT_US").map_or(SHORT_WAIT, |us| Duration::from_micros(us.min(1_000)))
}

/// A streaming estimate of a high quantile (p99.9) of this thread's timer wake-up lateness: a
/// fixed histogram of log-spaced buckets (four per octave, 1 µs to `MAX_EARLY`) whose counts are
/// halved every `HALF_LIFE` samples, so the estimate follows a machine that gets busier or quieter
/// over the last few thousand wake-ups. Fixed size, no allocation; a sample is one increment.
///
/// With few samples the quantile is the largest lateness seen, so the first wake-ups of a run
/// already arm early by what the machine showed, not by zero. A lateness above `MAX_EARLY` counts
/// in the top bucket: the estimate, and so the spinning, never exceeds `MAX_EARLY`.
#[derive(Debug, Clone)]
pub(crate) struct WakeLateness {
    /// One wake-up in `tail` may be later than the estimate (0: the estimate stays 0).
    tail: u32,
    counts: [u32; BUCKETS],
    total: u32,
    since_halving: u32,
    /// The current estimate in ns, recomputed every `RECOMPUTE` samples (and while warming up).
    early_ns: u64,
}

/// Buckets: 4 per octave from 1 µs: bucket i's upper edge is 1 µs × 2^(i/4); 45 buckets reach
/// 2^11 µs ≈ 2 ms (= MAX_EARLY, the last bucket holds everything later).
const BUCKETS: usize = 45;
const HALF_LIFE: u32 = 2_048;
const RECOMPUTE: u32 = 16;
/// The quantile the early arming covers, as "one wake-up in `TAIL` is later than the estimate".
/// `SKYLOAD_PRECISE_TAIL` overrides it for the benchmarks (100: p99; 0: never arm early, so
/// `precise` sleeps like `sleep` and only holds the CPU wake-up latency request).
const TAIL: u32 = 1_000;

fn tail_from_env() -> u32 {
    knob("SKYLOAD_PRECISE_TAIL").and_then(|v| u32::try_from(v).ok()).unwrap_or(TAIL).min(1_000_000)
}

/// How the precise pacer spends the time between its early wake-up and the instant
/// (`SKYLOAD_PRECISE_SPIN`, for the benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spin {
    /// Yield to the thread's runtime (its workers and I/O run) and look at the clock again.
    Yield,
    /// As `Yield`, and also give the CPU to any other runnable thread on it (`sched_yield`).
    Sched,
    /// `std::hint::spin_loop` without yielding: the workers of this thread wait until the instant.
    Hint,
}

fn spin_from_env() -> Spin {
    match std::env::var("SKYLOAD_PRECISE_SPIN").as_deref().map(str::trim) {
        Ok("sched") => Spin::Sched,
        Ok("hint") => Spin::Hint,
        _ => Spin::Yield,
    }
}

impl Default for WakeLateness {
    fn default() -> Self {
        WakeLateness::with_tail(TAIL)
    }
}

impl WakeLateness {
    pub(crate) fn with_tail(tail: u32) -> WakeLateness {
        WakeLateness { tail, counts: [0; BUCKETS], total: 0, since_halving: 0, early_ns: 0 }
    }

    /// Upper edge of bucket `i` in ns (the estimate is an upper edge: it errs towards waking early).
    fn edge_ns(i: usize) -> u64 {
        let ns = 1_000.0 * 2f64.powf(i as f64 / 4.0);
        (ns as u64).min(MAX_EARLY.as_nanos() as u64)
    }

    fn bucket(ns: u64) -> usize {
        if ns <= 1_000 {
            return 0;
        }
        let i = (4.0 * (ns as f64 / 1_000.0).log2()).ceil() as usize;
        i.min(BUCKETS - 1)
    }

    pub(crate) fn early(&self) -> Duration {
        Duration::from_nanos(self.early_ns)
    }

    pub(crate) fn saw(&mut self, late: Duration) {
        let ns = late.as_nanos().min(u64::MAX as u128) as u64;
        self.counts[Self::bucket(ns)] += 1;
        self.total += 1;
        self.since_halving += 1;
        if self.since_halving >= HALF_LIFE {
            self.since_halving = 0;
            self.total = 0;
            for c in self.counts.iter_mut() {
                *c /= 2;
                self.total += *c;
            }
        }
        if self.total < self.tail || self.since_halving % RECOMPUTE == 0 {
            self.recompute();
        }
    }

    /// The smallest upper edge with at most total/tail samples above it (at least one sample
    /// above it only once there are `tail` samples: below that, the largest seen).
    fn recompute(&mut self) {
        if self.tail == 0 {
            self.early_ns = 0;
            return;
        }
        let allowed = self.total / self.tail;
        let mut above = 0u32;
        for i in (0..BUCKETS).rev() {
            above += self.counts[i];
            if above > allowed {
                self.early_ns = Self::edge_ns(i);
                return;
            }
        }
        self.early_ns = 0;
    }
}

pub struct Pacer {
    kind: PacerKind,
    /// The thread's clock: every instant here is CLOCK_MONOTONIC ns, the timerfd's own clock.
    clock: Clock,
    #[cfg(target_os = "linux")]
    timer: Option<timerfd::TimerFd>,
    lateness: WakeLateness,
    /// `short_wait()` in ns.
    short: u64,
    /// `max_early_from_env()` in ns.
    max_early: u64,
    spin: Spin,
    /// `SKYLOAD_PACER_TRACE`: what the slow waits went through (`pacer_trace`); None normally.
    trace: Option<Box<Trace>>,
}

impl Pacer {
    /// Must be called on the generator thread, inside its runtime.
    pub(crate) fn new(kind: PacerKind, clock: Clock) -> Pacer {
        #[cfg(target_os = "linux")]
        let timer = match timerfd::TimerFd::new() {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!("timerfd unavailable ({e}); pacing with tokio's sleep and a spin");
                None
            }
        };
        Pacer {
            kind,
            clock,
            #[cfg(target_os = "linux")]
            timer,
            lateness: WakeLateness::with_tail(tail_from_env()),
            short: ns(short_wait()),
            max_early: ns(max_early_from_env()),
            spin: spin_from_env(),
            trace: pacer_trace::threshold_from_env().map(|t| Box::new(Trace::new(t))),
        }
    }

    pub fn kind(&self) -> PacerKind {
        self.kind
    }

    /// Returns at `at` or as soon after as the machine allows (at once if `at` has passed).
    /// Sleeps until about `at`, without the precise pacer's early arming and spinning: for waits
    /// whose end is not an arrival (the engine's stop-poll slices), where precision buys nothing
    /// and spinning would cost CPU every 20 ms of a slow schedule.
    pub(crate) async fn rest_until(&mut self, at: MonoNs) {
        let clock = self.clock;
        if let Some(t) = self.trace.as_mut() {
            t.begin(clock.instant(at));
        }
        self.rest(at).await;
        if let Some(t) = self.trace.as_mut() {
            t.end(clock.instant(at), false);
        }
    }

    async fn rest(&mut self, at: MonoNs) {
        if self.clock.now() >= at {
            return;
        }
        #[cfg(target_os = "linux")]
        if let Some(t) = self.timer.as_mut() {
            if t.wait_until(at).await.is_ok() {
                return;
            }
        }
        tokio::time::sleep_until(self.clock.instant(at).into()).await
    }

    ///
    /// `now` is a reading the caller has just taken (nothing waited since); the answer is the
    /// reading that ended the wait (at or after `at`), so neither side reads the clock again for
    /// the same instant: the arrival loop hands over at that reading.
    pub(crate) async fn wait_until(&mut self, at: MonoNs, now: MonoNs) -> MonoNs {
        let clock = self.clock;
        if let Some(t) = self.trace.as_mut() {
            t.begin(clock.instant(at));
        }
        let woke = self.wait(at, now).await;
        if let Some(t) = self.trace.as_mut() {
            t.end(clock.instant(at), true);
        }
        woke
    }

    async fn wait(&mut self, at: MonoNs, now: MonoNs) -> MonoNs {
        let clock = self.clock;
        if now >= at {
            return now;
        }
        if at - now < self.short {
            return yield_until(at, Spin::Yield, self.trace.as_deref_mut(), now).await;
        }
        #[cfg(target_os = "linux")]
        if let Some(t) = self.timer.as_mut() {
            match self.kind {
                PacerKind::Sleep => {
                    if let Some(tr) = self.trace.as_mut() {
                        tr.armed(clock.instant(at));
                    }
                    if let Ok(woke) = t.wait_until(at).await {
                        if let Some(tr) = self.trace.as_mut() {
                            tr.woke();
                        }
                        return woke;
                    }
                }
                PacerKind::Precise => {
                    // Arm only when the sleep is worth a timer (`short`); otherwise spin all of it.
                    let early = ns(self.lateness.early()).min(self.max_early).min((at - now) / u64::from(MAX_DUTY));
                    // The reading the spin starts from: `now`, or the one the timer's wake took.
                    let mut last = now;
                    if let Some(arm) = at.checked_sub(early).filter(|a| *a > now + self.short) {
                        if let Some(tr) = self.trace.as_mut() {
                            tr.armed(clock.instant(arm));
                        }
                        let Ok(woke) = t.wait_until(arm).await else {
                            return spin_until(clock, at).await;
                        };
                        if let Some(tr) = self.trace.as_mut() {
                            tr.woke();
                        }
                        // How late the timer woke: the reading that saw it had fired.
                        self.lateness.saw(Duration::from_nanos(woke.saturating_sub(arm)));
                        last = woke;
                    }
                    // At most `early` (<= EARLY_CAP) left when the estimate holds; the workers of
                    // this thread run at every yield.
                    return yield_until(at, self.spin, self.trace.as_deref_mut(), last).await;
                }
            }
        }
        spin_until(clock, at).await
    }
}

async fn spin_until(clock: Clock, at: MonoNs) -> MonoNs {
    let mut now = clock.now();
    if let Some(early) = at.checked_sub(ns(SPIN_MARGIN)) {
        if early > now {
            tokio::time::sleep_until(clock.instant(early).into()).await;
            now = clock.now();
        }
    }
    yield_until(at, Spin::Yield, None, now).await
}

/// Yields to the runtime (the thread's workers and its I/O) until `at` has passed (`Spin::Hint`:
/// spins without yielding). `now` is a reading just taken (nothing waited since); the answer is
/// the first reading at or after `at`.
async fn yield_until(at: MonoNs, spin: Spin, mut trace: Option<&mut Trace>, mut now: MonoNs) -> MonoNs {
    while now < at {
        match spin {
            Spin::Yield => tokio::task::yield_now().await,
            Spin::Sched => {
                std::thread::yield_now();
                tokio::task::yield_now().await
            }
            Spin::Hint => std::hint::spin_loop(),
        }
        if let Some(t) = trace.as_deref_mut() {
            t.yielded();
        }
        now = mono_now();
    }
    now
}

#[cfg(target_os = "linux")]
mod timerfd {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use crate::load::mono::mono_now;
    use crate::record::accum::MonoNs;
    use tokio::io::unix::AsyncFd;

    pub struct TimerFd {
        fd: AsyncFd<OwnedFd>,
        /// Armed this much before each instant (0 but in a test of a timer that fires early).
        skew: u64,
    }

    impl TimerFd {
        pub fn new() -> io::Result<TimerFd> {
            // SAFETY: plain syscalls; the fd is owned by OwnedFd from here on.
            let raw = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            let owned = unsafe { OwnedFd::from_raw_fd(raw) };
            // The default 50 µs timer slack would let the kernel coalesce our wake-ups that late.
            // SAFETY: prctl on the calling (generator) thread only.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
            // SAFETY: OwnedFd's raw fd is valid, open and unchanging for as long as the AsyncFd owns it.
            let fd = unsafe { AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE) }.map_err(|e| e.into_parts().1)?;
            Ok(TimerFd { fd, skew: 0 })
        }

        /// Arms the timer at `at`, an absolute CLOCK_MONOTONIC time in ns: the clock the thread's
        /// instants are on, so nothing is converted.
        fn arm(&self, at: MonoNs) -> io::Result<()> {
            let ns = at.saturating_sub(self.skew).max(1);
            let spec = libc::itimerspec {
                it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
                it_value: libc::timespec { tv_sec: (ns / 1_000_000_000) as libc::time_t, tv_nsec: (ns % 1_000_000_000) as libc::c_long },
            };
            // SAFETY: the fd is a live timerfd; spec is a valid itimerspec.
            let rc = unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), libc::TFD_TIMER_ABSTIME, &spec, std::ptr::null_mut()) };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }

        /// Sleeps until `at`. The expiry count is never read: re-arming resets it (timerfd_settime),
        /// and the clock says whether `at` has passed, so a wake costs the epoll return alone, not
        /// a read() and the EAGAIN read() after it. A wake before `at` (readiness left from an
        /// earlier expiry, or a timer that fired early) arms the timer again: a one-shot timer
        /// that has fired never wakes the thread a second time.
        /// Ok: the reading that found `at` passed.
        pub async fn wait_until(&mut self, at: MonoNs) -> io::Result<MonoNs> {
            self.arm(at)?;
            loop {
                let mut guard = self.fd.readable().await?;
                guard.clear_ready();
                let now = mono_now();
                if now >= at {
                    return Ok(now);
                }
                self.arm(at)?;
            }
        }

        /// A timer that fires `early` before each instant, as one armed through an `Instant` pair
        /// taken across a preemption did.
        #[cfg(test)]
        pub fn skewed(early: std::time::Duration) -> io::Result<TimerFd> {
            let mut t = TimerFd::new()?;
            t.skew = crate::load::mono::ns(early);
            Ok(t)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A timer that fires before its instant still ends the wait (it used to park the thread for
    /// good: the one-shot timer had fired, and nothing re-armed it). Bounded by a deadline.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_timer_that_fires_early_still_ends_the_wait() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut t = timerfd::TimerFd::skewed(Duration::from_millis(30)).unwrap();
            for _ in 0..3 {
                let at = mono_now() + 40_000_000;
                let waited = tokio::time::timeout(Duration::from_secs(10), t.wait_until(at)).await;
                assert!(waited.is_ok(), "the wait never ended");
                assert!(mono_now() >= at, "woke before the instant");
            }
        });
    }

    /// Each kind returns no earlier than asked (how much later is measured by benches/lag.sh, not
    /// asserted: this machine is shared).
    #[test]
    fn never_early() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            for (kind, spin) in [(PacerKind::Sleep, Spin::Yield), (PacerKind::Precise, Spin::Yield), (PacerKind::Precise, Spin::Sched), (PacerKind::Precise, Spin::Hint)] {
                let mut p = Pacer::new(kind, Clock::at(std::time::Instant::now()));
                p.spin = spin;
                for i in 0..20u64 {
                    let at = mono_now() + 137_000 * i;
                    let woke = p.wait_until(at, mono_now()).await;
                    assert!(woke >= at && mono_now() >= woke, "{kind:?} woke early");
                    let at = mono_now() + 91_000 * i;
                    p.rest_until(at).await;
                    assert!(mono_now() >= at, "{kind:?} rested too briefly");
                }
            }
        });
    }

    /// Bucket edges are increasing, cover 1 µs .. MAX_EARLY, and every lateness lands in a bucket
    /// whose upper edge is not below it (short of the top one): the estimate errs towards early.
    #[test]
    fn buckets_cover_the_range_and_round_up() {
        assert_eq!(WakeLateness::edge_ns(0), 1_000);
        assert_eq!(WakeLateness::edge_ns(BUCKETS - 1), MAX_EARLY.as_nanos() as u64);
        for i in 1..BUCKETS {
            assert!(WakeLateness::edge_ns(i) > WakeLateness::edge_ns(i - 1), "edge {i}");
        }
        for ns in [0u64, 1, 999, 1_000, 1_001, 1_190, 1_200, 37_000, 99_999, 1_999_999] {
            let b = WakeLateness::bucket(ns);
            assert!(WakeLateness::edge_ns(b) >= ns, "{ns} ns in bucket {b}");
            // and the bucket below would not have held it (at most 19% above: 2^(1/4)).
            assert!(b == 0 || WakeLateness::edge_ns(b - 1) < ns, "{ns} ns in bucket {b}");
        }
        assert_eq!(WakeLateness::bucket(u64::MAX), BUCKETS - 1);
    }

    /// The estimate sits at the p99.9 of what it saw (rounded up to a bucket edge), starts at the
    /// largest seen, never exceeds `MAX_EARLY`, and follows a machine that gets quieter.
    #[test]
    fn lateness_quantile_is_bounded_and_follows_the_machine() {
        let mut w = WakeLateness::default();
        assert_eq!(w.early(), Duration::ZERO);
        // Warming up: the largest seen.
        w.saw(Duration::from_micros(80));
        w.saw(Duration::from_micros(30));
        let first = w.early();
        assert!(first >= Duration::from_micros(80) && first < Duration::from_micros(96), "{first:?}");

        // A seeded mix: 99.95% uniformly 40..120 µs, 0.05% at 900 µs. p99.9 of that is in the
        // 40..120 body (the 900 µs ones are rarer than 1 in 1,000): the estimate must be above
        // 119 µs and below the outliers.
        let mut w = WakeLateness::default();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let late = if i % 2_000 == 1_999 { 900 } else { 40 + x % 80 };
            w.saw(Duration::from_micros(late));
        }
        let e = w.early();
        assert!(e >= Duration::from_micros(119) && e < Duration::from_micros(900), "{e:?}");

        // 1% at 900 µs: now p99.9 is the outliers' bucket.
        for i in 0..20_000u32 {
            w.saw(Duration::from_micros(if i % 100 == 0 { 900 } else { 60 }));
        }
        let e = w.early();
        assert!(e >= Duration::from_micros(900) && e < Duration::from_micros(1_100), "{e:?}");

        // Far beyond the bound: capped at MAX_EARLY.
        for _ in 0..5_000 {
            w.saw(Duration::from_millis(9));
        }
        assert_eq!(w.early(), MAX_EARLY);

        // The machine gets quiet: within a few half-lives the estimate comes down to the new body.
        for _ in 0..10 * HALF_LIFE {
            w.saw(Duration::from_micros(5));
        }
        let e = w.early();
        assert!(e >= Duration::from_micros(5) && e < Duration::from_micros(7), "{e:?}");
    }

    /// A lower quantile (`SKYLOAD_PRECISE_TAIL=100`: p99) lets 1% of wake-ups be later than the
    /// estimate: 0.5% outliers stay above it, 2% pull it up to them. Tail 0 never arms early.
    #[test]
    fn a_p99_estimate_leaves_the_last_percent_out_and_tail_0_never_arms_early() {
        let mut w = WakeLateness::with_tail(100);
        for i in 0..20_000u32 {
            w.saw(Duration::from_micros(if i % 200 == 0 { 900 } else { 60 }));
        }
        let e = w.early();
        assert!(e >= Duration::from_micros(60) && e < Duration::from_micros(72), "{e:?}");
        for i in 0..20_000u32 {
            w.saw(Duration::from_micros(if i % 50 == 0 { 900 } else { 60 }));
        }
        let e = w.early();
        assert!(e >= Duration::from_micros(900) && e < Duration::from_micros(1_100), "{e:?}");

        let mut w = WakeLateness::with_tail(0);
        for i in 0..5_000u32 {
            w.saw(Duration::from_micros(if i % 3 == 0 { 1_500 } else { 40 }));
            assert_eq!(w.early(), Duration::ZERO);
        }
    }
}
