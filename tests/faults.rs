//! Fault drills end to end: a pod killed under load with and without a fallback, an exec fault
//! with its output kept, and faults removed when the run is interrupted.

mod common;

use common::{pod_state, read_json, run_file, skyload, tempdir};
use std::process::Stdio;
use std::time::Duration;

fn drill(fallback: bool) -> String {
    format!(
        r#"name = "drill"
[target]
embedded = true
[[stages]]
rate = 200
duration = "9s"
[[requests]]
name = "hello"
path = "/fn/hello"
[[outcomes]]
name = "fallback"
header = "x-fallback"
equals = "1"
[checks]
run = ["p99 < 200ms"]
[[faults]]
name = "kill"
kind = "pod_kill"
pod = "hello-1"
at = "2s"
for = "4s"
expect = ["ratio(fallback, x-failed-pod) >= 0.9", "error_rate < 1%"]
recover_within = "2s"
[gateway]
detect_after = "30s"
[gateway.functions.hello]
pods = 2
concurrency = 8
service_time = {{ dist = "fixed", mean = "2ms" }}
{}
"#,
        if fallback { "[gateway.functions.hello.fallback]\nbody = \"cached\"" } else { "" }
    )
}

#[test]
fn pod_kill_with_fallback_passes_and_without_fails() {
    let dir = tempdir();
    for fallback in [true, false] {
        let f = dir.path().join(format!("drill-{fallback}.toml"));
        std::fs::write(&f, drill(fallback)).unwrap();
        let out = dir.path().join(format!("r-{fallback}"));
        let o = run_file(&f, &out).output().unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        let faults = read_json(&out.join("faults.json"));
        let k = &faults[0];
        assert_eq!(k["name"], "kill");
        assert!(k["applied_at_s"].as_f64().unwrap() >= 1.9 && k["removed_at_s"].as_f64().unwrap() <= 6.5, "{k}");
        if fallback {
            assert_eq!(o.status.code(), Some(0), "{stdout}");
            let ratio = k["fallback_ratio"].as_f64().unwrap();
            assert!(ratio >= 0.9, "fallback ratio of affected traffic {ratio}");
            // About half of the window's 800 requests went to the dead pod.
            let fb = k["outcomes"]["fallback"].as_u64().unwrap();
            assert!((300..=500).contains(&fb), "{fb} fallbacks");
            let rec = k["recovery_s"].as_f64().expect("recovery measured");
            assert!(rec <= 2.0, "recovery {rec}");
            assert!(stdout.contains("faults:") && stdout.contains("recovery"), "{stdout}");
        } else {
            assert_eq!(o.status.code(), Some(1), "the expectation fails: {stdout}");
            assert_eq!(k["passed"], false);
            let verdict = read_json(&out.join("verdict.json"));
            let failed: Vec<&serde_json::Value> = verdict["results"].as_array().unwrap().iter().filter(|r| r["passed"] == false).collect();
            assert!(failed.iter().any(|r| r["scope"] == "window fault:kill" && r["check"] == "error_rate < 1%"), "{failed:?}");
        }
    }
}

