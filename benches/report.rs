//! How long a report of a one-hour run takes: a synthetic Results directory of 3,600 seconds (two
//! requests, four pods, a fault window, a verdict, status codes) is read and rendered to HTML exactly as
//! `skyload report DIR` does (minus writing the file). The issue's aim is under 2 seconds.
//!
//!     cargo bench --bench report

use criterion::{criterion_group, criterion_main, Criterion};
use skyload::record::hist::{encode, new_hist, Percentiles};
use skyload::report::html;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SECONDS: u64 = 3600;

fn synthesize(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let outcomes = ["ok", "error", "timeout", "connect", "reset", "protocol", "fallback"];
    let mut csv = String::from("second,request,target_rps,scheduled,sent,completed,dropped");
    for o in outcomes {
        write!(csv, ",{o}").unwrap();
    }
    csv.push_str(",p50_ms,p90_ms,p99_ms,max_ms,bytes_in,lag_p99_ms,in_flight,generator_cpu_pct\n");
    let mut lat = new_hist();
    let mut svc = new_hist();
    let mut status = String::from("second,status,completed\n");
    for s in 0..SECONDS {
        let rate = 300.0 + 200.0 * ((s as f64) / 600.0).sin();
        let fault = (1200..1500).contains(&s);
        let p50 = 8.0 + (s % 17) as f64 * 0.1 + if fault { 20.0 } else { 0.0 };
        for (name, share) in [("browse", 0.7), ("checkout", 0.3)] {
            let n = (rate * share) as u64;
            let fb = if fault { n / 3 } else { 0 };
            writeln!(
                csv,
                "{s},{name},{:.1},{n},{n},{n},0,{},1,0,0,0,0,{fb},{p50:.3},{:.3},{:.3},{:.3},{},,,",
                rate * share,
                n - 1 - fb,
                p50 * 2.0,
                p50 * 4.0,
                p50 * 9.0,
                n * 200
            )
            .unwrap();
        }
        let n = rate as u64;
        let fb = if fault { n / 3 } else { 0 };
        writeln!(
            csv,
            "{s},*,{rate:.1},{n},{n},{n},0,{},2,0,0,0,0,{fb},{p50:.3},{:.3},{:.3},{:.3},{},0.2,5,3.0",
            n - 2 - fb,
            p50 * 2.0,
            p50 * 4.0,
            p50 * 9.0,
            n * 200
        )
        .unwrap();
        writeln!(status, "{s},200,{}\n{s},503,2", n - 2).unwrap();
        lat.record_n((p50 * 1000.0) as u64, n / 2).unwrap();
        lat.record_n((p50 * 4000.0) as u64, n / 2).unwrap();
        svc.record_n((p50 * 900.0) as u64, n).unwrap();
    }
    std::fs::write(dir.join("timeseries.csv"), csv).unwrap();
    let p = serde_json::to_value(Percentiles::of(&lat)).unwrap();
    let ps = serde_json::to_value(Percentiles::of(&svc)).unwrap();
    let overall = serde_json::json!({
        "scheduled": lat.len(), "sent": lat.len(), "completed": lat.len(), "dropped": 0, "error_rate": 0.002,
        "achieved_rps": lat.len() as f64 / SECONDS as f64, "outcomes": {"ok": lat.len()}, "status_codes": {"200": lat.len()},
        "bytes_in": 1, "bytes_out": 1, "latency": p, "service_time": ps,
    });
    let mut req = overall.clone();
    req["name"] = "browse".into();
    req["by_outcome"] = serde_json::json!({});
    let pods: Vec<_> = (1..=4)
        .map(|i| serde_json::json!({"name": format!("fn-{i}"), "count": lat.len() / 4, "rps": 75.0 + i as f64, "outcomes": {"ok": lat.len() / 4}, "latency": p}))
        .collect();
    let summary = serde_json::json!({
        "schema_version": 1, "skyload_version": "0.1.0", "scenario": "one-hour", "scenario_file": null, "status": "completed",
        "started_at": "2026-11-21T10:00:00Z", "start_unix_ms": 0, "planned_duration_s": SECONDS as f64, "duration_s": SECONDS as f64,
        "target": "http://127.0.0.1:8080", "outcome_names": outcomes, "totals": overall, "requests": [req], "pods": pods,
        "labels": {}, "generator": {"threads": 2, "expected": lat.len() as f64, "target_rps": 300.0, "send_rps": 300.0, "send_ratio": 1.0,
        "schedule_lag": p, "cpu_seconds": 100.0, "cpu_cores": 0.03, "requests_per_cpu_second": 10000.0, "fell_behind": false, "notes": []},
        "histograms": [
            {"request": "browse", "outcome": "ok", "kind": "latency", "data": encode(&lat).unwrap()},
            {"request": "browse", "outcome": "ok", "kind": "service", "data": encode(&svc).unwrap()},
        ],
    });
    std::fs::write(dir.join("summary.json"), serde_json::to_string_pretty(&summary).unwrap()).unwrap();
    std::fs::write(dir.join("status.csv"), status).unwrap();
    std::fs::write(dir.join("scenario.toml"), "name = \"one-hour\"\n[target]\nurl = \"http://127.0.0.1:8080\"\n").unwrap();
    std::fs::write(
        dir.join("faults.json"),
        r#"{"faults":[{"name":"slow upstream","planned_start_s":1200,"planned_end_s":1500,"fallback_ratio":0.33,"recovery_s":4,"passed":true}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("verdict.json"),
        r#"{"status":"pass","checks":[{"name":"p99","expected":"< 200ms","measured":"120ms","passed":true}]}"#,
    )
    .unwrap();
}

fn render(dirs: &[PathBuf]) -> usize {
    let r = html::build(dirs).unwrap();
    let mut out = Vec::with_capacity(1 << 20);
    html::render(&r, &mut out).unwrap();
    out.len()
}

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("one-hour");
    synthesize(&dir);
    let base = tmp.path().join("one-hour-base");
    synthesize(&base);
    let one = vec![dir.clone()];
    let started = Instant::now();
    let bytes = render(&one);
    eprintln!("one-hour report: {bytes} bytes of HTML in {:?} (first render)", started.elapsed());
    let mut g = c.benchmark_group("report");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("one_hour_3600_intervals", |b| b.iter(|| render(&one)));
    let two = vec![base, dir];
    g.bench_function("one_hour_comparison", |b| b.iter(|| render(&two)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
