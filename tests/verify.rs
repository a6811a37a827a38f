//! Checks, abort conditions, JUnit and baseline comparison, end to end against local servers:
//! the binary's exit codes and files, and the library's verdict over saved Results.

mod common;
#[path = "common/verify_server.rs"]
mod verify_server;

use common::tempdir;
use skyload::load::runner::{RunSettings, Silent, StopHandle};
use skyload::session::run;
use skyload::scenario;
use skyload::verify::verdict::evaluate;
use skyload::verify::window::SavedRun;
use std::path::Path;
use std::time::{Duration, Instant};
use verify_server::*;

fn scenario_text(url: &str, rate: u32, secs: u32, extra: &str) -> String {
    format!(
        "name = \"vt\"\npod_header = \"x-pod\"\n\n[target]\nurl = \"{url}\"\ntimeout = \"2s\"\n\n[[stages]]\nname = \"warm\"\nrate = {rate}\nduration = \"1s\"\n\n[[stages]]\nname = \"hold\"\nrate = {rate}\nduration = \"{}s\"\n\n[[requests]]\nname = \"get\"\npath = \"/fn/hello\"\n{extra}",
        secs - 1
    )
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn checks_over_run_stage_request_and_window_from_saved_results() {
    let server = VerifyServer::start(ServerCfg { service: Duration::from_millis(5), fail_every: Some(20), v2_every: Some(10), ..ServerCfg::default() });
    let extra = r#"checks = ["ratio(ok) >= 90%"]

[checks]
run = ["p99 < 500ms", "p50 >= 5ms", "error_rate <= 6%", "error_rate >= 4%", "split(x-fn-version=v2) <= 12%", "pods == 2", "pod_imbalance < 10%", "dropped == 0", "rate >= 90", "p99(ok) < 500ms", "p50(ok) >= 5ms", "max(error) < 1s"]

[[windows]]
name = "after-warm"
stage = "hold"
checks = ["per_pod_qps >= 40", "service_p99 < 500ms"]

[[windows]]
name = "later"
from = "60s"
checks = ["p99 < 1s"]
"#;
    let text = scenario_text(&server.url(), 100, 3, extra);
    let plan = scenario::load_str(&text, Path::new("vt.toml")).unwrap();
    assert!(plan.labels.iter().any(|h| h == "x-fn-version"), "split() adds its header to labels");
    let out = tempdir();
    let r = run(&plan, RunSettings { out_dir: out.path().join("r"), stop: StopHandle::new() }, &mut Silent).unwrap();
    let saved = SavedRun::load(&r.dir).unwrap();
    let v = evaluate(&plan.verify, &plan.stages, &saved).unwrap();
    let failed: Vec<_> = v.results.iter().filter(|c| !c.passed).map(|c| format!("{} {} {} {:?}", c.scope, c.check, c.measured, c.note)).collect();
    assert_eq!(failed.len(), 1, "only the empty window fails: {failed:#?}");
    let later = v.results.iter().find(|c| c.scope == "window later").unwrap();
    assert_eq!(later.measured, "no data");
    assert!(v.results.iter().any(|c| c.scope == "request get" && c.passed));
    assert!(v.results.iter().any(|c| c.scope == "generator" && c.passed));
}

#[test]
fn mistakes_in_checks_exit_2_with_line_column_and_a_suggestion() {
    let base = scenario_text("http://127.0.0.1:9", 10, 2, "");
    for (extra, want) in [
        ("\n[checks]\nrun = [\"p99 < 50ms\", \"p99 < 50\"]\n", "vt.toml:23:29: checks.run[1]: `p99 < 50`: `50` has no unit"),
        ("\n[checks]\nrun = [\"ratio(falback) > 1%\"]\n", "vt.toml:23:15: checks.run[0]: `ratio(falback) > 1%`: no outcome is named `falback`"),
        ("\n[[outcomes]]\nname = \"fallback\"\nheader = \"x-fallback\"\n\n[checks]\nrun = [\"ratio(falback) > 1%\"]\n", "(did you mean `fallback`?)"),
        ("\n[checks]\nrun = [\"p99 < 5ms\"]\nabort_when = [\"eror_rate > 5% for 2s\"]\n", "vt.toml:24:16: checks.abort_when[0]: `eror_rate > 5% for 2s`: unknown metric `eror_rate` (did you mean `error_rate`?)"),
        ("\n[[windows]]\nstage = \"hld\"\nchecks = [\"p99 < 5ms\"]\n", "vt.toml:23:9: windows[0].stage: no stage is named `hld` (did you mean `hold`?)"),
        ("\n[[windows]]\nfrom = \"1s\"\nrequest = \"gte\"\nchecks = [\"p99 < 5ms\"]\n", "no request is named `gte` (did you mean `get`?)"),
        ("\n[checks]\nrn = [\"p99 < 5ms\"]\n", "unknown field `rn` in [checks]"),
        ("\n[capacity]\ntargets = [\"p99 < 5ms\"]\n", "not a capacity result"),
        ("\n[checks]\nrun = [\"p99 < 50ms\", \"error_rate < 150%\"]\n", "vt.toml:23:36: checks.run[1]: `error_rate < 150%`: `150%` is more than 100%"),
        ("\n[checks]\nrun = [\"p99(okk) < 50ms\"]\n", "vt.toml:23:13: checks.run[0]: `p99(okk) < 50ms`: no outcome is named `okk` (did you mean `ok`?)"),
        ("\n[[windows]]\nstage = \"hold\"\nchecks = [\"service_p99(ok) < 5ms\"]\n", "windows[0].checks[0]: `service_p99(ok) < 5ms`: service time of `ok` alone is kept for the whole run and per request, not per second: use `p99(ok)`"),
        ("\n[[windows]]\nfrom = \"1s\"\nrequest = \"get\"\nchecks = [\"p99(ok) < 5ms\"]\n", "latency of `ok` alone is kept per second for all requests together, not per request"),
    ] {
        let text = format!("{base}{extra}");
        let e = scenario::load_str(&text, Path::new("vt.toml")).unwrap_err().to_string();
        assert!(e.contains(want), "want {want:?}\n got {e}\n in\n{text}");
    }
    let dir = tempdir();
    let bad = write(dir.path(), "bad.toml", &format!("{base}\n[checks]\nrun = [\"p99 <\"]\n"));
    let out = skyload(&["run".as_ref(), bad.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:23:14: checks.run[0]"), "{err}");
}

#[test]
fn a_failing_check_exits_1_with_a_junit_failure_naming_it() {
    let server = VerifyServer::start(ServerCfg { service: Duration::from_millis(10), ..ServerCfg::default() });
    let dir = tempdir();
    let extra = "\n[checks]\nrun = [\"p99 < 2ms\", \"error_rate < 1%\"]\n";
    let file = write(dir.path(), "gate.toml", &scenario_text(&server.url(), 50, 2, extra));
    let (junit, json, res) = (dir.path().join("junit.xml"), dir.path().join("verdict.json"), dir.path().join("res"));
    let out = skyload(&["run".as_ref(), file.as_os_str(), "-q".as_ref(), "-o".as_ref(), res.as_os_str(), "--junit".as_ref(), junit.as_os_str(), "--summary-json".as_ref(), json.as_os_str()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("verdict: FAIL (1 of 3 checks failed)"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"<testsuite name="skyload.vt" tests="3" failures="1""#), "{xml}");
    assert!(xml.contains(r#"<testcase classname="skyload.vt.run" name="run: p99 &lt; 2ms" time="0">"#), "{xml}");
    assert!(xml.contains(r#"<failure message="run: p99 &lt; 2ms: expected &lt; 2ms, measured "#), "{xml}");
    assert_eq!(xml.matches("<failure").count(), 1);
    let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!((j["exit_code"].as_i64(), j["passed"].as_bool()), (Some(1), Some(false)));
    assert!(res.join("verdict.json").exists());
}

#[test]
fn abort_stops_a_run_against_a_dead_target_inside_its_window() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir = tempdir();
    let text = format!(
        "name = \"dead\"\n\n[target]\nurl = \"http://{dead}\"\n\n[[stages]]\nrate = 50\nduration = \"60s\"\n\n[[requests]]\npath = \"/\"\n\n[checks]\nabort_when = [\"error_rate > 50% for 3s\"]\n"
    );
    let file = write(dir.path(), "dead.toml", &text);
    let res = dir.path().join("res");
    let started = Instant::now();
    let out = skyload(&["run".as_ref(), file.as_os_str(), "-q".as_ref(), "-o".as_ref(), res.as_os_str()]);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(took < Duration::from_secs(8), "stopped after {took:?}");
    assert!(stderr.contains("aborted: abort_when `error_rate > 50% for 3s` held for 3s (seconds 0-2 of the run)"), "{stderr}");
    let s = skyload::record::results::read_summary(&res).unwrap();
    assert_eq!(s.status, skyload::record::summary::RunStatus::Aborted);
    assert!(s.abort_reason.unwrap().contains("error_rate > 50%"));
    assert!(s.duration_s < 5.0 && s.totals.completed >= 100, "{} s, {} completed", s.duration_s, s.totals.completed);
    assert!(res.join("timeseries.csv").exists() && res.join("latency.hlog").exists());
}

#[test]
fn compare_passes_the_same_scenario_and_flags_a_slower_build() {
    // Two runs of the same 20 ms server and one of a build 3x slower. On a busy machine one late
    // request moves the p99 of 200 samples (its 2nd-largest value) by tens of percent, so the
    // tolerance for "the same" comes from the baseline's own spread (max over median), and the
    // slower build is judged on the median, which a few late requests cannot move by +50%.
    let dir = tempdir();
    let mut dirs = Vec::new();
    for (i, ms) in [20u64, 20, 60].iter().enumerate() {
        let server = VerifyServer::start(ServerCfg { service: Duration::from_millis(*ms), ..ServerCfg::default() });
        let plan = scenario::load_str(&scenario_text(&server.url(), 100, 2, ""), Path::new("vt.toml")).unwrap();
        let d = dir.path().join(format!("run{i}"));
        run(&plan, RunSettings { out_dir: d.clone(), stop: StopHandle::new() }, &mut Silent).unwrap();
        dirs.push(d);
    }
    let summary = |d: &Path| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap()).unwrap() };
    let lat = |d: &Path, k: &str| summary(d)["totals"]["latency"][k].as_f64().unwrap();
    let spread = |d: &Path| lat(d, "max_us") / lat(d, "p50_us") - 1.0;
    let p99_tol = (100.0 * spread(&dirs[0]).max(spread(&dirs[1])).max(0.1)).ceil();
    let same = skyload(&[
        "compare".as_ref(),
        dirs[0].as_os_str(),
        dirs[1].as_os_str(),
        "-t".as_ref(),
        "p50 +50%".as_ref(),
        "-t".as_ref(),
        format!("p99 +{p99_tol}%").as_ref(),
        "-t".as_ref(),
        "rate -10%".as_ref(),
    ]);
    let text = String::from_utf8_lossy(&same.stdout);
    assert_eq!(same.status.code(), Some(0), "p99 tolerance {p99_tol}% from the baseline's spread\n{text}");
    assert!(text.contains("compare: no regression"), "{text}");

    let junit = dir.path().join("cmp.xml");
    let slower = skyload(&["compare".as_ref(), dirs[0].as_os_str(), dirs[2].as_os_str(), "-t".as_ref(), "p50 +50%".as_ref(), "-t".as_ref(), "rate -10%".as_ref(), "--junit".as_ref(), junit.as_os_str()]);
    let text = String::from_utf8_lossy(&slower.stdout);
    assert_eq!(slower.status.code(), Some(1), "{text}");
    let p50 = text.lines().find(|l| l.trim_start().starts_with("p50 ")).unwrap();
    assert!(p50.contains("REGRESSION") && p50.contains("+50%"), "{text}");
    assert!(text.lines().find(|l| l.trim_start().starts_with("rate ")).unwrap().trim_end().ends_with("ok"), "{text}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("baseline: p50 +50%") && xml.contains("<failure"), "{xml}");

    let bad = skyload(&["compare".as_ref(), dirs[0].as_os_str(), dirs[1].as_os_str(), "-t".as_ref(), "p99 10%".as_ref()]);
    assert_eq!(bad.status.code(), Some(2));
    // A sign that bounds an improvement would pass the slower build: refused, naming the flag.
    let wrong = skyload(&["compare".as_ref(), dirs[0].as_os_str(), dirs[2].as_os_str(), "-t".as_ref(), "p50 -50%".as_ref()]);
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(2), "{err}");
    assert!(err.contains("--tolerance `p50 -50%`: `-` bounds a fall of p50") && err.contains("write `p50 +50%`"), "{err}");
}

/// A comparison is only as good as its runs: one that stopped early (here an interrupted run, made
/// by marking a whole run's summary so) or one in which every request failed (fast 500s look like a
/// faster build to a latency tolerance) fails `compare` with exit 1, even when no tolerance bounds
/// what went wrong, and says why on the last line, in JUnit and in --summary-json.
#[test]
fn compare_fails_a_run_that_did_not_complete_or_in_which_every_request_failed() {
    let dir = tempdir();
    let mut dirs = Vec::new();
    for (i, fail_every) in [None, Some(1)].into_iter().enumerate() {
        let server = VerifyServer::start(ServerCfg { service: Duration::from_millis(5), fail_every, ..ServerCfg::default() });
        let plan = scenario::load_str(&scenario_text(&server.url(), 50, 2, ""), Path::new("vt.toml")).unwrap();
        let d = dir.path().join(format!("run{i}"));
        run(&plan, RunSettings { out_dir: d.clone(), stop: StopHandle::new() }, &mut Silent).unwrap();
        dirs.push(d);
    }
    let stopped = dir.path().join("stopped");
    std::fs::create_dir(&stopped).unwrap();
    for f in std::fs::read_dir(&dirs[0]).unwrap() {
        let f = f.unwrap();
        if f.file_type().unwrap().is_file() {
            std::fs::copy(f.path(), stopped.join(f.file_name())).unwrap();
        }
    }
    let mut s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(stopped.join("summary.json")).unwrap()).unwrap();
    s["status"] = "interrupted".into();
    std::fs::write(stopped.join("summary.json"), s.to_string()).unwrap();
    let compare = |base: &Path, cur: &Path, json: &Path| {
        let o = skyload(&["compare".as_ref(), base.as_os_str(), cur.as_os_str(), "-t".as_ref(), "p99 +1000%".as_ref(), "--summary-json".as_ref(), json.as_os_str()]);
        let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned(), j)
    };
    let json = dir.path().join("v.json");
    let (code, text, j) = compare(&dirs[0], &dirs[0], &json);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(j["passed"], true);
    for (base, cur, want) in [(&dirs[0], &stopped, "is a whole run` failed: interrupted after"), (&stopped, &dirs[0], "is a whole run` failed: interrupted after"), (&dirs[0], &dirs[1], "at least one request succeeded` failed: 100% 500")] {
        let (code, text, j) = compare(base, cur, &json);
        assert_eq!(code, Some(1), "{} -> {}\n{text}", base.display(), cur.display());
        let last = text.lines().last().unwrap();
        assert!(last.starts_with("compare: FAILED: `") && last.contains(want), "{text}");
        assert_eq!((j["exit_code"].as_i64(), j["passed"].as_bool()), (Some(1), Some(false)), "{j}");
        assert!(j["checks"].as_array().unwrap().iter().any(|c| c["passed"] == false && c["measured"].as_str().unwrap().starts_with(if want.contains("500") { "100% 500" } else { "interrupted" })), "{j}");
    }
}

/// Latency by outcome over a stage, a window and an abort rule, read from the saved per-second
/// data: the 500s are answered 60 ms later than the 200s, so if they shared a histogram the
/// outcome checks below could not all hold. Only lower bounds (set by the server) are asserted.
#[test]
fn latency_of_one_outcome_is_checked_per_second_in_stages_windows_and_abort_rules() {
    let server = VerifyServer::start(ServerCfg { service: Duration::from_millis(5), fail_every: Some(4), fail_delay: Duration::from_millis(60), ..ServerCfg::default() });
    let extra = r#"
[checks]
run = ["p50(error) >= 65ms"]
abort_when = ["p99(ok) > 3600s for 2s"]

[[windows]]
stage = "hold"
checks = ["p50(error) >= 65ms", "max(error) >= 65ms", "p50(ok) >= 5ms"]
"#;
    let plan = scenario::load_str(&scenario_text(&server.url(), 100, 3, extra), Path::new("vt.toml")).unwrap();
    let out = tempdir();
    let r = run(&plan, RunSettings { out_dir: out.path().join("r"), stop: StopHandle::new() }, &mut Silent).unwrap();
    let saved = SavedRun::load(&r.dir).unwrap();
    let v = evaluate(&plan.verify, &plan.stages, &saved).unwrap();
    let failed: Vec<_> = v.results.iter().filter(|c| !c.passed).map(|c| format!("{} {} {} {:?}", c.scope, c.check, c.measured, c.note)).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(v.results.iter().any(|c| c.check.contains("p50(ok)") && c.scope.starts_with("window")), "{:#?}", v.results);
    // Every completion of the stretch is in exactly one outcome's histogram, and the errors' is
    // the errors' alone (none of them under the server's 65 ms).
    let d = saved.data(skyload::verify::window::Span { from: 1.0, to: None, tail: false }, None).unwrap();
    let by = d.by_outcome.as_ref().unwrap();
    assert_eq!(by.values().map(|(h, _)| h.len()).sum::<u64>(), d.completed);
    let err = &by["error"].0;
    assert_eq!(err.len(), d.outcomes["error"]);
    assert!(err.min() >= 65_000, "error min {} us", err.min());
    assert!(by["ok"].1.is_none() && by["error"].1.is_none(), "no service time by outcome per second");
}

/// A stall in the last seconds of the last stage is answered after the schedule ends. The stage's
/// and an open window's checks take those answers (before, `max < 500ms` over the stage passed
/// while a third of its requests waited over a second: they completed in no stage's second), and
/// the seconds after the schedule are not time of theirs (an open window's rate read 2/3 of it).
#[test]
fn a_stall_at_the_end_of_the_last_stage_fails_its_checks() {
    let server = common::TestServer::start();
    let extra = r#"
[[windows]]
name = "open"
from = "1s"
checks = ["rate >= 90", "max < 500ms"]

[[windows]]
name = "warm-only"
from = "0s"
to = "1s"
checks = ["max < 500ms"]
"#;
    let text = scenario_text(&server.url(), 100, 3, extra).replace("duration = \"2s\"\n", "duration = \"2s\"\nchecks = [\"max < 500ms\", \"p99(ok) < 500ms\"]\n");
    let plan = scenario::load_str(&text, Path::new("vt.toml")).unwrap();
    // Second 0 is ~50 ms after `run` is called: arrivals intended from ~2 s to the end (3 s) are
    // held until ~3.6 s, answered after the schedule.
    server.stall_at(Instant::now() + Duration::from_millis(2_050), Duration::from_millis(1_500));
    let out = tempdir();
    let r = run(&plan, RunSettings { out_dir: out.path().join("r"), stop: StopHandle::new() }, &mut Silent).unwrap();
    let saved = SavedRun::load(&r.dir).unwrap();
    let v = evaluate(&plan.verify, &plan.stages, &saved).unwrap();
    let get = |scope: &str, check: &str| v.results.iter().find(|c| c.scope == scope && c.check == check).unwrap_or_else(|| panic!("{scope} {check}: {:#?}", v.results));
    assert!(r.summary.totals.latency.max_us >= 1_000_000, "the stall was not seen: {:?}", r.summary.totals.latency);
    for (scope, check) in [("stage hold", "max < 500ms"), ("stage hold", "p99(ok) < 500ms"), ("window open", "max < 500ms")] {
        let c = get(scope, check);
        assert!(!c.passed, "{scope} `{check}` passed over a stall of its last second: measured {}", c.measured);
    }
    let rate = get("window open", "rate >= 90");
    assert!(rate.passed, "the seconds after the schedule diluted the open window's rate: {}", rate.measured);
    assert!(get("window warm-only", "max < 500ms").passed, "a window that ends before the stall takes none of it");
}

/// Two stages, 100/s: `first` 2 s, `second` 4 s, on one generator thread so the server sees the
/// arrivals in the schedule's order. The server holds arrivals 185..195 (due ~1.85 s to ~1.95 s,
/// the last of `first`) for 3 s each: they end in `second`'s seconds (after ~4.85 s) for certain,
/// however busy the machine. `first` is judged by the requests it scheduled, so its `p99 < 500ms`
/// fails (10 of its 200 waited 3 s); `second` holds none of them. Before, both were judged by the
/// second a request ended: `first` passed and `second` was blamed.
fn held_at_the_boundary(url: &str) -> String {
    format!(
        "name = \"boundary\"\nthreads = 1\nseed = 3\n[target]\nurl = \"{url}\"\ntimeout = \"5s\"\n\n\
         [[stages]]\nname = \"first\"\nrate = 100\nduration = \"2s\"\nchecks = [\"p99 < 500ms\"]\n\n\
         [[stages]]\nname = \"second\"\nrate = 100\nduration = \"4s\"\nchecks = [\"max < 2s\"]\n\n\
         [[requests]]\nname = \"get\"\npath = \"/x\"\n\n\
         [[windows]]\nname = \"whole-second\"\nstage = \"second\"\nchecks = [\"max < 2s\"]\n"
    )
}

const HELD: (u64, u64, Duration) = (185, 10, Duration::from_secs(3));

#[test]
fn a_stage_is_judged_by_the_requests_it_scheduled() {
    use skyload::verify::window::Span;
    let server = common::TestServer::start();
    server.hold_numbered(HELD.0, HELD.1, HELD.2);
    let plan = scenario::load_str(&held_at_the_boundary(&server.url()), Path::new("boundary.toml")).unwrap();
    let out = tempdir();
    let r = run(&plan, RunSettings { out_dir: out.path().join("r"), stop: StopHandle::new() }, &mut Silent).unwrap();
    assert!(r.dir.join("stages.hlog").exists(), "a run of two stages keeps latency by stage");
    let saved = SavedRun::load(&r.dir).unwrap();
    let v = evaluate(&plan.verify, &plan.stages, &saved).unwrap();
    let get = |scope: &str| v.results.iter().find(|c| c.scope == scope).unwrap_or_else(|| panic!("{scope}: {:#?}", v.results));
    let first = get("stage first");
    assert!(!first.passed, "stage first passed although 10 of its arrivals waited 3 s: {first:?}");
    assert!(first.note.is_none(), "measured, not missing: {first:?}");
    for scope in ["stage second", "window whole-second"] {
        let c = get(scope);
        assert!(c.passed, "{scope} was blamed for stage first's held arrivals: {c:?}");
    }

    let held = |d: &skyload::verify::metrics::Data| d.latency.as_ref().unwrap().count_between((HELD.2 - Duration::from_millis(500)).as_micros() as u64, u64::MAX);
    let first = saved.stage_data("first", Span::judged(0.0, Some(2.0)), None).unwrap();
    let second = saved.stage_data("second", Span::judged(2.0, Some(6.0)), None).unwrap();
    assert_eq!(held(&first), HELD.1, "the held arrivals are stage first's");
    assert_eq!(held(&second), 0, "and none of stage second's");
    // Counts by intended start: every arrival of a stage ended in it, held or not.
    assert!((199..=201).contains(&first.scheduled), "{}", first.scheduled);
    assert_eq!((first.completed, first.dropped), (first.scheduled, 0));
    assert_eq!((second.completed, second.dropped), (second.scheduled, 0));
    assert_eq!(first.outcomes.get("ok"), Some(&first.completed));
    assert_eq!(first.service.as_ref().unwrap().len(), first.completed);
    // The per-second data, by the second a request ended, places them in stage second's seconds...
    let by_end = saved.data(Span { from: 2.0, to: Some(6.0), tail: false }, None).unwrap();
    assert_eq!(held(&by_end), HELD.1);
    // ...but a judged window is judged by the seconds its requests were scheduled in
    // (`intended.hlog`): a window over stage second's time holds none of them, one over the
    // seconds they were due in holds all of them.
    assert_eq!(held(&saved.data(Span::judged(4.0, Some(6.0)), None).unwrap()), 0);
    assert_eq!(held(&saved.data(Span::judged(1.0, Some(2.0)), None).unwrap()), HELD.1);
}