#[test]
fn exec_fault_runs_its_commands_and_keeps_their_output() {
    let dir = tempdir();
    let mark = dir.path().join("marks");
    let f = dir.path().join("exec.toml");
    std::fs::write(
        &f,
        format!(
            r#"[target]
embedded = true
[[stages]]
rate = 50
duration = "3s"
[[requests]]
path = "/fn/hello"
[[faults]]
kind = "exec"
at = "1s"
for = "1s"
start = "echo starting; touch '{m}.start'"
stop = "echo stopping; touch '{m}.stop'"
[gateway.functions.hello]
pods = 1
"#,
            m = mark.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("r");
    let o = run_file(&f, &out).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(dir.path().join("marks.start").exists() && dir.path().join("marks.stop").exists());
    let faults = read_json(&out.join("faults.json"));
    assert_eq!(faults[0]["name"], "fault-1");
    assert!(faults[0]["start_output"].as_str().unwrap().contains("starting"));
    assert!(faults[0]["stop_output"].as_str().unwrap().contains("stopping"));

    // A start command that fails is a drill that did not happen: exit 3, said loudly.
    std::fs::write(&f, std::fs::read_to_string(&f).unwrap().replace("echo starting;", "exit 7;")).unwrap();
    let o = run_file(&f, &dir.path().join("r2")).output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("could not be applied"));
    // …and its Results say so, so a merge or a report never reads it as a completed run.
    let s = read_json(&dir.path().join("r2").join("summary.json"));
    assert_eq!(s["status"], "drill_failed", "{s}");
    assert!(s["failure"].as_str().unwrap().contains("could not be applied"), "{s}");
    let o = skyload().args(["merge"]).arg(dir.path().join("r2")).arg("--out").arg(dir.path().join("m")).output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn faults_are_removed_after_ctrl_c() {
    // A gateway outside the skyload process, so its state can be read after skyload exits.
    let rt = common::server_runtime();
    let gw = common::gateway_on(&rt, "[functions.hello]\npods = 2\n");
    let base = gw.base_url();
    let dir = tempdir();
    let f = dir.path().join("ctrlc.toml");
    let drill = common::slow_and_kill_drill(&base, 50, "1s");
    std::fs::write(&f, format!("{drill}[checks]\nrun = [\"error_rate < 90%\"]\n")).unwrap();
    let mut child = run_file(&f, &dir.path().join("r")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    common::wait_until("both faults in place before Ctrl-C", Duration::from_secs(10), || common::slow_and_kill_in_place(&rt, &base));
    // SAFETY: signalling the child we started, by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    let after = (pod_state(&rt, &base, "hello-1"), pod_state(&rt, &base, "hello-2"));
    assert_ne!(after.0["added_latency"], "50.0ms", "latency removed: {after:?}");
    assert_eq!(after.1["healthy"], true, "pod revived: {after:?}");
    let faults = read_json(&dir.path().join("r/faults.json"));
    for fault in faults.as_array().unwrap() {
        assert!(fault["removed_at_s"].as_f64().unwrap() < 30.0, "removed at Ctrl-C, not at the planned end: {fault}");
        // The run stopped with the fault: recovery could not be seen, which is not "not recovered".
        assert_eq!(fault["recovery"], "not measured", "{fault}");
        assert!(fault["recovery_note"].as_str().unwrap().contains("interrupted"), "{fault}");
    }
    rt.block_on(gw.shutdown());
}

#[test]
fn slow_upstream_through_the_fault_proxy() {
    let rt = common::server_runtime();
    let (gw, px, listen) = common::gateway_behind_proxy(&rt, "[functions.hello]\npods = 2\nconcurrency = 16\n");
    let dir = tempdir();
    let f = dir.path().join("slow.toml");
    std::fs::write(
        &f,
        format!(
            r#"[target]
url = "http://{listen}"
timeout = "1s"
[[stages]]
rate = 100
duration = "10s"
[[requests]]
path = "/fn/hello"
[checks]
run = ["p99 < 300ms", "error_rate < 1%"]
[[faults]]
name = "slow"
kind = "latency"
proxy = "gw"
api = "http://{api}"
latency = "120ms"
at = "2s"
for = "3s"
expect = ["p50 >= 120ms", "p50 < 200ms"]
recover_within = "2s"
"#,
            api = px.addr
        ),
    )
    .unwrap();
    let out = dir.path().join("r");
    let o = run_file(&f, &out).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    // Recovery includes p50 back near its level before the fault: requests the toxic still held
    // when it was removed finish in the next second, so the run goes on 5 s after the fault.
    let k = &read_json(&out.join("faults.json"))[0];
    assert!(k["recovery_s"].as_f64().is_some_and(|r| r <= 2.0), "{k}");
    assert!(k["recovered_when"].as_array().unwrap().iter().any(|c| c.as_str().unwrap().starts_with("p50 back to")), "{k}");
    // The toxic is gone from the proxy after the run.
    let toxics = rt.block_on(px.client().toxics("gw")).unwrap();
    assert!(toxics.is_empty(), "{toxics:?}");
    rt.block_on(px.shutdown());
    rt.block_on(gw.shutdown());
}

/// Both pods down, a fallback answering fast 200s: the first fault "ends" at 4 s while the second
/// keeps hello-2 down until 7 s. Inside the SLO the whole time, so judged on the SLO alone the first
/// fault "recovered in 0.0 s"; judged on its own fallback ratio it recovers only once hello-2 is back.
#[test]
fn a_fallback_still_serving_is_not_recovered() {
    let dir = tempdir();
    let f = dir.path().join("both.toml");
    std::fs::write(
        &f,
        r#"name = "both-down"
[target]
embedded = true
[[stages]]
rate = 200
duration = "12s"
[[requests]]
name = "hello"
path = "/fn/hello"
[[outcomes]]
name = "fallback"
header = "x-fallback"
equals = "1"
[checks]
run = ["p99 < 500ms", "error_rate < 1%"]
[[faults]]
name = "kill1"
kind = "pod_kill"
pod = "hello-1"
at = "2s"
for = "2s"
expect = ["ratio(fallback) > 0.9"]
[[faults]]
name = "kill2"
kind = "pod_kill"
pod = "hello-2"
at = "2s"
for = "5s"
recovered_when = ["error_rate < 1%"]
[gateway]
detect_after = "60s"
[gateway.functions.hello]
pods = 2
concurrency = 8
service_time = { dist = "fixed", mean = "2ms" }
[gateway.functions.hello.fallback]
body = "cached"
"#,
    )
    .unwrap();
    let out = dir.path().join("r");
    let o = run_file(&f, &out).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    let faults = read_json(&out.join("faults.json"));
    let k1 = &faults[0];
    assert_eq!(k1["recovery"], "recovered", "{k1}");
    // hello-2 is back at ~7 s, 3 s after kill1 ended; the seconds around the edges may go either way.
    let rec = k1["recovery_s"].as_f64().unwrap();
    assert!((2.0..=4.5).contains(&rec), "kill1 recovered {rec}s after its end, not when hello-2 came back: {k1}");
    assert!(k1["recovered_when"].as_array().unwrap().iter().any(|c| c.as_str().unwrap().starts_with("ratio(fallback) back to")), "{k1}");
    // Latency before and inside the window, for the table.
    assert!(k1["latency_before"]["p99_us"].as_u64().unwrap() > 0 && k1["latency_inside"]["p50_us"].as_u64().is_some(), "{k1}");
    // kill2 named its own criterion: error rate only, which the fallback keeps low throughout.
    let k2 = &faults[1];
    assert_eq!(k2["recovered_when"][0], "error_rate < 1%", "{k2}");
    assert_eq!(k2["recovery_s"].as_f64(), Some(0.0), "{k2}");
    assert!(stdout.contains("before → inside") && stdout.contains("recovered when"), "{stdout}");
}

/// Reads one request (line, headers, a `content-length` body) from a fake API's connection and
/// returns its request line, trimmed; None when the line cannot be read.
fn read_request(r: &mut std::io::BufReader<std::net::TcpStream>) -> Option<String> {
    use std::io::{BufRead, Read};
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut len = 0;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    let _ = r.read_exact(&mut body);
    Some(line.trim().to_string())
}

/// A fake Toxiproxy API that takes every request and closes the connection without answering:
/// the apply call's answer is lost. Returns its address and the request lines it saw.
fn silent_toxiproxy() -> (std::net::SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::BufReader;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut r = BufReader::new(s);
            let Some(line) = read_request(&mut r) else { continue };
            log.lock().unwrap().push(line);
            // Dropped here: closed with no answer.
        }
    });
    (addr, seen)
}

