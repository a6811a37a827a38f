//! Waiting for an arrival's intended instant, to the microsecond. tokio's timer wheel rounds every
//! deadline up to its next 1 ms tick, which made each request leave 0.5–1 ms late on average and
//! charged that to the target. Two precise waits are offered:
//!
//! - `timerfd` (the default on Linux): one timerfd per generator thread, armed with the absolute
//!   CLOCK_MONOTONIC instant (the clock `Instant` reads) and polled through the runtime's epoll via
//!   `AsyncFd`, with the thread's timer slack set to 1 ns. The thread sleeps in the kernel until the
//!   instant, so precision costs no CPU.
//! - `spin`: tokio's sleep to ~1.2 ms before the instant (the tick rounding), then `yield_now` until
//!   it has passed: workers keep running while the pacer waits, but the thread never idles.
//! - `hybrid`: the timerfd armed a little *before* the instant, by the wake-up lateness the thread
//!   has been seeing (a running median estimate, at most `MAX_EARLY`), and the rest spun with
//!   `yield_now`. A timerfd wake-up on a virtual machine comes tens of microseconds after its
//!   instant; arming that much early and spinning the remainder (a few microseconds when the
//!   estimate is right, never more than `MAX_EARLY`) takes the typical lateness out of the lag.
//!
//! `SKYLOAD_PACER=spin|timerfd|hybrid|tokio` picks one (for the lag benchmark); `tokio` is the old
//! millisecond wait, kept only as the comparison baseline.
//!
//! A wait shorter than `SHORT_WAIT` is never slept, whatever the kind: arming a timer is a
//! `timerfd_settime`, which reprograms the CPU's timer and on a virtual machine exits to the host
//! (6 µs measured here, `benches/lag.sh` prints it), and the sleep and wake-up after it cost as much
//! again. Below that, yielding to the runtime until the instant is both cheaper and more precise;
//! the thread's workers run at every yield, so at high rates (arrivals microseconds apart, the
//! thread busy with responses) this costs nothing, and when idle it spins at most `SHORT_WAIT`.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacerKind {
    Timerfd,
    Hybrid,
    Spin,
    Tokio,
}

impl PacerKind {
    pub fn from_env() -> PacerKind {
        match std::env::var("SKYLOAD_PACER").as_deref() {
            Ok("spin") => PacerKind::Spin,
            Ok("hybrid") => PacerKind::Hybrid,
            Ok("tokio") => PacerKind::Tokio,
            _ => PacerKind::Timerfd,
        }
    }
}

/// The spin pacer hands over to spinning this long before the instant (tokio's tick is 1 ms and
/// rounds up, so a sleep to `at - 1.2 ms` wakes between `at - 1.2 ms` and `at - 0.2 ms`).
const SPIN_MARGIN: Duration = Duration::from_micros(1_200);

/// The hybrid pacer arms its timer at most this much before the instant, so it never spins longer
/// than this per arrival (the CPU it may cost is bounded by rate × `MAX_EARLY`).
const MAX_EARLY: Duration = Duration::from_micros(50);

/// Waits shorter than this are spun (yielding to the workers), never slept: see the module doc.
/// `SKYLOAD_SHORT_WAIT_US` overrides it for the benchmarks (0: always sleep).
const SHORT_WAIT: Duration = Duration::from_micros(20);

fn short_wait() -> Duration {
    std::env::var("SKYLOAD_SHORT_WAIT_US")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(SHORT_WAIT, |us| Duration::from_micros(us.min(1_000)))
}

/// A running estimate of the median timerfd wake-up lateness, in nanoseconds: each wake-up moves it
/// one step towards what was seen (a stochastic median: half the wake-ups above, half below), so
/// a machine that gets busier or quieter is followed within a few hundred arrivals, with no state
/// beyond one number.
#[derive(Debug, Clone, Copy, Default)]
struct WakeLateness {
    ns: u64,
}

impl WakeLateness {
    const STEP_NS: u64 = 500;
    fn early(&self) -> Duration {
        Duration::from_nanos(self.ns).min(MAX_EARLY)
    }
    fn saw(&mut self, late: Duration) {
        let late = late.as_nanos().min(u64::MAX as u128) as u64;
        if late > self.ns {
            self.ns = (self.ns + Self::STEP_NS).min(MAX_EARLY.as_nanos() as u64);
        } else if late < self.ns {
            self.ns = self.ns.saturating_sub(Self::STEP_NS);
        }
    }
}

pub struct Pacer {
    kind: PacerKind,
    #[cfg(target_os = "linux")]
    timer: Option<timerfd::TimerFd>,
    lateness: WakeLateness,
    short: Duration,
}

impl Pacer {
    /// Must be called on the generator thread, inside its runtime.
    pub fn new(kind: PacerKind) -> Pacer {
        #[cfg(target_os = "linux")]
        {
            let timer = if matches!(kind, PacerKind::Timerfd | PacerKind::Hybrid) {
                match timerfd::TimerFd::new() {
                    Ok(t) => Some(t),
                    Err(e) => {
                        tracing::warn!("timerfd unavailable ({e}); pacing with the spin wait");
                        None
                    }
                }
            } else {
                None
            };
            let kind = if matches!(kind, PacerKind::Timerfd | PacerKind::Hybrid) && timer.is_none() { PacerKind::Spin } else { kind };
            Pacer { kind, timer, lateness: WakeLateness::default(), short: short_wait() }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let kind = if matches!(kind, PacerKind::Timerfd | PacerKind::Hybrid) { PacerKind::Spin } else { kind };
            Pacer { kind, lateness: WakeLateness::default(), short: short_wait() }
        }
    }

