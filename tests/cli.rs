//! The `skyload` binary as a user runs it: quick runs from flags, exit codes, Ctrl-C, a dead target,
//! and a short scenario against the embedded gateway.

mod common;

use common::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn quick_run_from_flags() {
    let server = TestServer::start();
    let out = tempdir();
    let dir = out.path().join("quick");
    let o = skyload()
        .args(["run", "--url", &format!("{}/x", server.url()), "--rate", "200", "--duration", "1s", "-q", "--out"])
        .arg(&dir)
        .args(["-H", "x-test: 1", "-X", "POST", "-d", "payload"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("p99.9") && stdout.contains(&dir.display().to_string()), "{stdout}");
    let s = summary(&dir);
    assert_eq!(s["totals"]["outcomes"]["ok"], 200);
    assert_eq!(s["schema_version"], 1);
    for f in ["timeseries.csv", "latency.hlog", "scenario.toml", "pods.csv", "labels.csv"] {
        assert!(dir.join(f).exists(), "{f}");
    }
    assert_eq!(server.received(), 200);
    assert!(server.paths.lock().unwrap().contains("/x"));
}

#[test]
fn ctrl_c_keeps_results_and_marks_the_summary() {
    let server = TestServer::start();
    let out = tempdir();
    let dir = out.path().join("int");
    let mut child = skyload()
        .args(["run", "--url", &server.url(), "--rate", "100", "--duration", "60s", "-q", "--out"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Interrupt once two seconds' worth of requests have arrived, whenever that is.
    wait_until("200 requests at the server", Duration::from_secs(30), || server.received() >= 200);
    // SAFETY: signalling the child we started, by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(15) {
            child.kill().unwrap();
            panic!("did not stop after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(3));
    let s = summary(&dir);
    assert_eq!(s["status"], "interrupted");
    let sent = s["totals"]["sent"].as_u64().unwrap();
    assert!((150..=300).contains(&sent), "sent {sent}");
    let csv = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    assert!(csv.lines().count() >= 3, "completed seconds are on disk");
}

#[test]
fn a_bad_scenario_exits_2_with_its_position() {
    let dir = tempdir();
    let f = dir.path().join("bad.toml");
    std::fs::write(&f, "[target]\nurl = \"http://127.0.0.1:1\"\n[[stages]]\nrate = -5\nduration = \"1s\"\n[[requests]]\npath = \"/\"\n").unwrap();
    let o = skyload().arg("run").arg(&f).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.toml:4:8") && err.contains("stages[0].rate"), "{err}");
    let o = skyload().args(["run", "--rate", "10"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "a quick run without --url is a usage error");
}

/// The shipped gateway configuration given where a scenario is expected (`validate
/// scenarios/gateways/demo.toml`, `run` of it) says which command takes it, not only that
/// `control_token` is an unknown scenario field.
#[test]
fn a_gateway_config_given_as_a_scenario_names_skyload_gateway() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/gateways/demo.toml");
    // `validate` checks it as what it is; `run` refuses it and names the command that serves it.
    let o = skyload().arg("validate").arg(&demo).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("a gateway config, not a scenario") && out.contains("skyload gateway --config"), "{out}");
    let o = skyload().arg("run").arg(&demo).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("demo.toml:") && err.contains("gateway configuration") && err.contains("skyload gateway --config"), "run: {err}");
    // A scenario with an unknown top-level field gets no such hint.
    let dir = tempdir();
    let f = dir.path().join("s.toml");
    std::fs::write(&f, "zzz = 1\n[target]\nurl = \"http://127.0.0.1:1\"\n[[stages]]\nrate = 1\nduration = \"1s\"\n[[requests]]\npath = \"/\"\n").unwrap();
    let o = skyload().arg("validate").arg(&f).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unknown field `zzz`") && !err.contains("gateway configuration"), "{err}");
}

/// A run too short for the dead-target rule (1 s of 3) still ends `aborted` with the reason, in
/// summary.json, `--summary-json` and a JUnit `<error>`: it read "completed", and its JUnit had
/// no testcase at all, green to a reporter that reads the file rather than the exit code.
#[test]
fn a_dead_target_exits_3_with_results_on_disk() {
    let (_held, port) = common::refusing_port();
    let out = tempdir();
    let dir = out.path().join("dead");
    let (junit, gate) = (out.path().join("j.xml"), out.path().join("g.json"));
    let o = skyload()
        .args(["run", "--url", &format!("http://127.0.0.1:{port}"), "--rate", "50", "--duration", "1s", "-q", "--out"])
        .arg(&dir)
        .arg("--junit")
        .arg(&junit)
        .arg("--summary-json")
        .arg(&gate)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("accepted no connection"));
    let s = summary(&dir);
    assert_eq!(s["totals"]["outcomes"]["connect"], 50);
    assert_eq!(s["status"], "aborted", "{s}");
    assert!(s["abort_reason"].as_str().unwrap().contains("accepted no connection"), "{s}");
    let j = std::fs::read_to_string(&junit).unwrap();
    assert!(j.contains(r#"errors="1""#) && j.contains("<error") && j.contains("accepted no connection"), "{j}");
    let g: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&gate).unwrap()).unwrap();
    assert_eq!((g["status"].as_str(), g["passed"].as_bool()), (Some("aborted"), Some(false)), "{g}");
}

#[test]
fn a_dead_target_stops_within_seconds_not_at_the_planned_end() {
    let (_held, port) = common::refusing_port();
    let out = tempdir();
    let dir = out.path().join("dead");
    let o = skyload()
        .args(["run", "--url", &format!("http://127.0.0.1:{port}"), "--rate", "20", "--duration", "120s", "-q", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("accepted no connection for the first 3 seconds"), "{stderr}");
    // stderr is a pipe here: its log lines carry no colour codes.
    assert!(stderr.contains("does not accept connections") && !stderr.contains('\x1b'), "{stderr:?}");
    let s = summary(&dir);
    assert_eq!(s["status"], "aborted");
    // Stopped after the third refused second, far from the 120 s planned (the bound leaves room
    // for a slow machine; what matters is that it did not run to the end).
    assert!(s["duration_s"].as_f64().unwrap() < 30.0, "{s}");
}

#[test]
fn embedded_gateway_scenario_reports_pods() {
    let dir = tempdir();
    let f = dir.path().join("emb.toml");
    std::fs::write(
        &f,
        "[target]\nembedded = true\n[target.headers]\nauthorization = \"Bearer s3cr3t-token\"\n\
         [[stages]]\nrate = 200\nduration = \"2s\"\n[[requests]]\nname = \"hello\"\npath = \"/fn/hello\"\n\
         [gateway.auth]\ntokens = [\"s3cr3t-token\"]\n[gateway.functions.hello]\npods = 2\nconcurrency = 4\nservice_time = { dist = \"fixed\", mean = \"2ms\" }\n\
         weights = { v1 = 50, v2 = 50 }\n[gateway.functions.hello.versions.v2]\npods = 1\n",
    )
    .unwrap();
    let out = dir.path().join("r");
    let o = skyload().arg("run").arg(&f).arg("-q").arg("--out").arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let s = summary(&out);
    assert_eq!(s["totals"]["outcomes"]["ok"], 400);
    let pods: Vec<&str> = s["pods"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(pods.contains(&"hello-1") && pods.contains(&"hello-v2-1"), "{pods:?}");
    let v2 = s["labels"]["x-fn-version"]["v2"].as_u64().unwrap();
    assert!((140..=260).contains(&v2), "v2 served {v2} of 400");
    // The bearer token is a secret: it appears in no output file.
    for entry in std::fs::read_dir(&out).unwrap() {
        let text = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&text).contains("s3cr3t-token"));
    }
}

/// One short flag means one thing in every command: `-c` is the connection count (as in wrk and
/// hey), `-o` the output, `-X` the method and `-d` the body (as in curl), `-f` a configuration file.
/// Two flags mean the same when they share a long name or alias.
#[test]
fn short_flags_mean_the_same_in_every_command() {
    use clap::CommandFactory;
    use std::collections::{BTreeMap, BTreeSet};
    let mut seen: BTreeMap<char, (BTreeSet<String>, String)> = BTreeMap::new();
    let mut clashes = Vec::new();
    for sub in skyload::cli::Cli::command().get_subcommands() {
        for a in sub.get_arguments() {
            let names: BTreeSet<String> =
                a.get_long().into_iter().chain(a.get_all_aliases().unwrap_or_default()).map(String::from).chain([a.get_id().to_string()]).collect();
            for c in a.get_short().into_iter().chain(a.get_all_short_aliases().unwrap_or_default()) {
                match seen.get(&c) {
                    Some((n, cmd)) if n.is_disjoint(&names) => clashes.push(format!("-{c}: {n:?} in `{cmd}`, {names:?} in `{}`", sub.get_name())),
                    Some(_) => {}
                    None => {
                        seen.insert(c, (names.clone(), sub.get_name().to_string()));
                    }
                }
            }
        }
    }
    assert!(clashes.is_empty(), "{clashes:#?}");
    assert!(seen[&'c'].0.contains("connections"), "{:?}", seen[&'c']);
    assert!(seen[&'X'].0.contains("request"), "{:?}", seen[&'X']);
    // curl's -m is --max-time (it once meant --method in `run`, and says so).
    assert!(seen[&'m'].0.contains("max-time"), "{:?}", seen[&'m']);
    let o = skyload().args(["run", "--url", "http://127.0.0.1:9/", "--rate", "1", "-m", "POST"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("give the method with -X POST"), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A quick run whose every answer is a 401 (the gateway wants a token the command line lacks) is
/// not a quiet pass: the terminal names the status, and with no checks of its own the run exits 1
/// on the built-in check. The same run with the token exits 0.
#[test]
fn a_run_where_every_request_failed_says_so_and_exits_1() {
    let dir = tempdir();
    let f = dir.path().join("auth.toml");
    let scenario = |headers: &str| {
        format!(
            "[target]\nembedded = true\n{headers}[[stages]]\nrate = 100\nduration = \"1s\"\n[[requests]]\npath = \"/fn/hello\"\n\
             [gateway.auth]\ntokens = [\"t0ken\"]\n[gateway.functions.hello]\npods = 1\nconcurrency = 4\nservice_time = {{ dist = \"fixed\", mean = \"1ms\" }}\n"
        )
    };
    std::fs::write(&f, scenario("")).unwrap();
    let out = dir.path().join("r");
    let o = skyload().arg("run").arg(&f).arg("-q").arg("--out").arg(&out).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("WARNING every request failed: 100% 401"), "{stdout}");
    assert!(stdout.contains("at least one request succeeded") && stdout.contains("FAIL"), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("verdict.json")).unwrap()).unwrap();
    assert_eq!(v["results"][0]["passed"], false, "{v}");

    std::fs::write(&f, scenario("[target.headers]\nauthorization = \"Bearer t0ken\"\n")).unwrap();
    let out = dir.path().join("r2");
    let o = skyload().arg("run").arg(&f).arg("-q").arg("--out").arg(&out).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("every request failed"), "{stdout}");
}

/// A port outside 1–65535 is refused before anything is sent: `http::Uri` takes any digits, and
/// such a port used to become the scheme's (a typo'd `:99999` loaded port 80 of that host).
#[test]
fn a_port_outside_1_to_65535_is_refused_not_sent_to_the_default_port() {
    let dir = tempdir();
    let o = skyload().args(["run", "--url", "http://127.0.0.1:99999/x", "--rate", "1", "--duration", "1s", "-q"]).current_dir(dir.path()).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--url") && err.contains("port `99999` is not allowed") && err.contains("1 to 65535"), "{err}");
    let f = dir.path().join("port.toml");
    std::fs::write(&f, "[target]\nurl = \"http://127.0.0.1:70000\"\n[[stages]]\nrate = 1\nduration = \"1s\"\n[[requests]]\npath = \"/\"\n").unwrap();
    let o = skyload().arg("validate").arg(&f).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("port.toml:2:7") && err.contains("target.url") && err.contains("port `70000`"), "{err}");
    for url in ["http://127.0.0.1:99999/", "http://[::1]:0/"] {
        let o = skyload().args(["invoke", url]).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{url}: {err}");
        assert!(err.contains("is not allowed: a port is a number from 1 to 65535"), "{err}");
    }
    assert!(!dir.path().join("reports").exists(), "nothing ran");
}