/// A fake Toxiproxy API that answers each request as `answer` says from its request line: a
/// status and body, or None to hold the connection open without answering until the client goes.
/// Returns its address and the request lines it saw.
fn scripted_toxiproxy(
    answer: fn(&str) -> Option<(u16, &'static str)>,
) -> (std::net::SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s);
                let Some(line) = read_request(&mut r) else { return };
                log.lock().unwrap().push(line.clone());
                match answer(&line) {
                    Some((status, text)) => {
                        let head = format!("HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", text.len());
                        let _ = r.get_mut().write_all(format!("{head}{text}").as_bytes());
                    }
                    // Held until the client closes it (or dies): reads end at EOF.
                    None => {
                        let _ = std::io::copy(&mut r, &mut std::io::sink());
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// A run killed while it checked a 409 (a toxic of its fault's name was already on the proxy,
/// and it was reading the toxics to see whose it was) left a journal entry naming that toxic as
/// its own, so `faults clear` deleted a toxic the run never made. The entry now says the run was
/// checking, and clean-up reports it and leaves the toxic alone.
#[test]
fn a_run_killed_while_checking_a_409_leaves_the_toxic_alone() {
    let (api, seen) = scripted_toxiproxy(|line| {
        if line.starts_with("POST /proxies/up/toxics") {
            Some((409, r#"{"error":"toxic already exists","status":409}"#))
        } else if line.starts_with("GET /proxies/up/toxics") {
            None
        } else {
            Some((204, ""))
        }
    });
    let dir = tempdir();
    let state = dir.path().join("state");
    let f = dir.path().join("taken.toml");
    std::fs::write(
        &f,
        format!(
            "[target]\nembedded = true\n[[stages]]\nrate = 5\nduration = \"60s\"\n[[requests]]\npath = \"/fn/hello\"\n\
             [[faults]]\nname = \"slow\"\nkind = \"latency\"\nproxy = \"up\"\napi = \"http://{api}\"\nlatency = \"30ms\"\nat = \"0s\"\nfor = \"50s\"\n\
             [gateway.functions.hello]\npods = 1\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("r");
    let mut child = run_file(&f, &out).env("XDG_STATE_HOME", &state).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let journal = state.join(format!("skyload/faults/{}.json", child.id()));
    let checking = || seen.lock().unwrap().iter().any(|l| l.starts_with("GET /proxies/up/toxics"));
    common::wait_until("the run reading the toxics after its 409", Duration::from_secs(15), checking);
    child.kill().unwrap(); // SIGKILL, by the pid we started
    child.wait().unwrap();
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.contains("\"name\": \"slow\"") && text.contains("\"state\": \"checking\""), "{text}");
    let copy = read_json(&out.join("faults.state.json"));
    assert_eq!((copy["faults"][0]["state"].as_str(), copy["faults"][0]["in_place"].as_bool()), (Some("checking"), Some(true)), "{copy}");
    let o = skyload().args(["faults", "list"]).env("XDG_STATE_HOME", &state).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("toxic `slow` on proxy `up`") && text.contains("left alone") && text.contains("HTTP 409"), "{text}");
    let o = skyload().args(["faults", "clear"]).env("XDG_STATE_HOME", &state).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "reported, not removed: {text}");
    assert!(text.contains("not undone: toxic `slow` on proxy `up`") && text.contains("check by hand"), "{text}");
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.iter().any(|l| l.starts_with("DELETE ") || l.starts_with("PATCH ")), "the toxic was someone else's: {seen:?}");
    assert!(!journal.exists(), "reported to the person who asked, then dropped");
}

/// An apply whose answer was lost (the proxy took `POST /proxies/up/toxics` and closed the
/// connection) left the toxic possibly in place with no trace: no DELETE, no journal entry, no
/// faults.state.json. Now the entry is journalled before the call and removal is attempted.
#[test]
fn a_lost_apply_answer_is_journalled_and_removal_attempted() {
    let (api, seen_log) = silent_toxiproxy();
    let dir = tempdir();
    let state = dir.path().join("state");
    let f = dir.path().join("lost.toml");
    std::fs::write(
        &f,
        format!(
            "[target]\nembedded = true\n[[stages]]\nrate = 5\nduration = \"2s\"\n[[requests]]\npath = \"/fn/hello\"\n\
             [[faults]]\nname = \"slow\"\nkind = \"latency\"\nproxy = \"up\"\napi = \"http://{api}\"\nlatency = \"30ms\"\nat = \"0s\"\nfor = \"1s\"\n\
             [gateway.functions.hello]\npods = 1\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("r");
    let child = run_file(&f, &out).env("XDG_STATE_HOME", &state).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    let seen = seen_log.lock().unwrap().clone();
    assert!(seen.iter().any(|l| l.starts_with("POST /proxies/up/toxics")), "{seen:?}");
    assert!(seen.iter().any(|l| l.starts_with("DELETE /proxies/up/toxics/slow")), "removal attempted: {seen:?}");
    // The removal got no answer either: the fault stays journalled and listed as possibly in place.
    let copy = read_json(&out.join("faults.state.json"));
    assert_eq!(copy["faults"][0]["name"], "slow", "{copy}");
    assert_eq!(copy["faults"][0]["in_place"], true, "{copy}");
    let faults = read_json(&out.join("faults.json"));
    assert_eq!(faults[0]["removal_confirmed"], false, "{faults}");
    assert!(state.join(format!("skyload/faults/{pid}.json")).exists());
    let o = skyload().args(["faults", "list"]).env("XDG_STATE_HOME", &state).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(&format!("run pid {pid} (not running")) && text.contains("toxic `slow` on proxy `up`") && text.contains("(apply answer lost)"), "{text}");
    // The apply went out unanswered, so a later clean-up deletes by name (this proxy answers
    // nothing, so the entry stays).
    let deletes = |s: &[String]| s.iter().filter(|l| l.starts_with("DELETE /proxies/up/toxics/slow")).count();
    let before = deletes(&seen);
    let o = skyload().args(["faults", "clear"]).env("XDG_STATE_HOME", &state).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("could not remove leftover toxic `slow`"), "{text}");
    let seen = seen_log.lock().unwrap().clone();
    assert!(deletes(&seen) > before, "{seen:?}");
    assert!(state.join(format!("skyload/faults/{pid}.json")).exists());
}

/// An exec fault of a `kill -9`'d run was left in place: the journal named it but had no way to
/// run its stop command (no directory, no environment, no proof the start ran, and the command's
/// text must not be stored). Now the entry says where to find the command again (scenario path and
/// a keyed digest of it, the run's directory, the names of the variables it uses), and `faults
/// clear` runs it, shown redacted, only with --yes, refusing while a variable is unset, when the
/// start may not have run (unless --stop-unconfirmed) or when the scenario file changed.
#[test]
fn an_exec_fault_of_a_killed_run_is_stopped_by_faults_clear_yes() {
    let dir = tempdir();
    let state = dir.path().join("state");
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let mark = work.join("F");
    let f = dir.path().join("exec.toml");
    // Relative `F`: only the run's directory finds it. `--password`: a secret the output must hide.
    let scenario = "[target]\nembedded = true\n[[stages]]\nrate = 5\nduration = \"60s\"\n[[requests]]\npath = \"/fn/hello\"\n\
             [[faults]]\nname = \"mark\"\nkind = \"exec\"\nat = \"0s\"\nfor = \"50s\"\nstart = \"touch F\"\n\
             stop = \"true --password hunter22; test -n \\\"$DRILL_NS\\\" && rm F\"\n\
             [gateway.functions.hello]\npods = 1\n";
    std::fs::write(&f, scenario).unwrap();
    let out = dir.path().join("r");
    let mut child =
        run_file(&f, &out).current_dir(&work).env("XDG_STATE_HOME", &state).env_remove("DRILL_NS").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let pid = child.id();
    let journal = state.join(format!("skyload/faults/{pid}.json"));
    // `applied` is written once the start command returned: the start is known to have run.
    let started = || mark.exists() && std::fs::read_to_string(&journal).is_ok_and(|t| t.contains("\"state\": \"applied\""));
    common::wait_until("the exec fault started and journalled as applied", Duration::from_secs(15), started);
    child.kill().unwrap(); // SIGKILL, by the pid we started
    child.wait().unwrap();
    assert!(mark.exists(), "nothing ran its stop command");
    let saved = std::fs::read_to_string(&journal).unwrap();
    assert!(saved.contains("\"DRILL_NS\"") && saved.contains(&format!("\"cwd\": \"{}\"", work.canonicalize().unwrap().display())), "{saved}");
    assert!(saved.contains("\"scenario_hmac\"") && !saved.contains("hunter22") && !saved.contains("rm F") && !saved.contains("touch"), "{saved}");
    let copy = read_json(&out.join("faults.state.json"));
    assert_eq!((copy["faults"][0]["kind"].as_str(), copy["faults"][0]["in_place"].as_bool()), (Some("exec"), Some(true)), "{copy}");
    let o = skyload().args(["faults", "list"]).env("XDG_STATE_HOME", &state).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("exec fault `mark`") && text.contains("its start ran") && text.contains("DRILL_NS"), "{text}");

    // Run from elsewhere: the command must run in the recorded directory.
    let clear = |args: &[&str], ns: Option<&str>| {
        let mut c = skyload();
        c.arg("faults").arg("clear").args(args).current_dir(dir.path()).env("XDG_STATE_HOME", &state);
        match ns {
            Some(v) => c.env("DRILL_NS", v),
            None => c.env_remove("DRILL_NS"),
        };
        let o = c.output().unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    // A variable the command uses is not set: refused by name, nothing run, entry kept.
    let (code, text) = clear(&["--yes"], None);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("DRILL_NS not set here"), "{text}");
    assert!(mark.exists() && journal.exists());
    // No --yes and no terminal: shown (redacted), not run, kept.
    let (code, text) = clear(&[], Some("prod"));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("pass --yes") && text.contains("<redacted>") && text.contains("rm F") && !text.contains("hunter22"), "{text}");
    assert!(mark.exists() && journal.exists());
    // --yes: run in the run's directory; exit 0 marks it done.
    let (code, text) = clear(&["--yes"], Some("prod"));
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("removed leftover exec fault `mark`") && text.contains("exit 0") && !text.contains("hunter22"), "{text}");
    assert!(!mark.exists(), "the stop command removed the marker");
    assert!(!journal.exists(), "done: dropped from the journal");

    // Killed before its start was known to have run: left alone unless --stop-unconfirmed.
    std::fs::write(&mark, "").unwrap();
    std::fs::write(&journal, saved.replace("\"state\": \"applied\"", "\"state\": \"applying\"")).unwrap();
    let (code, text) = clear(&["--yes"], Some("prod"));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("left alone") && text.contains("--stop-unconfirmed"), "{text}");
    assert!(mark.exists() && journal.exists(), "left alone, kept for --stop-unconfirmed");
    let (code, text) = clear(&["--yes", "--stop-unconfirmed"], Some("prod"));
    assert_eq!(code, Some(0), "{text}");
    assert!(!mark.exists() && !journal.exists());

    // The scenario file changed since the run: its stop command may not be the run's. Refused.
    std::fs::write(&mark, "").unwrap();
    std::fs::write(&journal, &saved).unwrap();
    std::fs::write(&f, format!("{scenario}# edited\n")).unwrap();
    let (code, text) = clear(&["--yes"], Some("prod"));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("changed since the run") && text.contains("by hand"), "{text}");
    assert!(mark.exists(), "not run");
}

