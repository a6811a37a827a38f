//! Live metrics scraped by a real Prometheus (Debian's `prometheus`, installed in CI by
//! scripts/ci-deps.sh): a run on loopback with `--metrics-listen`, Prometheus scraping it every
//! second, and its HTTP API asked afterwards what a dashboard would ask. Skipped, loudly, only
//! when the prometheus binary is not there.

mod common;

use common::*;
use skyload::load::runner::{RunSettings, Silent, StopHandle};
use skyload::session::run;
use skyload::metrics::expo::{Buckets, LATENCY_BUCKETS_US};
use skyload::metrics::server::{start_for, Publish};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// A Prometheus server with its own data directory, killed (by pid) when dropped.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    (head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200")).then(|| body.to_string())
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// One scalar from an instant query at unix time `at`.
fn query(p: &Prometheus, q: &str, at: f64) -> Option<f64> {
    let body = get(p.addr, &format!("/api/v1/query?query={}&time={at:.3}", encode(q)))?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

fn start_prometheus(dir: &std::path::Path, target: SocketAddr) -> Option<Prometheus> {
    let bin = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].into_iter().find(|b| std::path::Path::new(b).exists())?;
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: skyload\n    static_configs:\n      - targets: ['{target}']\n"),
    )
    .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--enable-feature=exemplar-storage")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .ok()?;
    let p = Prometheus { child, addr };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if get(addr, "/-/ready").is_some() {
            return Some(p);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("prometheus did not become ready in 30 s: see {}", dir.join("prometheus.log").display());
}

fn now_unix() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64()
}

#[test]
fn prometheus_sees_the_target_rate_and_the_runs_p99() {
    let server = TestServer::start();
    let rate = 200.0;
    let mut plan = constant_plan(server.addr, rate, 14.0);
    plan.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
    plan.metrics.trace = true;
    let out = tempdir();
    let metrics = start_for(&plan, None).unwrap().expect("metrics asked for");
    let Some(prom) = start_prometheus(out.path(), metrics.addr) else {
        eprintln!("SKIPPED: Prometheus is not installed (Debian package `prometheus`; scripts/ci-deps.sh installs it)");
        return;
    };
    // Prometheus applies its targets a few seconds after start: wait for its first scrape, so the
    // whole run is in its database.
    let deadline = Instant::now() + Duration::from_secs(30);
    while query(&prom, "up{job=\"skyload\"}", now_unix()) != Some(1.0) {
        assert!(Instant::now() < deadline, "Prometheus never scraped {}: see {}", metrics.addr, out.path().join("prometheus.log").display());
        std::thread::sleep(Duration::from_millis(200));
    }
    let started = now_unix();
    let r = {
        let mut silent = Silent;
        let mut publish = Publish::new(&mut silent, Some(&metrics));
        run(&plan, RunSettings { out_dir: out.path().join("r"), stop: StopHandle::new() }, &mut publish).unwrap()
    };
    metrics.mark_final();
    // Keep serving until Prometheus has scraped the final values (it scrapes every second).
    metrics.finish(Duration::from_secs(10));

    // The completed rate over 10 s windows inside the steady part of the run, at a few instants
    // (a window's edges can catch one published second more or less): the median is within 5%.
    let q = "sum(rate(skyload_requests_completed_total[10s]))";
    let mut rates: Vec<f64> = [11.5, 12.5, 13.5].iter().filter_map(|t| query(&prom, q, started + t)).collect();
    assert_eq!(rates.len(), 3, "Prometheus returned no rate: see {}", out.path().join("prometheus.log").display());
    rates.sort_by(f64::total_cmp);
    let median = rates[1];
    assert!((median - rate).abs() <= rate * 0.05, "rate(completed[10s]) = {rates:?}, target {rate}");

    // The whole run's p99 from the cumulative buckets lands in the bucket of the run's own p99,
    // or the next one over.
    let q = "histogram_quantile(0.99, sum by (le) (skyload_request_latency_seconds_bucket))";
    let prom_p99 = query(&prom, q, now_unix()).expect("histogram_quantile answered");
    let run_p99_us = r.summary.requests[0].overall.latency.p99_us;
    let (a, b) = (Buckets::slot((prom_p99 * 1e6).round() as u64), Buckets::slot(run_p99_us));
    assert!(a.abs_diff(b) <= 1, "Prometheus p99 {prom_p99}s (bucket {a}) vs run p99 {run_p99_us}µs (bucket {b}); bounds {LATENCY_BUCKETS_US:?}");
    eprintln!("prometheus: rate(completed[10s]) {rates:?} (target {rate}); p99 {:.0}µs vs run {run_p99_us}µs", prom_p99 * 1e6);
    let completed = query(&prom, "sum(skyload_requests_completed_total)", now_unix()).unwrap();
    assert_eq!(completed as u64, r.summary.totals.completed, "the final scrape holds the final count");

    // Traced: Prometheus stored the buckets' exemplars, each naming a trace id the run sent, with
    // a latency inside the run's range.
    let body = get(prom.addr, &format!("/api/v1/query_exemplars?query={}&start={started:.3}&end={:.3}", encode("skyload_request_latency_seconds_bucket"), now_unix()))
        .expect("exemplar query answered");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let exemplars: Vec<&serde_json::Value> = v["data"].as_array().unwrap().iter().flat_map(|s| s["exemplars"].as_array().unwrap()).collect();
    assert!(exemplars.len() >= 3, "Prometheus stored {} exemplars: {body}", exemplars.len());
    let max_s = r.summary.totals.latency.max_us as f64 / 1e6;
    for e in &exemplars {
        let id = e["labels"]["trace_id"].as_str().unwrap();
        assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "trace_id {id}");
        let value: f64 = e["value"].as_str().unwrap().parse().unwrap();
        assert!(value > 0.0 && value <= max_s * 1.001 + 1e-6, "exemplar {value}s, run max {max_s}s");
    }
    eprintln!("prometheus: {} exemplars stored", exemplars.len());
}

