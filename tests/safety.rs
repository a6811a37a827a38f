//! Issue 15: nothing left behind, leaked or overwritten. Each test reproduces a finding: failures
//! that read as success, broken pipes, mixed Results, leaked secrets, missing bounds.

mod common;

use common::*;
use skyload::load::runner::{run, RunSettings, Silent, StopHandle};
use skyload::record::summary::RunStatus;
use std::process::{Command, Stdio};

fn skyload() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_skyload"));
    c.stdin(Stdio::null());
    c
}

fn summary(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// Every generator thread panicking (a connection count the engine cannot allocate) used to give a
/// `completed` run with 0 requests.
#[test]
fn a_panicking_generator_fails_the_run() {
    let server = TestServer::start();
    let out = tempdir();
    let mut plan = constant_plan(server.addr, 50.0, 1.0);
    plan.threads = Some(1);
    plan.connections.max = usize::MAX;
    let r = run(&plan, RunSettings { out_dir: out.path().join("r"), stop: StopHandle::new() }, &mut Silent).unwrap();
    assert_eq!(r.summary.status, RunStatus::Failed);
    let cause = r.summary.failure.as_deref().unwrap_or_default();
    assert!(cause.contains("generator thread 0 panicked") && cause.contains("capacity overflow"), "{cause}");
    // The cause is in the saved summary too.
    assert_eq!(summary(&out.path().join("r"))["status"], "failed");
}

/// Both streams closed by the reader (`| head`, a vanished log collector): the run still ends
/// normally, with its Results.
#[test]
fn broken_pipes_do_not_crash_a_run() {
    let server = TestServer::start();
    let out = tempdir();
    let dir = out.path().join("pipes");
    let mut child = skyload()
        .args(["run", "--url", &server.url(), "--rate", "20", "--duration", "1s", "--out"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(summary(&dir)["status"], "completed");
}
