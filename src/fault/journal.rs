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
//! not sit in a file nobody cleans), with a `StopRef` (`exec_undo`) saying where its stop command
//! can be found again and checked: `skyload faults clear` shows it redacted and runs it only on
//! the person's yes, and only when its start is known to have run. Its commands' process groups
//! (`group`) are added as they are spawned: `clear` ends what they left running first. A run's own
//! clean-up only reports it.
//!
//! An entry is written before its fault is applied: a run killed while the call is under way, or
//! whose call lost its answer, still leaves a trace. Each entry carries its `Stage`, so a later
//! process undoes only what the run confirmed it applied (or took over), or sent and never heard
//! back about; an entry written before the outcome was known is reported, never undone (`cleanup`):
//! the toxic of that name may be someone else's.

use super::backend::{self, Endpoints};
use super::exec_undo::StopRef;
use super::group::{self, Group};
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
    /// An exec fault whose stop command had not run (successfully): undone by its stop command,
    /// which only a person may have run by a later process.
    Exec {
        name: String,
        /// RFC 3339, when its start command was run.
        started: String,
        /// The run that started it.
        pid: u32,
        /// Where its stop command can be found again (None: it cannot, e.g. a journal of an older
        /// skyload or a scenario not read from a file).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stop: Option<StopRef>,
        /// The fault has no stop command: only its processes can outlive the run.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        no_stop: bool,
    },
}

/// A dead run's exec fault whose stop command cannot be found again.
pub const EXEC_LEFT: &str = "left in place by a dead run: run its stop command by hand";
/// A dead run's exec fault whose start ran, as a run's own clean-up reports it (it never runs a
/// dead run's command: nobody was asked).
pub const EXEC_STOP_PENDING: &str = "its start command ran and its stop did not: `skyload faults clear` shows the stop command and runs it with --yes";
/// A dead run's exec fault whose start command may not have run.
pub const DIED_STARTING: &str = "left alone: the run died before or while its start command ran, so whether it took effect is unknown; check, then `skyload faults clear --stop-unconfirmed --yes` runs its stop command, or `skyload faults clear --dismiss` drops the entry without running anything";
/// A dead run's exec fault whose processes could not all be ended (or shown to be its own).
pub const PROCESSES_LEFT: &str = "kept: processes of its commands may still be running (above); end them by hand, then run `skyload faults clear` again";

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Leftover::Toxic { api, proxy, name } => write!(f, "toxic `{name}` on proxy `{proxy}` at {api}"),
            Leftover::Gateway { base, method, path } => write!(f, "gateway fault at {base} (undone by {method} {path})"),
            Leftover::Exec { name, started, pid, no_stop: true, .. } => write!(f, "exec fault `{name}` (started {started} by run pid {pid}; it has no stop command)"),
            Leftover::Exec { name, started, pid, stop, .. } => {
                write!(f, "exec fault `{name}` (started {started} by run pid {pid}")?;
                if let Some(r) = stop {
                    write!(f, " from scenario {}", r.scenario)?;
                }
                write!(f, "; its stop command has not run)")
            }
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
            // The `StopRef` holds paths, variable names and a keyed digest: nothing to redact.
            Leftover::Exec { name, started, pid, stop, no_stop } => {
                Leftover::Exec { name: r(name), started: started.clone(), pid: *pid, stop: stop.clone(), no_stop: *no_stop }
            }
        }
    }
}

/// How far a journalled fault had got when its entry was last written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Written before the apply call: whether it took effect is not known yet (an entry with no
    /// state reads so too).
    #[default]
    Applying,
    /// The toxic's name was taken (HTTP 409): it existed before the run, which is checking
    /// whether it may take it over. Not the run's until the take-over is confirmed.
    Checking,
    /// The apply call (or the take-over's update) went out and no answer came: it may have taken
    /// effect, so it is removed by name (a 404 counts as removed).
    AnswerLost,
    /// The API confirmed it (or the start command ran).
    Applied,
    /// An earlier run's leftover of the same type and stream, confirmed taken over.
    TakenOver,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Applying => "applying",
            Stage::Checking => "checking a toxic that was already there",
            Stage::AnswerLost => "apply answer lost",
            Stage::Applied => "applied",
            Stage::TakenOver => "taken over",
        }
    }
}

