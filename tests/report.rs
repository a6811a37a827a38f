//! The HTML report as users get it: written by every run, made again by `skyload report`, with
//! the structure the browser test and people rely on, scenario text escaped, secrets absent from
//! every file, the optional verdict/faults/capacity inputs shown, and a comparison of two runs.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

fn ok(o: Output) -> Output {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// A quick run against `server` at `rate` for `secs`, into `dir`.
fn quick_run(server: &TestServer, rate: u32, secs: u32, dir: &Path, extra: &[&str]) {
    ok(skyload()
        .args(["run", "--url", &server.url(), "--rate", &rate.to_string(), "--duration", &format!("{secs}s"), "-q", "--out"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap());
}

/// A short scenario against the embedded gateway (two pods, so per-pod bars exist), into `dir`.
fn embedded_run(dir: &Path) {
    let f = dir.with_extension("toml");
    std::fs::write(
        &f,
        "name = \"embedded\"\n[target]\nembedded = true\n[[stages]]\nrate = 150\nduration = \"2s\"\n\
         [[requests]]\nname = \"hello\"\npath = \"/fn/hello\"\n\
         [gateway.functions.hello]\npods = 2\nconcurrency = 4\nservice_time = { dist = \"fixed\", mean = \"2ms\" }\n",
    )
    .unwrap();
    ok(skyload().arg("run").arg(&f).arg("-q").arg("--out").arg(dir).output().unwrap());
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// What every report must be: one file, no script, nothing fetched, every section and chart.
fn assert_self_contained(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"));
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "no script tags at all");
    for attr in ["src=", "href=", "url(", "@import", "<link", "<iframe", "<img", "xmlns="] {
        assert!(!lower.contains(attr), "`{attr}` would reference something outside the file");
    }
    assert!(!lower.contains("xlink:"), "no external references from SVG");
    for id in ["verdict", "figures", "checks", "over-time", "distribution", "requests", "pods", "capacity", "faults", "environment"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "section `{id}` missing");
    }
    assert!(html.contains("@media print"), "prints to PDF well");
}

fn chart<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("<figure class=\"chart\" id=\"{id}\">")).unwrap_or_else(|| panic!("chart {id} missing"));
    let rest = &html[start..];
    let end = rest.find("</figure>").unwrap();
    let fig = &rest[..end];
    assert!(fig.contains("<svg") && fig.contains("</svg>"), "{id} holds an SVG");
    fig
}

/// The labels of a time chart's x axis (`12s`), in the order drawn.
fn time_ticks(svg: &str) -> Vec<String> {
    svg.split("</text>")
        .filter_map(|t| t.rsplit('>').next())
        .map(str::trim)
        .filter(|t| t.len() > 1 && t.ends_with('s') && t[..t.len() - 1].chars().all(|c| c.is_ascii_digit()))
        .map(String::from)
        .collect()
}

