//! Every shipped example works as written, and stays so: each scenario in `scenarios/` runs (with
//! whatever it needs started on loopback ports the kernel picks) and exits with the code its header
//! declares; the README's quick runs against `skyload gateway` answer 200; every repository path the
//! README names exists. Runs go through the real binary, as a user types them; long scenarios
//! without checks are cut short with `--duration` (the same flag a user has), those with checks run
//! as written, one after the other, so their latency checks do not compete for the two cores.

mod common;

use common::{skyload, tempdir};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The exit code a scenario's header promises: a comment line `# Expected exit code: N`.
fn expected_exit(text: &str) -> Option<i32> {
    text.lines()
        .take_while(|l| l.starts_with('#') || l.trim().is_empty())
        .find_map(|l| l.trim_start_matches('#').trim().strip_prefix("Expected exit code:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.trim_end_matches(['.', ',']).parse().ok())
}

/// A server process started by the test (`skyload gateway` or `skyload proxy`), killed by its pid
/// when dropped.
struct Spawned {
    child: Child,
}

impl Spawned {
    /// Starts `cmd` and reads stdout until a line contains `marker`; returns the process and the
    /// lines read (the banner, which names the addresses).
    fn start(mut cmd: Command, marker: &str) -> (Spawned, Vec<String>) {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("spawn");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut banner = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            let Some(Ok(line)) = lines.next() else { break };
            banner.push(line.clone());
            if line.contains(marker) {
                // Keep the pipe drained so the server never blocks writing to it.
                std::thread::spawn(move || for _ in lines.by_ref() {});
                return (Spawned { child }, banner);
            }
        }
        let _ = child.kill();
        panic!("`{marker}` never appeared; stdout: {banner:?}");
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `skyload gateway --config scenarios/gateways/demo.toml` on a free port, run in `cwd` (its access
/// log is relative to the working directory); returns the process and `127.0.0.1:PORT`.
fn demo_gateway(cwd: &Path) -> (Spawned, String) {
    std::fs::create_dir_all(cwd.join("reports")).unwrap();
    let mut c = skyload();
    c.current_dir(cwd).arg("gateway").arg("--config").arg(root().join("scenarios/gateways/demo.toml")).args(["--listen", "127.0.0.1:0"]);
    let (g, banner) = Spawned::start(c, "listening on http://");
    let addr = banner.last().unwrap().split("http://").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    (g, addr)
}

struct Outcome {
    code: Option<i32>,
    text: String,
}

fn run(args: &[String], cwd: &Path) -> Outcome {
    let o = skyload().current_dir(cwd).args(args).output().expect("run skyload");
    Outcome { code: o.status.code(), text: format!("$ skyload {}\n{}{}", args.join(" "), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)) }
}

/// Flags the test adds to a scenario: results into a temp dir, no progress line, and for the long
/// runs that have no checks a shorter schedule (exit 0 does not depend on their length).
fn extra_args(name: &str, out: &Path) -> Vec<String> {
    let mut a = vec!["-q".to_string(), "--out".into(), out.join(name).display().to_string()];
    match name {
        "examples-feeders" => a.extend(["--duration".into(), "8s".into()]),
        // The README's CI recipes: JUnit and the machine verdict must be written too.
        "ci-gate" => a.extend([
            "--junit".into(),
            out.join("junit.xml").display().to_string(),
            "--summary-json".into(),
            out.join("verdict.json").display().to_string(),
        ]),
        _ => {}
    }
    a
}

/// drill-slow-upstream needs a gateway and the fault proxy, as its header says. They are started
/// here on free ports, and the scenario's fixed addresses are rewritten to theirs.
fn slow_upstream(text: &str, tmp: &Path) -> (Vec<Spawned>, String) {
    let (gw, gw_addr) = demo_gateway(tmp);
    let populate = std::fs::read_to_string(root().join("scenarios/proxies/example.json")).unwrap();
    assert!(populate.contains("\"127.0.0.1:9001\"") && populate.contains("\"127.0.0.1:26001\""), "example.json changed: update this test");
    let populate = populate.replace("127.0.0.1:9001", &gw_addr).replace("127.0.0.1:26001", "127.0.0.1:0").replace("127.0.0.1:26002", "127.0.0.1:0");
    let pfile = tmp.join("proxies.json");
    std::fs::write(&pfile, populate).unwrap();
    let mut c = skyload();
    c.arg("proxy").arg("--config").arg(&pfile).args(["--listen", "127.0.0.1:0"]);
    let (proxy, banner) = Spawned::start(c, "Ctrl-C to stop");
    let api = banner.iter().find_map(|l| l.split("Toxiproxy API on http://").nth(1)).unwrap().trim().to_string();
    let hello = banner.iter().find(|l| l.trim_start().starts_with("hello_upstream")).expect("hello_upstream proxy");
    let listen = hello.split_whitespace().nth(1).unwrap().to_string();
    assert!(text.contains("http://127.0.0.1:26001") && text.contains("http://127.0.0.1:8474"), "drill-slow-upstream.toml changed: update this test");
    let text = text.replace("127.0.0.1:26001", &listen).replace("127.0.0.1:8474", &api);
    (vec![gw, proxy], text)
}

#[test]
fn every_scenario_exits_as_its_header_says() {
    let tmp = tempdir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(file).unwrap();
        let Some(want) = expected_exit(&text) else {
            failures.push(format!("{}: the header does not say `# Expected exit code: N`", file.display()));
            continue;
        };
        let (_servers, path) = if name == "drill-slow-upstream" {
            let (servers, text) = slow_upstream(&text, tmp.path());
            let p = tmp.path().join("drill-slow-upstream.toml");
            std::fs::write(&p, text).unwrap();
            (servers, p)
        } else {
            (Vec::new(), file.clone())
        };
        let mut args = vec!["run".to_string(), path.display().to_string()];
        args.extend(extra_args(&name, tmp.path()));
        let started = std::time::Instant::now();
        let o = run(&args, &root());
        println!("{name}: exit {:?} in {:.1}s", o.code, started.elapsed().as_secs_f64());
        if o.code != Some(want) {
            failures.push(format!("{name}: exit {:?}, its header promises {want}\n{}", o.code, o.text));
        }
        // The report is titled after the run, as the terminal names it.
        let report = std::fs::read_to_string(tmp.path().join(&name).join("report.html")).unwrap_or_default();
        let kind = if text.contains("[[faults]]") { "drill" } else { "load test" };
        if !report.contains(&format!("<span class=\"sub\">{kind}</span>")) {
            failures.push(format!("{name}: report.html is not titled `{kind}`"));
        }
        // The quickstart states its answer: the saturation point of 2 pods x 300 qps, and a
        // `skyload capacity` command that runs as printed (the quickstart has no checks, so the
        // command carries the ramp's bound as --check flags).
        if name == "quickstart" {
            let line = o.text.lines().find(|l| l.starts_with("saturation: ~")).unwrap_or_default();
            let rate: f64 = line.trim_start_matches("saturation: ~").split_whitespace().next().and_then(|w| w.parse().ok()).unwrap_or(0.0);
            if !(400.0..=700.0).contains(&rate) || !(o.text.contains("skyload capacity ") && o.text.contains("quickstart.toml --check 'p99 < ")) || !o.text.contains("peak sustained per pod: hello-1") {
                failures.push(format!("quickstart: no saturation answer near 600 rps (found {rate})\n{}", o.text));
            }
        }
        // ratelimit-2x has stage and window checks but none a capacity search judges by: the
        // note under its saturation answer must not say it has no checks at all.
        if name == "ratelimit-2x" && (!o.text.contains("no run or request checks") || o.text.contains("has no checks")) {
            failures.push(format!("ratelimit-2x: the saturation note says the scenario has no checks, but it has stage checks\n{}", o.text));
        }
        if name == "ci-gate" {
            for f in ["junit.xml", "verdict.json"] {
                if !tmp.path().join(f).exists() {
                    failures.push(format!("ci-gate: --junit/--summary-json did not write {f}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(!root().join("gateway-access.log").exists() || git_ignored("gateway-access.log"), "a run wrote gateway-access.log into the repository root");
}

fn git_ignored(path: &str) -> bool {
    std::fs::read_to_string(root().join(".gitignore")).unwrap().lines().any(|l| l.trim_start_matches('/') == path)
}

/// Fenced blocks of the README with their language: (lang, text).
fn readme_blocks(readme: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(String, String)> = None;
    for line in readme.lines() {
        if let Some(rest) = line.strip_prefix("```") {
            match cur.take() {
                Some(b) => out.push(b),
                None => cur = Some((rest.trim().to_string(), String::new())),
            }
        } else if let Some((_, t)) = cur.as_mut() {
            t.push_str(line);
            t.push('\n');
        }
    }
    out
}

/// Splits a shell line into words: plain words, '...' and "..." (no escapes inside quotes, which
/// the README does not use); stops at an unquoted `#` (a comment).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_word = true;
                for d in chars.by_ref() {
                    if d == c {
                        break;
                    }
                    cur.push(d);
                }
            }
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// The README and every page under docs/, as (file, text): the README is the front door and the
/// docs pages hold the rest, so both are held to the same rules.
fn documents() -> Vec<(PathBuf, String)> {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "md")).collect();
    docs.sort();
    files.extend(docs);
    files.into_iter().map(|f| (f.clone(), std::fs::read_to_string(&f).unwrap())).collect()
}

#[test]
fn readme_quick_runs_answer_200() {
    let readme: String = documents().into_iter().map(|(_, t)| t).collect::<Vec<_>>().join("\n");
    let tmp = tempdir();
    let (gw, addr) = demo_gateway(tmp.path());
    let mut ran = 0;
    let mut failures = Vec::new();
    for (lang, block) in readme_blocks(&readme) {
        if lang != "sh" && lang != "console" {
            continue;
        }
        for line in block.lines() {
            let words = shell_words(line.strip_prefix("$ ").unwrap_or(line));
            if words.first().map(String::as_str) != Some("skyload") {
                continue;
            }
            match words.get(1).map(String::as_str) {
                // A quick run against the README's gateway: shortened to 2 s, results in the temp dir.
                Some("run") if words.iter().any(|w| w.starts_with("http://127.0.0.1:8080/")) => {
                    let mut args: Vec<String> = Vec::new();
                    let mut it = words[1..].iter();
                    while let Some(w) = it.next() {
                        if w == "--duration" {
                            it.next();
                            continue;
                        }
                        args.push(w.replace("127.0.0.1:8080", &addr));
                    }
                    let dir = tmp.path().join(format!("quick-{ran}"));
                    args.extend(["--duration".into(), "2s".into(), "-q".into(), "--out".into(), dir.display().to_string()]);
                    let o = run(&args, tmp.path());
                    ran += 1;
                    if o.code != Some(0) {
                        failures.push(format!("exit {:?}\n{}", o.code, o.text));
                        continue;
                    }
                    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
                    let (ok, completed) = (&s["totals"]["outcomes"]["ok"], &s["totals"]["completed"]);
                    if ok != completed || ok.as_u64().unwrap_or(0) == 0 {
                        failures.push(format!("{line}\n  not every answer was 2xx: ok {ok} of {completed}; status codes {}", s["totals"]["status_codes"]));
                    }
                }
                Some("validate") => {
                    let o = run(&words[1..].to_vec(), &root());
                    ran += 1;
                    if o.code != Some(0) {
                        failures.push(format!("exit {:?}\n{}", o.code, o.text));
                    }
                }
                _ => {}
            }
        }
    }
    drop(gw);
    assert!(ran >= 4, "the README's quick runs were not found (ran {ran})");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(tmp.path().join("reports/gateway-access.log").exists(), "demo.toml's access log belongs under reports/");
}

/// Every repository path the README and the docs pages name (in backquotes, links or commands)
/// exists; paths of generated output (`reports/...`, `k8s/`, `r/...`) and placeholders are left out.
/// A docs page's `../x` is the repository's `x`; a `#anchor` is checked by `readme_and_docs_links_resolve`.
#[test]
fn readme_paths_exist() {
    let prefixes = ["scenarios/", "benches/", "scripts/", "docs/", "deploy/", "src/", "tests/", ".ci/", "../"];
    let mut missing = Vec::new();
    let mut seen = 0;
    for (file, text) in documents() {
        let in_docs = file.parent() != Some(root().as_path());
        for raw in text.split(|c: char| c.is_whitespace() || "`()[]'\",;".contains(c)) {
            let mut word = raw.split(['#']).next().unwrap_or("").split("::").next().unwrap_or("").trim_end_matches([':', '.', '/']).trim_start_matches("./");
            if in_docs {
                word = word.strip_prefix("../").unwrap_or(word);
            }
            if !prefixes.iter().any(|p| word.starts_with(p)) || word.contains(['<', '*', '{', '$']) || word.contains("...") {
                continue;
            }
            seen += 1;
            if !root().join(word).exists() {
                missing.push(format!("{word} (in {})", file.display()));
            }
        }
        for word in text.split(|c: char| c.is_whitespace() || "`()'\"".contains(c)) {
            if word.ends_with(".toml") && !word.contains(['/', '<', '*', '$']) && !["Cargo.toml", "scenario.toml", "bad.toml", "ci.toml"].contains(&word) && !word.starts_with("gateway-") {
                missing.push(format!("{word} (a scenario named without its directory, in {})", file.display()));
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(seen > 10, "only {seen} paths found");
    assert!(missing.is_empty(), "the README or docs name paths that do not exist: {missing:?}");
}

#[test]
fn header_parser() {
    assert_eq!(expected_exit("# a\n#\n# Expected exit code: 1 (a drill that fails)\nname = \"x\""), Some(1));
    assert_eq!(expected_exit("name = \"x\"\n# Expected exit code: 1"), None, "only the header counts");
    assert_eq!(shell_words("skyload run -H 'a: b' -d '{\"a\":1}' x # comment"), ["skyload", "run", "-H", "a: b", "-d", "{\"a\":1}", "x"]);
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes.
fn slug(heading: &str) -> String {
    heading.trim().to_lowercase().chars().filter_map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { Some(c) } else if c == ' ' { Some('-') } else { None }).collect()
}

/// Every relative link in the README and in docs/ (`[text](path#anchor)`) points at a file that
/// exists, and an anchor at a heading of that file: the README is a front door to docs/ pages, so a
/// moved section must not leave a dead link behind.
#[test]
fn readme_and_docs_links_resolve() {
    // Headings of a markdown text as anchors, outside code blocks.
    let anchors_of = |text: &str| -> Vec<String> {
        let mut in_code = false;
        text.lines()
            .filter(|l| {
                if l.starts_with("```") {
                    in_code = !in_code;
                }
                !in_code && l.starts_with('#')
            })
            .map(|l| slug(l.trim_start_matches('#')))
            .collect()
    };
    let docs = documents();
    // Each page's anchors once, by canonical path (links reach README and docs pages only).
    let anchors: std::collections::HashMap<PathBuf, Vec<String>> = docs.iter().map(|(f, t)| (f.canonicalize().unwrap(), anchors_of(t))).collect();
    let mut bad = Vec::new();
    let mut seen = 0;
    for (file, text) in &docs {
        for part in text.split("](").skip(1) {
            let Some(target) = part.split(')').next() else { continue };
            if target.starts_with("http://") || target.starts_with("https://") || target.contains(' ') {
                continue;
            }
            seen += 1;
            let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
            let linked = if path.is_empty() { file.clone() } else { file.parent().unwrap().join(path) };
            if !linked.exists() {
                bad.push(format!("{}: {target}: no such file", file.display()));
            } else if !anchor.is_empty()
                && linked.extension().is_some_and(|e| e == "md")
                && !anchors.get(&linked.canonicalize().unwrap()).is_some_and(|a| a.iter().any(|x| x == anchor))
            {
                bad.push(format!("{}: {target}: no heading with that anchor", file.display()));
            }
        }
    }
    assert!(seen > 20, "only {seen} links found");
    assert!(bad.is_empty(), "dead links:\n{}", bad.join("\n"));
}