/// One journalled fault and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(flatten)]
    pub fault: Leftover,
    #[serde(default)]
    pub state: Stage,
    /// An exec fault's commands' process groups, each written as soon as it was spawned: what a
    /// dead run may have left running (`group`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
}

/// What a later process does with a dead run's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleanup {
    /// Undo it by name (a 404 counts as removed).
    Undo,
    /// Report it and leave it: undoing could delete or revert what someone else made.
    LeaveAlone(&'static str),
    /// An exec fault whose stop command cannot be found again: only a person can undo it.
    Report,
    /// An exec fault whose start ran: its stop command may be run, shown first and on the
    /// person's yes (`skyload faults clear`); a run's own clean-up only reports it.
    RunStop,
    /// An exec fault with no stop command whose processes are gone: nothing is left to undo.
    EndOnly,
    /// An exec fault whose start may not have run, dropped on the person's `--dismiss`.
    Dismiss,
    /// An exec fault with processes still running that could not be ended: kept.
    ProcessesLeft,
}

/// A dead run's entry whose apply it never saw answered: the toxic may have been there before it.
pub const DIED_APPLYING: &str = "left alone: the run died before it knew whether it created it; check by hand";
/// A dead run's entry for a toxic that already existed (409) and was being checked.
pub const DIED_CHECKING: &str =
    "left alone: it was already there when the run applied its fault (HTTP 409), and the run died while checking whether it could take it over; it may be someone else's: check by hand";

/// The decision for one entry of a dead run. Undone: what the run confirmed it applied or took
/// over, and what it sent and never got an answer for (it may have taken effect; the run itself
/// removes such a fault at once, and this is the retry of that removal). Left alone: an entry
/// written before the outcome was known — the call may never have gone out, or been answered 409
/// for a toxic someone else made — and one for a toxic found already there.
///
/// An exec fault is undone by its stop command. When its start ran (`applied`, written once the
/// start command returned, whatever its exit: a failed start may have half-worked, and the run
/// itself runs the stop then too), the stop may be run. When the run died before or while its start
/// ran (`applying`), the start may not have run, or may still be running (a killed run's command
/// is not killed with it): a stop run then could act on a system the drill never touched —
/// restart what someone else scaled, delete a rule someone else added, or race the start. It is
/// left alone unless the person says so (`stop_unconfirmed`, `faults clear --stop-unconfirmed`).
/// Either way the command is shown and needs a yes. One whose stop cannot be found again is reported.
pub fn cleanup(fault: &Leftover, state: Stage, stop_unconfirmed: bool) -> Cleanup {
    exec_cleanup(fault, state, false, ExecFlags { stop_unconfirmed, dismiss: false })
}

/// What `skyload faults clear` may do with a dead run's exec entry beyond running an applied
/// fault's stop command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecFlags {
    /// `--stop-unconfirmed`: run the stop of an entry whose start may not have run.
    pub stop_unconfirmed: bool,
    /// `--dismiss`: drop such an entry without running anything.
    pub dismiss: bool,
}