/// `--trace`: a server that records every `traceparent` it receives (and the scenario's own request
/// id next to it) and holds one request for 1.5 s. Every request carries a valid, unique
/// traceparent; slow.csv names only ids the server saw, and its slowest is the held one; the
/// terminal and the report show it.
#[test]
fn traced_run_names_the_request_the_server_delayed() {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};
    const HELD: u64 = 120;
    let seen: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let held: Arc<Mutex<Option<String>>> = Arc::default();
    let n = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (s2, h2, n2) = (seen.clone(), held.clone(), n.clone());
    let server = serve(move |req: hyper::Request<hyper::body::Incoming>| {
        let header = |name: &str| req.headers().get(name).map_or(String::new(), |v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let (tp, id) = (header("traceparent"), header("x-request-id"));
        let k = n2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        s2.lock().unwrap().push((tp.clone(), id, header("x-trace")));
        if k == HELD {
            *h2.lock().unwrap() = Some(tp);
        }
        async move {
            if k == HELD {
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
            hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(b"ok")))
        }
    });
    let dir = tempdir();
    let scenario = dir.path().join("traced.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"traced\"\nseed = 42\n[target]\nurl = \"http://{}\"\n[[stages]]\nrate = 100\nduration = \"3s\"\n[[requests]]\nname = \"get\"\npath = \"/t\"\n[requests.headers]\n\"x-request-id\" = \"req-{{{{seq}}}}\"\n\"x-trace\" = \"{{{{trace_id}}}}\"\n",
            server.addr
        ),
    )
    .unwrap();
    let out = dir.path().join("res");
    let o = skyload().arg("run").arg(&scenario).args(["--trace", "-q", "--out"]).arg(&out).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));

    let seen = seen.lock().unwrap().clone();
    let completed = summary(&out)["totals"]["completed"].as_u64().unwrap();
    assert_eq!(seen.len() as u64, completed, "every completed request reached the server once");
    let mut ids = HashSet::new();
    for (tp, req_id, x_trace) in &seen {
        let trace = skyload::load::trace_id::parse(tp.as_bytes()).unwrap_or_else(|| panic!("invalid traceparent `{tp}`"));
        assert!(ids.insert(trace.to_string()), "trace id {trace} sent twice");
        assert!(req_id.starts_with("req-"), "the scenario's request id is still sent: `{req_id}`");
        // `{{trace_id}}` is the id the traceparent carries, the seed's function of the arrival's seq.
        assert_eq!(x_trace, trace, "{{{{trace_id}}}} of {req_id}");
        let seq: u64 = req_id["req-".len()..].parse().unwrap();
        assert_eq!(x_trace.as_bytes(), skyload::record::trace_id::trace_id_hex(42, seq), "{req_id}");
    }
    let held = held.lock().unwrap().clone().expect("the server held one request");
    let held_trace = skyload::load::trace_id::parse(held.as_bytes()).unwrap().to_string();

    let csv = std::fs::read_to_string(out.join("slow.csv")).unwrap();
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let head = rows.headers().unwrap().clone();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name} in {head:?}"));
    let (tid, lat, kept) = (col("trace_id"), col("latency_ms"), col("kept_as"));
    let records: Vec<csv::StringRecord> = rows.records().map(|r| r.unwrap()).collect();
    assert!(!records.is_empty() && records.len() <= 20, "{} rows kept with the default of 20 per name:\n{csv}", records.len());
    for r in &records {
        assert!(ids.contains(&r[tid]), "slow.csv names {} which the server never saw", &r[tid]);
        assert_eq!(&r[kept], "slowest");
    }
    let slowest = records.iter().max_by(|a, b| a[lat].parse::<f64>().unwrap().total_cmp(&b[lat].parse::<f64>().unwrap())).unwrap();
    assert_eq!(&slowest[tid], held_trace, "the slowest kept request is the one the server held:\n{csv}");
    assert!(slowest[lat].parse::<f64>().unwrap() >= 1500.0, "{csv}");
    assert!(stdout.contains("slowest requests") && stdout.contains(&held_trace), "{stdout}");
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("id=\"slow-requests\"") && report.contains(&held_trace));
}

