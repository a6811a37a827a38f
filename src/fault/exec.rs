//! The `exec` backend: a shell command with a timeout, its output kept for the Results. A command
//! that fails (non-zero exit, timeout) is a fault that could not be applied or removed.
//!
//! Each command runs as the leader of its own process group (`group`), told to the caller as soon
//! as it is spawned so the journal can name it: a timeout, or the run stopping, ends the whole
//! group (killing only `sh` left what it had started running), and a run that dies leaves a group
//! `skyload faults clear` can find and end.

use super::backend::StepResult;
use super::group::{self, Group, Role};
use std::process::Stdio;
use std::time::Duration;
use tokio::sync::watch;

/// Output kept per command, so a chatty command cannot bloat the Results.
const KEEP: usize = 16 * 1024;

/// Runs this run's command for exec fault `name`, its group journalled with the fault's entry.
/// `cancel` (the run stopping) ends a command still running, as its timeout does.
pub async fn run(name: &str, role: Role, command: &str, timeout: Duration, cancel: Option<watch::Receiver<bool>>) -> StepResult {
    let mut note = |g: &Group| super::journal::note_group(name, g);
    run_in(command, timeout, None, role, &mut note, cancel).await
}

/// Why a command that had not finished was ended.
enum Cut {
    Timeout,
    Cancelled,
}

/// `run` in directory `cwd` (None: this process's), telling `on_spawn` its group: `skyload
/// faults clear` runs a dead run's stop command where that run ran it, journalled with that run's
/// entry. When the command returns, what it left in its group is ended too, except for a start
/// command's: a start may leave a process holding its fault for the window (`stress-ng ... &`),
/// which the caller ends when the fault is removed (`StepResult::group`).
pub async fn run_in(
    command: &str,
    timeout: Duration,
    cwd: Option<&std::path::Path>,
    role: Role,
    on_spawn: &mut (dyn FnMut(&Group) + Send),
    cancel: Option<watch::Receiver<bool>>,
) -> StepResult {
    let mut cmd = tokio::process::Command::new("sh");
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let token = group::new_token();
    let child = cmd
        .arg("-c")
        .arg(command)
        .env(group::TOKEN_VAR, &token)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => return StepResult { error: Some(format!("cannot start `{command}`: {e}")), output: None, ..StepResult::default() },
    };
    let grp = child.id().and_then(|pid| group::of_child(role, pid, token));
    if let Some(g) = &grp {
        group::track(g);
        on_spawn(g);
    }
    let cancelled = async move {
        match cancel {
            Some(mut c) => {
                while !*c.borrow() {
                    if c.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            }
            None => std::future::pending().await,
        }
    };
    let done = tokio::select! {
        r = tokio::time::timeout(timeout, child.wait_with_output()) => r.map_err(|_| Cut::Timeout),
        () = cancelled => Err(Cut::Cancelled),
    };
    // What the command left running: a stop's (or a cut command's) is ended now; a finished
    // start's stays with its fault.
    let ended = match (&grp, &done) {
        (Some(g), Ok(_)) if role == Role::Start => {
            if group::status(g) == group::Status::Gone {
                group::untrack(g);
            }
            None
        }
        (Some(g), _) => {
            let e = group::end_async(g.clone(), group::GRACE).await;
            if e.gone() {
                group::untrack(g);
            }
            Some(e)
        }
        (None, _) => None,
    };
    let left = |e: &Option<group::Ended>| match (e, &grp) {
        (Some(e @ (group::Ended::Failed(..) | group::Ended::Unconfirmed(_))), Some(g)) => format!("; {}", e.describe(g)),
        _ => String::new(),
    };
    let kept = if role == Role::Start && done.is_ok() { grp.clone() } else { None };
    match done {
        Err(Cut::Timeout) => StepResult {
            error: Some(format!("`{command}` did not finish within {timeout:?} (its process group was ended){}", left(&ended))),
            ..StepResult::default()
        },
        Err(Cut::Cancelled) => StepResult {
            error: Some(format!("`{command}` was still running when the run stopped (its process group was ended){}", left(&ended))),
            ..StepResult::default()
        },
        Ok(Err(e)) => StepResult { error: Some(format!("`{command}`: {e}{}", left(&ended))), group: kept, ..StepResult::default() },
        Ok(Ok(out)) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            if text.len() > KEEP {
                let cut = text.char_indices().map(|(i, _)| i).take_while(|i| *i <= KEEP).last().unwrap_or(0);
                text.truncate(cut);
                text.push_str("\n[output truncated]");
            }
            let failed = (!out.status.success()).then(|| format!("`{command}` exited with {}", out.status));
            let error = match (failed, left(&ended)) {
                (Some(f), l) => Some(format!("{f}{l}")),
                (None, l) if !l.is_empty() => Some(format!("`{command}` exited 0{l}")),
                (None, _) => None,
            };
            StepResult { error, output: Some(text), group: kept, ..StepResult::default() }
        }
    }
}

