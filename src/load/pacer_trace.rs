//! A debugging aid for the pacer's lag tail. `SKYLOAD_PACER_TRACE=<µs>` makes every generator
//! thread keep a record of each wait that ended more than that long after its arrival's instant,
//! and of each gap between two waits longer than that (the thread busy outside the pacer: handing
//! arrivals over, recording, its workers, the once-a-second shipping — arrivals due in such a gap
//! leave late without the pacer having waited at all). Each record says what the thread went
//! through: how late its timer woke, how long it then spun and how long the other tasks of the
//! thread held it between two yields, and how long the OS kept it runnable but not running
//! (`/proc/thread-self/schedstat`'s run delay) with its involuntary switches (`getrusage`). That
//! separates "the OS did not run us" from "we were busy" from "the timer fired late".
//!
//! At the thread's end the records go to stderr, one line each, instants in CLOCK_MONOTONIC µs so
//! they can be laid against `perf sched record -k CLOCK_MONOTONIC` (who ran instead). Unset, the
//! pacer pays one branch per wait. Set, two small reads per wait, which shift the lag a little: a
//! traced run finds causes, its figures are not the untraced run's. `benches/lag.sh` runs it with
//! `TRACE_US=1000` and counts the causes.

use super::mono::MonoBase;
use std::fs::File;
use std::time::{Duration, Instant};

/// Records kept per thread (allocated once when tracing is on); later ones are only counted.
const KEEP: usize = 4_096;

#[derive(Clone, Copy, Default)]
struct Stat {
    /// Time on a CPU, ns (CLOCK_THREAD_CPUTIME_ID, which brings the running thread's figure up to
    /// date — schedstat's first field only moves at ticks and switches; on a VM with steal
    /// accounting, time the host did not run the vCPU is not in it).
    run_ns: u64,
    /// Time runnable but not running, ns (schedstat's second field).
    run_delay_ns: u64,
    /// Involuntary context switches of this thread.
    nivcsw: u64,
    /// Voluntary ones (it blocked: a sleep, or a syscall or page fault that waited).
    nvcsw: u64,
}

