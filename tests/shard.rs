//! Sharded runs end to end: four `skyload run --shard i/4 --start-at T` processes against one
//! embedded gateway (started in this test on 127.0.0.1:0), then `skyload merge`. The merged Results
//! must hold the whole schedule, add up exactly, equal the merge of merges (associativity), and
//! refuse a shard of another scenario. About 3 s of load at 300 → 500 rps in all.

mod common;

use common::tempdir;
use skyload::gateway::{GatewayConfig, GatewayHandle};
use skyload::record::hist::{add, decode, new_hist, Hist};
use skyload::record::read;
use skyload::record::merge::merge;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const GATEWAY: &str = r#"
[functions.hello]
pods = 2
concurrency = 16
service_time = { dist = "fixed", mean = "1ms" }

[functions.lim]
rate_limit = { rate = 40.0, burst = 5 }
"#;

/// 300 → 500 rps over 3 s: 1200 arrivals, three quarters `hello`, a quarter rate-limited `lim`.
fn scenario(addr: &str) -> String {
    format!(
        r#"name = "shards"
seed = 11
threads = 1
pod_header = "x-pod"
labels = ["x-fn-version"]

[target]
url = "http://{addr}"
timeout = "2s"

[connections]
max = 16

[[stages]]
name = "ramp"
from = 300
ramp_to = 500
duration = "3s"
# 400/s in all, ~100/s on each of four shards: judged at 1/4 there (verify::shard_share).
checks = ["rate >= 300"]

[[requests]]
name = "hello"
weight = 3
path = "/fn/hello?n={{{{seq}}}}"

[[requests]]
name = "lim"
weight = 1
path = "/fn/lim"

[[outcomes]]
name = "limited"
status = 429
"#
    )
}

