//! Bounds on what a plan asks of this machine, checked before anything starts. Without them
//! `-c 50000000` aborted on memory, `rate = 1e300` validated and never ended, and more
//! connections than the open-file limit showed up as the *target's* connect failures.

use super::{Plan, StageShape};

/// Connections one generator process can hold, whatever the file limit says.
pub const MAX_CONNECTIONS: usize = 1_000_000;
/// Arrivals per second one process can schedule (well beyond what it can send).
pub const MAX_RATE: f64 = 10_000_000.0;
/// A run longer than a week is a mistake in the units.
pub const MAX_DURATION_S: f64 = 7.0 * 24.0 * 3600.0;
/// Requests in flight the generator may hold.
pub const MAX_IN_FLIGHT: usize = 10_000_000;
/// File descriptors kept for everything but connections (Results files, the gateway, the runtime).
pub const FD_RESERVE: u64 = 64;

/// A fault's latency, jitter or delay: beyond a day it is a unit mistake, and far beyond it the
/// arithmetic of a deadline overflows (a proxy task panicked on a huge jitter).
pub const MAX_FAULT_TIME: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// A bandwidth toxic's rate in KB/s (1 TB/s: effectively unlimited; near 2^62 the byte budget wrapped
/// and the proxy stalled forever).
pub const MAX_BANDWIDTH_KBPS: u64 = 1_000_000_000;
/// Shards of one schedule (`--shard I/N` refuses more; a Results directory claiming more is refused
/// before anything is allocated for it).
pub const MAX_SHARDS: u32 = 100_000;
/// Seconds a Results directory may hold: the longest run plus a day of slack for late seconds.
pub const MAX_RESULTS_SECONDS: u64 = MAX_DURATION_S as u64 + 24 * 3600;
/// A scenario file is text a person wrote.
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;
/// A feeder is read whole into memory.
pub const MAX_FEEDER_BYTES: u64 = 256 << 20;
/// One feeder row: its values end up in a URL, a header or a body.
pub const MAX_FEEDER_ROW_BYTES: usize = 64 << 10;
pub const MAX_FEEDER_ROWS: usize = 10_000_000;
/// Headers one request may carry, and the length of one value (servers refuse far less).
pub const MAX_HEADERS: usize = 100;
pub const MAX_HEADER_VALUE_BYTES: usize = 64 << 10;
/// A request body written in the scenario.
pub const MAX_BODY_BYTES: usize = 8 << 20;

/// A fault's duration-valued setting (`latency`, `jitter`, `delay`).
pub fn fault_time(d: std::time::Duration) -> Result<(), String> {
    if d > MAX_FAULT_TIME {
        return Err(format!("{:.0}s is too long: at most 24h for a fault's latency, jitter or delay", d.as_secs_f64()));
    }
    Ok(())
}

/// A bandwidth in KB/s.
pub fn bandwidth_kbps(r: i64) -> Result<(), String> {
    if r < 0 || r as u64 > MAX_BANDWIDTH_KBPS {
        return Err(format!("{r} is not allowed: a bandwidth in KB/s, 0 (unlimited) to {MAX_BANDWIDTH_KBPS}"));
    }
    Ok(())
}

/// Reads a file the user named, refusing what is not a regular file (`/dev/zero`, a FIFO, a
/// directory) and anything over `max` bytes, before reading it.
pub fn read_bounded(path: &std::path::Path, max: u64, what: &str) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("not a regular file; a {what} must be one")));
    }
    if meta.len() > max {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{} bytes; a {what} may have at most {max}", meta.len())));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The length may grow while reading (a file being written): never past the bound.
    f.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("grew past {max} bytes while being read; a {what} may have at most {max}")));
    }
    Ok(bytes)
}

/// Shares a Results directory claims to hold.
pub fn shards(count: u32, indices: &[u32]) -> Result<(), String> {
    if count == 0 || count > MAX_SHARDS {
        return Err(format!("`shards.count` is {count}; allowed is 1 to {MAX_SHARDS}"));
    }
    if indices.len() > count as usize {
        return Err(format!("`shards.indices` lists {} shares of {count}", indices.len()));
    }
    if let Some(i) = indices.iter().find(|i| **i >= count) {
        return Err(format!("`shards.indices` holds {i}, but there are {count} shards (0 to {})", count - 1));
    }
    Ok(())
}

/// A second number read from a Results file.
pub fn results_second(k: u64) -> Result<(), String> {
    if k > MAX_RESULTS_SECONDS {
        return Err(format!("second {k}: a run has at most {MAX_RESULTS_SECONDS} seconds"));
    }
    Ok(())
}