/// Ends what a finished start command left in its group (the fault is being removed): what was
/// done when something was left (None: nothing was), and whether the group is gone now.
pub async fn end_left(g: &Group) -> (Option<String>, bool) {
    let e = group::end_async(g.clone(), group::GRACE).await;
    if e.gone() {
        group::untrack(g);
    }
    ((!matches!(e, group::Ended::WasGone)).then(|| e.describe(g)), e.gone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Runs `command` as a start, noting its group; `cancel_after`: the run stops then.
    fn start(command: &str, timeout: Duration, cancel_after: Option<Duration>) -> (StepResult, Group) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let seen: Arc<Mutex<Option<Group>>> = Arc::default();
        let s2 = seen.clone();
        let r = rt.block_on(async move {
            let (tx, rx) = watch::channel(false);
            if let Some(d) = cancel_after {
                tokio::spawn(async move {
                    tokio::time::sleep(d).await;
                    let _ = tx.send(true);
                    std::future::pending::<()>().await;
                });
            }
            let mut note = move |g: &Group| *s2.lock().unwrap() = Some(g.clone());
            run_in(command, timeout, None, Role::Start, &mut note, Some(rx)).await
        });
        let g = seen.lock().unwrap().clone().expect("the group was told on spawn");
        (r, g)
    }

    /// A command cut short (its timeout, or the run stopping) had only its shell killed: what the
    /// shell had started kept running. Now its whole group is ended.
    #[test]
    fn a_command_cut_short_has_its_whole_group_ended() {
        let (r, g) = start("sleep 30 & sleep 30", Duration::from_millis(300), None);
        let e = r.error.unwrap();
        assert!(e.contains("did not finish within") && e.contains("its process group was ended"), "{e}");
        assert_eq!(group::status(&g), group::Status::Gone);
        assert!(r.group.is_none());
        let (r, g) = start("sleep 30 & sleep 30", Duration::from_secs(60), Some(Duration::from_millis(300)));
        let e = r.error.unwrap();
        assert!(e.contains("still running when the run stopped"), "{e}");
        assert_eq!(group::status(&g), group::Status::Gone);
    }

    /// A finished start's group is handed back with what it left running, for the fault's
    /// removal to end; the command's environment carries the group's token.
    #[test]
    fn a_finished_start_hands_back_its_group() {
        let (r, g) = start("sleep 30 >/dev/null 2>&1 & echo \"$SKYLOAD_EXEC_GROUP\"", Duration::from_secs(20), None);
        assert_eq!(r.error, None);
        assert_eq!(r.output.as_deref().map(str::trim), Some(g.token.as_str()));
        assert_eq!(r.group.as_ref(), Some(&g));
        assert!(matches!(group::status(&g), group::Status::Running(_)), "{:?}", group::status(&g));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (said, gone) = rt.block_on(end_left(&g));
        assert!(gone && said.is_some_and(|s| s.contains("has been ended")));
        assert_eq!(group::status(&g), group::Status::Gone);
    }
}