fn skyload(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_skyload"));
    c.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

fn ok(o: &Output) -> String {
    format!("exit {:?}\n{}\n{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// Every latency histogram of a summary added up: the run's samples.
fn latency_samples(s: &serde_json::Value) -> Hist {
    let mut h = new_hist();
    for e in s["histograms"].as_array().unwrap().iter().filter(|e| e["kind"] == "latency") {
        add(&mut h, &decode(e["data"].as_str().unwrap()).unwrap());
    }
    h
}

fn merge_cli(inputs: &[&Path], out: &Path) -> Output {
    let mut c = skyload(&["merge"]);
    c.args(inputs).arg("--out").arg(out);
    c.output().unwrap()
}

/// summary.json with each histogram decoded to (value, count) pairs, so two encodings of one
/// histogram compare equal.
fn comparable(dir: &Path) -> serde_json::Value {
    let mut s = summary(dir);
    for e in s["histograms"].as_array_mut().unwrap() {
        let h = decode(e["data"].as_str().unwrap()).unwrap();
        let vals: Vec<(u64, u64)> = h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect();
        e["data"] = serde_json::json!(vals);
    }
    s
}

/// The interval log as (timestamp ms, tag, recorded values), independent of how each is encoded.
fn hlog(dir: &Path) -> Vec<(u64, String, Vec<(u64, u64)>)> {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let bytes = std::fs::read(dir.join("latency.hlog")).unwrap();
    IntervalLogIterator::new(&bytes)
        .filter_map(|e| match e.unwrap() {
            LogEntry::Interval(i) => {
                let h = decode(i.encoded_histogram()).unwrap();
                let vals = h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect();
                Some((i.start_timestamp().as_millis() as u64, i.tag().map_or(String::new(), |t| t.as_str().to_string()), vals))
            }
            _ => None,
        })
        .collect()
}

/// The names of the files in a directory, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// `accounting.csv` as `[scheduled, completed, dropped]` per intended second.
fn accounting(dir: &Path) -> Vec<[u64; 3]> {
    let text = std::fs::read_to_string(dir.join("accounting.csv")).unwrap();
    assert_eq!(text.lines().next(), Some("second,scheduled,completed,dropped"));
    text.lines()
        .skip(1)
        .enumerate()
        .map(|(k, l)| {
            let f: Vec<u64> = l.split(',').map(|v| v.parse().unwrap()).collect();
            assert_eq!(f[0], k as u64, "{l}");
            [f[1], f[2], f[3]]
        })
        .collect()
}

/// What a sharded test starts from: the embedded gateway on 127.0.0.1:0 (on `rt`), a temporary
/// directory holding the scenario `file`, and the shards' common start 2 s ahead, as `--start-at`
/// takes it.
struct Shards {
    rt: tokio::runtime::Runtime,
    gw: GatewayHandle,
    tmp: tempfile::TempDir,
    file: PathBuf,
    start_at: String,
}

/// `Shards` with the scenario `name` written from `text(gateway address)`.
fn shards_of(name: &str, text: impl FnOnce(&str) -> String) -> Shards {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let gw = rt
        .block_on(GatewayHandle::start(GatewayConfig::from_toml_str(GATEWAY).unwrap(), "127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let tmp = tempdir();
    let file = tmp.path().join(name);
    std::fs::write(&file, text(&gw.addr.to_string())).unwrap();
    Shards { rt, gw, tmp, file, start_at: start_in_2s() }
}

/// The shards' common start 2 s ahead, as `--start-at` takes it.
fn start_in_2s() -> String {
    let start = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(2);
    format!("{:.3}", start.as_secs_f64())
}

/// Runs shard i/n of `file` into `dirs[i]` for every i at once, all starting at `start_at`, and
/// waits for them.
fn run_shards(file: &std::path::Path, start_at: &str, dirs: &[PathBuf]) -> Vec<std::process::Output> {
    let n = dirs.len();
    let children: Vec<_> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let shard = format!("{i}/{n}");
            skyload(&["run", file.to_str().unwrap(), "--shard", &shard, "--start-at", start_at, "-q", "--out"]).arg(d).spawn().unwrap()
        })
        .collect();
    children.into_iter().map(|c| c.wait_with_output().unwrap()).collect()
}

#[test]
fn four_shards_merge_into_the_whole_schedule() {
    let Shards { rt, gw, tmp, file, start_at } = shards_of("shards.toml", scenario);

    let dirs: Vec<PathBuf> = (0..4).map(|i| tmp.path().join(format!("shard-{i}"))).collect();
    for o in run_shards(&file, &start_at, &dirs) {
        assert_eq!(o.status.code(), Some(0), "{}", ok(&o));
    }
    rt.block_on(gw.shutdown());

    let shards: Vec<serde_json::Value> = dirs.iter().map(|d| summary(d)).collect();
    for (i, s) in shards.iter().enumerate() {
        assert_eq!(s["start_unix_ms"], shards[0]["start_unix_ms"], "one epoch");
        assert_eq!(s["shards"], serde_json::json!({"count": 4, "indices": [i]}));
        let sent = s["totals"]["sent"].as_u64().unwrap();
        assert!((290..=310).contains(&sent), "shard {i} sent {sent}: a quarter of 1200");
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dirs[i].join("verdict.json")).unwrap()).unwrap();
        let rate = &v["results"][0];
        assert_eq!((rate["check"].as_str(), rate["expected"].as_str(), rate["passed"].as_bool()), (Some("rate >= 300"), Some(">= 75 rps"), Some(true)), "{v}");
        assert!(rate["note"].as_str().unwrap_or("").contains(&format!("shard {i}/4")), "{v}");
    }

    let merged = tmp.path().join("merged");
    let junit = tmp.path().join("junit.xml");
    let mut c = skyload(&["merge"]);
    c.args(&dirs).arg("--out").arg(&merged).arg("--junit").arg(&junit);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", ok(&o));
    // The whole run's verdict: `rate >= 300` judged as written on the merged 400/s, not at a share.
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(merged.join("verdict.json")).unwrap()).unwrap();
    let rate = &v["results"][0];
    assert_eq!((rate["check"].as_str(), rate["expected"].as_str(), rate["passed"].as_bool()), (Some("rate >= 300"), Some(">= 300 rps"), Some(true)), "{v}");
    assert!(rate["note"].is_null(), "{v}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("rate >= 300"), "{}", ok(&o));
    let j = std::fs::read_to_string(&junit).unwrap();
    assert!(j.contains("<testsuites name=\"skyload\"") && j.contains("rate &gt;= 300") && !j.contains("<failure"), "{j}");
    let m = summary(&merged);
    let scheduled = m["totals"]["scheduled"].as_u64().unwrap();
    assert!((1188..=1212).contains(&scheduled), "merged {scheduled} of 1200 scheduled");
    assert_eq!(m["generator"]["threads"], 4);
    assert_eq!(m["generator"]["expected"], 1200.0);
    assert_eq!(m["shards"], serde_json::json!({"count": 4, "indices": [0, 1, 2, 3]}));
    assert_eq!(m["merged_from"].as_array().unwrap().len(), 4);
    // Counters add up: per outcome, per request, per pod.
    let sum = |f: &dyn Fn(&serde_json::Value) -> u64| shards.iter().map(f).sum::<u64>();
    for key in ["scheduled", "sent", "completed", "dropped", "bytes_in"] {
        assert_eq!(m["totals"][key].as_u64().unwrap(), sum(&|s| s["totals"][key].as_u64().unwrap()), "{key}");
    }
    for (o, n) in m["totals"]["outcomes"].as_object().unwrap() {
        assert_eq!(n.as_u64().unwrap(), sum(&|s| s["totals"]["outcomes"][o].as_u64().unwrap_or(0)), "outcome {o}");
    }
    assert!(m["totals"]["outcomes"]["limited"].as_u64().unwrap() > 0, "the rate limit showed");
    assert_eq!(
        m["pods"].as_array().unwrap().iter().map(|p| p["count"].as_u64().unwrap()).sum::<u64>(),
        sum(&|s| s["pods"].as_array().unwrap().iter().map(|p| p["count"].as_u64().unwrap()).sum())
    );
    // The merged p99 is the p99 of the union of the shards' samples (HDR add, not an average).
    let mut union = new_hist();
    for s in &shards {
        add(&mut union, &latency_samples(s));
    }
    assert_eq!(m["totals"]["latency"]["p99_us"].as_u64().unwrap(), union.value_at_quantile(0.99));
    assert_eq!(m["totals"]["latency"]["count"].as_u64().unwrap(), union.len());
    // Seconds line up: the merged `*` rows sum the shards' `*` rows.
    let star_completed = |d: &Path| -> u64 {
        let csv = std::fs::read_to_string(d.join("timeseries.csv")).unwrap();
        csv.lines().filter(|l| l.split(',').nth(1) == Some("*")).map(|l| l.split(',').nth(5).unwrap().parse::<u64>().unwrap()).sum()
    };
    assert_eq!(star_completed(&merged), dirs.iter().map(|d| star_completed(d)).sum::<u64>());
    // A sharded run gives what an unsharded one gives: the same files (the report and the
    // accounting too), and every intended second's arrivals are the shards' added up.
    assert_eq!(files(&merged), files(&dirs[0]), "a merged directory holds what a run's holds");
    assert!(files(&merged).contains(&"report.html".to_string()) && files(&merged).contains(&"accounting.csv".to_string()));
    let acc = accounting(&merged);
    assert_eq!(acc.len(), dirs.iter().map(|d| accounting(d).len()).max().unwrap());
    for (k, row) in acc.iter().enumerate() {
        let sum = dirs.iter().filter_map(|d| accounting(d).get(k).copied()).fold([0; 3], |a, b| [a[0] + b[0], a[1] + b[1], a[2] + b[2]]);
        assert_eq!(*row, sum, "accounting second {k}");
        assert_eq!(row[0], row[1] + row[2], "second {k}: every arrival ended once");
    }
    assert_eq!(acc.iter().map(|r| r[0]).sum::<u64>(), scheduled);
    // Status codes per second (status.csv) add up to the run's, here the 429s of the rate limit.
    let mut per_code = std::collections::BTreeMap::<String, u64>::new();
    for l in std::fs::read_to_string(merged.join("status.csv")).unwrap().lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        *per_code.entry(f[1].to_string()).or_default() += f[2].parse::<u64>().unwrap();
    }
    let codes: std::collections::BTreeMap<String, u64> = serde_json::from_value(m["totals"]["status_codes"].clone()).unwrap();
    assert_eq!(per_code, codes);
    assert!(codes.get("429").is_some_and(|n| *n > 0), "{codes:?}");
    let html = std::fs::read_to_string(merged.join("report.html")).unwrap();
    assert!(html.contains("rate &gt;= 300") && html.contains("<svg"), "the report shows the merged verdict and charts");
    // The merged status codes are drawn and tabled: the 429s, all shards' together.
    assert!(html.contains("<figure class=\"chart\" id=\"chart-status\">"), "status chart missing from the merged report");
    assert!(html.contains(&format!("<tr><td>429</td><td class=\"num\">{}</td>", codes["429"])), "merged 429s in the status table");
    assert!(ok(&o).contains(&format!("report:  {}", merged.join("report.html").display())), "{}", ok(&o));

    // Associative: ((0,1),2,3) from disk equals (0,1,2,3), and in memory (a,(b,c)) equals ((a,b),c).
    let m01 = tmp.path().join("m01");
    // A step of a merge in stages: without --allow-missing, 2 of 4 shards is never a pass.
    let o = merge_cli(&[&dirs[0], &dirs[1]], &tmp.path().join("m01-strict"));
    assert_eq!(o.status.code(), Some(3), "{}", ok(&o));
    let mut c = skyload(&["merge", "--allow-missing"]);
    let o = c.arg(&dirs[0]).arg(&dirs[1]).arg("--out").arg(&m01).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", ok(&o));
    // Two of four shards are judged at 2/4 of the rate, and say so.
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(m01.join("verdict.json")).unwrap()).unwrap();
    assert_eq!(v["results"][0]["expected"], ">= 150 rps", "{v}");
    assert!(v["results"][0]["note"].as_str().unwrap_or("").contains("2 of 4 shards"), "{v}");
    let again = tmp.path().join("again");
    let o = merge_cli(&[&m01, &dirs[2], &dirs[3]], &again);
    assert_eq!(o.status.code(), Some(0), "{}", ok(&o));
    assert_eq!(comparable(&again), comparable(&merged));
    for f in ["timeseries.csv", "pods.csv", "labels.csv", "scenario.toml", "accounting.csv"] {
        assert!(std::fs::read_to_string(again.join(f)).unwrap() == std::fs::read_to_string(merged.join(f)).unwrap(), "{f} differs");
    }
    assert!(hlog(&again) == hlog(&merged), "latency.hlog differs");
    let (a, b, c) = (read::results(&dirs[0]).unwrap(), read::results(&dirs[1]).unwrap(), read::results(&dirs[2]).unwrap());
    let left = merge(&merge(&a, &b).unwrap(), &c).unwrap();
    let right = merge(&a, &merge(&b, &c).unwrap()).unwrap();
    let (l, r) = (tmp.path().join("left"), tmp.path().join("right"));
    left.save(&l).unwrap();
    right.save(&r).unwrap();
    assert_eq!(comparable(&l), comparable(&r));
    assert_eq!(std::fs::read(l.join("timeseries.csv")).unwrap(), std::fs::read(r.join("timeseries.csv")).unwrap());
    assert!(summary(&l)["generator"]["notes"].to_string().contains("3 of 4 shards"));

    // A shard of another scenario, or the same shard twice, is refused with exit 2.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    for f in ["summary.json", "timeseries.csv", "latency.hlog", "pods.csv", "labels.csv"] {
        std::fs::copy(dirs[3].join(f), other.join(f)).unwrap();
    }
    let text = std::fs::read_to_string(dirs[3].join("scenario.toml")).unwrap();
    std::fs::write(other.join("scenario.toml"), text.replace("seed = 11", "seed = 12")).unwrap();
    let o = merge_cli(&[&dirs[0], &dirs[1], &dirs[2], &other], &tmp.path().join("refused"));
    assert_eq!(o.status.code(), Some(2), "{}", ok(&o));
    assert!(ok(&o).contains("different scenario"), "{}", ok(&o));
    let o = merge_cli(&[&dirs[0], &dirs[0]], &tmp.path().join("twice"));
    assert_eq!(o.status.code(), Some(2), "{}", ok(&o));
    assert!(ok(&o).contains("both hold shard 0 of 4"), "{}", ok(&o));
}