#[test]
fn every_run_writes_a_self_contained_report() {
    let out = tempdir();
    let dir = out.path().join("run");
    embedded_run(&dir);
    let html = read(&dir.join("report.html"));
    assert_self_contained(&html);
    for id in ["chart-rate", "chart-latency", "chart-percentiles", "chart-pods"] {
        chart(&html, id);
    }
    assert!(chart(&html, "chart-rate").contains("\ntarget (offered)\n</text>"));
    // A 2 s run: time ticks at whole seconds, none repeated (they once read 0s 0s 0s 1s 1s …).
    for id in ["chart-rate", "chart-latency"] {
        let ticks = time_ticks(chart(&html, id));
        assert!(ticks.len() >= 2, "{id}: {ticks:?}");
        let mut unique = ticks.clone();
        unique.dedup();
        assert_eq!(ticks, unique, "{id}: repeated time ticks");
    }
    assert!(chart(&html, "chart-percentiles").contains("\n99%\n</text>"), "the x axis is labelled in percentiles");
    assert!(html.contains("NO CHECKS DEFINED") && html.contains("class=\"banner nochecks\""));
    assert!(html.contains("No faults were injected") && html.contains("No capacity search"));
    assert!(chart(&html, "chart-pods").contains("\nhello-1\n</text>") && html.contains("<td>hello-2</td>"), "pods named");
    assert!(html.contains("generator guard"));
    // Responses by status code per second (status.csv), beside the rate chart: every answer of
    // the run's 200s, as many as summary.json counts, in a table as well as drawn.
    assert!(chart(&html, "chart-status").contains("responses per second"));
    let summary: serde_json::Value = serde_json::from_str(&read(&dir.join("summary.json"))).unwrap();
    let ok200 = summary["totals"]["status_codes"]["200"].as_u64().unwrap();
    assert!(ok200 > 0 && html.contains(&format!("<tr><td>200</td><td class=\"num\">{ok200}</td>")), "status table: {html}");
    let (rate_at, status_at, latency_at) = (html.find("id=\"chart-rate\""), html.find("id=\"chart-status\""), html.find("id=\"chart-latency\""));
    assert!(rate_at < status_at && status_at < latency_at, "the status chart follows the rate chart");
    assert!(html.contains("1 thread · pacer precise ("), "the report names the thread count (one per 25,000/s by default) and the pacer that ran (precise by default)");

    // `skyload report DIR` makes it again, the same apart from when and where it was made.
    std::fs::remove_file(dir.join("report.html")).unwrap();
    let o = ok(skyload().arg("report").arg(&dir).output().unwrap());
    assert!(String::from_utf8_lossy(&o.stdout).contains("report.html"));
    let again = read(&dir.join("report.html"));
    let strip = |s: &str| s.lines().filter(|l| !l.starts_with("<footer>")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&html), strip(&again));
}

#[test]
fn scenario_strings_are_escaped_and_secrets_never_written() {
    let server = TestServer::start();
    let out = tempdir();
    let f = out.path().join("x.toml");
    std::fs::write(
        &f,
        format!(
            "name = \"xss\"\ndescription = \"<script>alert(1)</script> & \\\"quotes\\\"\"\n\
             [target]\nurl = \"{}\"\nheaders = {{ Authorization = \"Bearer s3cr3t-target-42\" }}\n\
             [[stages]]\nrate = 100\nduration = \"1s\"\n\
             [[requests]]\nname = \"get\"\npath = \"/a?q=<script>alert(2)</script>\"\nheaders = {{ x-api-key = \"s3cr3t-key-77\" }}\n",
            server.url()
        ),
    )
    .unwrap();
    let dir = out.path().join("r");
    // The server refuses the raw `<` in the query (400 every time): with no checks of its own the
    // run fails the built-in "at least one request succeeded" (exit 1), and verdict.json is written too.
    let o = skyload().arg("run").arg(&f).args(["-q", "-H", "Authorization: Bearer s3cr3t-flag-99", "--out"]).arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("every request failed: 100% 400") && dir.join("verdict.json").exists(), "{stdout}");
    // A report made later, and a comparison, land in the same directory too.
    ok(skyload().arg("report").arg(&dir).output().unwrap());
    ok(skyload().arg("report").arg(&dir).arg(&dir).output().unwrap());

    let html = read(&dir.join("report.html"));
    assert_self_contained(&html);
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; \\&quot;quotes\\&quot;"), "description shown escaped");
    assert!(html.contains("&lt;script&gt;alert(2)&lt;/script&gt;"), "scenario text shown escaped");
    assert!(!html.to_ascii_lowercase().contains("<script"));
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        for secret in ["s3cr3t-target-42", "s3cr3t-key-77", "s3cr3t-flag-99"] {
            assert!(!text.contains(secret), "{secret} leaked into {}", p.display());
        }
        files += 1;
    }
    assert!(files >= 8, "summary, csv, hlog, scenario, pods, labels, report, compare");
    assert!(html.contains("&lt;redacted&gt;"));
}

#[test]
fn an_old_results_dir_with_a_secret_in_its_scenario_is_still_redacted() {
    let server = TestServer::start();
    let out = tempdir();
    let dir = out.path().join("old");
    quick_run(&server, 50, 1, &dir, &[]);
    // As if written by a version that did not redact.
    std::fs::write(
        dir.join("scenario.toml"),
        "[target]\nurl = \"http://h\"\nheaders = { authorization = \"Bearer leaked-7\", cookie = \"sid=leaked-8\" }\n",
    )
    .unwrap();
    // Nor had it status.csv: the report says so instead of failing.
    std::fs::remove_file(dir.join("status.csv")).unwrap();
    ok(skyload().arg("report").arg(&dir).output().unwrap());
    let html = read(&dir.join("report.html"));
    assert!(!html.contains("leaked-7") && !html.contains("leaked-8"));
    assert!(html.contains("No status codes recorded") && !html.contains("id=\"chart-status\""));
    assert_self_contained(&html);
}

