//! The journal of faults a run applied that could outlive it. A skyload gateway or proxy undoes a
//! fault whose lease lapsed on its own; a stock Toxiproxy (or an older skyload) does not, so after
//! `kill -9`, an OOM kill or a lost CI runner its toxic would stay forever. Each run writes what it
//! applied, and crosses off what it removed, in its own file under the state directory
//! (`$XDG_STATE_HOME/skyload/faults/<pid>.json`, else `~/.local/state/skyload/faults/`); one file
//! per process, so concurrent runs never race on it. The next run with faults, and
//! `skyload faults clear`, remove what a dead process left and say so.
//!
//! Faults of the embedded gateway die with the run and are not journalled. An exec fault is
//! journalled by name, start time and pid, never its commands (they may hold secrets, which must
//! not sit in a file nobody cleans): what a dead run left is reported, not undone — only its
//! stop command could undo it, and a later process cannot know it is still right to run.
//!
//! An entry is written before its fault is applied: a run killed while the call is under way, or
//! whose call lost its answer, still leaves a trace.

use super::backend::{self, Endpoints};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Mutex;

/// What undoes one applied fault, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Leftover {
    /// `DELETE /proxies/{proxy}/toxics/{name}` on the Toxiproxy API at `api`.
    Toxic { api: String, proxy: String, name: String },
    /// `method base + path` on a gateway's control API.
    Gateway { base: String, method: String, path: String },
    /// An exec fault whose stop command had not run (successfully): only a person can undo it.
    Exec {
        name: String,
        /// RFC 3339, when its start command was run.
        started: String,
        /// The run that started it.
        pid: u32,
    },
}

/// What a dead run's exec fault needs; skyload never runs a command it did not get from the user
/// in this process.
pub const EXEC_LEFT: &str = "left in place by a dead run: run its stop command by hand";

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Leftover::Toxic { api, proxy, name } => write!(f, "toxic `{name}` on proxy `{proxy}` at {api}"),
            Leftover::Gateway { base, method, path } => write!(f, "gateway fault at {base} (undone by {method} {path})"),
            Leftover::Exec { name, started, pid } => write!(f, "exec fault `{name}` (started {started} by run pid {pid}; its stop command has not run)"),
        }
    }
}

