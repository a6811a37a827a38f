//! The capacity search against the embedded gateway with a function of 2 pods rated 300 rps each
//! (concurrency 3 at a fixed 10 ms service time): the per-pod capacity it reports is within 10% of
//! 300, it finishes well inside 90 seconds, and capacity.json carries every step, the knee and the
//! plan; the boundary is retested, the answer confirmed by holding it, and each step judged over
//! its seconds with the first break named. The service time is fixed (a lognormal one bends latency well before capacity) and the
//! queue is deep, so overload shows as latency against the SLO rather than as 503s.

mod common;

use common::tempdir;
use skyload::commands::capacity::search;
use skyload::verify::capacity::{Phase, Stop, StepVerdict};
use std::path::Path;
use std::time::{Duration, Instant};

#[test]
fn finds_per_pod_capacity_of_two_300_rps_pods() {
    let text = r#"name = "cap"

[target]
embedded = true
timeout = "2s"

[connections]
max = 256

[[stages]]
rate = 100
duration = "1s"

[[requests]]
path = "/fn/hello"

[checks]
run = ["p99 < 100ms", "error_rate < 1%"]

[capacity]
start = 200
factor = 1.5
hold = "4s"
bisect_hold = "3s"
precision = 0.05
retests = 1
confirm = 2
confirm_hold = "3s"
peak_qps = 1000
headroom = 1.3
targets = ["per_pod_qps >= 270"]

[gateway.functions.hello]
pods = 2
concurrency = 3
queue = 1000
service_time = { dist = "fixed", mean = "10ms" }
"#;
    let plan = skyload::scenario::load_str(text, Path::new("cap.toml")).unwrap();
    let out = tempdir();
    let started = Instant::now();
    let mut log = Vec::new();
    let (r, code) = search(&plan, plan.verify.capacity.clone(), out.path(), &mut log).unwrap();
    let took = started.elapsed();
    let log = String::from_utf8(log).unwrap();
    println!("{log}");
    assert!(took < Duration::from_secs(150), "took {took:?}");
    assert_eq!(r.stop, Some(Stop::Converged), "{log}");
    assert_eq!((r.pods, r.pods_from.as_str()), (2, "pod_header"));
    let per_pod = r.per_pod_rps.unwrap();
    assert!((270.0..=330.0).contains(&per_pod), "per pod {per_pod}\n{log}");
    assert_eq!(code, 0, "{:?}", r.targets);
    assert!(r.steps.iter().any(|s| s.phase == Phase::Bisect));
    // The boundary was run again and the answer held twice before it was reported.
    assert!(r.steps.iter().any(|s| s.phase == Phase::Retest), "{log}");
    let holds = r.steps.iter().filter(|s| s.phase == Phase::Confirm && Some(s.rate) == r.max_sustainable_rps && s.verdict == StepVerdict::Pass).count();
    assert_eq!(holds, 2, "{log}");
    assert_eq!(r.unstable_band, None, "{log}");
    // Every step was judged second by second, and every failing one says what broke first.
    for s in &r.steps {
        assert!(s.windows >= 3 && s.windows_passed <= s.windows, "{s:?}");
        assert_eq!(s.verdict == StepVerdict::Fail, s.broke_first.is_some(), "{s:?}");
    }
    let failing = r.steps.iter().find(|s| s.verdict == StepVerdict::Fail).expect("a failing step");
    assert!(failing.broke_first.as_deref().unwrap().starts_with("second "), "{failing:?}");
    assert!(log.contains("broke first: second "), "{log}");
    assert!(r.steps.iter().all(|s| s.verdict != StepVerdict::Inconclusive), "{log}");
    let knee = r.knee_rps.unwrap();
    assert!(knee <= r.max_sustainable_rps.unwrap() * 1.1, "knee {knee}");
    let plan = r.plan.unwrap();
    // 1000 qps × 1.3 / ~300 per pod → 5 pods (4.3 → 5), 4 if the estimate ran high.
    assert!(matches!(plan.pods_needed, Some(4..=5)), "{plan:?}");
    assert!((plan.daily_calls - r.max_sustainable_rps.unwrap() * 86_400.0).abs() < 1.0);
    for s in &r.steps {
        assert!(Path::new(&s.dir).join("summary.json").exists());
    }
}