/// `invoke --json` prints the URL; a token in its query is redacted as in every other output.
#[test]
fn invoke_json_redacts_a_secret_in_the_query() {
    let server = TestServer::start();
    let o = skyload().args(["invoke", "--json", &format!("{}/x?user=7&api_key=QUERYSECRET", server.url())]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out.contains("QUERYSECRET") && out.contains("user=7&api_key=<redacted>"), "{out}");
    assert_eq!(server.received(), 1);
}

/// `--junit`, `--summary-json` and `report -o` replace only a file of their kind that skyload
/// wrote (a CI job's junit.xml from the last run), never another file, and say so before any
/// request is sent. `--tolerance` without `--baseline` would be ignored: it is a usage error.
#[test]
fn gate_and_report_files_never_replace_a_file_skyload_did_not_write() {
    let server = TestServer::start();
    let dir = tempdir();
    let feeder = dir.path().join("users.csv");
    std::fs::write(&feeder, "user,token\nalice,t\n").unwrap();
    let quick = |extra: &[&str]| {
        let mut c = skyload();
        c.args(["run", "--url", &server.url(), "--rate", "20", "--duration", "1s", "-q"]).args(extra).current_dir(dir.path());
        c.output().unwrap()
    };
    for flag in ["--junit", "--summary-json"] {
        let o = quick(&[flag, "users.csv"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flag}: {err}");
        assert!(err.contains(&format!("{flag} users.csv: the file exists and is not")), "{err}");
    }
    let o = quick(&["--tolerance", "p99 +10%"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--tolerance `p99 +10%`") && err.contains("--baseline"), "{err}");
    assert_eq!(server.received(), 0, "refused before the run");
    assert_eq!(std::fs::read_to_string(&feeder).unwrap(), "user,token\nalice,t\n");

    // The files of an earlier run are replaced, run after run.
    for _ in 0..2 {
        let o = quick(&["-o", "r", "--force", "--junit", "j.xml", "--summary-json", "v.json"]);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert!(std::fs::read_to_string(dir.path().join("j.xml")).unwrap().contains("<testsuites name=\"skyload\""));
    let r = dir.path().join("r");
    let o = skyload().arg("report").arg(&r).arg("-o").arg(&feeder).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    let o = skyload().arg("compare").arg(&r).arg(&r).arg("--junit").arg(&feeder).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(&feeder).unwrap(), "user,token\nalice,t\n");
    let html = dir.path().join("again.html");
    for _ in 0..2 {
        let o = skyload().arg("report").arg(&r).arg("-o").arg(&html).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

/// `invoke -o FILE` writes the body byte for byte and shows the rest; an existing file is refused
/// before anything is sent (exit 2, the file intact) unless --force; `-o -` puts the body alone on
/// stdout and the rest on stderr.
#[test]
fn invoke_o_writes_the_body_to_a_file_and_never_replaces_one_silently() {
    let server = TestServer::start();
    let tmp = tempdir();
    let file = tmp.path().join("body.txt");
    let url = format!("{}/x", server.url());
    let o = skyload().args(["invoke", &url, "-o"]).arg(&file).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&file).unwrap(), b"ok");
    assert!(out.contains("HTTP/1.1 200") && out.contains(&format!("body:           2 bytes written to {}", file.display())), "{out}");
    assert!(out.contains("timing:"), "{out}");

    std::fs::write(&file, "mine").unwrap();
    let o = skyload().args(["invoke", &url, "--output"]).arg(&file).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("the file exists") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    assert_eq!(server.received(), 1, "a refused -o sends nothing");
    let o = skyload().args(["invoke", &url, "--force", "-o"]).arg(&file).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&file).unwrap(), b"ok");

    let o = skyload().args(["invoke", &url, "-o", "-"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.stdout, b"ok");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("HTTP/1.1 200") && err.contains("2 bytes written to stdout"), "{err}");
    let o = skyload().args(["invoke", &url, "-o", "-", "--json"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(server.received(), 3);
}

/// `--connect-timeout` (curl's) on `run` and `invoke`: a listener whose accept queue is full drops
/// new SYNs, so a connect to it hangs; with the flag the request ends as a `connect` failure (run)
/// or exit 3 naming the timeout (invoke), long before `--timeout`. Bad values exit 2 naming the
/// flag or field. Loopback only; nothing here asserts on how long anything took.
#[test]
fn connect_timeout_ends_a_hanging_connect_as_a_connect_failure() {
    let rt = server_runtime();
    let _guard = rt.enter();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = sock.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    // Fill the accept queue (never accepted): connect until one attempt hangs.
    let mut held = Vec::new();
    let mut full = false;
    for _ in 0..16 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => held.push(s),
            Err(_) => {
                full = true;
                break;
            }
        }
    }
    assert!(full, "the accept queue of a listen(0) socket never filled: connects would not hang here");
    let url = format!("http://{addr}/x");
    let o = skyload().args(["invoke", &url, "--connect-timeout", "200ms", "--timeout", "60s"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("cannot connect to {addr}")) && err.contains("within the connect timeout, 200ms"), "{err}");

    let tmp = tempdir();
    let out = tmp.path().join("r");
    let o = skyload()
        .args(["run", "--url", &url, "--rate", "5", "--duration", "1s", "--timeout", "60s", "--connect-timeout", "200ms", "-q", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    let s = summary(&out);
    let connect = s["totals"]["outcomes"]["connect"].as_u64().unwrap_or(0);
    assert!(connect > 0 && connect == s["totals"]["completed"].as_u64().unwrap(), "{}", s["totals"]);
    let copy = std::fs::read_to_string(out.join("scenario.toml")).unwrap();
    assert!(copy.contains("connect_timeout = \"200ms\""), "{copy}");
    drop(held);
    drop(listener);

    // Bounded input, nothing sent: the flag or field is named with what is allowed.
    let scen = tmp.path().join("s.toml");
    std::fs::write(&scen, "[target]\nurl = \"http://127.0.0.1:9\"\ntimeout = \"2s\"\nconnect_timeout = \"5s\"\n[[stages]]\nrate = 1\nduration = \"1s\"\n[[requests]]\npath = \"/\"\n").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run", "--url", &url, "--rate", "1", "--duration", "1s", "--connect-timeout", "0s"], "--connect-timeout"),
        (vec!["run", "--url", &url, "--rate", "1", "--duration", "1s", "--connect-timeout", "soon"], "--connect-timeout"),
        (vec!["run", "--url", &url, "--rate", "1", "--duration", "1s", "--connect-timeout", "5s", "--timeout", "2s"], "longer than the whole-request timeout"),
        (vec!["run", scen.to_str().unwrap()], "target.connect_timeout"),
        (vec!["validate", scen.to_str().unwrap()], "s.toml:4:"),
        (vec!["invoke", &url, "--connect-timeout", "20s", "--timeout", "2s"], "--connect-timeout"),
        (vec!["invoke", &url, "--connect-timeout", "0"], "--connect-timeout"),
        // As typed, and the bound in the unit typed: not `12s`/`10s` for `12000ms`, nor `500us` for `0.5ms`.
        (vec!["invoke", &url, "--connect-timeout", "12000ms", "-m", "10s"], "--connect-timeout: `12000ms` is longer than the whole-request timeout (10s) it is part of: give at most 10000ms"),
        (vec!["invoke", &url, "--connect-timeout", "90s", "-m", "1m"], "--connect-timeout: `90s` is longer than the whole-request timeout (1m) it is part of: give at most 60s"),
        (vec!["run", "--url", &url, "--rate", "1", "--duration", "1s", "--connect-timeout", "0.5ms"], "--connect-timeout: `0.5ms` is not allowed: the connect timeout is at least 1ms"),
        (vec!["run", "--url", &url, "--rate", "1", "--duration", "1s", "--connect-timeout", "1500ms", "--timeout", "1s"], "--connect-timeout: `1500ms` is longer than the whole-request timeout (1s) it is part of: give at most 1000ms"),
        (vec!["validate", scen.to_str().unwrap()], "target.connect_timeout: `5s` is longer than the whole-request timeout (2s) it is part of: give at most 2s"),
    ];
    for (args, says) in cases {
        let o = skyload().args(&args).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {text}");
        assert!(text.contains(says), "{args:?}: {text}");
    }
}

/// `skyload report DIR` whose DIR/report.html is someone else's file is refused and names `-o
/// FILE`, the flag that writes the report elsewhere (review item 5).
#[test]
fn a_refused_default_report_path_names_the_o_flag() {
    let tmp = tempdir();
    let dir = tmp.path().join("r");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("report.html"), "my notes").unwrap();
    let o = skyload().arg("report").arg(&dir).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("not replaced") && err.contains("-o FILE writes the report elsewhere"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.join("report.html")).unwrap(), "my notes");
}

