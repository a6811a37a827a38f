//! The process groups of exec fault commands: each command runs as the leader of its own group, so
//! everything it starts (a `sleep` holding a condition, a backgrounded helper) can be found and
//! ended with it, and the journal can name it after the run dies. A run that is `kill -9`'d does
//! not take its children along: without this, a start command still running (or a helper it left)
//! kept going as an orphan nobody knew of.
//!
//! A group is recorded with its leader's pid (the group id), the leader's start time in clock ticks
//! since boot (`/proc/PID/stat` field 22), the boot id, and a random token the command gets in its
//! environment (`SKYLOAD_EXEC_GROUP`). Nothing is signalled unless it is shown to be that group:
//! - the leader is alive with the recorded start time: the group is ours (only process N can make
//!   group N);
//! - a live process N with another start time: N was reused, which Linux allows only once no
//!   process has N as its group any more, so ours has ended;
//! - no leader, members of group N left: each must carry the token in its environment (a leader
//!   gone and its number reused for a new group whose own leader died would look the same
//!   otherwise); one that does not, or whose environment cannot be read, makes the group
//!   unconfirmed: reported with its pids, never signalled;
//! - another boot id: the machine restarted, nothing of it is left.
//!
//! Linux only (`/proc`); elsewhere no group is recorded and nothing is judged running.

use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The variable carrying a group's token into every process of it.
pub const TOKEN_VAR: &str = "SKYLOAD_EXEC_GROUP";

/// Which of a fault's commands a group ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Start,
    Stop,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Start => "start",
            Role::Stop => "stop",
        }
    }
}

/// One command's process group as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub role: Role,
    /// The group id: its leader's (the `sh -c`) pid.
    pub pgid: u32,
    /// The leader's start time, clock ticks after boot (`/proc/PID/stat` field 22).
    pub start_ticks: u64,
    /// `/proc/sys/kernel/random/boot_id` when it started.
    pub boot_id: String,
    /// The value of `SKYLOAD_EXEC_GROUP` in its processes' environment.
    pub token: String,
}

/// The fields of `/proc/PID/stat` used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub state: char,
    pub pgrp: u32,
    pub start_ticks: u64,
}

/// Parses `/proc/PID/stat`. The command name (field 2) is in parentheses and may hold spaces and
/// parentheses itself, so the fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): field N is f[N - 3].
    let state = f.first()?.chars().next()?;
    Some(Stat { state, pgrp: f.get(2)?.parse().ok()?, start_ticks: f.get(19)?.parse().ok()? })
}

/// A process of the group, as found now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub pid: u32,
    /// Its environment carries the group's token; None: it cannot be read (another user's).
    pub has_token: Option<bool>,
}

/// What a recorded group is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// No process of it is left.
    Gone,
    /// Shown to be ours and running: these pids (the leader first when alive).
    Running(Vec<u32>),
    /// Processes of group N that cannot be shown to be ours: never signalled.
    Unconfirmed(Vec<u32>),
}

/// The decision from what was read: the boot id now, the leader's stat (None: no such process),
/// and the other live processes whose group is `g.pgid`. A zombie is no process: it is dead and
/// only waits to be reaped.
pub fn judge(g: &Group, boot_now: Option<&str>, leader: Option<Stat>, members: &[Member]) -> Status {
    if boot_now.is_some_and(|b| b != g.boot_id) {
        return Status::Gone;
    }
    match leader {
        Some(s) if s.start_ticks != g.start_ticks => return Status::Gone,
        Some(s) if s.state != 'Z' && s.pgrp == g.pgid => {
            let mut pids = vec![g.pgid];
            pids.extend(members.iter().map(|m| m.pid).filter(|p| *p != g.pgid));
            return Status::Running(pids);
        }
        _ => {}
    }
    let others: Vec<&Member> = members.iter().filter(|m| m.pid != g.pgid).collect();
    if others.is_empty() {
        Status::Gone
    } else if others.iter().all(|m| m.has_token == Some(true)) {
        Status::Running(others.iter().map(|m| m.pid).collect())
    } else {
        Status::Unconfirmed(others.iter().map(|m| m.pid).collect())
    }
}