/// `cleanup`, knowing whether processes of the entry's commands are still running after `clear`
/// tried to end them (`processes_left`: some could not be ended, or shown to be the run's). Those
/// come first: nothing is run or dropped while they may still act. An exec fault with no stop
/// command has nothing more to undo once its processes are gone. One whose start may not have run
/// (`applying`) has its stop run on `--stop-unconfirmed`, is dropped on `--dismiss` (the person
/// checked), and is otherwise left alone, kept, with both commands named.
pub fn exec_cleanup(fault: &Leftover, state: Stage, processes_left: bool, flags: ExecFlags) -> Cleanup {
    match (fault, state) {
        (Leftover::Exec { .. }, _) if processes_left => Cleanup::ProcessesLeft,
        (Leftover::Exec { no_stop: true, .. }, _) => Cleanup::EndOnly,
        (Leftover::Exec { stop: None, .. }, _) => Cleanup::Report,
        (Leftover::Exec { .. }, Stage::Applying) if flags.stop_unconfirmed => Cleanup::RunStop,
        (Leftover::Exec { .. }, Stage::Applying) if flags.dismiss => Cleanup::Dismiss,
        (Leftover::Exec { .. }, Stage::Applying) => Cleanup::LeaveAlone(DIED_STARTING),
        (Leftover::Exec { .. }, _) => Cleanup::RunStop,
        (_, Stage::Applied | Stage::TakenOver | Stage::AnswerLost) => Cleanup::Undo,
        (_, Stage::Applying) => Cleanup::LeaveAlone(DIED_APPLYING),
        (_, Stage::Checking) => Cleanup::LeaveAlone(DIED_CHECKING),
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RunJournal {
    pid: u32,
    /// When the run started: a process holding its pid later is not the run (absent in journals
    /// of an older skyload: then any process with the pid is taken for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run: Option<group::Born>,
    faults: Vec<Entry>,
}

/// This process's entries (a process runs at most one timeline at a time, but its tasks overlap).
static MINE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

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
    /// How far it got (`applying` until the apply call's outcome is known).
    #[serde(default)]
    pub state: Stage,
}

/// Starts the Results copy for a run writing to `dir` (an earlier run's entries are not carried over).
pub fn copy_into(dir: &std::path::Path) {
    let mut c = RESULTS_COPY.lock().unwrap_or_else(|e| e.into_inner());
    *c = Some((dir.to_path_buf(), Vec::new()));
}

fn update_copy(l: &Leftover, in_place: bool, state: Stage) {
    let mut c = RESULTS_COPY.lock().unwrap_or_else(|e| e.into_inner());
    let Some((dir, entries)) = c.as_mut() else { return };
    match entries.iter_mut().find(|e| e.fault == *l) {
        Some(e) => {
            e.in_place = in_place;
            e.state = state;
        }
        None => entries.push(CopyEntry { fault: l.clone(), in_place, state }),
    }
    #[derive(Serialize)]
    struct Copy {
        about: &'static str,
        faults: Vec<CopyEntry>,
    }
    let shown: Vec<CopyEntry> = entries.iter().map(|e| CopyEntry { fault: e.fault.redacted(), ..e.clone() }).collect();
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

/// Notes that `l` may be in place, at `state`. Failing to write the journal is reported, never
/// fatal: the lease still protects skyload servers.
pub fn record(l: Leftover, state: Stage) {
    let mut mine = MINE.lock().unwrap_or_else(|e| e.into_inner());
    match mine.iter_mut().find(|e| e.fault == l) {
        Some(e) => e.state = state,
        None => mine.push(Entry { fault: l.clone(), state, groups: Vec::new() }),
    }
    save(&mine);
    update_copy(&l, true, state);
}

/// Moves `l` on to `state` if this process journals it (a call made outside a timeline is not).
pub fn advance(l: &Leftover, state: Stage) {
    let known = MINE.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|e| e.fault == *l);
    if known {
        record(l.clone(), state);
    }
}

/// Notes the process group this run's exec fault `name` just spawned (its start or stop command),
/// replacing the one of the same role: a run killed from here on leaves a group `faults clear`
/// can find. A fault this process does not journal is skipped.
pub fn note_group(name: &str, g: &Group) {
    let mut mine = MINE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(e) = mine.iter_mut().find(|e| matches!(&e.fault, Leftover::Exec { name: n, .. } if n == name)) else { return };
    e.groups.retain(|x| x.role != g.role);
    e.groups.push(g.clone());
    save(&mine);
}

/// Notes that `l` was removed (or never applied).
pub fn forget(l: &Leftover) {
    let mut mine = MINE.lock().unwrap_or_else(|e| e.into_inner());
    let state = mine.iter().find(|e| e.fault == *l).map_or(Stage::default(), |e| e.state);
    mine.retain(|x| x.fault != *l);
    save(&mine);
    update_copy(l, false, state);
}

fn save(entries: &[Entry]) {
    let Some(dir) = journal_dir() else { return };
    let path = dir.join(format!("{}.json", std::process::id()));
    if entries.is_empty() {
        let _ = std::fs::remove_file(&path);
        return;
    }
    let j = RunJournal { pid: std::process::id(), run: group::born(std::process::id()), faults: entries.to_vec() };
    let text = serde_json::to_vec_pretty(&j).expect("journal serializes");
    let r = std::fs::create_dir_all(&dir).and_then(|()| crate::record::outdir::write_atomic(&path, &text));
    if let Err(e) = r {
        tracing::warn!("cannot write the fault journal {}: {e}; a leftover after a crash would not be found", path.display());
    }
}

/// Whether process `pid`, started at `born` when the journal says so, still runs (a journal of a
/// live run is not a leftover). A process with that pid and another start time is not the run:
/// the run died and its pid was reused, and its leftovers would otherwise never be cleared.
fn alive(pid: u32, born: Option<&group::Born>) -> bool {
    if pid == std::process::id() {
        // Our own pid in an old file: a dead process had it before us.
        return false;
    }
    // Killed and not yet reaped (its parent is still there): dead all the same.
    if group::zombie(pid) {
        return false;
    }
    if let (Some(was), Some(now)) = (born, group::born(pid)) {
        return *was == now;
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
    /// When the run started, if its journal says.
    pub run: Option<group::Born>,
    pub faults: Vec<Entry>,
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
            Ok(j) => out.push(Found { running: alive(j.pid, j.run.as_ref()), pid: j.pid, run: j.run, faults: j.faults, file }),
            Err(e) => tracing::warn!("skipping fault journal {}: {e}", file.display()),
        }
    }
    out.sort_by_key(|f| f.pid);
    out
}

