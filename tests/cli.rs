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
        .args(["-H", "x-test: 1", "-m", "POST", "-d", "payload"])
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

#[test]
fn a_dead_target_exits_3_with_results_on_disk() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = tempdir();
    let dir = out.path().join("dead");
    let o = skyload()
        .args(["run", "--url", &format!("http://127.0.0.1:{port}"), "--rate", "50", "--duration", "1s", "-q", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("refused every connection"));
    assert_eq!(summary(&dir)["totals"]["outcomes"]["connect"], 50);
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
