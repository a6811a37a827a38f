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