/// One line of a clean-up; `left`: something may still be in place, or an entry was only
/// reported (`skyload faults clear` exits 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub left: bool,
}

/// What a clean-up may do beyond deleting toxics and gateway faults by name.
pub struct ClearOptions<'a> {
    /// Drop reported entries from the journal: `skyload faults clear`, a person asking, has been
    /// told (a run's automatic clearing only reports them, and keeps them).
    pub forget_reported: bool,
    /// Consent to run dead runs' exec stop commands; None (a run's own clean-up): reported only.
    pub exec: Option<ExecConsent<'a>>,
}

/// How the person running `skyload faults clear` agrees to a stop command.
pub struct ExecConsent<'a> {
    /// Also run the stop of an entry whose start may not have run (`--stop-unconfirmed`).
    pub stop_unconfirmed: bool,
    /// Drop an entry whose start may not have run, running nothing (`--dismiss`).
    pub dismiss: bool,
    /// Shown what would run (redacted) and where; true runs it (`--yes`, or a yes on a terminal).
    pub confirm: &'a mut dyn FnMut(&str) -> bool,
}

/// Removes what dead runs left, as `cleanup` decides; one line per fault, saying what was done.
/// Faults that could not be removed stay in their journal for the next attempt. Entries only
/// reported are kept unless `forget_reported`; an exec entry the person can still act on (set a
/// variable, say yes, pass `--stop-unconfirmed` or `--dismiss`) is kept either way.
///
/// With consent (`skyload faults clear`), an exec entry's process groups still running are ended
/// first (`group::end`: only a group shown to be the run's); a run's own clean-up only reports them.
pub async fn clear(ep: &Endpoints, mut opts: ClearOptions<'_>) -> Vec<Line> {
    let mut lines = Vec::new();
    let dropped = " (dropped from the journal; faults.state.json of its Results keeps it)";
    let flags = opts.exec.as_ref().map_or(ExecFlags::default(), |c| ExecFlags { stop_unconfirmed: c.stop_unconfirmed, dismiss: c.dismiss });
    for found in list().into_iter().filter(|f| !f.running) {
        let pid = found.pid;
        let mut left: Vec<Entry> = Vec::new();
        for (i, e) in found.faults.iter().enumerate() {
            let l = &e.fault;
            // What the processes of an exec entry are now (ended, when the person asked).
            let mut notes = Vec::new();
            let mut processes_left = false;
            if matches!(l, Leftover::Exec { .. }) {
                for g in &e.groups {
                    if opts.exec.is_some() {
                        let ended = group::end_async(g.clone(), group::GRACE).await;
                        processes_left |= !ended.gone();
                        notes.push(ended.describe(g));
                    } else {
                        processes_left |= group::status(g) != group::Status::Gone;
                        notes.push(group::report(g));
                    }
                }
                if e.state == Stage::Applying && !e.groups.iter().any(|g| g.role == group::Role::Start) {
                    notes.push("no process of its start command was recorded (the run died before starting it, or an older skyload wrote the entry)".into());
                }
            }
            let notes = if notes.is_empty() { String::new() } else { format!("; {}", notes.join("; ")) };
            let (text, keep) = match (exec_cleanup(l, e.state, processes_left, flags), l, opts.exec.as_mut()) {
                (Cleanup::Undo, ..) => match undo(l, ep).await {
                    Ok(()) => {
                        lines.push(Line { text: format!("removed leftover {l} (from run pid {pid}, which did not finish)"), left: false });
                        continue;
                    }
                    Err(err) => (format!("could not remove leftover {l} (from run pid {pid}): {err}"), true),
                },
                (Cleanup::Report, ..) => (format!("not undone: {l} (from run pid {pid}): {EXEC_LEFT}{notes}"), !opts.forget_reported),
                (Cleanup::EndOnly, _, Some(_)) => {
                    let how = if notes.is_empty() { "; no process of it was recorded".to_string() } else { notes };
                    lines.push(Line { text: format!("removed leftover {l} (from run pid {pid}, which did not finish): nothing to undo but its processes{how}"), left: false });
                    continue;
                }
                (Cleanup::EndOnly, ..) => (format!("not undone: {l} (from run pid {pid}){notes}"), true),
                (Cleanup::ProcessesLeft, ..) => (format!("not undone: {l} (from run pid {pid}){notes}; {PROCESSES_LEFT}"), true),
                (Cleanup::Dismiss, ..) => {
                    lines.push(Line {
                        text: format!("dismissed {l} (from run pid {pid}){notes}; dropped from the journal on --dismiss, its stop command not run"),
                        left: false,
                    });
                    continue;
                }
                // `--stop-unconfirmed` or `--dismiss` can still act on it: kept for that.
                (Cleanup::LeaveAlone(why), Leftover::Exec { .. }, _) => (format!("not undone: {l} (from run pid {pid}): {why}{notes}"), true),
                (Cleanup::LeaveAlone(why), ..) => (format!("not undone: {l} (from run pid {pid}): {why}"), !opts.forget_reported),
                (Cleanup::RunStop, Leftover::Exec { name, started, stop: Some(r), .. }, Some(consent)) => {
                    // The stop command's group is journalled with the entry as soon as it is
                    // spawned: a `clear` killed while it runs leaves it for the next one.
                    let mut note = |g: &Group| {
                        let mut cur = e.clone();
                        cur.groups.retain(|x| x.role != g.role);
                        cur.groups.push(g.clone());
                        let now: Vec<Entry> = left.iter().cloned().chain(std::iter::once(cur)).chain(found.faults[i + 1..].iter().cloned()).collect();
                        let _ = write_journal(&found.file, pid, found.run.clone(), now);
                    };
                    match run_stop(name, r, consent, &mut note).await {
                        Ok(ran) => {
                            lines.push(Line {
                                text: format!("removed leftover exec fault `{name}` (started {started} by run pid {pid}, which did not finish){notes}: {ran}"),
                                left: false,
                            });
                            continue;
                        }
                        Err((why, keep)) => (format!("not undone: {l} (from run pid {pid}){notes}: {why}"), keep),
                    }
                }
                (Cleanup::RunStop, ..) => (format!("not undone: {l} (from run pid {pid}): {EXEC_STOP_PENDING}{notes}"), true),
            };
            let after = if keep || !opts.forget_reported { "" } else { dropped };
            lines.push(Line { text: format!("{text}{after}"), left: true });
            if keep {
                // Its groups are ended or gone now, unless `ProcessesLeft`: kept as they are,
                // as `clear` judges each again (a gone one costs a look at /proc).
                left.push(e.clone());
            }
        }
        if let Err(e) = write_journal(&found.file, pid, found.run.clone(), left) {
            lines.push(Line { text: format!("cannot update the fault journal {}: {e}", found.file.display()), left: true });
        }
    }
    lines
}