/// A connect timeout no longer than the whole-request timeout it is part of (a longer one could
/// never fire), and at least 1 ms (the timer's resolution). Each comes with the text it was written
/// as: the message shows the values as typed and the range in the connect timeout's unit.
pub fn connect_timeout(connect: std::time::Duration, connect_text: &str, whole: std::time::Duration, whole_text: &str) -> Result<(), String> {
    if connect < std::time::Duration::from_millis(1) {
        return Err(format!("`{connect_text}` is not allowed: the connect timeout is at least 1ms (the timer's resolution) and at most the whole-request timeout, {whole_text}"));
    }
    if connect > whole {
        let most = crate::units::in_unit_of(whole, connect_text);
        return Err(format!("`{connect_text}` is longer than the whole-request timeout ({whole_text}) it is part of: give at most {most} (and at least 1ms), or raise the timeout"));
    }
    Ok(())
}

/// Generator threads one process may start.
pub const MAX_THREADS: usize = 1024;

/// At most `MAX_THREADS` generator threads: the scenario's `threads` and `run --threads` alike.
pub fn threads(t: usize) -> Result<(), String> {
    if t > MAX_THREADS {
        return Err(format!("at most {MAX_THREADS} generator threads in one process; use sharded runs (--shard) for more"));
    }
    Ok(())
}

/// The first bound the plan breaks, as a message naming the file and line (for a plan from a
/// file), the field, its value and what is allowed. `fd_limit` is the open-file limit the run will
/// have (see [`raise_fd_limit`]).
pub fn check(plan: &Plan, fd_limit: Option<u64>) -> Result<(), String> {
    check_fields(plan, fd_limit).map_err(|((table, index), key, msg)| {
        let Some(file) = &plan.source_path else { return msg };
        match super::locate::key_in(&plan.source_text, table, index, key) {
            Some(at) => {
                let (line, col) = super::line_col(&plan.source_text, at);
                format!("{}:{line}:{col}: {msg}", file.display())
            }
            // Set by a flag, or in an inline table: no line of its own.
            None => format!("{}: {msg}", file.display()),
        }
    })
}