/// A refusal suggests only flags the command has: `merge` has no --force, `run` has.
#[test]
fn a_non_empty_out_is_refused_suggesting_force_only_where_it_exists() {
    let tmp = tempdir();
    let out = tmp.path().join("taken");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("timeseries.csv"), "").unwrap();
    let o = skyload().arg("merge").arg(tmp.path().join("a")).arg("--out").arg(&out).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("not empty") && !err.contains("--force"), "{err}");
    let o = skyload().args(["run", "--url", "http://127.0.0.1:9/", "--rate", "1", "--duration", "1s", "--out"]).arg(&out).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("not empty") && err.contains("add --force"), "{err}");
}

/// A TLS file that cannot be read is named by its flag in `invoke` as in `run` (nothing is sent).
#[test]
fn an_unreadable_cacert_is_named_by_its_flag() {
    for cmd in [&["invoke", "https://127.0.0.1:9/"][..], &["run", "--url", "https://127.0.0.1:9/", "--rate", "1", "--duration", "1s"][..]] {
        let o = skyload().args(cmd).args(["--cacert", "/nonexistent/ca.pem"]).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{cmd:?}: {err}");
        assert!(err.contains("--cacert: cannot read /nonexistent/ca.pem"), "{cmd:?}: {err}");
    }
}