/// Writes a dead run's journal as `faults` (removes the file when none is left).
fn write_journal(file: &std::path::Path, pid: u32, run: Option<group::Born>, faults: Vec<Entry>) -> std::io::Result<()> {
    if faults.is_empty() {
        return match std::fs::remove_file(file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            r => r,
        };
    }
    let text = serde_json::to_vec_pretty(&RunJournal { pid, run, faults }).expect("journal serializes");
    crate::record::outdir::write_atomic(file, &text)
}

/// Output of a failed stop command kept in its line.
const SHOW_OUTPUT: usize = 2000;

/// Finds exec fault `name`'s stop command again, checks it (`exec_undo::prepare`), asks, and runs
/// it in the run's directory with this process's environment. Ok: what ran (exit 0). Err: why not,
/// and whether the entry stays in the journal.
async fn run_stop(name: &str, r: &StopRef, consent: &mut ExecConsent<'_>, on_spawn: &mut (dyn FnMut(&Group) + Send)) -> Result<String, (String, bool)> {
    let ready = super::exec_undo::prepare(name, r).map_err(|no| (no.explain(r), no.keeps()))?;
    let shown = crate::record::redact::command(&ready.command);
    let what = format!("stop command `{shown}` (exec fault `{name}` of {}) in {}", r.scenario, r.cwd);
    if !(consent.confirm)(&what) {
        return Err((format!("not run: {what}; pass --yes to run it"), true));
    }
    let done = super::exec::run_in(&ready.command, ready.timeout, Some(&ready.cwd), group::Role::Stop, on_spawn, None).await;
    match done.error {
        None => Ok(format!("ran its {what}: exit 0")),
        Some(e) => {
            let out = match done.output.map(|o| crate::record::redact::command(o.trim())) {
                Some(mut o) if !o.is_empty() => {
                    if o.len() > SHOW_OUTPUT {
                        let cut = (0..=SHOW_OUTPUT).rev().find(|i| o.is_char_boundary(*i)).unwrap_or(0);
                        o.truncate(cut);
                        o.push('…');
                    }
                    format!("; its output: {o}")
                }
                _ => String::new(),
            };
            Err((format!("its stop command ran and failed: {}{out}", crate::record::redact::command(&e)), true))
        }
    }
}