#[test]
fn bad_shard_and_start_values_exit_2() {
    let tmp = tempdir();
    let file = tmp.path().join("s.toml");
    // Nothing listens here; every case is refused before a request is sent.
    std::fs::write(&file, scenario("127.0.0.1:9")).unwrap();
    let f = file.to_str().unwrap();
    let past = (SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() - 60).to_string();
    for (args, says) in [
        (vec!["--shard", "4/4"], "write it as I/N"),
        (vec!["--shard", "two"], "write it as I/N"),
        (vec!["--start-at", "tomorrow"], "RFC 3339"),
        (vec!["--start-at", past.as_str()], "in the past"),
    ] {
        let mut a = vec!["run", f, "-q", "--out", tmp.path().join("r").to_str().unwrap()].into_iter().map(String::from).collect::<Vec<_>>();
        a.extend(args.iter().map(|s| s.to_string()));
        let o = skyload(&a.iter().map(String::as_str).collect::<Vec<_>>()).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", ok(&o));
        assert!(ok(&o).contains(says), "{args:?}: {}", ok(&o));
    }
    let o = merge_cli(&[&tmp.path().join("nowhere")], &tmp.path().join("m"));
    assert_eq!(o.status.code(), Some(2), "{}", ok(&o));
}

/// Two shards of a 30 s scenario run with `--rate 40 --duration 1s`: the merge rebuilds the
/// stages from the recorded flags and judges the whole run; a check the merged run misses exits 1
/// with a failing JUnit testcase; shards run with other flags are refused (exit 2).
#[test]
fn merge_judges_the_checks_on_the_plan_the_shards_ran() {
    // `stage steady` exists only without --rate: after --rate the one stage is `constant`.
    let Shards { rt, gw, tmp, file, start_at } = shards_of("gate.toml", |addr| {
        format!(
            "name = \"gate\"\nthreads = 1\n[target]\nurl = \"http://{addr}\"\ntimeout = \"2s\"\n[checks]\nrun = [\"rate >= 1000\", \"error_rate < 50%\"]\n[[stages]]\nname = \"steady\"\nrate = 5\nduration = \"30s\"\n[[requests]]\nname = \"hello\"\npath = \"/fn/hello\"\n"
        )
    });
    let run = |i: u32, rate: &str, dir: &Path| {
        let shard = format!("{i}/2");
        let mut c = skyload(&["run", file.to_str().unwrap(), "--shard", &shard, "--start-at", &start_at, "-q", "--rate", rate, "--duration", "1s", "--out"]);
        c.arg(dir).spawn().unwrap()
    };
    let dirs: Vec<PathBuf> = (0..2).map(|i| tmp.path().join(format!("s{i}"))).collect();
    let other = tmp.path().join("other-rate");
    let children = vec![run(0, "40", &dirs[0]), run(1, "40", &dirs[1]), run(1, "41", &other)];
    for c in children {
        let o = c.wait_with_output().unwrap();
        // Each shard misses `rate >= 1000` at its half share, too.
        assert_eq!(o.status.code(), Some(1), "{}", ok(&o));
    }
    rt.block_on(gw.shutdown());
    let copy = std::fs::read_to_string(dirs[0].join("scenario.toml")).unwrap();
    assert!(copy.contains("# schedule flags, read back by skyload merge: {\"rate\":40.0,\"duration_ns\":1000000000}"), "{copy}");

    let merged = tmp.path().join("merged");
    let junit = tmp.path().join("junit.xml");
    let gate = tmp.path().join("gate.json");
    let mut c = skyload(&["merge"]);
    c.args(&dirs).arg("-o").arg(&merged).arg("--junit").arg(&junit).arg("--summary-json").arg(&gate);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", ok(&o));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(merged.join("verdict.json")).unwrap()).unwrap();
    let r = &v["results"];
    assert_eq!((r[0]["check"].as_str(), r[0]["expected"].as_str(), r[0]["passed"].as_bool()), (Some("rate >= 1000"), Some(">= 1000 rps"), Some(false)), "{v}");
    assert_eq!((r[1]["check"].as_str(), r[1]["passed"].as_bool()), (Some("error_rate < 50%"), Some(true)), "{v}");
    // The generator guard judged the rebuilt 1 s schedule (80 arrivals), not the file's 30 s.
    // (Sent ~100% of 80; against the file's 30 s schedule it would read ~3%.)
    assert_eq!(r[2]["scope"].as_str(), Some("generator"), "{v}");
    let sent: f64 = r[2]["measured"].as_str().unwrap().trim_start_matches("sent ").split('%').next().unwrap().parse().unwrap();
    assert!(sent > 50.0, "{v}");
    let j = std::fs::read_to_string(&junit).unwrap();
    assert!(j.contains("<failure") && j.contains("rate &gt;= 1000"), "{j}");
    let g: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&gate).unwrap()).unwrap();
    assert_eq!((g["command"].as_str(), g["exit_code"].as_i64(), g["passed"].as_bool()), (Some("merge"), Some(1), Some(false)), "{g}");

    // A shard run with another --rate ran another plan: refused before anything is written.
    let o = merge_cli(&[&dirs[0], &other], &tmp.path().join("refused"));
    assert_eq!(o.status.code(), Some(2), "{}", ok(&o));
    assert!(ok(&o).contains("different scenario"), "{}", ok(&o));
    // A --junit path holding someone else's file is refused before the merge (exit 2, file intact).
    let mine = tmp.path().join("notes.xml");
    std::fs::write(&mine, "my notes").unwrap();
    let mut c = skyload(&["merge"]);
    c.args(&dirs).arg("-o").arg(tmp.path().join("m2")).arg("--junit").arg(&mine);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", ok(&o));
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "my notes");
    assert!(!tmp.path().join("m2").exists());
    // One shard of two (the other killed, or late for the Kubernetes merge's deadline): merged,
    // but never a pass, whatever its checks say — half the load was never sent.
    let junit = tmp.path().join("half.xml");
    let mut c = skyload(&["merge"]);
    c.arg(&dirs[1]).arg("-o").arg(tmp.path().join("half")).arg("--junit").arg(&junit);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", ok(&o));
    assert!(ok(&o).contains("1 of 2 shards merged: shard 0 missing"), "{}", ok(&o));
    assert!(std::fs::read_to_string(&junit).unwrap().contains("shard 0 missing"));
}

