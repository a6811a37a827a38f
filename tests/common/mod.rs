//! Shared helpers for integration tests: a small hyper server on 127.0.0.1:0 that counts what it
//! receives and can stall on demand, and a Plan builder for one-request runs.
#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use skyload::scenario::*;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A hyper server (HTTP/1.1 and HTTP/2) on 127.0.0.1:0 in a thread and runtime of its own,
/// answering every request with `handler`; it stops when dropped.
pub struct Serving {
    pub addr: SocketAddr,
    /// Connections accepted.
    pub conns: Arc<AtomicU64>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub fn serve<F, Fut>(handler: F) -> Serving
where
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let conns = Arc::new(AtomicU64::new(0));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let cn = conns.clone();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    acc = listener.accept() => {
                        let Ok((stream, _)) = acc else { continue };
                        let _ = stream.set_nodelay(true);
                        cn.fetch_add(1, Ordering::Relaxed);
                        let handler = handler.clone();
                        tokio::spawn(async move {
                            let svc = service_fn(move |req| {
                                let answer = handler(req);
                                async move { Ok::<_, std::convert::Infallible>(answer.await) }
                            });
                            let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                                .serve_connection(TokioIo::new(stream), svc)
                                .await;
                        });
                    }
                }
            }
        });
        rt.shutdown_timeout(Duration::from_millis(200));
    });
    let addr = addr_rx.recv().unwrap();
    Serving { addr, conns, shutdown: Some(stop_tx), thread: Some(thread) }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A local server that answers 200 "ok" with `x-pod: test-<n % 2>`, counts requests and
/// connections, remembers paths, and can stall on demand.
pub struct TestServer {
    pub addr: SocketAddr,
    pub count: Arc<AtomicU64>,
    /// Connections accepted.
    pub conns: Arc<AtomicU64>,
    /// Distinct request paths seen (with query), for template tests.
    pub paths: Arc<Mutex<std::collections::HashSet<String>>>,
    stall: Arc<Mutex<Option<(Instant, Duration)>>>,
    /// Requests numbered [first, first + count) in arrival order, each held for the duration.
    held: Arc<Mutex<Option<(u64, u64, Duration)>>>,
    /// Requests numbered [first, until) wait until request `until` has arrived.
    gate: Arc<Mutex<Option<(u64, u64)>>>,
    _server: Serving,
}

