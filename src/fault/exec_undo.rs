//! How `skyload faults clear` finds a dead run's exec stop command again, and when it may run it.
//!
//! The journal never holds a command's text: a stop command may carry a token, and the journal is
//! a file nobody cleans, which people attach to bug reports. Nor a plain hash of it: a short
//! secret in an otherwise known command (or a scenario file from a repository with one value
//! filled in) could be recovered by trying guesses offline. Instead an exec entry keeps a
//! [`StopRef`]: the scenario file's absolute path (the fault is found in it by its name, unique in a
//! scenario), an HMAC-SHA256 of the file's bytes under a random key kept beside the journals
//! (`faults/digest.key`, mode 0600, made once per state directory and never written elsewhere), the
//! directory the run ran its commands in, and the *names* of the environment variables the stop
//! command expands. Without the key the digest says nothing about the file, so the journal (or the
//! Results' copy of it) can travel; with it, `clear`, on the same machine as the same user, can tell
//! whether the file still says what the run had. A changed or missing file, or a missing key, is a
//! refusal: the command skyload would find is not known to be the one the run had.
//!
//! Secrets that live in the environment (`$K8S_TOKEN`) never reach the file or the journal; the
//! stop command runs with `clear`'s own environment, and a variable it names that is not set there
//! is a refusal rather than a command run with an empty value.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Where a dead run's exec stop command is, and what it needs. Strings, not paths: the journal is
/// JSON, and a path that is not UTF-8 gets no `StopRef` (the fault is reported, not undone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRef {
    /// The scenario file, absolute.
    pub scenario: String,
    /// HMAC-SHA256 of the scenario file's bytes under the state directory's journal key, hex.
    pub scenario_hmac: String,
    /// The directory the run ran its commands in (its working directory).
    pub cwd: String,
    /// Environment variables the stop command expands (`$NAME`, `${NAME}`), names only; one with a
    /// shell default (`${NAME:-x}`) is not listed, as it need not be set.
    #[serde(default)]
    pub env: Vec<String>,
}

/// The key file's name inside the journal directory (not `*.json`, so never read as a journal).
const KEY_FILE: &str = "digest.key";
const KEY_LEN: usize = 32;