/// `clear` from synchronous code (the `run` and `faults` commands), on a small runtime of its own.
pub fn clear_blocking(ep: &Endpoints, opts: ClearOptions<'_>) -> Vec<Line> {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt.block_on(clear(ep, opts)),
        Err(e) => vec![Line { text: format!("cannot look for leftover faults: {e}"), left: true }],
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
            run: None,
            faults: vec![
                Entry { fault: toxic(), state: Stage::Checking, groups: Vec::new() },
                Entry { fault: gateway(), state: Stage::Applied, groups: Vec::new() },
                Entry { fault: exec(), state: Stage::Applied, groups: Vec::new() },
            ],
        };
        let text = serde_json::to_string(&j).unwrap();
        assert!(text.contains("\"kind\":\"toxic\""), "{text}");
        assert!(text.contains("\"name\":\"slow\",\"state\":\"checking\""), "{text}");
        let back: RunJournal = serde_json::from_str(&text).unwrap();
        assert_eq!(back.faults, j.faults);
        // An exec entry names the fault, never its commands.
        assert!(text.contains("\"kind\":\"exec\",\"name\":\"drain\""), "{text}");
        assert_eq!(j.faults[2].fault.to_string(), "exec fault `drain` (started 2026-01-02T03:04:05Z by run pid 7; its stop command has not run)");
        // An entry with no state says nothing of its outcome: it reads as `applying`.
        let old: RunJournal = serde_json::from_str(r#"{"pid":7,"faults":[{"kind":"toxic","api":"127.0.0.1:8474","proxy":"api","name":"slow"}]}"#).unwrap();
        assert_eq!(old.faults, vec![Entry { fault: toxic(), state: Stage::Applying, groups: Vec::new() }]);
    }

    fn toxic() -> Leftover {
        Leftover::Toxic { api: "127.0.0.1:8474".into(), proxy: "api".into(), name: "slow".into() }
    }
    fn gateway() -> Leftover {
        Leftover::Gateway { base: "http://127.0.0.1:1".into(), method: "DELETE".into(), path: "/_control/pods/p/latency".into() }
    }
    fn exec() -> Leftover {
        Leftover::Exec { name: "drain".into(), started: "2026-01-02T03:04:05Z".into(), pid: 7, stop: None, no_stop: false }
    }

    /// A run killed while checking a 409 left an entry naming a toxic it had not created, and the
    /// next clean-up deleted someone else's toxic. Only what the run confirmed, or sent without
    /// hearing back, is undone by a later process.
    #[test]
    fn a_dead_runs_entry_is_undone_only_when_the_run_confirmed_or_sent_it() {
        let all = [Stage::Applying, Stage::Checking, Stage::AnswerLost, Stage::Applied, Stage::TakenOver];
        for l in [toxic(), gateway()] {
            assert_eq!(cleanup(&l, Stage::Applied, false), Cleanup::Undo, "{l}");
            assert_eq!(cleanup(&l, Stage::TakenOver, false), Cleanup::Undo, "{l}");
            // The apply went out and its answer was lost: delete by name, as the run itself does.
            assert_eq!(cleanup(&l, Stage::AnswerLost, false), Cleanup::Undo, "{l}");
            // Died before the answer: the call may never have gone out, or met someone else's toxic.
            assert_eq!(cleanup(&l, Stage::Applying, false), Cleanup::LeaveAlone(DIED_APPLYING), "{l}");
            // `--stop-unconfirmed` is about exec stop commands; a toxic stays left alone.
            assert_eq!(cleanup(&l, Stage::Applying, true), Cleanup::LeaveAlone(DIED_APPLYING), "{l}");
        }
        // Found already there (409), not yet taken over: someone else's, perhaps.
        assert_eq!(cleanup(&toxic(), Stage::Checking, true), Cleanup::LeaveAlone(DIED_CHECKING));
        // An exec fault whose stop cannot be found again is reported whatever its stage.
        for s in all {
            for unconfirmed in [false, true] {
                assert_eq!(cleanup(&exec(), s, unconfirmed), Cleanup::Report, "{s:?}");
            }
        }
        assert!(DIED_APPLYING.contains("check by hand") && DIED_CHECKING.contains("check by hand"));
    }

    fn exec_found_again() -> Leftover {
        let stop = StopRef { scenario: "/s/d.toml".into(), scenario_hmac: "00".into(), cwd: "/w".into(), env: vec!["NS".into()] };
        Leftover::Exec { name: "drain".into(), started: "2026-01-02T03:04:05Z".into(), pid: 7, stop: Some(stop), no_stop: false }
    }

    /// A dead run's exec stop command may be run (shown, on a yes) only when its start is known to
    /// have run; a run that died before or while starting it is left alone unless the person
    /// passes `--stop-unconfirmed`: its stop could act on a system the drill never touched.
    #[test]
    fn a_dead_runs_exec_stop_runs_only_when_its_start_ran_or_the_person_says_so() {
        let l = exec_found_again();
        assert_eq!(cleanup(&l, Stage::Applied, false), Cleanup::RunStop);
        assert_eq!(cleanup(&l, Stage::Applying, false), Cleanup::LeaveAlone(DIED_STARTING));
        assert_eq!(cleanup(&l, Stage::Applying, true), Cleanup::RunStop);
        assert!(DIED_STARTING.contains("--stop-unconfirmed --yes") && DIED_STARTING.contains("--dismiss"), "{DIED_STARTING}");
        // The reference round-trips; an old entry without one reads as None (reported).
        let j = RunJournal { pid: 7, run: None, faults: vec![Entry { fault: l.clone(), state: Stage::Applied, groups: Vec::new() }] };
        let text = serde_json::to_string(&j).unwrap();
        assert!(text.contains("\"env\":[\"NS\"]") && text.contains("\"cwd\":\"/w\""), "{text}");
        assert_eq!(serde_json::from_str::<RunJournal>(&text).unwrap().faults[0].fault, l);
        let old: RunJournal = serde_json::from_str(r#"{"pid":7,"faults":[{"kind":"exec","name":"drain","started":"x","pid":7,"state":"applied"}]}"#).unwrap();
        assert_eq!(cleanup(&old.faults[0].fault, Stage::Applied, true), Cleanup::Report);
    }

    /// What `faults clear` does with a dead run's exec entry once it has tried to end its
    /// processes: nothing is run or dropped while some may still act; an `applying` entry has one
    /// flag to run its stop and one to drop it; a fault with no stop command is done once its
    /// processes are.
    #[test]
    fn a_dead_runs_exec_entry_per_state_processes_and_flags() {
        let l = exec_found_again();
        let none = ExecFlags::default();
        let run = ExecFlags { stop_unconfirmed: true, dismiss: false };
        let dismiss = ExecFlags { stop_unconfirmed: false, dismiss: true };
        for s in [Stage::Applying, Stage::Applied] {
            for f in [none, run, dismiss] {
                assert_eq!(exec_cleanup(&l, s, true, f), Cleanup::ProcessesLeft, "{s:?} {f:?}");
            }
        }
        assert_eq!(exec_cleanup(&l, Stage::Applying, false, none), Cleanup::LeaveAlone(DIED_STARTING));
        assert_eq!(exec_cleanup(&l, Stage::Applying, false, run), Cleanup::RunStop);
        assert_eq!(exec_cleanup(&l, Stage::Applying, false, dismiss), Cleanup::Dismiss);
        // `--dismiss` is for entries whose start may not have run; an applied one's stop is offered.
        assert_eq!(exec_cleanup(&l, Stage::Applied, false, dismiss), Cleanup::RunStop);
        let Leftover::Exec { name, started, pid, .. } = exec_found_again() else { unreachable!() };
        let bare = Leftover::Exec { name, started, pid, stop: None, no_stop: true };
        assert_eq!(bare.to_string(), "exec fault `drain` (started 2026-01-02T03:04:05Z by run pid 7; it has no stop command)");
        for s in [Stage::Applying, Stage::Applied] {
            assert_eq!(exec_cleanup(&bare, s, false, none), Cleanup::EndOnly);
            assert_eq!(exec_cleanup(&bare, s, true, none), Cleanup::ProcessesLeft);
        }
        // The display names the scenario file a stop command is found in.
        assert!(l.to_string().contains("from scenario /s/d.toml"), "{l}");
        // A toxic is never affected by the exec flags or processes.
        assert_eq!(exec_cleanup(&toxic(), Stage::Applying, true, dismiss), Cleanup::LeaveAlone(DIED_APPLYING));
    }

    /// The groups round-trip with their entry; an entry without any (an older skyload) reads so.
    #[test]
    fn an_entrys_process_groups_round_trip() {
        let g = Group { role: group::Role::Start, pgid: 42, start_ticks: 9, boot_id: "b".into(), token: "t".into() };
        let e = Entry { fault: exec_found_again(), state: Stage::Applying, groups: vec![g] };
        let text = serde_json::to_string(&RunJournal { pid: 7, run: None, faults: vec![e.clone()] }).unwrap();
        assert!(text.contains("\"groups\":[{\"role\":\"start\",\"pgid\":42,\"start_ticks\":9"), "{text}");
        assert!(!text.contains("no_stop"), "{text}");
        assert_eq!(serde_json::from_str::<RunJournal>(&text).unwrap().faults, vec![e]);
    }

    #[test]
    fn own_pid_in_an_old_file_is_a_leftover_and_pid_1_is_alive() {
        assert!(!alive(std::process::id(), None));
        assert!(alive(1, None));
        assert!(!alive(u32::MAX, None));
        // A journal that says when its run started: pid 1 with another start time is not it.
        let init = group::born(1).expect("/proc/1/stat");
        assert!(alive(1, Some(&init)));
        assert!(!alive(1, Some(&group::Born { start_ticks: init.start_ticks + 1, ..init.clone() })));
        assert!(!alive(1, Some(&group::Born { boot_id: "another boot".into(), ..init })));
    }
}