/// A process group this test's run started: its leader's pid (written by the shell itself) and
/// start time, read while the run that started it was alive. Signalled on drop (a failed
/// assertion) only while that pid still has that start time: never a reused pid.
struct Orphan {
    pgid: u32,
    start_ticks: u64,
}

/// Field 5 (group) and 22 (start time) of /proc/PID/stat, counted after the command name.
fn stat_of(pid: u32) -> Option<(char, u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    Some((f.first()?.chars().next()?, f.get(2)?.parse().ok()?, f.get(19)?.parse().ok()?))
}

impl Orphan {
    fn from_pid_file(path: &std::path::Path) -> Orphan {
        let pgid: u32 = std::fs::read_to_string(path).unwrap().trim().parse().unwrap();
        let (_, pgrp, start_ticks) = stat_of(pgid).expect("the start command's shell is running");
        assert_eq!(pgrp, pgid, "the start command leads its own process group");
        Orphan { pgid, start_ticks }
    }

    /// Live (not zombie) processes in the group.
    fn members(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            if stat_of(pid).is_some_and(|(state, pgrp, _)| pgrp == self.pgid && state != 'Z') {
                out.push(pid);
            }
        }
        out
    }

    fn leader_alive(&self) -> bool {
        stat_of(self.pgid).is_some_and(|(state, _, t)| t == self.start_ticks && state != 'Z')
    }
}