/// A traced run against the embedded gateway with an access log: every request `slow.csv` names
/// can be found in the gateway's log by its trace id (the log line carries `trace_id=`), with
/// the function it called.
#[test]
fn slow_requests_are_found_in_the_gateway_access_log_by_trace_id() {
    let dir = tempdir();
    let log = dir.path().join("access.log");
    let scenario = dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"traced-gw\"\nseed = 9\n[target]\nembedded = true\n[[stages]]\nrate = 50\nduration = \"2s\"\n[[requests]]\nname = \"hello\"\npath = \"/fn/hello\"\n\
             [gateway]\naccess_log = {:?}\n[gateway.functions.hello]\npods = 2\n",
            log.display().to_string()
        ),
    )
    .unwrap();
    let out = dir.path().join("res");
    let o = skyload().arg("run").arg(&scenario).args(["--trace", "-q", "--out"]).arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&log).unwrap();
    let completed = summary(&out)["totals"]["completed"].as_u64().unwrap();
    assert_eq!(text.lines().count() as u64, completed, "a line per request");
    assert!(text.lines().all(|l| !l.ends_with(" trace_id=-")), "every traced request's line has its id:\n{text}");
    let csv = std::fs::read_to_string(out.join("slow.csv")).unwrap();
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let tid = rows.headers().unwrap().iter().position(|h| h == "trace_id").unwrap();
    let mut n = 0;
    for r in rows.records() {
        let id = r.unwrap()[tid].to_string();
        let lines: Vec<&str> = text.lines().filter(|l| l.ends_with(&format!(" trace_id={id}"))).collect();
        assert_eq!(lines.len(), 1, "slow.csv's {id} in the access log:\n{text}");
        assert!(lines[0].contains(" function=hello "), "{}", lines[0]);
        n += 1;
    }
    assert!(n > 0, "slow.csv kept nothing:\n{csv}");
}