type Broken = ((&'static str, Option<usize>), &'static str, String);

fn check_fields(plan: &Plan, fd_limit: Option<u64>) -> Result<(), Broken> {
    let c = plan.connections.max;
    let conns = ("connections", None);
    if let Some(t) = plan.threads {
        threads(t).map_err(|m| (("", None), "threads", format!("threads = {t}: {m}")))?;
    }
    if c > MAX_CONNECTIONS {
        return Err((conns, "max", format!("connections.max = {c}: at most {MAX_CONNECTIONS} connections from one process; use sharded runs (--shard) for more")));
    }
    // The default is not the user's demand: the runner fits it to the open-file limit
    // (`fit_open_files`), so only a number the user chose is held against the limit here.
    let chosen = c != super::plan::DEFAULT_MAX_CONNECTIONS;
    if let Some(limit) = fd_limit.filter(|_| chosen) {
        // The embedded gateway holds the other end of every connection in this same process.
        let per_conn = if matches!(plan.target, super::Target::Embedded(_)) { 2 } else { 1 };
        let need = c as u64 * per_conn + FD_RESERVE;
        if need > limit {
            return Err((conns, "max", format!(
                "connections.max = {c} needs about {need} open files, but this process may open {limit}: raise the limit (`ulimit -n`) or lower connections.max; otherwise the generator, not the target, would fail to connect"
            )));
        }
    }
    if plan.max_in_flight > MAX_IN_FLIGHT {
        return Err((("", None), "max_in_flight", format!("max_in_flight = {}: at most {MAX_IN_FLIGHT}", plan.max_in_flight)));
    }
    let mut total = 0.0;
    for (i, s) in plan.stages.iter().enumerate() {
        let rates: Vec<f64> = match &s.shape {
            StageShape::Constant { rate } => vec![*rate],
            StageShape::Ramp { from, to } => vec![*from, *to],
            StageShape::Steps { rates } => rates.clone(),
        };
        if let Some(r) = rates.iter().find(|r| !r.is_finite() || **r < 0.0 || **r > MAX_RATE) {
            let key = match &s.shape {
                StageShape::Constant { .. } => "rate",
                StageShape::Ramp { from, .. } if from == r => "from",
                StageShape::Ramp { .. } => "ramp_to",
                StageShape::Steps { .. } => "steps",
            };
            return Err((("stages", Some(i)), key, format!("stages[{i}] (`{}`): a rate of {}/s; allowed is 0 to {MAX_RATE:.0}/s per process (use --shard for more)", s.name, crate::units::compact(*r))));
        }
        total += s.duration.as_secs_f64();
    }
    if total > MAX_DURATION_S {
        return Err((("stages", None), "duration", format!("the stages last {total:.0}s in all; at most {MAX_DURATION_S:.0}s (7 days)")));
    }
    Ok(())
}

/// Raises the soft open-file limit to the hard one (a run needs a descriptor per connection and
/// the default soft limit is often 1024) and returns the limit now in force.
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
                return None;
            }
            if r.rlim_cur < r.rlim_max {
                let want = libc::rlimit { rlim_cur: r.rlim_max, rlim_max: r.rlim_max };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                    r.rlim_cur = r.rlim_max;
                }
            }
        }
        Some(r.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(toml: &str) -> Plan {
        super::super::load_str(toml, std::path::Path::new("t.toml")).unwrap_or_else(|e| panic!("{e}"))
    }

    const BASE: &str = "[target]\nurl = \"http://127.0.0.1:9\"\n[[requests]]\npath = \"/\"\n";

    #[test]
    fn absurd_inputs_are_refused_with_the_field_named() {
        let ok = plan(&format!("{BASE}[[stages]]\nrate = 100\nduration = \"1s\"\n"));
        assert!(check(&ok, Some(1024)).is_ok());
        let huge = plan(&format!("{BASE}[[stages]]\nrate = 1e308\nduration = \"1s\"\n"));
        let e = check(&huge, None).unwrap_err();
        assert!(e.contains("stages[0]") && e.contains("a rate of 1e308/s") && e.len() < 200, "{e}");
        let long = plan(&format!("{BASE}[[stages]]\nrate = 1\nduration = \"100000h\"\n"));
        assert!(check(&long, None).unwrap_err().contains("7 days"));
        let mut conns = ok.clone();
        conns.connections.max = 50_000_000;
        assert!(check(&conns, None).unwrap_err().contains("connections.max"));
        conns.connections.max = 5000;
        let e = check(&conns, Some(1024)).unwrap_err();
        assert!(e.contains("open files") && e.contains("generator"), "{e}");
    }

    #[test]
    fn bounds_name_the_file_line_and_field() {
        let p = |toml: &str| super::super::load_str(toml, std::path::Path::new("s.toml")).unwrap_or_else(|e| panic!("{e}"));
        let text = format!("{BASE}[[stages]]\nrate = 1\nduration = \"1s\"\n[[stages]]\nname = \"b\"\nrate = 1e300\nduration = \"1s\"\n");
        let e = check(&p(&text), None).unwrap_err();
        assert!(e.starts_with("s.toml:10:1: stages[1]"), "{e}");
        let e = check(&p(&format!("threads = 100000\n{BASE}[[stages]]\nrate = 1\nduration = \"1s\"\n")), None).unwrap_err();
        assert!(e.starts_with("s.toml:1:1: threads = 100000"), "{e}");
        let e = check(&p(&format!("{BASE}[connections]\nmax = 5000000\n[[stages]]\nrate = 1\nduration = \"1s\"\n")), None).unwrap_err();
        assert!(e.starts_with("s.toml:6:1: connections.max"), "{e}");
        // Bounds checked while parsing point at the value.
        let faults = |f: &str| super::super::load_str(&format!("{BASE}[[stages]]\nrate = 1\nduration = \"10s\"\n[[faults]]\nat = \"1s\"\nfor = \"1s\"\nproxy = \"p\"\napi = \"127.0.0.1:8474\"\n{f}"), std::path::Path::new("s.toml")).unwrap_err().to_string();
        let e = faults("kind = \"latency\"\nlatency = \"10ms\"\njitter = \"25h\"\n");
        assert!(e.starts_with("s.toml:15:10: faults[0].jitter") && e.contains("24h"), "{e}");
        let e = faults("kind = \"bandwidth\"\nrate_kbps = 4611686018427387904\n");
        assert!(e.starts_with("s.toml:14:") && e.contains("faults[0].rate_kbps"), "{e}");
        let long = "a".repeat(MAX_HEADER_VALUE_BYTES + 1);
        let e = super::super::load_str(&format!("[target]\nurl = \"http://127.0.0.1:9\"\n[target.headers]\nx-big = \"{long}\"\n[[requests]]\npath = \"/\"\n[[stages]]\nrate = 1\nduration = \"1s\"\n"), std::path::Path::new("s.toml")).unwrap_err().to_string();
        assert!(e.starts_with("s.toml:4:") && e.contains("target.headers.x-big") && e.contains("at most"), "{}", &e[..200.min(e.len())]);
    }

    #[test]
    fn files_that_never_end_or_are_too_big_are_refused_before_reading() {
        let e = read_bounded(std::path::Path::new("/dev/zero"), MAX_FEEDER_BYTES, "feeder").unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big.csv");
        std::fs::write(&f, vec![b'a'; 2048]).unwrap();
        assert!(read_bounded(&f, 1024, "feeder").unwrap_err().to_string().contains("2048 bytes"));
        assert_eq!(read_bounded(&f, 4096, "feeder").unwrap().len(), 2048);
        // Through the scenario: the feeder named is /dev/zero.
        let text = format!("{BASE}[[stages]]\nrate = 1\nduration = \"1s\"\n[[feeders]]\nname = \"z\"\nfile = \"/dev/zero\"\n");
        let e = super::super::load_str(&text, std::path::Path::new("s.toml")).unwrap_err().to_string();
        assert!(e.contains("feeders[0].file") && e.contains("not a regular file"), "{e}");
        // A row too long for a URL or header, with the line it is on.
        let rows = dir.path().join("rows.csv");
        std::fs::write(&rows, format!("id\n1\n{}\n", "x".repeat(MAX_FEEDER_ROW_BYTES + 1))).unwrap();
        let text = format!("{BASE}[[stages]]\nrate = 1\nduration = \"1s\"\n[[feeders]]\nname = \"r\"\nfile = \"{}\"\n", rows.display());
        let e = super::super::load_str(&text, std::path::Path::new("s.toml")).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("at most"), "{e}");
        assert!(shards(4_294_967_295, &[0]).unwrap_err().contains("shards.count"));
        assert!(shards(2, &[0, 2]).is_err() && shards(2, &[0, 1]).is_ok());
        assert!(results_second(MAX_RESULTS_SECONDS + 1).is_err());
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let now = raise_fd_limit().unwrap();
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: as above.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) };
        assert_eq!((now, r.rlim_cur), (r.rlim_max as u64, r.rlim_max));
    }
}