impl Drop for Orphan {
    fn drop(&mut self) {
        if self.leader_alive() {
            // SAFETY: kill(2) on the group this test's run started, its leader checked just above.
            unsafe { libc::kill(-(self.pgid as i32), libc::SIGKILL) };
        }
    }
}

/// A run of `holding_scenario` (stop command `touch STOPPED`) started in `dir/work`, its fault
/// state in `dir/state`, its Results in `out`: the start command writes its shell's pid to
/// `work/P` and holds; the journal is the run's.
struct HoldingRun {
    child: std::process::Child,
    file: std::path::PathBuf,
    state: std::path::PathBuf,
    work: std::path::PathBuf,
    journal: std::path::PathBuf,
    pid_file: std::path::PathBuf,
}

fn spawn_holding_run(dir: &std::path::Path, out: &std::path::Path) -> HoldingRun {
    let state = dir.join("state");
    let work = dir.join("work");
    std::fs::create_dir(&work).unwrap();
    let f = dir.join("hold.toml");
    std::fs::write(&f, holding_scenario("touch STOPPED")).unwrap();
    let child = run_file(&f, out).current_dir(&work).env("XDG_STATE_HOME", &state).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let journal = state.join(format!("skyload/faults/{}.json", child.id()));
    let pid_file = work.join("P");
    HoldingRun { child, file: f, state, work, journal, pid_file }
}