    pub fn kind(&self) -> PacerKind {
        self.kind
    }

    /// Returns at `at` or as soon after as the machine allows (at once if `at` has passed).
    pub async fn wait_until(&mut self, at: Instant) {
        let now = Instant::now();
        if now >= at {
            return;
        }
        if self.kind != PacerKind::Tokio && at - now < self.short {
            return yield_until(at).await;
        }
        match self.kind {
            #[cfg(target_os = "linux")]
            PacerKind::Timerfd => {
                if let Some(t) = self.timer.as_mut() {
                    if t.wait_until(at).await.is_ok() {
                        return;
                    }
                }
                spin_until(at).await
            }
            #[cfg(target_os = "linux")]
            PacerKind::Hybrid => {
                let early = self.lateness.early();
                if let (Some(t), Some(arm)) = (self.timer.as_mut(), at.checked_sub(early)) {
                    if arm > Instant::now() {
                        match t.wait_until(arm).await {
                            Ok(()) => self.lateness.saw(Instant::now().saturating_duration_since(arm)),
                            Err(_) => return spin_until(at).await,
                        }
                    }
                }
                // At most `early` (<= MAX_EARLY) left when the estimate is right; the workers of
                // this thread run at every yield.
                yield_until(at).await
            }
            #[cfg(not(target_os = "linux"))]
            PacerKind::Timerfd | PacerKind::Hybrid => spin_until(at).await,
            PacerKind::Spin => spin_until(at).await,
            PacerKind::Tokio => tokio::time::sleep_until(at.into()).await,
        }
    }
}

async fn spin_until(at: Instant) {
    if let Some(early) = at.checked_sub(SPIN_MARGIN) {
        if early > Instant::now() {
            tokio::time::sleep_until(early.into()).await;
        }
    }
    yield_until(at).await
}

/// Yields to the runtime (the thread's workers and its I/O) until `at` has passed.
async fn yield_until(at: Instant) {
    while Instant::now() < at {
        tokio::task::yield_now().await;
    }
}

#[cfg(target_os = "linux")]
mod timerfd {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Instant;
    use tokio::io::unix::AsyncFd;

    pub struct TimerFd {
        fd: AsyncFd<OwnedFd>,
        /// CLOCK_MONOTONIC reading and the `Instant` taken with it: `Instant` is CLOCK_MONOTONIC on
        /// Linux but hides its value, so instants are converted through this pair.
        base: (libc::timespec, Instant),
    }

    fn mono_now() -> libc::timespec {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes into the timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts
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
            let base = (mono_now(), Instant::now());
            // SAFETY: OwnedFd's raw fd is valid, open and unchanging for as long as the AsyncFd owns it.
            let fd = unsafe { AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE) }.map_err(|e| e.into_parts().1)?;
            Ok(TimerFd { fd, base })
        }

        fn arm(&self, at: Instant) -> io::Result<()> {
            let (ts, inst) = self.base;
            let ns = ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
                + if at >= inst { at.duration_since(inst).as_nanos() as i128 } else { -(inst.duration_since(at).as_nanos() as i128) };
            let ns = ns.max(1);
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
        /// a read() and the EAGAIN read() after it.
        pub async fn wait_until(&mut self, at: Instant) -> io::Result<()> {
            self.arm(at)?;
            loop {
                let mut guard = self.fd.readable().await?;
                guard.clear_ready();
                if Instant::now() >= at {
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind returns no earlier than asked (how much later is measured by benches/lag.sh, not
    /// asserted: this machine is shared).
    #[test]
    fn never_early() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            for kind in [PacerKind::Timerfd, PacerKind::Hybrid, PacerKind::Spin, PacerKind::Tokio] {
                let mut p = Pacer::new(kind);
                for i in 0..20u64 {
                    let at = Instant::now() + Duration::from_micros(137 * i);
                    p.wait_until(at).await;
                    assert!(Instant::now() >= at, "{kind:?} woke early");
                }
            }
        });
    }

    /// The lateness estimate follows the median of what it sees and never asks to arm more than
    /// `MAX_EARLY` early (the bound on the hybrid pacer's spinning).
    #[test]
    fn wake_lateness_tracks_the_median_within_its_bound() {
        let mut w = WakeLateness::default();
        // Alternating 20 and 40 us wake-ups: the estimate settles between them.
        for i in 0..2_000u64 {
            w.saw(Duration::from_micros(if i % 2 == 0 { 20 } else { 40 }));
        }
        assert!((20_000..=40_000).contains(&w.ns), "{}", w.ns);
        for _ in 0..2_000 {
            w.saw(Duration::from_millis(5));
        }
        assert_eq!(w.early(), MAX_EARLY);
        for _ in 0..2_000 {
            w.saw(Duration::ZERO);
        }
        assert_eq!(w.early(), Duration::ZERO);
    }
}