/// The precise pacer's CPU wake-up latency request reaches summary.json, the report and (through
/// the same text) the terminal: held where the process may open /dev/cpu_dma_latency (root, as
/// in CI), otherwise "not held: why" and the run still succeeds. `precise` is the default pacer;
/// `--pacer sleep` asks for nothing.
#[test]
fn the_precise_pacers_cpu_latency_request_is_named() {
    let server = TestServer::start();
    let out = tempdir();
    let dir = out.path().join("precise");
    quick_run(&server, 50, 1, &dir, &[]);
    let summary: serde_json::Value = serde_json::from_str(&read(&dir.join("summary.json"))).unwrap();
    let g = &summary["generator"];
    assert_eq!(g["pacer"], "precise");
    let cpu = g["cpu_latency"].as_str().unwrap_or_default().to_string();
    let may = std::fs::OpenOptions::new().write(true).open("/dev/cpu_dma_latency").is_ok();
    if may {
        assert_eq!(cpu, "held at 0 µs");
    } else {
        assert!(cpu.starts_with("not held: "), "{cpu}");
    }
    let html = read(&dir.join("report.html"));
    assert!(html.contains(&format!("pacer precise (CPU wake-up latency request {})", cpu.replace('&', "&amp;"))), "the report names it");

    let plain = out.path().join("sleep");
    quick_run(&server, 50, 1, &plain, &["--pacer", "sleep"]);
    let summary: serde_json::Value = serde_json::from_str(&read(&plain.join("summary.json"))).unwrap();
    assert_eq!(summary["generator"]["pacer"], "sleep");
    assert!(summary["generator"].get("cpu_latency").is_none(), "the sleep pacer makes no request");
}

#[test]
fn verdict_faults_and_capacity_files_are_shown() {
    let server = TestServer::start();
    let out = tempdir();
    let dir = out.path().join("drill");
    quick_run(&server, 100, 3, &dir, &[]);
    std::fs::write(
        dir.join("verdict.json"),
        r#"{"results":[
            {"scope":"run","check":"p99 < 50ms","expected":"< 50ms","measured":"3.1ms","passed":true},
            {"scope":"window fault:kill-<pod>","check":"ratio(fallback) >= 95%","expected":">= 95%","measured":"61.0%","passed":false}],
          "generator_notes":["one check failed"]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("faults.json"),
        r#"[{"name":"kill-<pod>","action":"kill on pod x","planned_start_s":1.0,"planned_end_s":2.0,"applied_at_s":1.05,"removed_at_s":1.62,"ended_early":"lease renewals failed from 1.6s until its lease ran out at 11.1s (last: <refused>)","outcomes":{"fallback":61,"ok":39},"completed":100,"fallback_ratio":0.61,"recovery_s":0.4,"passed":false}]"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("capacity.json"),
        common::CAPACITY_JSON,
    )
    .unwrap();
    ok(skyload().arg("report").arg(&dir).output().unwrap());
    let html = read(&dir.join("report.html"));
    assert_self_contained(&html);
    assert!(html.contains("class=\"banner fail\"") && html.contains("FAIL: 1 of 2 checks failed"));
    let at = html.find("id=\"verdict\"").unwrap();
    let banner = &html[at..at + html[at..].find("</section>").unwrap()];
    assert!(banner.contains("ratio(fallback) &gt;= 95% [window fault:kill-&lt;pod&gt;]: expected &gt;= 95%, measured 61.0%"), "{banner}");
    assert!(!banner.contains("p99 &lt; 50ms"), "only failed checks in the banner");
    let checks = &html[html.find("id=\"checks\"").unwrap()..];
    assert!(checks.contains("<td class=\"fail\">FAIL</td>") && checks.contains("<td class=\"pass\">pass</td>"));
    // The fault window is shaded and named on both time charts, and tabled.
    for id in ["chart-rate", "chart-latency"] {
        assert!(chart(&html, id).contains("kill-&lt;pod&gt;"), "{id} names the fault");
    }
    let faults = &html[html.find("id=\"faults\"").unwrap()..];
    assert!(faults.contains("61.00%") && faults.contains("0.4s"));
    // A fault whose lease lapsed says so in words, with why, as the terminal does.
    assert!(faults.contains("1.1s – 1.6s (ended early)"), "{faults}");
    assert!(faults.contains("Fault kill-&lt;pod&gt; ended early: lease renewals failed from 1.6s until its lease ran out at 11.1s (last: &lt;refused&gt;)"), "{faults}");
    let cap = chart(&html, "chart-capacity");
    assert!(cap.contains("SLO: p99 &lt; 50ms") && cap.contains("knee 550 rps"));
    let plan = &html[html.find("id=\"capacity\"").unwrap()..];
    assert!(plan.contains(">22<") && plan.contains("51840000") && plan.contains("300.0 req/s"));
    // A capacity report leads with its answer, before the last step's figures.
    let answer = html.find("id=\"answer\"").expect("an answer section");
    assert!(answer < html.find("id=\"figures\"").unwrap() && html.find("id=\"capacity\"").unwrap() < html.find("id=\"figures\"").unwrap());
    assert!(html[answer..].starts_with("id=\"answer\" class=\"answer\">\n<p><strong>Capacity: 600.0 req/s"), "{}", &html[answer..answer + 200]);

    // A file in the wrong shape is left out with a warning, not a broken report.
    std::fs::write(dir.join("verdict.json"), r#"{"results":"typo"}"#).unwrap();
    ok(skyload().arg("report").arg(&dir).output().unwrap());
    let html = read(&dir.join("report.html"));
    assert!(html.contains("class=\"warning\"") && html.contains("verdict.json is not in the expected shape"));
}

