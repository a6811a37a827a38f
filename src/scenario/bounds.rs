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

/// The first bound the plan breaks, as a message naming the field, its value and what is allowed.
/// `fd_limit` is the open-file limit the run will have (see [`raise_fd_limit`]).
pub fn check(plan: &Plan, fd_limit: Option<u64>) -> Result<(), String> {
    let c = plan.connections.max;
    if c > MAX_CONNECTIONS {
        return Err(format!("connections.max = {c}: at most {MAX_CONNECTIONS} connections from one process; use sharded runs (--shard) for more"));
    }
    // The default is not the user's demand: the runner fits it to the open-file limit
    // (`fit_open_files`), so only a number the user chose is held against the limit here.
    let chosen = c != super::plan::DEFAULT_MAX_CONNECTIONS;
    if let Some(limit) = fd_limit.filter(|_| chosen) {
        // The embedded gateway holds the other end of every connection in this same process.
        let per_conn = if matches!(plan.target, super::Target::Embedded(_)) { 2 } else { 1 };
        let need = c as u64 * per_conn + FD_RESERVE;
        if need > limit {
            return Err(format!(
                "connections.max = {c} needs about {need} open files, but this process may open {limit}: raise the limit (`ulimit -n`) or lower connections.max; otherwise the generator, not the target, would fail to connect"
            ));
        }
    }
    if plan.max_in_flight > MAX_IN_FLIGHT {
        return Err(format!("max_in_flight = {}: at most {MAX_IN_FLIGHT}", plan.max_in_flight));
    }
    let mut total = 0.0;
    for (i, s) in plan.stages.iter().enumerate() {
        let rates: Vec<f64> = match &s.shape {
            StageShape::Constant { rate } => vec![*rate],
            StageShape::Ramp { from, to } => vec![*from, *to],
            StageShape::Steps { rates } => rates.clone(),
        };
        if let Some(r) = rates.iter().find(|r| !r.is_finite() || **r < 0.0 || **r > MAX_RATE) {
            return Err(format!("stages[{i}] (`{}`): a rate of {r}/s; allowed is 0 to {MAX_RATE:.0}/s per process (use --shard for more)", s.name));
        }
        total += s.duration.as_secs_f64();
    }
    if total > MAX_DURATION_S {
        return Err(format!("the stages last {total:.0}s in all; at most {MAX_DURATION_S:.0}s (7 days)"));
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
        let huge = plan(&format!("{BASE}[[stages]]\nrate = 1e300\nduration = \"1s\"\n"));
        assert!(check(&huge, None).unwrap_err().contains("stages[0]"));
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
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let now = raise_fd_limit().unwrap();
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: as above.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) };
        assert_eq!((now, r.rlim_cur), (r.rlim_max as u64, r.rlim_max));
    }
}