impl TestServer {
    pub fn start() -> TestServer {
        let count = Arc::new(AtomicU64::new(0));
        let paths: Arc<Mutex<std::collections::HashSet<String>>> = Arc::default();
        let stall: Arc<Mutex<Option<(Instant, Duration)>>> = Arc::new(Mutex::new(None));
        let held: Arc<Mutex<Option<(u64, u64, Duration)>>> = Arc::new(Mutex::new(None));
        let gate: Arc<Mutex<Option<(u64, u64)>>> = Arc::new(Mutex::new(None));
        let (c, s, ps, hd, gt) = (count.clone(), stall.clone(), paths.clone(), held.clone(), gate.clone());
        let server = serve(move |req: Request<hyper::body::Incoming>| {
            let (c, s, hd, gt) = (c.clone(), s.clone(), hd.clone(), gt.clone());
            if let Ok(mut p) = ps.lock() {
                if p.len() < 100_000 {
                    p.insert(req.uri().path_and_query().map_or(String::new(), |p| p.to_string()));
                }
            }
            async move {
                let n = c.fetch_add(1, Ordering::Relaxed);
                let wait = {
                    let g = s.lock().unwrap();
                    g.and_then(|(at, d)| {
                        let now = Instant::now();
                        (now >= at && now < at + d).then(|| at + d - now)
                    })
                };
                let hold = hd.lock().unwrap().and_then(|(first, count, d)| (n >= first && n < first + count).then_some(d));
                if let Some(w) = wait.into_iter().chain(hold).max() {
                    tokio::time::sleep(w).await;
                }
                let gated = gt.lock().unwrap().and_then(|(first, until)| (n >= first && n < until).then_some(until));
                if let Some(until) = gated {
                    // Bounded: a run that stops sending early releases them after 10 s.
                    let limit = Instant::now() + Duration::from_secs(10);
                    while c.load(Ordering::Relaxed) <= until && Instant::now() < limit {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
                Response::builder().header("x-pod", format!("test-{}", n % 2)).body(Full::new(Bytes::from_static(b"ok"))).unwrap()
            }
        });
        TestServer { addr: server.addr, count, conns: server.conns.clone(), paths, stall, held, gate, _server: server }
    }

    /// Every request that arrives in [at, at + d) is held until at + d.
    pub fn stall_at(&self, at: Instant, d: Duration) {
        *self.stall.lock().unwrap() = Some((at, d));
    }

    /// Requests number `first` to `first + count - 1` (0-based, in the order they arrive) are each
    /// held for `d`: a stall placed by count, not by the clock, so a test knows which arrivals of
    /// a uniform schedule it hits however busy the machine is (an answer cannot come before its
    /// arrival was due, so a stall of the last arrivals longer than their spacing to the end is
    /// answered after the schedule for certain).
    pub fn hold_numbered(&self, first: u64, count: u64, d: Duration) {
        *self.held.lock().unwrap() = Some((first, count, d));
    }

    /// A stall placed by count that ends at one instant: requests number `first` to `until - 1`
    /// (0-based, in arrival order) are held until request `until` arrives, and then all answered
    /// together, as a target that stopped and came back. In a uniform schedule every held arrival
    /// is answered no earlier than request `until` was due, however busy the machine is.
    pub fn stall_numbered(&self, first: u64, until: u64) {
        *self.gate.lock().unwrap() = Some((first, until));
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn received(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// A one-request plan at a constant rate against `addr`.
pub fn constant_plan(addr: SocketAddr, rate: f64, secs: f64) -> Plan {
    Plan {
        name: "test".into(),
        description: None,
        source_path: None,
        source_text: "# test plan\n".into(),
        target: Target::Url(TargetUrl {
            scheme: "http".into(),
            host: addr.ip().to_string(),
            port: addr.port(),
            authority: addr.to_string(),
            base_path: String::new(),
        }),
        timeout: Duration::from_secs(5),
        connections: ConnectionPlan { max: 64, ..ConnectionPlan::default() },
        stages: vec![Stage {
            name: "main".into(),
            duration: Duration::from_secs_f64(secs),
            shape: StageShape::Constant { rate },
            arrivals: Arrivals::Uniform,
        }],
        requests: vec![RequestPlan {
            name: "get".into(),
            weight: 1,
            method: http::Method::GET,
            path: Template::literal("/hello"),
            headers: vec![],
            body: None,
        }],
        feeders: vec![],
        matchers: vec![],
        pod_header: Some(http::HeaderName::from_static("x-pod")),
        labels: vec![],
        max_in_flight: 10_000,
        max_lag: Duration::MAX,
        pacer: Default::default(),
        seed: 1,
        threads: None,
        faults: vec![],
        verify: Default::default(),
        metrics: Default::default(),
    }
}

/// Polls `cond` every 20 ms until it holds, panicking with `what` after `limit`: tests wait on an
/// observable event instead of sleeping a guessed time, which a busy machine breaks.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The skyload binary under test, with no stdin (a test never types at it).
pub fn skyload() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_skyload"));
    c.stdin(std::process::Stdio::null());
    c
}

/// A Results directory's summary.json as JSON.
pub fn summary(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// A `capacity.json` as `skyload capacity` writes it (2 pods, 600 rps sustained, knee at 550), for
/// report tests that need a capacity search without spending half a minute on one.
pub const CAPACITY_JSON: &str = r#"{"scenario":"cap","slo":["p99 < 50ms","error_rate < 1%"],"steps":[
  {"rate":100,"hold_s":4,"phase":"ramp","verdict":"pass","achieved_rps":100,"p50_us":3000,"p99_us":9000,"error_rate":0,"dropped":0,"pods":2,"failed_checks":[],"notes":[],"dir":"s1"},
  {"rate":300,"hold_s":4,"phase":"ramp","verdict":"pass","achieved_rps":299,"p50_us":4000,"p99_us":14000,"error_rate":0,"dropped":0,"pods":2,"failed_checks":[],"notes":[],"dir":"s2"},
  {"rate":600,"hold_s":4,"phase":"ramp","verdict":"pass","achieved_rps":590,"p50_us":9000,"p99_us":48000,"error_rate":0.001,"dropped":0,"pods":2,"failed_checks":[],"notes":[],"dir":"s3"},
  {"rate":700,"hold_s":4,"phase":"ramp","verdict":"fail","achieved_rps":610,"p50_us":90000,"p99_us":210000,"error_rate":0.04,"dropped":0,"pods":2,"failed_checks":["p99 < 50ms"],"notes":[],"dir":"s4"}],
 "stop":"converged","max_sustainable_rps":600,"first_failing_rps":700,"pods":2,"pods_from":"pod_header","per_pod_rps":300,"knee_rps":550,
 "plan":{"per_pod_rps":300,"peak_qps":5000,"headroom":1.3,"pods_needed":22,"daily_calls":51840000,"daily_calls_per_pod":25920000},
 "targets":[],"notes":[],"seconds":30}"#;

/// A runtime of the test's own for servers that must outlive a `skyload` child process (a gateway
/// or fault proxy whose state the test reads after the run exits).
pub fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// The embedded gateway with `config` (gateway TOML) on 127.0.0.1:0, served by `rt`.
pub fn gateway_on(rt: &tokio::runtime::Runtime, config: &str) -> skyload::gateway::GatewayHandle {
    let cfg = skyload::gateway::GatewayConfig::from_toml_str(config).unwrap();
    rt.block_on(skyload::gateway::GatewayHandle::start(cfg, "127.0.0.1:0".parse().unwrap())).unwrap()
}

/// A JSON file of a Results directory (faults.json, faults.state.json, verdict.json, …).
pub fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()))
}