/// A negative value on a duration flag reaches skyload's parser (clap took `-1s` for a flag and
/// said "unexpected argument '-1'"), and an out-of-range value is shown as typed: exit 2, the flag
/// named, what is wrong and what is allowed. Nothing is sent (port 9 on loopback is never called:
/// every case is refused before a run starts).
#[test]
fn negative_and_out_of_range_durations_name_the_flag_and_the_value_as_typed() {
    let tmp = tempdir();
    let scen = flag_test_scenario(tmp.path());
    let s = scen.to_str().unwrap();
    let url = "http://127.0.0.1:9/";
    let quick = ["run", "--url", url, "--rate", "1", "--duration", "1s"];
    let with = |extra: &[&'static str]| -> Vec<&str> { quick.iter().copied().chain(extra.iter().copied()).collect() };
    let negative = "is negative: a duration is 0 or more, written as a number with a unit, one of us, ms, s, m, h";
    let cases: Vec<(Vec<&str>, String)> = vec![
        (with(&["--timeout", "-1s"]), format!("--timeout: `-1s` {negative}")),
        (with(&["-m", "-250ms"]), format!("--timeout: `-250ms` {negative}")),
        (with(&["--connect-timeout", "-1s"]), format!("--connect-timeout: `-1s` {negative}")),
        (with(&["--metrics-linger", "-5s"]), format!("--metrics-linger: `-5s` {negative}")),
        (vec!["run", "--url", url, "--rate", "1", "--duration", "-2m"], format!("--duration: `-2m` {negative}")),
        (vec!["run", "--url", url, "--rate", "1", "--duration", "200h"], "--duration: `200h` is too long: a run lasts at most 7 days (168h)".into()),
        (vec!["run", s, "--duration", "0m"], "--duration: `0m` is 0".into()),
        (vec!["invoke", url, "--timeout", "-1s"], format!("--timeout: `-1s` {negative}")),
        (vec!["invoke", url, "--connect-timeout", "-1s"], format!("--connect-timeout: `-1s` {negative}")),
        (vec!["capacity", s, "--hold", "-2s"], format!("--hold: `-2s` {negative}")),
        (vec!["capacity", s, "--window", "25h"], "--window: `25h` is not allowed: at most 24h per step".into()),
        (vec!["capacity", s, "--start", "-5"], "--start: -5 is not allowed: a number > 0".into()),
        (vec!["k8s", s, "--shards", "2", "--image", "i", "--lead", "-1m"], format!("--lead: `-1m` {negative}")),
    ];
    refused_before_a_run(tmp.path(), cases.iter().map(|(a, says)| (a, says.as_str())), &["unexpected argument"]);
}

/// A scenario in `dir` for flag tests: port 9 on loopback, which no case ever calls.
fn flag_test_scenario(dir: &std::path::Path) -> std::path::PathBuf {
    let scen = dir.join("s.toml");
    std::fs::write(&scen, "[target]\nurl = \"http://127.0.0.1:9\"\n[checks]\nrun = [\"p99 < 1s\"]\n[[stages]]\nrate = 1\nduration = \"1s\"\n[[requests]]\npath = \"/\"\n").unwrap();
    scen
}

/// Runs each case in `dir`: exit 2, the message contains what it says, none of `never` (clap's own
/// wording) appears, and no run started.
fn refused_before_a_run<'a>(dir: &std::path::Path, cases: impl Iterator<Item = (&'a Vec<&'a str>, &'a str)>, never: &[&str]) {
    for (args, says) in cases {
        let o = skyload().args(args).current_dir(dir).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {text}");
        assert!(text.contains(says), "{args:?}: wanted `{says}` in: {text}");
        for n in never {
            assert!(!text.contains(n), "{args:?}: {text}");
        }
    }
    assert!(!dir.join("reports").exists(), "nothing ran");
}

