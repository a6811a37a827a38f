//! The open-loop engine against a local server: exact counts, open-loop truth under a stall, the
//! interval log read back by an HdrHistogram reader, and failures recorded as outcomes.

mod common;

use common::*;
use skyload::load::runner::{run, RunSettings, Silent, StopHandle};
use std::time::{Duration, Instant};

#[test]
fn constant_rate_sends_exactly_the_schedule() {
    let server = TestServer::start();
    let plan = constant_plan(server.addr, 1000.0, 5.0);
    let out = tempdir();
    let r = run(&plan, RunSettings { out_dir: out.path().join("r"), stop: StopHandle::new() }, &mut Silent).unwrap();
    let got = server.received();
    assert!((4950..=5050).contains(&got), "server counted {got}");
    assert_eq!(r.summary.totals.sent, got);
    assert_eq!(r.summary.totals.completed, got);
    assert_eq!(r.summary.totals.dropped, 0);
    assert_eq!(r.summary.totals.outcomes.get("ok"), Some(&got));
    assert_eq!(r.summary.pods.len(), 2);
}