impl Stat {
    /// What happened between `self` (earlier) and `later`.
    fn delta(&self, later: &Stat) -> Delta {
        Delta {
            cpu: Duration::from_nanos(later.run_ns.saturating_sub(self.run_ns)),
            run_delay: Duration::from_nanos(later.run_delay_ns.saturating_sub(self.run_delay_ns)),
            nivcsw: later.nivcsw.saturating_sub(self.nivcsw),
            nvcsw: later.nvcsw.saturating_sub(self.nvcsw),
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Delta {
    cpu: Duration,
    run_delay: Duration,
    nivcsw: u64,
    nvcsw: u64,
}

#[derive(Clone, Copy)]
enum Kind {
    /// A wait that returned `lag` after its instant.
    Wait { lag: Duration, entered_late: Duration, timer_late: Option<Duration>, spun: Duration, yields: u32, longest_yield: Duration },
    /// Time between the end of one wait and the start of the next.
    Gap { len: Duration },
}

#[derive(Clone, Copy)]
struct Record {
    at: Instant,
    kind: Kind,
    d: Delta,
}

pub(crate) struct Trace {
    threshold: Duration,
    tid: i64,
    schedstat: Option<File>,
    /// To print instants on the kernel's clock.
    base: MonoBase,
    first: Option<Instant>,
    records: Vec<Record>,
    not_kept: u64,
    waits: u64,
    slow_waits: u64,
    gaps: u64,
    prev_exit: Option<(Instant, Stat)>,
    // The wait in progress.
    enter: Instant,
    enter_stat: Stat,
    armed: Option<Instant>,
    woke: Option<Instant>,
    yields: u32,
    last_yield: Option<Instant>,
    longest_yield: Duration,
}

/// The trace threshold from `SKYLOAD_PACER_TRACE` (µs), when set to a number.
pub(crate) fn threshold_from_env() -> Option<Duration> {
    super::pacer::knob("SKYLOAD_PACER_TRACE").map(Duration::from_micros)
}

impl Trace {
    pub(crate) fn new(threshold: Duration) -> Trace {
        let now = Instant::now();
        Trace {
            threshold,
            tid: thread_id(),
            schedstat: File::open("/proc/thread-self/schedstat").ok(),
            base: MonoBase::now(),
            first: None,
            records: Vec::with_capacity(KEEP),
            not_kept: 0,
            waits: 0,
            slow_waits: 0,
            gaps: 0,
            prev_exit: None,
            enter: now,
            enter_stat: Stat::default(),
            armed: None,
            woke: None,
            yields: 0,
            last_yield: None,
            longest_yield: Duration::ZERO,
        }
    }

    fn stat(&self) -> Stat {
        let mut s = Stat::default();
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::FileExt;
            if let Some(f) = &self.schedstat {
                let mut buf = [0u8; 96];
                if let Ok(n) = f.read_at(&mut buf, 0) {
                    let text = std::str::from_utf8(&buf[..n]).unwrap_or("");
                    let mut f = text.split_whitespace().map(|x| x.parse::<u64>().unwrap_or(0));
                    let _run_ns_stale = f.next();
                    s.run_delay_ns = f.next().unwrap_or(0);
                }
            }
            let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: clock_gettime writes into the timespec we own.
            if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
                s.run_ns = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
            }
            // SAFETY: getrusage fills the struct we own; RUSAGE_THREAD is this thread.
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) } == 0 {
                s.nivcsw = ru.ru_nivcsw as u64;
                s.nvcsw = ru.ru_nvcsw as u64;
            }
        }
        s
    }

    fn keep(&mut self, r: Record) {
        if self.records.len() < KEEP {
            self.records.push(r);
        } else {
            self.not_kept += 1;
        }
    }

    /// A wait (or a rest) for `at` starts.
    pub(crate) fn begin(&mut self, at: Instant) {
        let now = Instant::now();
        let stat = self.stat();
        self.first.get_or_insert(at);
        if let Some((exit, s)) = self.prev_exit {
            let len = now.saturating_duration_since(exit);
            if len > self.threshold {
                self.gaps += 1;
                let r = Record { at: exit, kind: Kind::Gap { len }, d: s.delta(&stat) };
                self.keep(r);
            }
        }
        self.enter = now;
        self.enter_stat = stat;
        self.armed = None;
        self.woke = None;
        self.yields = 0;
        self.last_yield = None;
        self.longest_yield = Duration::ZERO;
    }

    pub(crate) fn armed(&mut self, arm: Instant) {
        self.armed = Some(arm);
    }

    pub(crate) fn woke(&mut self) {
        self.woke = Some(Instant::now());
    }

    /// One yield to the thread's other tasks returned: the time since the previous one is how
    /// long they (or the OS) held the thread.
    pub(crate) fn yielded(&mut self) {
        let now = Instant::now();
        let since = now.saturating_duration_since(self.last_yield.or(self.woke).unwrap_or(self.enter));
        self.longest_yield = self.longest_yield.max(since);
        self.last_yield = Some(now);
        self.yields += 1;
    }

    /// The wait for arrival `at` returned (`arrival`: false for a stop-poll rest, whose end is not
    /// an arrival and so has no lag).
    pub(crate) fn end(&mut self, at: Instant, arrival: bool) {
        let now = Instant::now();
        let stat = self.stat();
        if arrival {
            self.waits += 1;
            let lag = now.saturating_duration_since(at);
            if lag > self.threshold {
                self.slow_waits += 1;
                let r = Record {
                    at,
                    kind: Kind::Wait {
                        lag,
                        entered_late: self.enter.saturating_duration_since(at),
                        timer_late: self.armed.zip(self.woke).map(|(a, w)| w.saturating_duration_since(a)),
                        spun: now.saturating_duration_since(self.woke.unwrap_or(self.enter)),
                        yields: self.yields,
                        longest_yield: self.longest_yield,
                    },
                    d: self.enter_stat.delta(&stat),
                };
                self.keep(r);
            }
        }
        self.prev_exit = Some((now, stat));
    }

    fn mono_us(&self, at: Instant) -> f64 {
        self.base.ns_of(at) as f64 / 1_000.0
    }

    /// The lines written at the thread's end (also what the tests read).
    fn lines(&self) -> Vec<String> {
        let us = |d: Duration| d.as_micros();
        let since_first = |at: Instant| self.first.map_or(0.0, |f| at.saturating_duration_since(f).as_secs_f64());
        let mut out = Vec::with_capacity(self.records.len() + 1);
        for r in &self.records {
            let common = format!("tid={} mono_us={:.0} t={:.6}", self.tid, self.mono_us(r.at), since_first(r.at));
            out.push(match r.kind {
                Kind::Wait { lag, entered_late, timer_late, spun, yields, longest_yield } => format!(
                    "pacer-trace wait {common} lag_us={} entered_late_us={} timer_late_us={} spun_us={} yields={yields} longest_yield_us={} {}",
                    us(lag),
                    us(entered_late),
                    timer_late.map_or("-".to_string(), |d| us(d).to_string()),
                    us(spun),
                    us(longest_yield),
                    r.d.text()
                ),
                Kind::Gap { len } => format!("pacer-trace gap {common} len_us={} {}", us(len), r.d.text()),
            });
        }
        out.push(format!(
            "pacer-trace summary tid={} threshold_us={} waits={} slow_waits={} gaps={} not_kept={}",
            self.tid,
            us(self.threshold),
            self.waits,
            self.slow_waits,
            self.gaps,
            self.not_kept
        ));
        out
    }
}