#[test]
fn two_runs_make_a_comparison_with_the_baseline_overlaid() {
    let server = TestServer::start();
    let out = tempdir();
    let (base, cur) = (out.path().join("base"), out.path().join("cur"));
    quick_run(&server, 100, 2, &base, &[]);
    quick_run(&server, 150, 2, &cur, &[]);
    let o = ok(skyload().arg("report").arg(&base).arg(&cur).output().unwrap());
    let path = cur.join("compare.html");
    assert!(String::from_utf8_lossy(&o.stdout).contains("compare.html"));
    let html = read(&path);
    assert_self_contained(&html);
    assert!(html.contains("comparison report") && html.contains("id=\"comparison\""));
    let cmp = &html[html.find("id=\"comparison\"").unwrap()..html.find("id=\"over-time\"").unwrap()];
    assert!(cmp.contains("baseline: base") && cmp.contains("current: cur"));
    assert!(cmp.contains(">achieved rate (req/s)<") && cmp.contains("+50.0%"), "rate rose by half: {cmp}");
    // The baseline is drawn (dashed, grey) in the rate, latency and percentile charts.
    assert!(chart(&html, "chart-rate").contains("baseline achieved (base)"));
    assert!(chart(&html, "chart-latency").contains("baseline p99"));
    assert!(chart(&html, "chart-percentiles").contains("baseline latency (base)"));
    assert!(chart(&html, "chart-rate").contains("stroke-dasharray") || chart(&html, "chart-rate").matches("<polyline").count() > 3);

    let other: PathBuf = out.path().join("elsewhere.html");
    ok(skyload().arg("report").arg(&base).arg(&cur).arg("--out").arg(&other).output().unwrap());
    assert!(read(&other).contains("id=\"comparison\""));
}

#[test]
fn a_directory_without_results_is_a_usage_error() {
    let out = tempdir();
    let o = skyload().arg("report").arg(out.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a results directory"));
}

#[test]
fn an_interrupted_run_still_writes_its_report() {
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
    common::wait_until("150 requests at the server", std::time::Duration::from_secs(30), || server.received() >= 150);
    // SAFETY: signalling the child we started, by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > std::time::Duration::from_secs(15) {
            child.kill().unwrap();
            panic!("did not stop after Ctrl-C");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(3));
    let html = read(&dir.join("report.html"));
    assert!(
        html.contains("class=\"banner aborted\"") && html.contains("INTERRUPTED after"),
        "the banner says the run was cut short"
    );
    chart(&html, "chart-rate");
}