/// When a process started: its start time and the boot it started in. A pid held by a process
/// with another `Born` is another process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Born {
    pub start_ticks: u64,
    pub boot_id: String,
}

/// `Born` of process `pid` (None: no such process, or no `/proc`).
pub fn born(pid: u32) -> Option<Born> {
    Some(Born { start_ticks: read_stat(pid)?.start_ticks, boot_id: boot_id()? })
}

/// Whether `pid` is a zombie: dead, only not yet reaped by its parent.
pub fn zombie(pid: u32) -> bool {
    read_stat(pid).is_some_and(|s| s.state == 'Z')
}

fn read_stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string())
}

/// Live processes other than zombies whose group is `pgid`, and whether each carries `token`.
fn members(pgid: u32, token: &str) -> Vec<Member> {
    let Ok(rd) = std::fs::read_dir("/proc") else { return Vec::new() };
    let want = format!("{TOKEN_VAR}={token}");
    let mut out = Vec::new();
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        match read_stat(pid) {
            Some(s) if s.pgrp == pgid && s.state != 'Z' => {}
            _ => continue,
        }
        let has_token = std::fs::read(format!("/proc/{pid}/environ")).ok().map(|env| env.split(|b| *b == 0).any(|v| v == want.as_bytes()));
        out.push(Member { pid, has_token });
    }
    out.sort_by_key(|m| m.pid);
    out
}

/// What `g` is now, read from `/proc`.
pub fn status(g: &Group) -> Status {
    judge(g, boot_id().as_deref(), read_stat(g.pgid), &members(g.pgid, &g.token))
}

/// The group of a child just spawned as its own group's leader (`process_group(0)`), with the
/// token given to it. None when `/proc` cannot tell its start time (not Linux).
pub fn of_child(role: Role, pid: u32, token: String) -> Option<Group> {
    let s = read_stat(pid)?;
    Some(Group { role, pgid: pid, start_ticks: s.start_ticks, boot_id: boot_id()?, token })
}

/// A fresh random token for a group.
pub fn new_token() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        // Unique enough to tell this group's processes from another's on this machine.
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        return format!("{}-{t}", std::process::id());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// How ending a group went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Nothing of it was running.
    WasGone,
    /// It was running (these pids) and is gone now; `killed`: it needed SIGKILL.
    Ended { pids: Vec<u32>, killed: bool },
    /// Processes in its group could not be shown to be ours: left alone.
    Unconfirmed(Vec<u32>),
    /// Signalled and still there (or the signal was refused): these pids, and why.
    Failed(Vec<u32>, String),
}

impl Ended {
    /// Whether nothing of the group is left.
    pub fn gone(&self) -> bool {
        matches!(self, Ended::WasGone | Ended::Ended { .. })
    }

    /// One clause about it, e.g. "its start command's process group 123 was still running (pids
    /// 123, 124) and has been ended (SIGTERM)".
    pub fn describe(&self, g: &Group) -> String {
        let what = format!("its {} command's process group {}", g.role.as_str(), g.pgid);
        let list = |p: &[u32]| p.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
        match self {
            Ended::WasGone => format!("{what} has ended"),
            Ended::Ended { pids, killed } => {
                format!("{what} was still running (pids {}) and has been ended ({})", list(pids), if *killed { "SIGKILL after SIGTERM" } else { "SIGTERM" })
            }
            Ended::Unconfirmed(p) => format!(
                "{what} has processes (pids {}) that cannot be shown to be the run's (no leader, and no {TOKEN_VAR} in their environment): not signalled; check them by hand",
                list(p)
            ),
            Ended::Failed(p, why) => format!("{what} could not be ended (pids {}): {why}; end them by hand", list(p)),
        }
    }
}