/// A negative, non-numeric or out-of-range value on a whole-number flag is refused as a duration
/// flag's is: exit 2, the flag named, the value as typed and the range (clap said "invalid digit
/// found in string"). Nothing is sent.
#[test]
fn negative_and_out_of_range_counts_name_the_flag_and_the_range() {
    let tmp = tempdir();
    let scen = flag_test_scenario(tmp.path());
    let s = scen.to_str().unwrap();
    let url = "http://127.0.0.1:9/";
    let quick = ["run", "--url", url, "--rate", "1", "--duration", "1s"];
    let with = |extra: &[&'static str]| -> Vec<&str> { quick.iter().copied().chain(extra.iter().copied()).collect() };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (with(&["--connections", "-5"]), "--connections: `-5` is negative: the number of TCP connections, a whole number from 1 to 1000000"),
        (with(&["-c", "0"]), "--connections: `0` is not allowed: the number of TCP connections, a whole number from 1 to 1000000"),
        (with(&["--connections", "5000000"]), "--connections: `5000000` is not allowed"),
        (with(&["--threads", "-1"]), "--threads: `-1` is negative: the number of generator threads, a whole number from 1 to 1024"),
        (with(&["--threads", "two"]), "--threads: `two` is not a number: the number of generator threads"),
        (vec!["capacity", s, "--confirm", "-2"], "--confirm: `-2` is negative: holds that confirm the answer, a whole number from 0 to 20"),
        (vec!["capacity", s, "--retests", "11"], "--retests: `11` is not allowed: re-runs of the first failing rate, a whole number from 0 to 10"),
        (vec!["capacity", s, "--pods", "-3"], "--pods: `-3` is negative: the number of pods"),
        (vec!["invoke", url, "-n", "-1"], "-n: `-1` is negative: the number of requests, a whole number, 1 or more"),
        (vec!["invoke", url, "--max-redirs", "-2"], "--max-redirs: `-2` is negative: redirects to follow, a whole number, 0 or more; or -1 for no limit, as curl"),
        (vec!["invoke", url, "--max-body", "-1"], "--max-body: `-1` is negative"),
        (vec!["k8s", s, "--shards", "-2", "--image", "i"], "--shards: `-2` is negative: the number of shards, a whole number from 1 to 10000"),
    ];
    refused_before_a_run(tmp.path(), cases.iter().map(|(a, says)| (a, *says)), &["invalid digit", "unexpected argument"]);
}