/// A sharded drill: only shard 0 drives the fault and writes faults.json. The merge judges the
/// fault's recovery on the whole run, as `run` does on one machine; it used to leave the faults
/// out, so a drill whose recovery check failed merged to a pass (exit 0).
#[test]
fn merge_judges_a_sharded_drill_s_faults() {
    let Shards { rt, gw, tmp, file, start_at } = shards_of("drill.toml", |addr| {
        // The fault ends at 2 s and the run at 3 s: too soon for 3 good seconds in a row, so
        // `recover_within` cannot be met whatever the machine's speed — a deterministic failure.
        format!(
            "name = \"drill\"\nthreads = 1\n[target]\nurl = \"http://{addr}\"\ntimeout = \"2s\"\n[checks]\nrun = [\"error_rate < 100%\"]\n\
             [[stages]]\nrate = 40\nduration = \"3s\"\n[[requests]]\nname = \"hello\"\npath = \"/fn/hello\"\n\
             [[faults]]\nname = \"kill-1\"\nkind = \"pod_kill\"\npod = \"hello-1\"\nat = \"1s\"\nfor = \"1s\"\nrecover_within = \"1s\"\n"
        )
    });
    let dirs: Vec<PathBuf> = (0..2).map(|i| tmp.path().join(format!("d{i}"))).collect();
    let codes: Vec<Option<i32>> = run_shards(&file, &start_at, &dirs).iter().map(|o| o.status.code()).collect();
    rt.block_on(gw.shutdown());
    assert_eq!(codes[0], Some(1), "shard 0 drove the fault and judged its recovery");
    assert!(dirs[0].join("faults.json").exists() && !dirs[1].join("faults.json").exists());

    let merged = tmp.path().join("merged");
    let junit = tmp.path().join("junit.xml");
    let mut c = skyload(&["merge"]);
    c.args(&dirs).arg("--out").arg(&merged).arg("--junit").arg(&junit);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", ok(&o));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(merged.join("verdict.json")).unwrap()).unwrap();
    let rec = v["results"].as_array().unwrap().iter().find(|r| r["scope"] == "fault kill-1" && r["check"] == "recovery <= 1s");
    assert_eq!(rec.and_then(|r| r["passed"].as_bool()), Some(false), "{v}");
    let faults: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(merged.join("faults.json")).unwrap()).unwrap();
    assert_eq!(faults[0]["name"], "kill-1", "{faults}");
    assert!(faults[0]["completed"].as_u64().unwrap() > 0, "judged on the merged data: {faults}");
    assert!(std::fs::read_to_string(&junit).unwrap().contains("recovery &lt;= 1s"));
    assert!(std::fs::read_to_string(merged.join("report.html")).unwrap().contains("kill-1"));
}