/// What `g` is now, as a clause for `faults list` and a run's report of a dead run's entry.
pub fn report(g: &Group) -> String {
    let what = format!("its {} command's process group {}", g.role.as_str(), g.pgid);
    match status(g) {
        Status::Gone => format!("{what} has ended"),
        Status::Running(p) => format!("{what} is still running (pids {}): `skyload faults clear` ends it", p.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")),
        Status::Unconfirmed(p) => Ended::Unconfirmed(p).describe(g),
    }
}

/// How long a group gets between SIGTERM and SIGKILL, and after SIGKILL to be gone.
pub const GRACE: Duration = Duration::from_secs(3);
const KILL_WAIT: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(50);

/// Ends `g` if it is ours and running: SIGTERM to the group, up to `grace` for it to go, then
/// SIGKILL and up to `KILL_WAIT`. The group is judged again before each signal. Blocking.
pub fn end(g: &Group, grace: Duration) -> Ended {
    let pids = match status(g) {
        Status::Gone => return Ended::WasGone,
        Status::Unconfirmed(p) => return Ended::Unconfirmed(p),
        Status::Running(p) => p,
    };
    for (sig, wait, killed) in [(libc::SIGTERM, grace, false), (libc::SIGKILL, KILL_WAIT, true)] {
        match status(g) {
            Status::Gone => return Ended::Ended { pids, killed: false },
            Status::Unconfirmed(p) => return Ended::Unconfirmed(p),
            Status::Running(_) => {}
        }
        let Ok(pgid) = i32::try_from(g.pgid) else { return Ended::Failed(pids, "not a process group id".into()) };
        // SAFETY: kill(2) on a negative pid signals that process group; nothing else is touched.
        if unsafe { libc::kill(-pgid, sig) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Ended::Failed(pids, format!("kill: {e}"));
            }
        }
        let until = Instant::now() + wait;
        while Instant::now() < until {
            if status(g) == Status::Gone {
                return Ended::Ended { pids, killed };
            }
            std::thread::sleep(POLL);
        }
    }
    match status(g) {
        Status::Gone => Ended::Ended { pids, killed: true },
        Status::Running(p) | Status::Unconfirmed(p) => Ended::Failed(p, "still running after SIGKILL".into()),
    }
}

/// `end` from async code, on the blocking pool.
pub async fn end_async(g: Group, grace: Duration) -> Ended {
    let g2 = g.clone();
    tokio::task::spawn_blocking(move || end(&g2, grace)).await.unwrap_or_else(|e| Ended::Failed(vec![g.pgid], e.to_string()))
}

/// The groups this process started and has not ended yet: a run that quits at once (a third
/// Ctrl-C) ends them on its way out.
static LIVE: Mutex<Vec<Group>> = Mutex::new(Vec::new());

pub fn track(g: &Group) {
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).push(g.clone());
}

pub fn untrack(g: &Group) {
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).retain(|x| x != g);
}