#[cfg(test)]
#[path = "fuzz_tests.rs"]
pub(crate) mod fuzz_tests;

/// A capacity step (hold, bisect_hold, confirm_hold, window) or the pause between steps: a search
/// runs many steps, and one longer than a day is a mistake in the units.
pub const MAX_CAPACITY_HOLD_S: f64 = 24.0 * 3600.0;
/// `[capacity] peak_qps` is a fleet's peak, not one process's rate; beyond this (and beyond the
/// headroom and pods below) the planned pod count no longer fits in a number.
pub const MAX_PEAK_QPS: f64 = 1e12;
pub const MAX_HEADROOM: f64 = 100.0;
pub const MAX_PODS: f64 = 1_000_000.0;
/// A growth factor above this skips the whole range in one step.
pub const MAX_FACTOR: f64 = 100.0;
/// `[capacity] confirm` (and --confirm): holds of the answer; more only lengthens the search.
pub const MAX_CONFIRM: u32 = 20;
/// `[capacity] retests` (and --retests).
pub const MAX_RETESTS: u32 = 10;

/// The upper bound of one `[capacity]` setting or `skyload capacity` flag (`field` as in the
/// scenario: `start`, `hold`, …; durations in seconds), as "VALUE is not allowed: …" naming what is
/// allowed. The lower bounds (> 0, factor > 1, at least 1s) are checked where each is parsed.
pub fn capacity(field: &str, x: f64) -> Result<(), String> {
    let Some((max, allowed)) = capacity_limit(field) else { return Ok(()) };
    if x.is_finite() && x <= max {
        return Ok(());
    }
    let shown = crate::units::compact(x);
    let unit = if max == MAX_CAPACITY_HOLD_S { "s" } else { "" };
    Err(format!("{shown}{unit} is not allowed: {allowed}"))
}

/// The largest value a `[capacity]` field (or its flag) takes, and what is allowed, in words.
pub fn capacity_limit(field: &str) -> Option<(f64, String)> {
    Some(match field {
        "start" | "step" | "max" => (MAX_RATE, format!("at most {MAX_RATE:.0} rps (what one process can schedule)")),
        "factor" => (MAX_FACTOR, format!("at most {MAX_FACTOR:.0} (a factor > 1 such as 1.5)")),
        "peak_qps" => (MAX_PEAK_QPS, format!("at most {MAX_PEAK_QPS:e} qps")),
        "headroom" => (MAX_HEADROOM, format!("from 1 to {MAX_HEADROOM:.0}")),
        "pods" => (MAX_PODS, format!("from 1 to {MAX_PODS:.0}")),
        "hold" | "bisect_hold" | "confirm_hold" | "window" | "cooldown" => (MAX_CAPACITY_HOLD_S, "at most 24h per step".to_string()),
        _ => return None,
    })
}