/// Two shards of a two-stage schedule (100/s in all: `first` 2 s, `second` 4 s) against one test
/// server that holds arrivals 185..195 of both together (due ~1.85 s to ~1.95 s, the end of
/// `first`) for 3 s, so they are answered in `second`'s seconds. The merge judges `first` by the
/// requests it scheduled (its `p99 < 500ms` fails, `second` is not blamed), and its stage
/// histograms are exactly the shards' added: on disk, in memory, and in a merge's verdict.
#[test]
fn shards_merge_their_stage_histograms() {
    use skyload::record::by_stage::StageHists;
    let server = common::TestServer::start();
    server.hold_numbered(185, 10, Duration::from_secs(3));
    let tmp = tempdir();
    let file = tmp.path().join("staged.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"staged\"\nthreads = 1\nseed = 5\n[target]\nurl = \"{}\"\ntimeout = \"5s\"\n\n\
             [[stages]]\nname = \"first\"\nrate = 100\nduration = \"2s\"\nchecks = [\"p99 < 500ms\"]\n\n\
             [[stages]]\nname = \"second\"\nrate = 100\nduration = \"4s\"\nchecks = [\"max < 2s\"]\n\n\
             [[requests]]\nname = \"get\"\npath = \"/x\"\n",
            server.url()
        ),
    )
    .unwrap();
    let dirs: Vec<PathBuf> = (0..2).map(|i| tmp.path().join(format!("shard-{i}"))).collect();
    for o in run_shards(&file, &start_in_2s(), &dirs) {
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", ok(&o));
    }
    let merged = tmp.path().join("merged");
    let o = merge_cli(&[&dirs[0], &dirs[1]], &merged);
    assert_eq!(o.status.code(), Some(1), "stage first's check fails: {}", ok(&o));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(merged.join("verdict.json")).unwrap()).unwrap();
    let result = |scope: &str| v["results"].as_array().unwrap().iter().find(|r| r["scope"] == scope).cloned().unwrap_or_else(|| panic!("{scope}: {v}"));
    assert_eq!(result("stage first")["passed"], false, "{v}");
    assert_eq!(result("stage second")["passed"], true, "{v}");
    assert!(files(&merged).contains(&"stages.hlog".to_string()));

    // Exactly the shards' histograms added, stage by stage, request by request, outcome by outcome.
    let (a, b) = (read::results(&dirs[0]).unwrap(), read::results(&dirs[1]).unwrap());
    let on_disk = read::results(&merged).unwrap();
    let in_memory = merge(&a, &b).unwrap();
    let values = |h: Option<&Hist>| h.map(|h| h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect::<Vec<_>>()).unwrap_or_default();
    let stages = |r: &read::Results| -> StageHists { r.totals.by_stage.clone().expect("stage histograms") };
    let (sa, sb, sd, sm) = (stages(&a), stages(&b), stages(&on_disk), stages(&in_memory));
    assert_eq!(sd.stages.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["first", "second"]);
    let outcomes = on_disk.shape.outcomes.len();
    let mut held = 0;
    for s in 0..2 {
        for o in 0..outcomes {
            let mut sum = new_hist();
            let mut service = new_hist();
            for part in [&sa, &sb] {
                if let Some(h) = part.get(s, 0, o) {
                    add(&mut sum, &h.latency);
                    add(&mut service, &h.service);
                }
            }
            let got = sd.get(s, 0, o);
            assert_eq!(values(got.map(|h| &h.latency)), values(Some(&sum).filter(|h| !h.is_empty())), "stage {s} outcome {o} latency");
            assert_eq!(values(got.map(|h| &h.service)), values(Some(&service).filter(|h| !h.is_empty())), "stage {s} outcome {o} service");
            assert_eq!(values(sm.get(s, 0, o).map(|h| &h.latency)), values(got.map(|h| &h.latency)), "in memory = on disk");
            if s == 0 {
                held += got.map_or(0, |h| h.latency.count_between(2_500_000, u64::MAX));
            }
        }
    }
    assert_eq!(held, 10, "the held arrivals are stage first's");
    let second_max = (0..outcomes).filter_map(|o| sd.get(1, 0, o)).map(|h| h.latency.max()).max().unwrap();
    assert!(second_max < 2_500_000, "stage second holds none of them: max {second_max} us");

    // Latency by intended second adds up the same way: each second's completions are the
    // shards' (the entries of one second summed), and the accounting's for that second.
    assert!(files(&merged).contains(&"intended.hlog".to_string()));
    let per_second = |r: &read::Results| -> Vec<(u64, u64)> { r.intended.as_ref().expect("intended.hlog").iter().map(|(k, s)| (*k, s.completed())).collect() };
    let (pa, pb) = (per_second(&a), per_second(&b));
    let mut sum: std::collections::BTreeMap<u64, u64> = pa.iter().copied().collect();
    for (k, n) in pb {
        *sum.entry(k).or_default() += n;
    }
    assert_eq!(per_second(&on_disk), sum.into_iter().collect::<Vec<_>>());
    for (k, n) in per_second(&on_disk) {
        assert_eq!(n, on_disk.totals.by_intended[k as usize][1], "intended second {k}");
    }

    // A shard without the files (an older skyload) makes a merge without them: judged by the seconds.
    let old = tmp.path().join("old");
    std::fs::create_dir_all(&old).unwrap();
    for f in files(&dirs[1]).iter().filter(|f| *f != "stages.hlog" && *f != "intended.hlog") {
        std::fs::copy(dirs[1].join(f), old.join(f)).unwrap();
    }
    let partial = merge(&a, &read::results(&old).unwrap()).unwrap();
    assert!(partial.totals.by_stage.is_none());
    assert!(partial.intended.is_none());
}