impl Delta {
    fn text(&self) -> String {
        format!(
            "cpu_us={} run_delay_us={} nivcsw={} nvcsw={}",
            self.cpu.as_micros(),
            self.run_delay.as_micros(),
            self.nivcsw,
            self.nvcsw
        )
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        for l in self.lines() {
            eprintln!("{l}");
        }
    }
}

fn thread_id() -> i64 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no arguments and cannot fail.
        unsafe { libc::syscall(libc::SYS_gettid) as i64 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only waits later than the threshold and gaps longer than it are kept, with what happened in
    /// them; everything is counted in the summary. Instants are built, not slept for, except the
    /// gap, which is a busy stretch of the test itself measured by the trace's own clock reads.
    #[test]
    fn keeps_slow_waits_and_long_gaps_only() {
        let mut t = Trace::new(Duration::from_millis(1));
        let now = Instant::now();
        // An arrival 10 s ahead: its wait "ends" now, long before it, so no lag: not kept.
        t.begin(now + Duration::from_secs(10));
        t.end(now + Duration::from_secs(10), true);
        // An arrival 5 ms in the past: entered late, lag >= 5 ms: kept.
        let past = Instant::now() - Duration::from_millis(5);
        t.begin(past);
        t.armed(past);
        t.woke();
        t.yielded();
        t.end(past, true);
        // A rest is never a slow wait, whatever its lateness.
        t.begin(past);
        t.end(past, false);
        // A gap: the thread stays away from the pacer for over 1 ms before the next wait.
        let away = Instant::now();
        while away.elapsed() < Duration::from_millis(2) {
            std::hint::spin_loop();
        }
        let later = Instant::now() + Duration::from_secs(10);
        t.begin(later);
        t.end(later, true);

        let lines = t.lines();
        let waits: Vec<_> = lines.iter().filter(|l| l.starts_with("pacer-trace wait ")).collect();
        let gaps: Vec<_> = lines.iter().filter(|l| l.starts_with("pacer-trace gap ")).collect();
        assert_eq!(waits.len(), 1, "{lines:#?}");
        assert_eq!(gaps.len(), 1, "{lines:#?}");
        let field = |l: &str, k: &str| -> u64 {
            l.split_whitespace().find_map(|f| f.strip_prefix(k)).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{k} in {l}"))
        };
        assert!(field(waits[0], "lag_us=") >= 5_000);
        assert!(field(waits[0], "entered_late_us=") >= 5_000);
        assert_eq!(field(waits[0], "yields="), 1);
        assert!(field(gaps[0], "len_us=") >= 2_000);
        // The gap was the test spinning: its CPU time is counted (not asserted near the length: the
        // machine may not have run this thread all along).
        #[cfg(target_os = "linux")]
        assert!(field(gaps[0], "cpu_us=") > 0, "{}", gaps[0]);
        let summary = lines.last().unwrap();
        assert!(summary.starts_with("pacer-trace summary"), "{summary}");
        assert_eq!(field(summary, "waits="), 3);
        assert_eq!(field(summary, "slow_waits="), 1);
        assert_eq!(field(summary, "gaps="), 1);
        assert_eq!(field(summary, "not_kept="), 0);
    }
}