/// `skyload run FILE -q --out OUT`, the form the drill tests run; the caller adds environment,
/// stdio, and `output()` or `spawn()`.
pub fn run_file(file: &std::path::Path, out: &std::path::Path) -> std::process::Command {
    let mut c = skyload();
    c.arg("run").arg(file).arg("-q").arg("--out").arg(out);
    c
}

/// A pod's state from the gateway's control API (`GET /_control/pods/POD`), which must answer 200.
pub fn pod_state(rt: &tokio::runtime::Runtime, base: &str, pod: &str) -> serde_json::Value {
    let (code, body) = rt
        .block_on(skyload::fault::http::call(base, http::Method::GET, &format!("/_control/pods/{pod}"), None, None, Duration::from_secs(2)))
        .unwrap();
    assert_eq!(code, 200, "GET /_control/pods/{pod}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The embedded gateway with `config`, and the fault proxy in front of it with one proxy `gw`;
/// the third value is the address that proxy listens on (where a run sends its traffic).
pub fn gateway_behind_proxy(
    rt: &tokio::runtime::Runtime,
    config: &str,
) -> (skyload::gateway::GatewayHandle, skyload::fault::proxy::ProxyHandle, String) {
    use skyload::fault::proxy::{Options, ProxyHandle};
    use skyload::fault::toxiproxy::NewProxy;
    let gw = gateway_on(rt, config);
    let px = rt
        .block_on(ProxyHandle::start(
            Options::default(),
            "127.0.0.1:0".parse().unwrap(),
            vec![NewProxy { name: "gw".into(), listen: "127.0.0.1:0".into(), upstream: gw.addr.to_string(), enabled: true }],
        ))
        .unwrap();
    let listen = px.initial[0].listen.clone();
    (gw, px, listen)
}

/// A 60 s run against the gateway at `base` (functions `hello`, pods hello-1 and hello-2) that
/// from `at` on slows `hello` by 50 ms (fault `slow`) and kills hello-2 (fault `kill`), both for
/// 50 s: the drill the signal tests interrupt, so that its faults are in place when it stops.
pub fn slow_and_kill_drill(base: &str, rate: u32, at: &str) -> String {
    format!(
        "[target]\nurl = \"{base}\"\n[[stages]]\nrate = {rate}\nduration = \"60s\"\n[[requests]]\npath = \"/fn/hello\"\n\
         [[faults]]\nname = \"slow\"\nkind = \"latency\"\nfunction = \"hello\"\nlatency = \"50ms\"\nat = \"{at}\"\nfor = \"50s\"\n\
         [[faults]]\nname = \"kill\"\nkind = \"pod_kill\"\npod = \"hello-2\"\nat = \"{at}\"\nfor = \"50s\"\n"
    )
}

/// Whether both faults of `slow_and_kill_drill` are in place on the gateway at `base`.
pub fn slow_and_kill_in_place(rt: &tokio::runtime::Runtime, base: &str) -> bool {
    pod_state(rt, base, "hello-1")["added_latency"] == "50.0ms" && pod_state(rt, base, "hello-2")["healthy"] == false
}

/// A loopback port that refuses every connection and that no other test can take while the
/// returned socket lives: bound but never listening (a port read back from a dropped listener
/// can be handed to a parallel test's server, which then answers). Linux/Unix.
#[allow(dead_code)]
pub fn refusing_port() -> (std::os::fd::OwnedFd, u16) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor this function owns from creation.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let owned = std::os::fd::OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len), 0, "bind: {}", std::io::Error::last_os_error());
        let mut got = len;
        assert_eq!(libc::getsockname(fd, &mut addr as *mut _ as *mut libc::sockaddr, &mut got), 0);
        (owned, u16::from_be(addr.sin_port))
    }
}
