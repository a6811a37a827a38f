//! The embedded gateway on loopback (port 0), driven the way skyload and fault drills drive it:
//! plain HTTP/1.1 keep-alive connections. The bands asserted are the issue's (admitted rate within
//! 5%, canary split within 3 points, capacity within 10%); nothing else here depends on timing.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use skyload::gateway::{GatewayConfig, GatewayError, GatewayHandle};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn start(toml: &str) -> GatewayHandle {
    let cfg = GatewayConfig::from_toml_str(toml).expect("test config is valid");
    GatewayHandle::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("gateway starts")
}

async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.expect("connect to gateway");
    stream.set_nodelay(true).unwrap();
    let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    tx
}

async fn send(
    tx: &mut SendRequest<Full<Bytes>>,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap();
    tx.ready().await.unwrap();
    let resp = tx.send_request(req).await.expect("gateway answers");
    let (parts, body) = resp.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    send(&mut connect(addr).await, Method::GET, path, headers, "").await
}

const CONTROL: (&str, &str) = ("authorization", "Bearer ctl");

async fn control(addr: SocketAddr, method: Method, path: &str, body: &str) -> Reply {
    send(&mut connect(addr).await, method, path, &[CONTROL], body).await
}

/// `clients` closed-loop keep-alive clients hitting `path` for `dur`; counts by (status, x-pod), and
/// the time until the last answer (requests sent before the deadline are answered after it).
async fn closed_loop(
    addr: SocketAddr,
    path: &'static str,
    clients: usize,
    dur: Duration,
) -> (HashMap<(u16, String), u64>, Duration) {
    let t0 = Instant::now();
    let deadline = t0 + dur;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            tokio::spawn(async move {
                let mut tx = connect(addr).await;
                let mut counts: HashMap<(u16, String), u64> = HashMap::new();
                while Instant::now() < deadline {
                    let r = send(&mut tx, Method::GET, path, &[], "").await;
                    *counts
                        .entry((
                            r.status.as_u16(),
                            r.header("x-pod").unwrap_or("").to_string(),
                        ))
                        .or_default() += 1;
                    if r.status != StatusCode::OK {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
                counts
            })
        })
        .collect();
    let mut all = HashMap::new();
    for t in tasks {
        for (k, v) in t.await.unwrap() {
            *all.entry(k).or_default() += v;
        }
    }
    (all, t0.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_refuses_without_a_token_and_serves_with_one() {
    let gw = start("[auth]\ntokens = [\"t1\", \"t2\"]\n[functions.f]\n[functions.open]\nauth = { enabled = false }\n").await;
    let r = get(gw.addr, "/fn/f", &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("x-pod"), Some("gateway"));
    let err: serde_json::Value = serde_json::from_slice(&r.body).expect("401 body is JSON");
    assert_eq!(err["error"], "unauthorized");
    assert_eq!(
        get(gw.addr, "/fn/f", &[("authorization", "Bearer nope")])
            .await
            .status,
        401
    );
    let ok = get(gw.addr, "/fn/f", &[("authorization", "Bearer t2")]).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("x-pod"), Some("f-1"));
    assert_eq!(ok.header("x-fn-version"), Some("v1"));
    assert_eq!(get(gw.addr, "/fn/open", &[]).await.status, 200);
    assert_eq!(get(gw.addr, "/fn/missing", &[]).await.status, 404);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_admits_the_configured_rate_at_double_load() {
    let gw = start("[functions.f]\nrate_limit = { rate = 100.0, burst = 5 }\n").await;
    let addr = gw.addr;
    // Offer 2x the limit: 8 paced connections of 25 requests/s each, for 3 s.
    let dur = Duration::from_secs(3);
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            tokio::spawn(async move {
                let mut tx = connect(addr).await;
                tokio::time::sleep(Duration::from_millis(5 * i)).await;
                let mut tick = tokio::time::interval(Duration::from_millis(40));
                let (mut ok, mut limited, mut other) = (0u64, 0u64, 0u64);
                while t0.elapsed() < dur {
                    tick.tick().await;
                    let r = send(&mut tx, Method::GET, "/fn/f", &[], "").await;
                    match r.status.as_u16() {
                        200 => ok += 1,
                        429 => {
                            let secs: u64 = r
                                .header("retry-after")
                                .expect("429 has Retry-After")
                                .parse()
                                .unwrap();
                            assert!(secs >= 1);
                            limited += 1
                        }
                        _ => other += 1,
                    }
                }
                (ok, limited, other)
            })
        })
        .collect();
    let (mut ok, mut limited, mut other) = (0, 0, 0);
    for t in tasks {
        let (a, b, c) = t.await.unwrap();
        ok += a;
        limited += b;
        other += c;
    }
    let secs = t0.elapsed().as_secs_f64();
    let offered = (ok + limited + other) as f64 / secs;
    let admitted = ok as f64 / secs;
    println!("offered {offered:.1}/s, admitted {admitted:.1}/s, 429s {limited}");
    assert_eq!(other, 0);
    assert!(
        offered > 150.0,
        "the test did not offer enough load: {offered:.1}/s"
    );
    assert!(
        (admitted / 100.0 - 1.0).abs() <= 0.05,
        "admitted {admitted:.1}/s, limit 100/s"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_answers_after_a_pod_is_killed_through_the_control_api() {
    let gw = start(
        "control_token = \"ctl\"\n\
         [functions.f]\nfallback = { body = '{\"cached\":true}' }\n\
         [functions.g]\n",
    )
    .await;
    let before = get(gw.addr, "/fn/f", &[]).await;
    assert_eq!(
        (
            before.status.as_u16(),
            before.header("x-pod"),
            before.header("x-fallback")
        ),
        (200, Some("f-1"), None)
    );

    assert_eq!(
        get(gw.addr, "/_control/pods/f-1/kill", &[]).await.status,
        401,
        "control needs its token"
    );
    let killed = control(gw.addr, Method::POST, "/_control/pods/f-1/kill", "").await;
    assert_eq!(killed.status, 200);
    let state: serde_json::Value = serde_json::from_slice(&killed.body).unwrap();
    assert_eq!(state["pods"][0]["healthy"], false);

    let after = get(gw.addr, "/fn/f", &[]).await;
    assert_eq!(after.status, 200);
    assert_eq!(after.header("x-fallback"), Some("1"));
    assert_eq!(after.header("x-pod"), Some("gateway"));
    assert_eq!(&after.body[..], b"{\"cached\":true}");

    // No fallback configured: 503.
    control(gw.addr, Method::POST, "/_control/pods/g-1/kill", "").await;
    let r = get(gw.addr, "/fn/g", &[]).await;
    assert_eq!(
        (r.status.as_u16(), r.header("x-gateway-error")),
        (503, Some("unavailable"))
    );

    control(gw.addr, Method::POST, "/_control/pods/f-1/revive", "").await;
    let revived = get(gw.addr, "/fn/f", &[]).await;
    assert_eq!(
        (revived.header("x-pod"), revived.header("x-fallback")),
        (Some("f-1"), None)
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_latency_and_errors_turn_into_fallbacks_and_reset_clears_them() {
    let gw = start(
        "control_token = \"ctl\"\n\
         [functions.f]\ntimeout = \"50ms\"\nfallback = { body = 'fb' , content_type = \"text/plain\" }\n\
         [functions.g]\n",
    )
    .await;
    control(
        gw.addr,
        Method::POST,
        "/_control/pods/f-1/latency",
        r#"{"add":"300ms","jitter":"10ms"}"#,
    )
    .await;
    let r = get(gw.addr, "/fn/f", &[]).await;
    assert_eq!(
        (
            r.status.as_u16(),
            r.header("x-fallback"),
            r.header("x-gateway-error")
        ),
        (200, Some("1"), Some("timeout"))
    );
    control(gw.addr, Method::DELETE, "/_control/pods/f-1/latency", "").await;
    assert_eq!(get(gw.addr, "/fn/f", &[]).await.header("x-fallback"), None);

    control(
        gw.addr,
        Method::POST,
        "/_control/functions/f/errors",
        r#"{"rate":1.0}"#,
    )
    .await;
    let r = get(gw.addr, "/fn/f", &[]).await;
    assert_eq!(
        (r.header("x-fallback"), r.header("x-gateway-error")),
        (Some("1"), Some("error"))
    );
    // Without a fallback the pod's error goes through.
    control(
        gw.addr,
        Method::POST,
        "/_control/pods/g-1/errors",
        r#"{"rate":1.0,"status":502}"#,
    )
    .await;
    assert_eq!(get(gw.addr, "/fn/g", &[]).await.status, 502);

    assert_eq!(
        control(
            gw.addr,
            Method::POST,
            "/_control/pods/g-1/errors",
            r#"{"rate":2}"#
        )
        .await
        .status,
        400
    );
    assert_eq!(
        control(gw.addr, Method::POST, "/_control/pods/nope/kill", "")
            .await
            .status,
        404
    );
    assert_eq!(
        control(gw.addr, Method::POST, "/_control/reset", "")
            .await
            .status,
        200
    );
    assert_eq!(get(gw.addr, "/fn/f", &[]).await.header("x-fallback"), None);
    assert_eq!(get(gw.addr, "/fn/g", &[]).await.status, 200);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_split_follows_the_weights_and_the_control_api_moves_it() {
    let gw = start(
        "control_token = \"ctl\"\n[functions.f]\npods = 2\nweights = { v1 = 90, v2 = 10 }\n[functions.f.versions.v2]\npods = 1\n",
    )
    .await;
    let split = |n: usize| {
        let addr = gw.addr;
        async move {
            let per = n / 10;
            let tasks: Vec<_> = (0..10)
                .map(|_| {
                    tokio::spawn(async move {
                        let mut tx = connect(addr).await;
                        let mut v2 = 0usize;
                        for _ in 0..per {
                            let r = send(&mut tx, Method::GET, "/fn/f", &[], "").await;
                            assert_eq!(r.status, 200);
                            let (ver, pod) = (
                                r.header("x-fn-version").unwrap(),
                                r.header("x-pod").unwrap(),
                            );
                            if ver == "v2" {
                                assert_eq!(pod, "f-v2-1");
                                v2 += 1;
                            } else {
                                assert!(pod == "f-1" || pod == "f-2", "{pod}");
                            }
                        }
                        v2
                    })
                })
                .collect();
            let mut v2 = 0;
            for t in tasks {
                v2 += t.await.unwrap();
            }
            100.0 * v2 as f64 / (per * 10) as f64
        }
    };
    let share = split(5000).await;
    assert!(
        (share - 10.0).abs() <= 3.0,
        "v2 served {share:.1}% with weight 10%"
    );

    let r = control(
        gw.addr,
        Method::PUT,
        "/_control/functions/f/weights",
        r#"{"v1":50,"v2":50}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    let share = split(5000).await;
    assert!(
        (share - 50.0).abs() <= 3.0,
        "v2 served {share:.1}% with weight 50%"
    );
    let bad = control(
        gw.addr,
        Method::PUT,
        "/_control/functions/f/weights",
        r#"{"v1":0,"v2":0}"#,
    )
    .await;
    assert_eq!(bad.status, 400);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_300_qps_pod_levels_off_near_300_qps() {
    // Capacity = concurrency / mean service time = 3 / 10ms.
    let gw =
        start("[functions.f]\nconcurrency = 3\nqueue = 64\nservice_time = { mean = \"10ms\" }\n")
            .await;
    let (warmup, _) = closed_loop(gw.addr, "/fn/f", 40, Duration::from_millis(300)).await;
    assert!(warmup.keys().all(|(s, _)| *s == 200), "{warmup:?}");
    let (counts, took) = closed_loop(gw.addr, "/fn/f", 40, Duration::from_secs(3)).await;
    let ok = counts.get(&(200, "f-1".to_string())).copied().unwrap_or(0);
    let rate = ok as f64 / took.as_secs_f64();
    println!("40 clients: {rate:.1} completed/s {counts:?}");
    assert!(
        (rate / 300.0 - 1.0).abs() <= 0.10,
        "pod served {rate:.1}/s, capacity 300/s"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_sheds_with_503() {
    let gw =
        start("[functions.f]\nconcurrency = 1\nqueue = 2\nservice_time = { mean = \"300ms\" }\n")
            .await;
    let addr = gw.addr;
    let tasks: Vec<_> = (0..10)
        .map(|_| tokio::spawn(async move { get(addr, "/fn/f", &[]).await }))
        .collect();
    let (mut ok, mut shed) = (0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        match r.status.as_u16() {
            200 => ok += 1,
            503 => {
                assert_eq!(r.header("x-gateway-error"), Some("shed"));
                shed += 1
            }
            s => panic!("unexpected {s}"),
        }
    }
    assert_eq!(ok + shed, 10);
    assert!(ok >= 3 && shed >= 1, "ok {ok}, shed {shed}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_starts_are_marked_and_come_back_after_revive() {
    let gw =
        start("control_token = \"ctl\"\n[functions.f]\ncold_start = { delay = \"100ms\" }\n").await;
    assert_eq!(
        get(gw.addr, "/fn/f", &[]).await.header("x-cold-start"),
        Some("1")
    );
    assert_eq!(
        get(gw.addr, "/fn/f", &[]).await.header("x-cold-start"),
        None
    );
    control(gw.addr, Method::POST, "/_control/pods/f-1/kill", "").await;
    control(gw.addr, Method::POST, "/_control/pods/f-1/revive", "").await;
    assert_eq!(
        get(gw.addr, "/fn/f", &[]).await.header("x-cold-start"),
        Some("1")
    );
    gw.shutdown().await;
}

/// Checks the Prometheus text exposition format line by line; returns samples by full series name.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    let mut typed = HashMap::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut it = rest.splitn(3, ' ');
            let (kind, name, tail) = (
                it.next().unwrap(),
                it.next().unwrap(),
                it.next().unwrap_or(""),
            );
            assert!(name_ok(name), "bad metric name in {line}");
            if kind == "TYPE" {
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&tail),
                    "{line}"
                );
                typed.insert(name.to_string(), tail.to_string());
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels: {line}"));
                for pair in labels.split("\",").filter(|p| !p.is_empty()) {
                    let (k, v) = pair
                        .split_once("=\"")
                        .unwrap_or_else(|| panic!("bad label {pair} in {line}"));
                    assert!(name_ok(k), "bad label name {k}");
                    assert!(
                        !v.trim_end_matches('"').contains('"'),
                        "unescaped quote in {line}"
                    );
                }
                assert!(labels.ends_with('"'), "{line}");
                name
            }
            None => series,
        };
        assert!(name_ok(name), "bad name {name}");
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|b| typed.contains_key(*b));
        assert!(
            typed.contains_key(name) || base.is_some(),
            "sample before its TYPE: {line}"
        );
        samples.insert(series.to_string(), v);
    }
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text_and_count_requests() {
    let gw = start("metrics = true\n[auth]\ntokens = [\"t\"]\n[functions.f]\npods = 2\n").await;
    let mut tx = connect(gw.addr).await;
    for _ in 0..10 {
        send(
            &mut tx,
            Method::POST,
            "/fn/f",
            &[("authorization", "Bearer t")],
            "x",
        )
        .await;
    }
    send(&mut tx, Method::GET, "/fn/f", &[], "").await;
    let r = send(&mut tx, Method::GET, "/metrics", &[], "").await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let samples = parse_prometheus(std::str::from_utf8(&r.body).unwrap());
    let ok = |pod: &str| {
        samples[&format!("skyload_gateway_requests_total{{function=\"f\",version=\"v1\",pod=\"{pod}\",outcome=\"ok\"}}")]
    };
    assert_eq!(ok("f-1") + ok("f-2"), 10.0);
    assert_eq!(samples["skyload_gateway_requests_total{function=\"f\",version=\"\",pod=\"gateway\",outcome=\"unauthorized\"}"], 1.0);
    let count = samples["skyload_gateway_request_duration_seconds_count{function=\"f\",version=\"v1\",pod=\"f-1\"}"];
    let inf = samples["skyload_gateway_request_duration_seconds_bucket{function=\"f\",version=\"v1\",pod=\"f-1\",le=\"+Inf\"}"];
    assert_eq!((count, inf), (5.0, 5.0));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_gets_a_line_per_request_and_http2_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let gw = start(&format!(
        "access_log = {:?}\n[functions.echo]\nresponse = {{ echo = true }}\n",
        log.display().to_string()
    ))
    .await;
    let mut tx = connect(gw.addr).await;
    // The first request is traced: its line carries the trace id, the others `trace_id=-`.
    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{TRACE}-00f067aa0ba902b7-01");
    for i in 0..3 {
        let traced = [("traceparent", traceparent.as_str())];
        let r = send(
            &mut tx,
            Method::POST,
            "/fn/echo/sub/path?q=1",
            if i == 0 { &traced[..] } else { &[] },
            &format!("body {i}"),
        )
        .await;
        assert_eq!(r.body, format!("body {i}"));
    }
    // HTTP/2 with prior knowledge on the same listener.
    let stream = TcpStream::connect(gw.addr).await.unwrap();
    let (mut h2, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        TokioIo::new(stream),
    )
    .await
    .expect("h2 handshake");
    tokio::spawn(conn);
    let req = Request::builder()
        .uri(format!("http://{}/fn/echo", gw.addr))
        .body(Full::new(Bytes::from("h2")))
        .unwrap();
    let resp = h2.send_request(req).await.unwrap();
    assert_eq!(resp.headers()["x-pod"], "echo-1");
    gw.shutdown().await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.contains("method=POST path=/fn/echo/sub/path status=200 function=echo version=v1 pod=echo-1 outcome=ok"));
    let traced: Vec<&str> = text.lines().filter(|l| l.ends_with(&format!(" trace_id={TRACE}"))).collect();
    assert_eq!(traced.len(), 1, "{text}");
    assert_eq!(text.lines().filter(|l| l.ends_with(" trace_id=-")).count(), 3, "{text}");
}

#[tokio::test]
async fn bad_configs_name_the_field_and_examples_parse() {
    let cfg: GatewayConfig = toml::from_str("[functions.f]\npods = 0\n").unwrap();
    match GatewayHandle::start(cfg, "127.0.0.1:0".parse().unwrap()).await {
        Err(GatewayError::Config { field, .. }) => assert_eq!(field, "functions.f.pods"),
        other => panic!("expected a config error, got {other:?}"),
    }
    let demo = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/gateways/demo.toml"
    ))
    .unwrap();
    let cfg = GatewayConfig::from_toml_str(&demo).expect("scenarios/gateways/demo.toml is valid");
    assert_eq!(cfg.functions.len(), 2);
}

/// The control API refuses values a scenario could not hold (400 naming the field and what is
/// allowed) and changes nothing when it does: a latency of 100000h, a jitter beyond a day, an
/// error status outside 400-599, a rate above 1, a lease out of range (which used to apply the
/// fault with no lease at all, so it never lapsed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_api_values_are_bounded() {
    let gw = start("control_token = \"ctl\"\n[functions.f]\n").await;
    let state = || async { control(gw.addr, Method::GET, "/_control/pods/f-1", "").await.body };
    let before = state().await;
    for (path, body, field, allowed) in [
        ("/_control/pods/f-1/latency", r#"{"add":"100000h"}"#, "`add`", "0 to 24h"),
        ("/_control/functions/f/latency", r#"{"add":"1ms","jitter":"25h"}"#, "`jitter`", "0 to 24h"),
        ("/_control/pods/f-1/errors", r#"{"rate":0.5,"status":999}"#, "`status`", "400-599"),
        ("/_control/pods/f-1/errors", r#"{"rate":0.5,"status":200}"#, "`status`", "400-599"),
        ("/_control/pods/f-1/errors", r#"{"rate":1.5}"#, "`rate`", "from 0 to 1"),
    ] {
        let r = control(gw.addr, Method::POST, path, body).await;
        let text = String::from_utf8_lossy(&r.body);
        assert_eq!(r.status, 400, "{body}: {text}");
        assert!(text.contains(field) && text.contains(allowed), "{body}: {text}");
    }
    for lease in ["5", "3600001", "soon"] {
        let r = send(&mut connect(gw.addr).await, Method::POST, "/_control/pods/f-1/kill", &[CONTROL, ("x-skyload-lease-ms", lease)], "").await;
        let text = String::from_utf8_lossy(&r.body);
        assert_eq!(r.status, 400, "lease {lease}: {text}");
        assert!(text.contains("x-skyload-lease-ms") && text.contains("1000 to 3600000"), "{text}");
    }
    assert_eq!(state().await, before, "a refused call changes nothing");
    assert_eq!(get(gw.addr, "/fn/f", &[]).await.status, 200);
    // The edge of the range is accepted.
    let r = control(gw.addr, Method::POST, "/_control/pods/f-1/latency", r#"{"add":"24h"}"#).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    control(gw.addr, Method::DELETE, "/_control/pods/f-1/latency", "").await;
    gw.shutdown().await;
}

/// DNS rebinding: on loopback the control API answers only to loopback names and IPs (403 for a
/// page's own host name, reads included); functions answer whatever Host the traffic carries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_api_refuses_hosts_that_are_not_loopback() {
    let gw = start("[functions.f]\n").await;
    let port = gw.addr.port();
    let with_host = |path: &'static str, host: String| async move {
        let req = Request::builder().method(Method::GET).uri(path).header("host", host).body(Full::new(Bytes::new())).unwrap();
        let mut tx = connect(gw.addr).await;
        tx.ready().await.unwrap();
        let resp = tx.send_request(req).await.unwrap();
        let status = resp.status().as_u16();
        (status, String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).into_owned())
    };
    for host in [format!("evil.example:{port}"), "rebind.attacker.test".to_string()] {
        let (status, body) = with_host("/_control/functions", host.clone()).await;
        assert_eq!(status, 403, "{host}: {body}");
        assert!(body.contains("Host") && !body.contains("\"pods\""), "{host}: {body}");
        assert_eq!(with_host("/fn/f", host.clone()).await.0, 200, "{host}: functions are not judged");
    }
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), "[::1]".to_string()] {
        let (status, body) = with_host("/_control/functions", host.clone()).await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    gw.shutdown().await;
}

/// A lapsed lease undid every fault of its pod, also one set by hand: `errors` at 0.1 set without
/// a lease went to 0 when a drill's leased latency on the same pod lapsed. Now a lapse puts back
/// only the kinds the leased calls set, as they were before the lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_lease_leaves_faults_set_by_hand() {
    let gw = start("[functions.f]\npods = 2\n").await;
    let pod = |name: &'static str| async move {
        let r = control(gw.addr, Method::GET, &format!("/_control/pods/{name}"), "").await;
        serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()
    };
    let leased = |path: &'static str, body: &'static str| async move {
        let r = send(&mut connect(gw.addr).await, Method::POST, path, &[CONTROL, ("x-skyload-lease-ms", "1000")], body).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    };
    // By hand: errors on f-2, latency on f-1 (no lease header).
    assert_eq!(control(gw.addr, Method::POST, "/_control/pods/f-2/errors", r#"{"rate":0.1}"#).await.status, 200);
    assert_eq!(control(gw.addr, Method::POST, "/_control/pods/f-1/latency", r#"{"add":"7ms"}"#).await.status, 200);
    // A drill: kill f-1, latency on f-2, and an error rate over the hand-set one on f-1... then it dies.
    leased("/_control/pods/f-1/kill", "").await;
    leased("/_control/pods/f-2/latency", r#"{"add":"50ms"}"#).await;
    leased("/_control/pods/f-1/errors", r#"{"rate":0.5,"status":503}"#).await;
    assert_eq!(pod("f-1").await["healthy"], false);
    let deadline = Instant::now() + Duration::from_secs(10);
    while (pod("f-2").await["added_latency"] != "0us" || pod("f-1").await["healthy"] != true) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (p1, p2) = (pod("f-1").await, pod("f-2").await);
    assert_eq!(p2["added_latency"], "0us", "{p2}");
    assert_eq!(p2["error_rate"], 0.1, "the hand-set error rate stays: {p2}");
    assert_eq!(p1["healthy"], true, "the leased kill is undone: {p1}");
    assert_eq!((p1["error_rate"].as_f64(), p1["error_status"].as_u64()), (Some(0.0), Some(500)), "{p1}");
    assert_eq!(p1["added_latency"], "7.00ms", "the hand-set latency stays: {p1}");
    // Renewing a lapsed lease is refused (the run learns its fault is gone).
    let r = send(&mut connect(gw.addr).await, Method::POST, "/_control/pods/f-2/lease", &[CONTROL, ("x-skyload-lease-ms", "1000")], "").await;
    assert_eq!(r.status, 404);
    gw.shutdown().await;
}