/// Ends every group this process still tracks (SIGTERM, a short grace, SIGKILL), for an exit that
/// cannot wait for the fault timeline.
pub fn end_all_tracked(grace: Duration) {
    let all = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
    for g in all {
        let r = end(&g, grace);
        if !matches!(r, Ended::WasGone) {
            crate::errln!("skyload: {}", r.describe(&g));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> Group {
        Group { role: Role::Start, pgid: 100, start_ticks: 5000, boot_id: "b1".into(), token: "t".into() }
    }
    fn st(state: char, pgrp: u32, start_ticks: u64) -> Option<Stat> {
        Some(Stat { state, pgrp, start_ticks })
    }
    fn m(pid: u32, has_token: Option<bool>) -> Member {
        Member { pid, has_token }
    }

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let line = "4242 (sh (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 2000 300 18446744073709551615";
        assert_eq!(parse_stat(line), Some(Stat { state: 'S', pgrp: 4242, start_ticks: 987654 }));
        assert_eq!(parse_stat("1 (init) S 0"), None);
        assert_eq!(parse_stat("garbage"), None);
        // This process's own stat parses, and its group is what the kernel says.
        let me = read_stat(std::process::id()).expect("own /proc/self/stat");
        // SAFETY: getpgrp has no preconditions.
        assert_eq!(me.pgrp as i32, unsafe { libc::getpgrp() });
    }

    /// A pid is signalled only when it is shown to be the recorded group: its leader with the same
    /// start time, or, the leader gone, members that all carry the group's token.
    #[test]
    fn only_a_group_shown_to_be_ours_is_running() {
        let g = group();
        // The leader, same start time: ours, with its members.
        assert_eq!(judge(&g, Some("b1"), st('S', 100, 5000), &[m(100, Some(true)), m(101, None)]), Status::Running(vec![100, 101]));
        // A reused pid (another start time): ours has ended, whatever has that number now.
        assert_eq!(judge(&g, Some("b1"), st('S', 100, 9999), &[m(100, None), m(101, Some(false))]), Status::Gone);
        assert_eq!(judge(&g, Some("b1"), st('S', 7, 9999), &[]), Status::Gone);
        // Another boot: nothing of it can be left.
        assert_eq!(judge(&g, Some("b2"), st('S', 100, 5000), &[m(100, Some(true))]), Status::Gone);
        // A zombie leader and nothing else: dead.
        assert_eq!(judge(&g, Some("b1"), st('Z', 100, 5000), &[]), Status::Gone);
        // Leader gone, members left: running only when every one carries the token.
        assert_eq!(judge(&g, Some("b1"), None, &[m(101, Some(true)), m(102, Some(true))]), Status::Running(vec![101, 102]));
        assert_eq!(judge(&g, Some("b1"), None, &[m(101, Some(true)), m(102, Some(false))]), Status::Unconfirmed(vec![101, 102]));
        assert_eq!(judge(&g, Some("b1"), None, &[m(101, None)]), Status::Unconfirmed(vec![101]));
        assert_eq!(judge(&g, Some("b1"), None, &[]), Status::Gone);
        // No boot id readable: judged on the rest.
        assert_eq!(judge(&g, None, st('R', 100, 5000), &[]), Status::Running(vec![100]));
    }

    #[test]
    fn describe_names_the_role_the_group_and_what_was_done() {
        let g = group();
        assert_eq!(Ended::WasGone.describe(&g), "its start command's process group 100 has ended");
        let e = Ended::Ended { pids: vec![100, 101], killed: false }.describe(&g);
        assert_eq!(e, "its start command's process group 100 was still running (pids 100, 101) and has been ended (SIGTERM)");
        assert!(Ended::Unconfirmed(vec![7]).describe(&g).contains("not signalled"));
        assert!(Ended::WasGone.gone() && !Ended::Unconfirmed(vec![7]).gone() && !Ended::Failed(vec![7], String::new()).gone());
    }

    /// A child of this test in its own group: judged running while it lives, ended by `end`, and
    /// a record with another start time for the same pid is never taken for it.
    #[test]
    fn a_real_group_is_found_and_ended() {
        use std::os::unix::process::CommandExt;
        let token = new_token();
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30; wait"])
            .env(TOKEN_VAR, &token)
            .process_group(0)
            .spawn()
            .expect("sh");
        let g = of_child(Role::Start, child.id(), token).expect("stat of the child");
        let other = Group { start_ticks: g.start_ticks + 1, ..g.clone() };
        assert_eq!(status(&other), Status::Gone, "another start time is another process");
        // The shell starts its two sleeps in a moment; poll (bounded) until both are in the group.
        let until = Instant::now() + Duration::from_secs(10);
        while !matches!(status(&g), Status::Running(p) if p.len() >= 3) && Instant::now() < until {
            std::thread::sleep(POLL);
        }
        assert!(matches!(status(&g), Status::Running(p) if p.len() >= 3), "{:?}", status(&g));
        let r = end(&g, GRACE);
        let _ = child.wait();
        assert!(matches!(r, Ended::Ended { .. }), "{r:?}");
        assert_eq!(status(&g), Status::Gone);
        assert_eq!(end(&g, GRACE), Ended::WasGone);
    }
}
