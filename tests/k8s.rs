//! `skyload k8s`: the manifests are read back as plain YAML (serde_yaml) and checked for what the
//! Kubernetes API requires of each object and for what the run needs (indexed shards with one start
//! time, the scenario and its feeders mounted, a shared claim, a merge that waits for the shards).

mod common;

use common::tempdir;
use serde_yaml::Value;
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

fn skyload(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skyload")).args(args).stdin(Stdio::null()).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("exit {:?}\n{}\n{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn docs(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml).map(|d| serde::Deserialize::deserialize(d).unwrap()).collect()
}

fn s<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) => &v[i],
        Err(_) => &v[k],
    })
}

fn str_at<'a>(v: &'a Value, path: &str) -> &'a str {
    s(v, path).as_str().unwrap_or_else(|| panic!("{path} is not a string in {v:?}"))
}

/// What the API server refuses an object without.
fn check_object(d: &Value) {
    let kind = str_at(d, "kind");
    let api = str_at(d, "apiVersion");
    assert_eq!(api, if kind == "Job" { "batch/v1" } else { "v1" }, "{kind}");
    let name = str_at(d, "metadata.name");
    assert!(name.len() <= 63 && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{name}");
    if kind == "Job" {
        let pod = s(d, "spec.template.spec");
        assert_eq!(str_at(pod, "restartPolicy"), "Never");
        let volumes: Vec<&str> = pod["volumes"].as_sequence().unwrap().iter().map(|v| str_at(v, "name")).collect();
        for c in pod["containers"].as_sequence().unwrap() {
            assert!(!str_at(c, "name").is_empty() && !str_at(c, "image").is_empty());
            for m in c["volumeMounts"].as_sequence().unwrap() {
                assert!(volumes.contains(&str_at(m, "name")), "mount of an undeclared volume");
                assert!(str_at(m, "mountPath").starts_with('/'));
            }
        }
        // The API server's own rules: a retry limit per Job, or per index for an Indexed Job
        // (which FailIndex needs); a failure policy names containers of the pod.
        let indexed = s(d, "spec.completionMode").as_str() == Some("Indexed");
        if indexed {
            assert!(s(d, "spec.backoffLimitPerIndex").as_u64().is_some() && d["spec"].get("backoffLimit").is_none());
        } else {
            assert!(s(d, "spec.backoffLimit").as_u64().is_some());
        }
        let names: Vec<&str> = pod["containers"].as_sequence().unwrap().iter().map(|c| str_at(c, "name")).collect();
        if let Some(rules) = d["spec"].get("podFailurePolicy") {
            for r in rules["rules"].as_sequence().unwrap() {
                if let Some(codes) = r.get("onExitCodes") {
                    assert!(names.contains(&str_at(codes, "containerName")), "a rule for an unknown container");
                }
                assert!(str_at(r, "action") != "FailIndex" || indexed);
            }
        }
    }
}

#[test]
fn manifests_for_four_shards() {
    let tmp = tempdir();
    std::fs::create_dir_all(tmp.path().join("data")).unwrap();
    std::fs::write(tmp.path().join("data/users.csv"), "user_id\n1\n2\n").unwrap();
    let file = tmp.path().join("load.toml");
    std::fs::write(
        &file,
        r#"name = "launch"
[target]
url = "http://gateway.prod:8080"
[[stages]]
rate = 1000
duration = "2m"
[[feeders]]
name = "users"
file = "data/users.csv"
[[requests]]
name = "get"
path = "/fn/hello?u={{user_id}}"
"#,
    )
    .unwrap();
    let start = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 600;
    let start_s = start.to_string();
    let o = skyload(&[
        "k8s", file.to_str().unwrap(), "--shards", "4", "--image", "registry.example/skyload:0.1", "--start-at", &start_s,
        "--namespace", "load", "--run-arg=--connections", "--run-arg=50",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let all = docs(&String::from_utf8(o.stdout.clone()).unwrap());
    let kinds: Vec<&str> = all.iter().map(|d| str_at(d, "kind")).collect();
    assert_eq!(kinds, ["Secret", "PersistentVolumeClaim", "Job", "Job"]);
    all.iter().for_each(check_object);
    let (cm, pvc, shards, merge) = (&all[0], &all[1], &all[2], &all[3]);
    assert!(cm["stringData"]["scenario.toml"].as_str().unwrap().contains("name = \"launch\""));
    assert_eq!(cm["stringData"]["feeder-0"].as_str().unwrap(), "user_id\n1\n2\n");
    assert_eq!(str_at(pvc, "spec.accessModes.0"), "ReadWriteMany");
    assert_eq!(str_at(pvc, "spec.resources.requests.storage"), "1Gi");

    assert_eq!(str_at(shards, "spec.completionMode"), "Indexed");
    assert_eq!(s(shards, "spec.completions").as_u64(), Some(4));
    assert_eq!(s(shards, "spec.parallelism").as_u64(), Some(4));
    let c = s(shards, "spec.template.spec.containers.0");
    let args: Vec<&str> = c["args"].as_sequence().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(&args[..4], ["run", "/scenario/scenario.toml", "--shard", "$(JOB_COMPLETION_INDEX)/4"]);
    let at = args.iter().position(|a| *a == "--start-at").unwrap();
    let rfc = args[at + 1];
    assert!(rfc.ends_with('Z') && rfc.contains('T'), "{rfc}");
    let out = args[args.iter().position(|a| *a == "--out").unwrap() + 1];
    assert!(out.starts_with("/results/launch-") && out.ends_with("/shard-$(JOB_COMPLETION_INDEX)"), "{out}");
    assert!(args.ends_with(&["--connections", "50"]));
    assert_eq!(str_at(c, "env.0.name"), "JOB_COMPLETION_INDEX");
    let items = s(shards, "spec.template.spec.volumes.0.secret.items").as_sequence().unwrap();
    assert!(items.iter().any(|i| str_at(i, "key") == "feeder-0" && str_at(i, "path") == "data/users.csv"));
    assert_eq!(str_at(shards, "spec.template.spec.volumes.1.persistentVolumeClaim.claimName"), str_at(pvc, "metadata.name"));

    assert!(s(merge, "spec.completionMode").is_null());
    let script = str_at(merge, "spec.template.spec.containers.0.command.2");
    let run_dir = out.trim_end_matches("/shard-$(JOB_COMPLETION_INDEX)");
    assert!(script.contains(&format!("dir={run_dir}; n=4;")), "{script}");
    assert!(script.contains("skyload merge"));

    // Written to a directory, with an existing claim: no PVC object, the claim is used.
    let dir = tmp.path().join("k8s");
    let o = skyload(&[
        "k8s", file.to_str().unwrap(), "--shards", "2", "--image", "i:1", "--claim", "shared-results", "-o", dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut names: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["00-secret.yaml", "02-shards-job.yaml", "03-merge-job.yaml"]);
    let job = &docs(&std::fs::read_to_string(dir.join("02-shards-job.yaml")).unwrap())[0];
    check_object(job);
    assert_eq!(str_at(job, "spec.template.spec.volumes.1.persistentVolumeClaim.claimName"), "shared-results");

    // Again into the same directory: refused (exit 2), the first existing file named, nothing
    // touched; --force overwrites; a file of the user's beside them is never touched.
    std::fs::write(dir.join("02-shards-job.yaml"), "# edited by hand\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "mine\n").unwrap();
    let again = ["k8s", file.to_str().unwrap(), "--shards", "2", "--image", "i:1", "--claim", "shared-results", "-o", dir.to_str().unwrap()];
    let o = skyload(&again);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let first = dir.join("00-secret.yaml");
    assert!(text(&o).contains(&format!("{} exists (and 2 more of the 3 it would write)", first.display())) && text(&o).contains("--force"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(dir.join("02-shards-job.yaml")).unwrap(), "# edited by hand\n");
    let o = skyload(&[&again[..], &["--force"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    check_object(&docs(&std::fs::read_to_string(dir.join("02-shards-job.yaml")).unwrap())[0]);
    assert_eq!(std::fs::read_to_string(dir.join("notes.txt")).unwrap(), "mine\n");
}

#[test]
fn bad_k8s_usage_exits_2() {
    let tmp = tempdir();
    let file = tmp.path().join("s.toml");
    std::fs::write(&file, "[target]\nurl = \"http://x:1\"\n[[stages]]\nrate = 1\nduration = \"1s\"\n[[requests]]\nname = \"a\"\npath = \"/\"\n").unwrap();
    let f = file.to_str().unwrap();
    for (extra, says) in [
        (vec!["--shards", "0"], "--shards: `0` is not allowed: the number of shards, a whole number from 1 to 10000"),
        (vec!["--shards", "2", "--name", "Bad_Name"], "--name"),
        (vec!["--shards", "2", "--start-at", "1000"], "in the past"),
        (vec!["--shards", "2", "--run-arg=--shard=1/2"], "set --shard for every shard"),
        (vec!["--shards", "2", "--run-arg=--rate=-1"], "--rate"),
    ] {
        let mut args = vec!["k8s", f, "--image", "i:1"];
        args.extend(extra.iter().copied());
        let o = skyload(&args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{extra:?}: {}", text(&o));
    }
}

/// deploy/k8s/ is what `skyload k8s` makes of deploy/launch.toml (README's example); it must not rot.
#[test]
fn deploy_example_is_current() {
    let tmp = tempdir();
    let out = tmp.path().join("k8s");
    let o = skyload(&[
        "k8s", "deploy/launch.toml", "--shards", "8", "--image", "registry.example/skyload:0.1",
        "--start-at", "2030-01-01T00:00:00Z", "-o", out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for f in ["00-secret.yaml", "01-results-pvc.yaml", "02-shards-job.yaml", "03-merge-job.yaml"] {
        let want = std::fs::read_to_string(std::path::Path::new("deploy/k8s").join(f)).unwrap();
        assert!(std::fs::read_to_string(out.join(f)).unwrap() == want, "deploy/k8s/{f} is stale: regenerate it (see deploy/launch.toml)");
    }
}

/// `skyload k8s -o - | head -1`: the reader closes the pipe; skyload stops writing and exits 0
/// instead of panicking. The pipe's read end is closed before skyload starts, so every write fails.
#[test]
fn manifests_to_a_closed_pipe_end_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = Command::new(env!("CARGO_BIN_EXE_skyload"))
        .args(["k8s", "deploy/launch.toml", "--shards", "2", "--image", "i:1", "--start-at", "2030-01-01T00:00:00Z", "-o", "-"])
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked") && err.contains("shards start at"), "{err}");
}