fn holding_scenario(stop: &str) -> String {
    format!(
        "[target]\nembedded = true\n[[stages]]\nrate = 5\nduration = \"60s\"\n[[requests]]\npath = \"/fn/hello\"\n\
         [[faults]]\nname = \"hold\"\nkind = \"exec\"\nat = \"0s\"\nfor = \"50s\"\ncommand_timeout = \"55s\"\n\
         start = \"echo $$ > P; sleep 30; touch STARTED\"\nstop = \"{stop}\"\n\
         [gateway.functions.hello]\npods = 1\n"
    )
}

/// A run `kill -9`'d while its exec start command still ran left that command running with nothing
/// to find it: the journal named the fault, not its process, and `faults clear` kept the entry at
/// exit 1 with no obvious way out. Now the command runs in its own process group, journalled (pid,
/// start time) as soon as it is spawned; `faults list` shows it running, `faults clear` ends it
/// (the group, only while the recorded start time matches) and names the two ways to finish: run
/// the stop anyway, or `--dismiss` the entry.
#[test]
fn a_killed_runs_still_running_start_command_is_ended_by_faults_clear() {
    let dir = tempdir();
    let HoldingRun { mut child, file: f, state, work, journal, pid_file } = spawn_holding_run(dir.path(), &dir.path().join("r"));
    let recorded = || {
        pid_file.metadata().is_ok_and(|m| m.len() > 1) && std::fs::read_to_string(&journal).is_ok_and(|t| t.contains("\"pgid\"") && t.contains("\"state\": \"applying\""))
    };
    common::wait_until("the start command running and its group journalled", Duration::from_secs(20), recorded);
    let orphan = Orphan::from_pid_file(&pid_file);
    child.kill().unwrap(); // SIGKILL, by the pid we started
    child.wait().unwrap();

    // The run is gone; its start command is not, and the journal names it exactly.
    assert!(orphan.leader_alive(), "the start command should outlive a SIGKILLed run");
    let saved = std::fs::read_to_string(&journal).unwrap();
    let j: serde_json::Value = serde_json::from_str(&saved).unwrap();
    let g = &j["faults"][0]["groups"][0];
    assert_eq!((g["role"].as_str(), g["pgid"].as_u64(), g["start_ticks"].as_u64()), (Some("start"), Some(orphan.pgid as u64), Some(orphan.start_ticks)), "{saved}");
    assert!(!saved.contains("sleep") && !saved.contains("touch"), "no command text in the journal: {saved}");
    let o = skyload().args(["faults", "list"]).env("XDG_STATE_HOME", &state).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(&format!("process group {} is still running", orphan.pgid)), "{text}");

    let clear = |args: &[&str]| {
        let o = skyload().args(["faults", "clear"]).args(args).env("XDG_STATE_HOME", &state).output().unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    // No flags: the group is ended; whether the start took effect is unknown, so the entry stays
    // (exit 1), and the message names the fault, the scenario file and both ways on.
    let (code, text) = clear(&[]);
    assert_eq!(code, Some(1), "{text}");
    let scenario = f.canonicalize().unwrap();
    for want in [
        "exec fault `hold`".to_string(),
        scenario.display().to_string(),
        format!("process group {} was still running", orphan.pgid),
        "has been ended".into(),
        "skyload faults clear --stop-unconfirmed --yes".into(),
        "skyload faults clear --dismiss".into(),
    ] {
        assert!(text.contains(&want), "`{want}` missing from: {text}");
    }
    common::wait_until("the start command's group gone", Duration::from_secs(10), || orphan.members().is_empty());
    assert!(!work.join("STARTED").exists() && !work.join("STOPPED").exists(), "nothing of the start's rest, nor the stop, ran");
    assert!(journal.exists(), "kept for --stop-unconfirmed or --dismiss");
    // Again: the group is known to have ended, and says so.
    let (code, text) = clear(&[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(&format!("process group {} has ended", orphan.pgid)), "{text}");
    // --dismiss drops it after saying what it was, running nothing.
    let (code, text) = clear(&["--dismiss"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("dismissed exec fault `hold`") && text.contains("its stop command not run"), "{text}");
    assert!(!journal.exists() && !work.join("STOPPED").exists());
}

/// Exec commands now run in their own process group, which a terminal's Ctrl-C does not reach:
/// a run stopped (SIGTERM here, as `kill` and Kubernetes send) while its start command ran waited
/// out the command before. Now the run ends the start's group at once, runs the stop (a start cut
/// short may have half-worked), and leaves no process behind.
#[test]
fn a_stopped_run_ends_its_running_start_command_and_runs_the_stop() {
    let dir = tempdir();
    let out = dir.path().join("r");
    let HoldingRun { mut child, work, journal, pid_file, .. } = spawn_holding_run(dir.path(), &out);
    let recorded = || pid_file.metadata().is_ok_and(|m| m.len() > 1) && std::fs::read_to_string(&journal).is_ok_and(|t| t.contains("\"pgid\""));
    common::wait_until("the start command running and its group journalled", Duration::from_secs(20), recorded);
    let orphan = Orphan::from_pid_file(&pid_file);
    // SAFETY: SIGTERM to the run this test started, by its pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    common::wait_until("the run to exit", Duration::from_secs(50), || child.try_wait().unwrap().is_some());
    assert!(orphan.members().is_empty(), "the run left processes of its start command: {:?}", orphan.members());
    assert!(!work.join("STARTED").exists(), "the start command was waited out, not ended");
    assert!(work.join("STOPPED").exists(), "the stop command ran");
    let faults = read_json(&out.join("faults.json"));
    let e = faults[0]["apply_error"].as_str().unwrap_or_else(|| panic!("{faults}"));
    assert!(e.contains("still running when the run stopped") && e.contains("process group was ended"), "{e}");
    assert_eq!(faults[0]["removal_confirmed"], true, "{faults}");
    assert!(!journal.exists(), "removed: crossed off the journal");
}

/// A start command may leave a process holding its fault for the window (`cmd &`); with no stop
/// command nothing ended it, and it outlived the run. Now what is left in the start's process
/// group is ended when the fault is removed, and the fault's stop output says so.
#[test]
fn what_a_start_command_left_running_is_ended_with_its_fault() {
    let dir = tempdir();
    let state = dir.path().join("state");
    let f = dir.path().join("bg.toml");
    std::fs::write(
        &f,
        "[target]\nembedded = true\n[[stages]]\nrate = 5\nduration = \"3s\"\n[[requests]]\npath = \"/fn/hello\"\n\
         [[faults]]\nname = \"bg\"\nkind = \"exec\"\nat = \"0s\"\nfor = \"1s\"\nstart = \"echo $$ > P; sleep 30 >/dev/null 2>&1 &\"\n\
         [gateway.functions.hello]\npods = 1\n",
    )
    .unwrap();
    let out = dir.path().join("r");
    let o = run_file(&f, &out).current_dir(dir.path()).env("XDG_STATE_HOME", &state).output().unwrap();
    let orphan = Orphan { pgid: std::fs::read_to_string(dir.path().join("P")).unwrap().trim().parse().unwrap(), start_ticks: 0 };
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(orphan.members().is_empty(), "the backgrounded sleep outlived the run: {:?}", orphan.members());
    let faults = read_json(&out.join("faults.json"));
    let said = faults[0]["stop_output"].as_str().unwrap_or_else(|| panic!("{faults}"));
    assert!(said.contains("start command's process group") && said.contains("has been ended"), "{said}");
    assert!(!state.join("skyload/faults").read_dir().is_ok_and(|mut d| d.next().is_some()), "nothing left in the journal");
}

/// A failed lease renewal was only a warning: a fault the server had undone mid-window was
/// recorded as in place for the whole window. Now the first failed renewal ends it early.
#[test]
fn a_lapsed_lease_ends_the_fault_early_in_the_records() {
    let rt = common::server_runtime();
    let gw = common::gateway_on(&rt, "[functions.hello]\npods = 1\n");
    let base = gw.base_url();
    let dir = tempdir();
    let f = dir.path().join("lapse.toml");
    std::fs::write(
        &f,
        format!(
            "[target]\nurl = \"{base}\"\n[[stages]]\nrate = 5\nduration = \"9s\"\n[[requests]]\npath = \"/fn/hello\"\n\
             [[faults]]\nname = \"slow\"\nkind = \"latency\"\npod = \"hello-1\"\ncontrol_url = \"{base}\"\nlatency = \"50ms\"\nat = \"0s\"\nfor = \"8s\"\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("r");
    let child = run_file(&f, &out).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    common::wait_until("the fault applied", Duration::from_secs(10), || pod_state(&rt, &base, "hello-1")["added_latency"] == "50.0ms");
    // Removed by hand (no lease): the run's lease has nothing left to keep, and its next renewal is refused.
    let (code, body) = rt
        .block_on(skyload::fault::http::call(&base, http::Method::DELETE, "/_control/pods/hello-1/latency", None, None, Duration::from_secs(2)))
        .unwrap();
    assert_eq!(code, 200, "{body}");
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let faults = read_json(&out.join("faults.json"));
    let early = faults[0]["ended_early"].as_str().unwrap_or_else(|| panic!("{faults}"));
    assert!(early.contains("lease renewal"), "{early}");
    let removed = faults[0]["removed_at_s"].as_f64().unwrap();
    assert!(removed < faults[0]["planned_end_s"].as_f64().unwrap(), "{faults}");
    rt.block_on(gw.shutdown());
}

/// A stall in the last second of the schedule is answered after it. A fault whose window reaches
/// the end, and a recovery judged up to the end, take those answers as the last stage does: the
/// fault's report (`passed`, latency inside) read the stall as nothing (its answers completed in no
/// second of the window), and `recover_within` passed on a last second whose slow answers came
/// after the schedule. The server holds the last 10 arrivals of a uniform 100/s, 5 s schedule
/// (due from 4.9 s) for 1 s each, so their answers come after 5 s whatever the machine's load.
/// `early` ends at 2 s (removed a few ms later): its recovery is judged on seconds 2, 3 and 4, the
/// last of them the stalled one; that the run ended a few ms under 3 s after the removal does not
/// make it "not measured" (those are the three seconds recovery is judged on).
#[test]
fn a_stall_at_the_end_counts_in_a_fault_window_and_its_recovery() {
    let server = common::TestServer::start();
    server.hold_numbered(490, 10, Duration::from_secs(1));
    let dir = tempdir();
    let f = dir.path().join("tail.toml");
    std::fs::write(
        &f,
        format!(
            r#"[target]
url = "{}"
timeout = "5s"
[[stages]]
rate = 100
duration = "5s"
[[requests]]
path = "/hello"
[[faults]]
name = "to-end"
kind = "exec"
start = "true"
at = "2s"
for = "3s"
expect = ["p99 < 500ms"]
[[faults]]
name = "early"
kind = "exec"
start = "true"
at = "1s"
for = "1s"
recover_within = "3s"
recovered_when = ["p95 < 500ms"]
"#,
            server.url()
        ),
    )
    .unwrap();
    let out = dir.path().join("r");
    let o = run_file(&f, &out).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(server.received() >= 500, "{} requests", server.received());
    let s = common::summary(&out);
    assert!(s["totals"]["latency"]["max_us"].as_u64().unwrap() >= 1_000_000, "the stall was not seen: {}", s["totals"]["latency"]);
    let faults = read_json(&out.join("faults.json"));
    let by = |name: &str| faults.as_array().unwrap().iter().find(|x| x["name"] == name).cloned().unwrap_or_else(|| panic!("{name}: {faults}"));
    let to_end = by("to-end");
    assert_eq!(to_end["passed"], false, "a window over the stall passed its `p99 < 500ms`: {to_end}");
    assert!(to_end["latency_inside"]["p99_us"].as_u64().unwrap() >= 1_000_000, "{to_end}");
    let early = by("early");
    assert_eq!(early["recovery"], "not recovered", "the last of its 3 seconds stalled: {early}");
    let verdict = read_json(&out.join("verdict.json"));
    let line = verdict["results"].as_array().unwrap().iter().find(|r| r["scope"] == "fault early" && r["check"] == "recovery <= 3s").cloned().unwrap_or_else(|| panic!("{verdict}"));
    assert_eq!(line["passed"], false, "{line}");
}

/// A target that stops and comes back, judged by the second each request was *scheduled*. The
/// server holds arrivals 100..300 of a uniform 100/s schedule (due ~1 s to ~3 s) until arrival
/// 300 comes (due at ~3 s), then answers them together: by completion second they are all
/// second 3's, so a window over [0 s, 2 s) saw none of its own 100 stalled arrivals (it passed
/// its `p99 < 900ms`) and recovery from a fault over the stall ([1 s, 3 s)) was read from second
/// 4, a second after users arriving at 3.0 s got fast answers. By intended second, the window
/// holds its stalled arrivals (each waited at least 1 s: they were due before 2 s and answered
/// after 3 s), and recovery starts with second 3, the first whose arrivals were not held. Wide
/// slack: 900 ms against waits of 1 s or more (certain) and against the fast answers (a busy
/// machine's ms).
#[test]
fn windows_and_recovery_are_judged_by_the_second_requests_were_scheduled() {
    let server = common::TestServer::start();
    server.stall_numbered(100, 300);
    let dir = tempdir();
    let f = dir.path().join("stall.toml");
    std::fs::write(
        &f,
        format!(
            r#"name = "stall"
[target]
url = "{}"
timeout = "5s"
[[stages]]
rate = 100
duration = "7s"
[[requests]]
path = "/hello"
[[windows]]
name = "before"
from = "0s"
to = "2s"
checks = ["p99 < 900ms"]
[[faults]]
name = "stop"
kind = "exec"
start = "true"
at = "1s"
for = "2s"
recover_within = "1s"
recovered_when = ["p99 < 900ms"]
"#,
            server.url()
        ),
    )
    .unwrap();
    let out = dir.path().join("r");
    let o = run_file(&f, &out).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "the window's check fails: {stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(server.received() >= 700, "{} requests", server.received());
    assert!(out.join("intended.hlog").exists());

    // By completion second the stall is after the window: every held answer came after 3 s.
    let ts = skyload::record::read::timeseries(&out).unwrap();
    let slow_before_3 = ts.rows.iter().filter(|r| r.request == "*" && r.second < 3).filter_map(|r| r.max_ms).any(|m| m >= 1_000.0);
    assert!(!slow_before_3, "a held answer in seconds 0-2 by completion");

    let verdict = read_json(&out.join("verdict.json"));
    let line = |scope: &str, check: &str| {
        verdict["results"].as_array().unwrap().iter().find(|r| r["scope"] == scope && r["check"] == check).cloned().unwrap_or_else(|| panic!("{scope} {check}: {verdict}"))
    };
    let window = line("window before", "p99 < 900ms");
    assert_eq!(window["passed"], false, "the window did not see its own stalled arrivals: {window}");

    let faults = read_json(&out.join("faults.json"));
    let stop = faults.as_array().unwrap().iter().find(|x| x["name"] == "stop").cloned().unwrap_or_else(|| panic!("{faults}"));
    assert!(stop["latency_inside"]["p99_us"].as_u64().unwrap() >= 1_000_000, "the fault's window holds the stalled arrivals: {stop}");
    assert_eq!(stop["recovery"], "recovered", "{stop}");
    let rec = stop["recovery_s"].as_f64().unwrap();
    assert!(rec < 0.5, "recovery read from the first intended second that was good (3), not from the backlog's answers: {rec} s, {stop}");
    assert_eq!(line("fault stop", "recovery <= 1s")["passed"], true, "{verdict}");
}