impl Leftover {
    /// The entry as Results show it: a URL's user-info and secret-looking query values redacted.
    pub fn redacted(&self) -> Leftover {
        let r = |s: &str| crate::record::redact::text(s);
        match self {
            Leftover::Toxic { api, proxy, name } => Leftover::Toxic { api: r(api), proxy: proxy.clone(), name: name.clone() },
            Leftover::Gateway { base, method, path } => Leftover::Gateway { base: r(base), method: method.clone(), path: r(path) },
            Leftover::Exec { name, started, pid } => Leftover::Exec { name: r(name), started: started.clone(), pid: *pid },
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RunJournal {
    pid: u32,
    faults: Vec<Leftover>,
}

/// This process's entries (a process runs at most one timeline at a time, but its tasks overlap).
static MINE: Mutex<Vec<Leftover>> = Mutex::new(Vec::new());

/// The copy in the Results of the run in progress (`faults.state.json`): every entry this run
/// journalled, and whether its removal was confirmed. Written as the state file is, so a killed
/// run's Results still say what it left in place.
static RESULTS_COPY: Mutex<Option<(PathBuf, Vec<CopyEntry>)>> = Mutex::new(None);

/// The Results file that mirrors the journal.
pub use crate::record::results::FAULTS_STATE as RESULTS_FILE;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CopyEntry {
    #[serde(flatten)]
    pub fault: Leftover,
    /// Still in place (not yet removed, or its removal failed): `skyload faults clear` removes it.
    pub in_place: bool,
}

/// Starts the Results copy for a run writing to `dir` (an earlier run's entries are not carried over).
pub fn copy_into(dir: &std::path::Path) {
    let mut c = RESULTS_COPY.lock().unwrap_or_else(|e| e.into_inner());
    *c = Some((dir.to_path_buf(), Vec::new()));
}

fn update_copy(l: &Leftover, in_place: bool) {
    let mut c = RESULTS_COPY.lock().unwrap_or_else(|e| e.into_inner());
    let Some((dir, entries)) = c.as_mut() else { return };
    match entries.iter_mut().find(|e| e.fault == *l) {
        Some(e) => e.in_place = in_place,
        None => entries.push(CopyEntry { fault: l.clone(), in_place }),
    }
    #[derive(Serialize)]
    struct Copy {
        about: &'static str,
        faults: Vec<CopyEntry>,
    }
    let shown: Vec<CopyEntry> = entries.iter().map(|e| CopyEntry { fault: e.fault.redacted(), in_place: e.in_place }).collect();
    let doc = Copy {
        about: "faults this run applied that could outlive it; in_place = false: removal confirmed. After a killed run, `skyload faults clear` removes what is still in place",
        faults: shown,
    };
    let text = serde_json::to_vec_pretty(&doc).expect("journal serializes");
    if let Err(e) = crate::record::outdir::write_atomic(&dir.join(RESULTS_FILE), &text) {
        tracing::warn!("cannot write {}: {e}", dir.join(RESULTS_FILE).display());
    }
}

/// `$XDG_STATE_HOME/skyload`, else `~/.local/state/skyload`; None without either variable.
pub fn state_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()).map(PathBuf::from);
    let base = xdg.or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(base.join("skyload"))
}

fn journal_dir() -> Option<PathBuf> {
    state_dir().map(|d| d.join("faults"))
}

/// Notes that `l` is in place. Failing to write the journal is reported, never fatal: the lease
/// still protects skyload servers.
pub fn record(l: Leftover) {
    let mut mine = MINE.lock().unwrap_or_else(|e| e.into_inner());
    if !mine.contains(&l) {
        mine.push(l.clone());
    }
    save(&mine);
    update_copy(&l, true);
}

/// Notes that `l` was removed.
pub fn forget(l: &Leftover) {
    let mut mine = MINE.lock().unwrap_or_else(|e| e.into_inner());
    mine.retain(|x| x != l);
    save(&mine);
    update_copy(l, false);
}

fn save(entries: &[Leftover]) {
    let Some(dir) = journal_dir() else { return };
    let path = dir.join(format!("{}.json", std::process::id()));
    if entries.is_empty() {
        let _ = std::fs::remove_file(&path);
        return;
    }
    let j = RunJournal { pid: std::process::id(), faults: entries.to_vec() };
    let text = serde_json::to_vec_pretty(&j).expect("journal serializes");
    let r = std::fs::create_dir_all(&dir).and_then(|()| crate::record::outdir::write_atomic(&path, &text));
    if let Err(e) = r {
        tracing::warn!("cannot write the fault journal {}: {e}; a leftover after a crash would not be found", path.display());
    }
}

/// Whether process `pid` still runs (a journal of a live run is not a leftover).
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        // Our own pid in an old file: a dead process had it before us.
        return false;
    }
    let Ok(p) = i32::try_from(pid) else { return false };
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let r = unsafe { libc::kill(p, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// One journal file found on disk.
#[derive(Debug)]
pub struct Found {
    pub file: PathBuf,
    pub pid: u32,
    /// The run is still going: its faults are not leftovers.
    pub running: bool,
    pub faults: Vec<Leftover>,
}

/// Every journal in the state directory (unreadable files are skipped with a warning).
pub fn list() -> Vec<Found> {
    let Some(dir) = journal_dir() else { return Vec::new() };
    let Ok(rd) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let file = e.path();
        if file.extension().is_none_or(|x| x != "json") {
            continue;
        }
        match std::fs::read(&file).map_err(|e| e.to_string()).and_then(|b| serde_json::from_slice::<RunJournal>(&b).map_err(|e| e.to_string())) {
            Ok(j) => out.push(Found { running: alive(j.pid), pid: j.pid, faults: j.faults, file }),
            Err(e) => tracing::warn!("skipping fault journal {}: {e}", file.display()),
        }
    }
    out.sort_by_key(|f| f.pid);
    out
}

/// Removes what dead runs left; one line per fault, saying what was done. Faults that could not
/// be removed stay in their journal for the next attempt. Exec faults cannot be removed: each is
/// reported (`EXEC_LEFT`), and kept in its journal unless `forget_exec` (`skyload faults clear`,
/// a person asking, has now been told; a run's automatic clearing only reports it).
pub async fn clear(ep: &Endpoints, forget_exec: bool) -> Vec<String> {
    let mut lines = Vec::new();
    for found in list().into_iter().filter(|f| !f.running) {
        let mut left = Vec::new();
        for l in found.faults {
            if let Leftover::Exec { .. } = l {
                let after = if forget_exec { " (dropped from the journal; faults.state.json of its Results keeps it)" } else { "" };
                lines.push(format!("not undone: {l}: {EXEC_LEFT}{after}"));
                if !forget_exec {
                    left.push(l);
                }
                continue;
            }
            match undo(&l, ep).await {
                Ok(()) => lines.push(format!("removed leftover {l} (from run pid {}, which did not finish)", found.pid)),
                Err(e) => {
                    lines.push(format!("could not remove leftover {l} (from run pid {}): {e}", found.pid));
                    left.push(l);
                }
            }
        }
        let r = if left.is_empty() {
            std::fs::remove_file(&found.file)
        } else {
            let text = serde_json::to_vec_pretty(&RunJournal { pid: found.pid, faults: left }).expect("journal serializes");
            crate::record::outdir::write_atomic(&found.file, &text)
        };
        if let Err(e) = r {
            lines.push(format!("cannot update the fault journal {}: {e}", found.file.display()));
        }
    }
    lines
}

/// `clear` from synchronous code (the `run` and `faults` commands), on a small runtime of its own.
pub fn clear_blocking(ep: &Endpoints, forget_exec: bool) -> Vec<String> {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt.block_on(clear(ep, forget_exec)),
        Err(e) => vec![format!("cannot look for leftover faults: {e}")],
    }
}