/// The journal key of `dir`, made (random, mode 0600) when `create` and there is none yet. Two
/// runs making it at once agree: each writes a private temporary file and links it into place;
/// the link fails for the second, which then reads the first's.
fn key(dir: &Path, create: bool) -> Result<ring::hmac::Key, String> {
    let path = dir.join(KEY_FILE);
    if create && !path.exists() {
        use ring::rand::SecureRandom;
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut bytes = [0u8; KEY_LEN];
        ring::rand::SystemRandom::new().fill(&mut bytes).map_err(|_| "no random bytes from the system".to_string())?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let tmp = dir.join(format!("{KEY_FILE}.{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        let written = f.write_all(&bytes).and_then(|()| f.sync_all());
        let linked = written.and_then(|()| match std::fs::hard_link(&tmp, &path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            r => r,
        });
        let _ = std::fs::remove_file(&tmp);
        linked.map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("the journal key {}: {e}", path.display()))?;
    if bytes.len() != KEY_LEN {
        return Err(format!("the journal key {} is {} bytes, not {KEY_LEN}", path.display(), bytes.len()));
    }
    Ok(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &bytes))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The digest a `StopRef` keeps of a scenario file's bytes.
fn digest(key: &ring::hmac::Key, bytes: &[u8]) -> String {
    hex(ring::hmac::sign(key, bytes).as_ref())
}

/// Names of the environment variables a shell command expands, in order of first use: `$NAME`
/// and `${NAME}` outside single quotes and not escaped. `${NAME:-x}` (and `-`, `=`, `:=`, `+`,
/// `:+`) are left out: the shell copes when they are unset. Positional and special parameters
/// (`$1`, `$?`, `$$`) are not variables of the environment.
pub fn shell_vars(command: &str) -> Vec<String> {
    let c: Vec<char> = command.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let (mut i, mut single, mut double) = (0, false, false);
    let name_at = |mut j: usize| {
        let start = j;
        while j < c.len() && (c[j].is_ascii_alphanumeric() || c[j] == '_') && !(j == start && c[j].is_ascii_digit()) {
            j += 1;
        }
        (c[start..j].iter().collect::<String>(), j)
    };
    while i < c.len() {
        match c[i] {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '\\' if !single => i += 1,
            '$' if !single => {
                let braced = c.get(i + 1) == Some(&'{');
                let (name, end) = name_at(i + 1 + usize::from(braced));
                let defaulted = braced && matches!((c.get(end), c.get(end + 1)), (Some('-' | '=' | '+'), _) | (Some(':'), Some('-' | '=' | '+')));
                if !name.is_empty() && !defaulted && !out.contains(&name) {
                    out.push(name);
                }
                i = end.max(i + 1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// This run's `StopRef` per exec fault name, made when its timeline starts.
static ORIGINS: Mutex<Vec<(String, StopRef)>> = Mutex::new(Vec::new());

/// Notes where this run's exec stop commands can be found again: the scenario file (`source`,
/// None for a plan built from flags) as it is now, checked against `faults` (what the run loaded)
/// so a file edited since is never taken for the run's. A fault that cannot be found again is
/// journalled without a `StopRef`, and reported, never run, by `faults clear`.
pub fn record_origins(source: Option<&Path>, faults: &[crate::scenario::FaultPlan]) {
    let mut origins = ORIGINS.lock().unwrap_or_else(|e| e.into_inner());
    origins.clear();
    let stops: Vec<(&str, &str, std::time::Duration)> = faults
        .iter()
        .filter_map(|f| match &f.action {
            crate::scenario::FaultAction::Exec { stop: Some(s), timeout, .. } => Some((f.name.as_str(), s.as_str(), *timeout)),
            _ => None,
        })
        .collect();
    if stops.is_empty() {
        return;
    }
    match origins_of(source, &stops) {
        Ok(found) => *origins = found,
        Err(why) => tracing::warn!("exec faults: `skyload faults clear` will not be able to run their stop commands if this run dies: {why}"),
    }
}

fn origins_of(source: Option<&Path>, stops: &[(&str, &str, std::time::Duration)]) -> Result<Vec<(String, StopRef)>, String> {
    let source = source.ok_or("the scenario was not read from a file")?;
    let dir = super::journal::state_dir().ok_or("no state directory (neither XDG_STATE_HOME nor HOME is set)")?.join("faults");
    let scenario = std::fs::canonicalize(source).map_err(|e| format!("{}: {e}", source.display()))?;
    let bytes = std::fs::read(&scenario).map_err(|e| format!("{}: {e}", scenario.display()))?;
    let text = String::from_utf8(bytes.clone()).map_err(|_| format!("{}: not UTF-8 text", scenario.display()))?;
    let in_file = crate::scenario::exec_stops(&text, &scenario).map_err(|e| e.to_string())?;
    let cwd = std::env::current_dir().map_err(|e| format!("the working directory: {e}"))?;
    let utf8 = |p: &Path| p.to_str().map(str::to_string).ok_or_else(|| format!("{} is not a UTF-8 path", p.display()));
    let (scenario_s, cwd_s) = (utf8(&scenario)?, utf8(&cwd)?);
    let hmac = digest(&key(&dir, true)?, &bytes);
    let mut out = Vec::new();
    for (name, stop, timeout) in stops {
        if !in_file.iter().any(|s| s.name == *name && s.stop == *stop && s.timeout == *timeout) {
            tracing::warn!("exec fault `{name}`: {} no longer has the stop command this run loaded; `skyload faults clear` could not run it", scenario.display());
            continue;
        }
        let r = StopRef { scenario: scenario_s.clone(), scenario_hmac: hmac.clone(), cwd: cwd_s.clone(), env: shell_vars(stop) };
        out.push((name.to_string(), r));
    }
    Ok(out)
}

/// The `StopRef` noted for this run's exec fault `name`.
pub fn origin(name: &str) -> Option<StopRef> {
    ORIGINS.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(n, _)| n == name).map(|(_, r)| r.clone())
}

/// Why a dead run's stop command is not run now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The scenario file cannot be read or parsed, or the journal key is gone.
    Unreadable(String),
    /// The scenario file's bytes differ from the run's (or no longer give the fault a stop command).
    Changed,
    /// The recorded working directory is not a directory any more.
    NoCwd,
    /// Environment variables the command expands that are not set here.
    EnvMissing(Vec<String>),
}

impl Refusal {
    /// Whether the entry stays in the journal: the person can set the variable or make the
    /// directory and run `clear` again. A changed or lost file cannot be put right by skyload; the
    /// entry is dropped after telling, as other entries `clear` only reports.
    pub fn keeps(&self) -> bool {
        matches!(self, Refusal::NoCwd | Refusal::EnvMissing(_))
    }

    pub fn explain(&self, r: &StopRef) -> String {
        match self {
            Refusal::Unreadable(why) => format!("not run: {why}; run its stop command by hand"),
            Refusal::Changed => format!(
                "not run: {} changed since the run, so the stop command in it may not be the one the run had; run it by hand",
                r.scenario
            ),
            Refusal::NoCwd => format!("not run: its working directory {} is gone; recreate it or run the stop command by hand", r.cwd),
            Refusal::EnvMissing(names) => format!(
                "not run: its stop command uses environment variable{} {} not set here; set {} and run `skyload faults clear` again",
                if names.len() == 1 { "" } else { "s" },
                names.join(", "),
                if names.len() == 1 { "it" } else { "them" },
            ),
        }
    }
}

/// The decision, given what was found now: the file's digest as it is (None when the file or key
/// cannot be read; the reason in `unreadable`), whether each named variable is set, whether the
/// directory exists. The file is judged first: when it changed, nothing else about the entry can
/// be trusted.
pub fn refusal(r: &StopRef, now: Result<&str, &str>, is_set: impl Fn(&str) -> bool, cwd_is_dir: bool) -> Option<Refusal> {
    match now {
        Err(why) => return Some(Refusal::Unreadable(why.to_string())),
        Ok(d) if !crate::scenario::secrets::constant_time_eq(d.as_bytes(), r.scenario_hmac.as_bytes()) => return Some(Refusal::Changed),
        Ok(_) => {}
    }
    if !cwd_is_dir {
        return Some(Refusal::NoCwd);
    }
    let missing: Vec<String> = r.env.iter().filter(|n| !is_set(n)).cloned().collect();
    (!missing.is_empty()).then_some(Refusal::EnvMissing(missing))
}

/// A stop command found again and checked, ready for the person's yes.
#[derive(Debug)]
pub struct Ready {
    pub command: String,
    pub timeout: std::time::Duration,
    pub cwd: PathBuf,
}

/// Reads the scenario file and the key, finds exec fault `name`'s stop command, and applies
/// [`refusal`] with this process's environment.
pub fn prepare(name: &str, r: &StopRef) -> Result<Ready, Refusal> {
    let read = || -> Result<(String, String), String> {
        let dir = super::journal::state_dir().ok_or("no state directory (neither XDG_STATE_HOME nor HOME is set)")?.join("faults");
        let bytes = std::fs::read(&r.scenario).map_err(|e| format!("the scenario file {}: {e}", r.scenario))?;
        let key = key(&dir, false)?;
        Ok((digest(&key, &bytes), String::from_utf8_lossy(&bytes).into_owned()))
    };
    let (now, text) = match read() {
        Ok(x) => x,
        Err(why) => return Err(refusal(r, Err(&why), |_| true, true).expect("unreadable is a refusal")),
    };
    let cwd = PathBuf::from(&r.cwd);
    if let Some(no) = refusal(r, Ok(&now), |n| std::env::var_os(n).is_some(), cwd.is_dir()) {
        return Err(no);
    }
    let stops = crate::scenario::exec_stops(&text, Path::new(&r.scenario)).map_err(|e| Refusal::Unreadable(e.to_string()))?;
    let s = stops.into_iter().find(|s| s.name == name).ok_or(Refusal::Changed)?;
    Ok(Ready { command: s.stop, timeout: s.timeout, cwd })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_vars_names_what_the_shell_would_expand_from_the_environment() {
        assert_eq!(shell_vars("kubectl --token \"$K8S_TOKEN\" -n ${NS} rollout restart deploy/x"), ["K8S_TOKEN", "NS"]);
        // Quoted literally, escaped, positional or special: nothing from the environment.
        assert!(shell_vars("echo '$NOT' \\$ALSO $1 $? $$ $").is_empty());
        // A default makes it optional; repeated names are listed once.
        assert_eq!(shell_vars("x ${A:-1} ${B-2} ${C:=3} ${D+4} $E $E ${E}"), ["E"]);
        // Double quotes expand; a name ends at the first other character.
        assert_eq!(shell_vars("\"$HOME/x\" $PATH:$X-y"), ["HOME", "PATH", "X"]);
        // A single quote inside double quotes quotes nothing.
        assert_eq!(shell_vars("echo \"it's $WHO\""), ["WHO"]);
    }

    fn stop_ref() -> StopRef {
        StopRef { scenario: "/s/drill.toml".into(), scenario_hmac: "ab".into(), cwd: "/w".into(), env: vec!["A".into(), "B".into()] }
    }

    /// The file is judged first (a changed file says nothing about its variables), then the
    /// directory, then the variables, all missing ones named at once.
    #[test]
    fn refusal_order_and_what_is_kept() {
        let r = stop_ref();
        assert_eq!(refusal(&r, Ok("ab"), |_| true, true), None);
        assert_eq!(refusal(&r, Ok("ac"), |_| false, false), Some(Refusal::Changed));
        assert_eq!(refusal(&r, Ok("a"), |_| true, true), Some(Refusal::Changed));
        assert_eq!(refusal(&r, Err("gone"), |_| true, true), Some(Refusal::Unreadable("gone".into())));
        assert_eq!(refusal(&r, Ok("ab"), |_| false, false), Some(Refusal::NoCwd));
        assert_eq!(refusal(&r, Ok("ab"), |_| false, true), Some(Refusal::EnvMissing(vec!["A".into(), "B".into()])));
        assert_eq!(refusal(&r, Ok("ab"), |n| n == "A", true), Some(Refusal::EnvMissing(vec!["B".into()])));
        assert!(Refusal::EnvMissing(vec![]).keeps() && Refusal::NoCwd.keeps());
        assert!(!Refusal::Changed.keeps() && !Refusal::Unreadable(String::new()).keeps());
        let said = Refusal::EnvMissing(vec!["B".into()]).explain(&r);
        assert!(said.contains("variable B not set here"), "{said}");
    }

    #[test]
    fn the_digest_depends_on_the_key_and_every_byte() {
        let k1 = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[1; KEY_LEN]);
        let k2 = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[2; KEY_LEN]);
        let d = digest(&k1, b"stop = \"x\"");
        assert_eq!(d.len(), 64);
        assert_eq!(d, digest(&k1, b"stop = \"x\""));
        assert_ne!(d, digest(&k2, b"stop = \"x\""));
        assert_ne!(d, digest(&k1, b"stop = \"y\""));
    }
}