/// `--check` adds whole-run checks to a quick run and to a file, by the rules of `[checks] run`:
/// judged and printed like the file's, kept in the saved scenario copy (a rerun or a merge judges
/// the same checks), and a bad one refused before anything is sent, naming the flag.
#[test]
fn check_flags_judge_a_quick_run_and_a_file() {
    let server = TestServer::start();
    let out = tempdir();
    let dir = out.path().join("quick");
    let url = format!("{}/x", server.url());
    let o = skyload()
        .args(["run", "--url", &url, "--rate", "50", "--duration", "1s", "-q", "--check", "error_rate < 1%", "--check", "rate >= 100000", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "an unreachable rate fails the run\n{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("verdict.json")).unwrap()).unwrap();
    let result = |check: &str| v["results"].as_array().unwrap().iter().find(|r| r["check"] == check).cloned().unwrap_or_else(|| panic!("{check} not judged: {v}"));
    assert_eq!(result("error_rate < 1%")["passed"], true, "{v}");
    assert_eq!(result("rate >= 100000")["passed"], false, "{v}");
    assert_eq!(result("rate >= 100000")["scope"], "run", "{v}");
    let copy = std::fs::read_to_string(dir.join("scenario.toml")).unwrap();
    assert!(copy.contains("[checks]") && copy.contains("rate >= 100000"), "{copy}");

    // On top of a file: added to its own checks, and recorded in the copy for `skyload merge`.
    let f = out.path().join("s.toml");
    std::fs::write(&f, format!("[target]\nurl = \"{}\"\n[checks]\nrun = [\"dropped == 0\"]\n[[stages]]\nrate = 50\nduration = \"1s\"\n[[requests]]\npath = \"/x\"\n", server.url())).unwrap();
    let dir = out.path().join("file");
    let o = skyload().arg("run").arg(&f).args(["-q", "--check", "ratio(ok) >= 99%", "--out"]).arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("verdict.json")).unwrap()).unwrap();
    let checks: Vec<&str> = v["results"].as_array().unwrap().iter().filter_map(|r| r["check"].as_str()).collect();
    assert!(checks.contains(&"dropped == 0") && checks.contains(&"ratio(ok) >= 99%"), "{v}");
    let copy = std::fs::read_to_string(dir.join("scenario.toml")).unwrap();
    assert!(copy.lines().any(|l| l.starts_with("# schedule flags, read back by skyload merge: ") && l.contains("ratio(ok) >= 99%")), "{copy}");

    // A bad check: exit 2, the flag named, a hint, nothing sent.
    let before = server.received();
    let o = skyload().args(["run", "--url", &url, "--rate", "50", "--duration", "1s", "-q", "--check", "p99(okk) < 5ms"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--check") && stderr.contains("did you mean `ok`"), "{stderr}");
    let o = skyload().arg("run").arg(&f).args(["-q", "--check", "p99 <"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--check") && stderr.contains("p99 <"), "{stderr}");
    assert_eq!(server.received(), before, "a refused check sends nothing");
}

/// `skyload capacity` on a scenario without checks says how to give an SLO (the --check flag or
/// the file), and runs with one given by flag.
#[test]
fn capacity_without_checks_names_the_check_flag() {
    let dir = tempdir();
    let f = dir.path().join("s.toml");
    std::fs::write(&f, "[target]\nurl = \"http://127.0.0.1:9\"\n[[stages]]\nrate = 10\nduration = \"1s\"\n[[requests]]\npath = \"/\"\n").unwrap();
    let o = skyload().arg("capacity").arg(&f).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--check 'p99 < 100ms'") && stderr.contains("[checks]"), "{stderr}");
    let o = skyload().arg("capacity").arg(&f).args(["--check", "p99 < 100ms", "--check", "nonsense"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "the flag's check is parsed: {stderr}");
    assert!(stderr.contains("--check") && stderr.contains("nonsense"), "{stderr}");
}

/// Two quick runs that differ only by `--check` ran the same load: compare says so and names the
/// checks that differ, instead of calling them different scenarios; another rate still is one.
#[test]
fn compare_of_runs_that_differ_only_in_checks_says_the_load_was_the_same() {
    let server = TestServer::start();
    let tmp = tempdir();
    let url = format!("{}/x", server.url());
    let run = |name: &str, rate: &str, checks: &[&str]| {
        let dir = tmp.path().join(name);
        let mut c = skyload();
        c.args(["run", "--url", &url, "--rate", rate, "--duration", "1s", "-q", "--out"]).arg(&dir);
        for k in checks {
            c.args(["--check", k]);
        }
        let o = c.output().unwrap();
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&o.stderr));
        dir
    };
    let a = run("a", "20", &["p99 < 5s"]);
    let b = run("b", "20", &["p99 < 10s", "error_rate < 50%"]);
    let c = run("c", "25", &["p99 < 5s"]);
    let o = skyload().arg("compare").args([&a, &b]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("the runs sent the same load") && out.contains("checks.run `p99 < 5s` → `p99 < 10s`, `error_rate < 50%`"), "{out}");
    assert!(!out.contains("different scenarios"), "{out}");
    let o = skyload().arg("compare").args([&a, &c]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("different scenarios") && !out.contains("same load"), "{out}");
}

/// What a new user types first: a bare `skyload run` says to give a file or the quick-run flags
/// (not that `--url` alone is missing), and `invoke` of a URL without a scheme says to add one,
/// as `run --url` does (it said "invalid format").
#[test]
fn a_bare_run_and_a_url_without_scheme_say_what_to_give() {
    let tmp = tempdir();
    let o = skyload().arg("run").current_dir(tmp.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("give a scenario file") && err.contains("--url, --rate and --duration"), "{err}");
    let o = skyload().args(["invoke", "127.0.0.1:9/fn/hello"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("`127.0.0.1:9/fn/hello` has no scheme: write http://127.0.0.1:9/fn/hello"), "{err}");
    assert!(!tmp.path().join("reports").exists(), "nothing ran");
}

/// `validate` on a gateway config says what the file is and which command takes it, and checks it
/// as a gateway config (its scenario errors, "unknown field `functions`", did not help); a TOML
/// that is no scenario at all is named as such.
#[test]
fn validate_names_a_gateway_config_and_other_toml_for_what_they_are() {
    let dir = tempdir();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let demo = root.join("scenarios/gateways/demo.toml");
    let o = skyload().arg("validate").arg(&demo).current_dir(root).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("a gateway config, not a scenario") && out.contains("skyload gateway --config"), "{out}");

    let bad = dir.path().join("gw.toml");
    std::fs::write(&bad, "seed = 1\n[functions.hello]\npods = 0\n").unwrap();
    let o = skyload().arg("validate").arg(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("gw.toml:3:") && err.contains("functions.hello.pods") && err.contains("is a gateway config, not a scenario"), "{err}");

    let cargo = dir.path().join("Cargo.toml");
    std::fs::write(&cargo, "[package]\nname = \"x\"\n").unwrap();
    let o = skyload().arg("validate").arg(&cargo).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("is not a skyload scenario") && err.contains("(package)") && err.contains("docs/scenarios.md"), "{err}");
}

/// A share tolerance over 100 percentage points is refused, naming the flag, the value and what is
/// allowed (it would pass every change of the share).
#[test]
fn compare_refuses_a_share_tolerance_over_100pp() {
    let dir = tempdir();
    let o = skyload().args(["compare", "a", "b", "-t", "error_rate +150pp"]).current_dir(dir.path()).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--tolerance `error_rate +150pp`") && err.contains("150pp is not allowed") && err.contains("from 0 to 100"), "{err}");
}