async fn undo(l: &Leftover, ep: &Endpoints) -> Result<(), String> {
    match l {
        Leftover::Toxic { api, proxy, name } => {
            let c = super::toxiproxy::Client::new(api).map_err(|e| e.to_string())?.with_token(ep.control_token.clone());
            match c.remove_toxic(proxy, name).await {
                Ok(()) => Ok(()),
                // Removed meanwhile (by hand, by a lease, or the proxy is gone with it).
                Err(super::toxiproxy::ClientError::Api { status: 404, .. }) => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        }
        Leftover::Gateway { base, method, path } => {
            let m = http::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
            backend::raw_control(base, m, path, ep.control_token.as_deref()).await
        }
        Leftover::Exec { .. } => Err(EXEC_LEFT.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_entries_round_trip() {
        let j = RunJournal {
            pid: 7,
            faults: vec![
                Leftover::Toxic { api: "127.0.0.1:8474".into(), proxy: "api".into(), name: "slow".into() },
                Leftover::Gateway { base: "http://127.0.0.1:1".into(), method: "DELETE".into(), path: "/_control/pods/p/latency".into() },
                Leftover::Exec { name: "drain".into(), started: "2026-01-02T03:04:05Z".into(), pid: 7 },
            ],
        };
        let text = serde_json::to_string(&j).unwrap();
        assert!(text.contains("\"kind\":\"toxic\""), "{text}");
        let back: RunJournal = serde_json::from_str(&text).unwrap();
        assert_eq!(back.faults, j.faults);
        // An exec entry names the fault, never its commands.
        assert!(text.contains("\"kind\":\"exec\",\"name\":\"drain\""), "{text}");
        assert_eq!(j.faults[2].to_string(), "exec fault `drain` (started 2026-01-02T03:04:05Z by run pid 7; its stop command has not run)");
    }

    #[test]
    fn own_pid_in_an_old_file_is_a_leftover_and_pid_1_is_alive() {
        assert!(!alive(std::process::id()));
        assert!(alive(1));
        assert!(!alive(u32::MAX));
    }
}
