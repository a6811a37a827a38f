//! The `exec` backend: a shell command with a timeout, its output kept for the Results. A command
//! that fails (non-zero exit, timeout) is a fault that could not be applied or removed.

use super::backend::StepResult;
use std::process::Stdio;
use std::time::Duration;

/// Output kept per command, so a chatty command cannot bloat the Results.
const KEEP: usize = 16 * 1024;

pub async fn run(command: &str, timeout: Duration) -> StepResult {
    run_in(command, timeout, None).await
}

/// `run` in directory `cwd` (None: this process's): `skyload faults clear` runs a dead run's stop
/// command where that run ran it.
pub async fn run_in(command: &str, timeout: Duration, cwd: Option<&std::path::Path>) -> StepResult {
    let mut cmd = tokio::process::Command::new("sh");
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let child = cmd
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => return StepResult { error: Some(format!("cannot start `{command}`: {e}")), output: None, ..StepResult::default() },
    };
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => StepResult { error: Some(format!("`{command}` did not finish within {timeout:?} (killed)")), output: None, ..StepResult::default() },
        Ok(Err(e)) => StepResult { error: Some(format!("`{command}`: {e}")), output: None, ..StepResult::default() },
        Ok(Ok(out)) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            if text.len() > KEEP {
                let cut = text.char_indices().map(|(i, _)| i).take_while(|i| *i <= KEEP).last().unwrap_or(0);
                text.truncate(cut);
                text.push_str("\n[output truncated]");
            }
            let error = (!out.status.success()).then(|| format!("`{command}` exited with {}", out.status));
            StepResult { error, output: Some(text), ..StepResult::default() }
        }
    }
}
