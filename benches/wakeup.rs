//! The machine's own timer floor: how late a thread that sleeps until an absolute instant wakes,
//! with nothing else in the way (a timerfd armed with TFD_TIMER_ABSTIME on CLOCK_MONOTONIC, one
//! epoll_wait, timer slack 1 ns: what the `sleep` pacer does, minus tokio). Whatever lag a pacer
//! shows beyond this is the pacer's; up to this, it is the OS (on a virtual machine, the host
//! waking the vCPU). `benches/lag.sh` prints it beside the pacers' figures.
//!
//!   cargo bench --bench wakeup                      # 10 ms, 1 ms, 500 µs, 100 µs, 50 µs
//!   cargo bench --bench wakeup -- --interval-us 500 --count 2000 --quiet
//!
//!   cargo bench --bench wakeup -- --hold-cpu-latency  # as the precise pacer: idle CPUs poll
//!
//!   cargo bench --bench wakeup -- --fifo              # the measuring thread SCHED_FIFO 1 (root)
//!
//! `--quiet` prints one line per interval: interval p50 p99 max (µs), for scripts.
//! `--hold-cpu-latency` holds the CPU wake-up latency request at 0 µs while measuring
//! (`skyload::load::cpu_latency`, what the `precise` pacer holds; needs root): the difference
//! between the two is what a halted idle vCPU costs to wake. It fails rather than measure without.

#[cfg(target_os = "linux")]
mod floor {
    use std::time::Duration;

    fn now_ns() -> i128 {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes into the timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
    }

    fn spec(ns: i128) -> libc::itimerspec {
        libc::itimerspec {
            it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: libc::timespec { tv_sec: (ns / 1_000_000_000) as libc::time_t, tv_nsec: (ns % 1_000_000_000) as libc::c_long },
        }
    }

    pub struct Timer {
        fd: i32,
        ep: i32,
    }

    impl Timer {
        pub fn new() -> Timer {
            // SAFETY: plain syscalls on descriptors this struct owns (closed in Drop).
            unsafe {
                libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
                let fd = libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC);
                assert!(fd >= 0, "timerfd_create: {}", std::io::Error::last_os_error());
                let ep = libc::epoll_create1(libc::EPOLL_CLOEXEC);
                assert!(ep >= 0, "epoll_create1: {}", std::io::Error::last_os_error());
                let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: 0 };
                assert_eq!(libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev), 0);
                Timer { fd, ep }
            }
        }

        /// Sleeps until `at_ns` (CLOCK_MONOTONIC); returns how late it woke, in ns.
        pub fn sleep_until(&self, at_ns: i128) -> i128 {
            let s = spec(at_ns);
            // SAFETY: live descriptors, valid structs.
            unsafe {
                libc::timerfd_settime(self.fd, libc::TFD_TIMER_ABSTIME, &s, std::ptr::null_mut());
                let mut out = libc::epoll_event { events: 0, u64: 0 };
                while libc::epoll_wait(self.ep, &mut out, 1, -1) < 0 {}
                let mut x = 0u64;
                libc::read(self.fd, (&mut x as *mut u64).cast(), 8);
            }
            now_ns() - at_ns
        }
    }

    impl Drop for Timer {
        fn drop(&mut self) {
            // SAFETY: closing descriptors this struct created.
            unsafe {
                libc::close(self.fd);
                libc::close(self.ep);
            }
        }
    }

    /// Lateness in µs at (p50, p99, max) of `count` wake-ups every `interval` (schedule-anchored:
    /// a late wake-up does not push the next instant back, as in the pacer).
    pub fn measure(interval: Duration, count: usize) -> (u64, u64, u64) {
        let t = Timer::new();
        let mut late: Vec<i128> = Vec::with_capacity(count);
        let start = now_ns();
        for k in 1..=count {
            late.push(t.sleep_until(start + interval.as_nanos() as i128 * k as i128));
        }
        late.sort_unstable();
        let q = |p: f64| (late[((late.len() as f64 * p) as usize).min(late.len() - 1)].max(0) / 1_000) as u64;
        (q(0.5), q(0.99), q(1.0))
    }
}

#[cfg(target_os = "linux")]
fn main() {
    use std::time::Duration;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse::<u64>().ok());
    let quiet = args.iter().any(|a| a == "--quiet");
    let count = get("--count").unwrap_or(1_000).clamp(1, 100_000) as usize;
    let intervals: Vec<u64> = match get("--interval-us") {
        Some(us) => vec![us.max(1)],
        None => vec![10_000, 1_000, 500, 100, 50],
    };
    if args.iter().any(|a| a == "--fifo") {
        let param = libc::sched_param { sched_priority: 1 };
        // SAFETY: sets this (the measuring) thread's policy; needs CAP_SYS_NICE.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } != 0 {
            eprintln!("--fifo: {}", std::io::Error::last_os_error());
            std::process::exit(2)
        }
    }
    let _held = args.iter().any(|a| a == "--hold-cpu-latency").then(|| {
        skyload::load::cpu_latency::CpuLatencyRequest::hold().unwrap_or_else(|e| {
            eprintln!("--hold-cpu-latency: {e}");
            std::process::exit(2)
        })
    });
    if !quiet {
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!(
            "timer wake-up lateness (timerfd absolute + epoll_wait, slack 1 ns; CPU wake-up latency request {}); load average {}",
            if _held.is_some() { "held at 0 µs" } else { "not held" },
            load.split(' ').next().unwrap_or("?")
        );
        println!("{:>11} {:>7} {:>9} {:>9} {:>9}", "interval_us", "count", "p50_us", "p99_us", "max_us");
    }
    for us in intervals {
        // At most ~10 s per interval.
        let n = count.min((10_000_000 / us).max(1) as usize);
        let (p50, p99, max) = floor::measure(Duration::from_micros(us), n);
        if quiet {
            println!("{us} {p50} {p99} {max}");
        } else {
            println!("{us:>11} {n:>7} {p50:>9} {p99:>9} {max:>9}");
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("benches/wakeup.rs measures a Linux timerfd; nothing to do here");
}