/// `skyload capacity` keeps the rules `run` keeps, before any step is sent: an existing output
/// directory is never written into silently (and `--force` empties only an earlier search), and
/// its inputs are bounded like a run's, each refusal naming the file, line and field or the flag
/// and what is allowed. Nothing listens at the target: a refusal must come before any load.
#[test]
fn capacity_refuses_a_used_out_dir_and_unbounded_inputs_up_front() {
    let dir = tempdir();
    let scenario = |extra: &str| {
        let p = dir.path().join("cap.toml");
        std::fs::write(&p, format!("name = \"cap\"\n\n[target]\nurl = \"http://127.0.0.1:9\"\n\n[[stages]]\nrate = 10\nduration = \"1s\"\n\n[[requests]]\npath = \"/\"\n\n[checks]\nrun = [\"p99 < 100ms\"]\n{extra}")).unwrap();
        p
    };
    let refused = |args: &[&str]| {
        let o = common::skyload().arg("capacity").args(args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        err
    };

    // An output directory holding the user's file: refused, the file untouched.
    let out = dir.path().join("mine");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "keep me").unwrap();
    let s = scenario("").display().to_string();
    let err = refused(&[&s, "--out", out.to_str().unwrap()]);
    assert!(err.contains("--out") && err.contains("not empty") && err.contains("notes.txt"), "{err}");
    let err = refused(&[&s, "--out", out.to_str().unwrap(), "--force"]);
    assert!(err.contains("which skyload did not write"), "{err}");
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "keep me");

    // An earlier search's directory is recognised as one: --force may empty it, nothing else does.
    let earlier = dir.path().join("earlier");
    std::fs::create_dir_all(earlier.join("step-01-200rps")).unwrap();
    std::fs::write(earlier.join("capacity.json"), common::CAPACITY_JSON).unwrap();
    std::fs::write(earlier.join("step-01-200rps").join("summary.json"), "{}").unwrap();
    assert!(skyload::record::outdir::prepare(&earlier, false).is_err(), "never without --force");
    assert!(earlier.join("capacity.json").exists());
    skyload::record::outdir::prepare(&earlier, true).unwrap();
    assert_eq!(std::fs::read_dir(&earlier).unwrap().count(), 0, "emptied for the new search");

    // Bounds from the scenario name file:line and the field; from a flag, the flag.
    let out2 = dir.path().join("new").display().to_string();
    for (extra, line, field) in [
        ("\n[capacity]\nmax = 1e300\n", 17, "capacity.max"),
        ("\n[capacity]\nconfirm_hold = \"1000h\"\n", 17, "capacity.confirm_hold"),
        ("\n[capacity]\nfactor = 1e9\n", 17, "capacity.factor"),
        ("\n[connections]\nmax = 50000000\n", 17, "connections.max"),
    ] {
        let s = scenario(extra).display().to_string();
        let err = refused(&[&s, "--out", &out2]);
        assert!(err.contains(&format!("cap.toml:{line}")) && err.contains(field) && (err.contains("at most") || err.contains("allowed")), "{extra}: {err}");
    }
    let s = scenario("").display().to_string();
    for (flag, value) in [("--max", "1e300"), ("--start", "1e12"), ("--hold", "1000h"), ("--peak-qps", "1e300"), ("--headroom", "1e9"), ("--pods", "1000000000")] {
        let err = refused(&[&s, "--out", &out2, flag, value]);
        assert!(err.contains(flag) && err.contains("is not allowed"), "{flag} {value}: {err}");
    }
    assert!(!Path::new(&out2).exists(), "nothing was run");
}

/// A capacity step's last sub-window takes the answers that come after the step's schedule, as
/// the last stage of a run does: a stall over a step's last arrivals was answered after it, in
/// no sub-window, so every second kept the SLO. The server holds the last 10 arrivals of the
/// first step (100/s for 4 s, due from 3.9 s) for 1 s each: answered after 4 s for certain. The
/// step as a whole keeps `p95 < 500ms` (10 of 400), its last second (10 of about 100) does not.
#[test]
fn a_stall_at_the_end_of_a_step_fails_its_last_sub_window() {
    let server = common::TestServer::start();
    server.hold_numbered(390, 10, Duration::from_secs(1));
    let text = format!(
        "name = \"tail\"\n[target]\nurl = \"{}\"\ntimeout = \"5s\"\n[[stages]]\nrate = 10\nduration = \"1s\"\n[[requests]]\npath = \"/hello\"\n[checks]\nrun = [\"p95 < 500ms\"]\n",
        server.url()
    );
    let plan = skyload::scenario::load_str(&text, Path::new("tail.toml")).unwrap();
    let mut s = plan.verify.capacity.clone();
    // One step at 100/s; after it fails, a bisection at 50 and 75 (1 s each) ends the search.
    (s.start, s.max, s.hold, s.bisect_hold, s.cooldown) = (100.0, 100.0, Duration::from_secs(4), Duration::from_secs(1), Duration::ZERO);
    (s.window, s.consistency, s.retests, s.confirm, s.precision) = (Duration::from_secs(1), 1.0, 0, 0, 0.99);
    let out = tempdir();
    let mut log = Vec::new();
    let (r, _) = search(&plan, s, out.path(), &mut log).unwrap();
    let log = String::from_utf8(log).unwrap();
    let first = &r.steps[0];
    assert_eq!((first.rate, first.windows), (100.0, 4), "{log}");
    assert!(first.p99_us >= 1_000_000, "the stall was not seen: {first:?}\n{log}");
    assert_eq!(first.verdict, StepVerdict::Fail, "the stall in its last second passed: {log}");
    assert_eq!(first.windows_passed, 3, "{log}");
    assert!(first.broke_first.as_deref().unwrap_or_default().starts_with("second 3: `p95 < 500ms`"), "{first:?}");
}
