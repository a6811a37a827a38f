//! The fault proxy end to end on loopback: its REST API answers with Toxiproxy's status codes and
//! JSON shapes (checked with raw HTTP and through skyload's Toxiproxy client), and its toxics do
//! what they say to real HTTP traffic between a hyper client and a small hyper upstream.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use skyload::fault::proxy::{Options, ProxyHandle};
use skyload::fault::toxiproxy::{Client, NewProxy, Stream, Toxic};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A 100 KB body for the bandwidth test.
const BIG: usize = 100_000;

/// An upstream on 127.0.0.1:0: `/big` answers 100 KB, anything else "ok" (POST bodies are read).
async fn upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let big = req.uri().path() == "/big";
                    let _ = req.into_body().collect().await;
                    let body = if big { Bytes::from(vec![b'x'; BIG]) } else { Bytes::from_static(b"ok") };
                    Ok::<_, hyper::Error>(Response::new(Full::new(body)))
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    addr
}

async fn start() -> (ProxyHandle, Client, SocketAddr) {
    let handle = ProxyHandle::start(Options::default(), "127.0.0.1:0".parse().unwrap(), Vec::new()).await.unwrap();
    let client = handle.client();
    (handle, client, upstream().await)
}

/// A kept-alive HTTP/1.1 connection to `addr`.
async fn connect(addr: &str) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    sender
}

/// One request on `conn`: status, body, and whether the proxy itself answered.
async fn request(conn: &mut SendRequest<Full<Bytes>>, method: Method, path: &str, body: &str) -> Result<(u16, Bytes, bool), String> {
    conn.ready().await.map_err(|e| e.to_string())?;
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "upstream")
        .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
        .unwrap();
    let resp = conn.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let faulted = resp.headers().contains_key("x-skyload-fault");
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, body, faulted))
}

async fn get(conn: &mut SendRequest<Full<Bytes>>, path: &str) -> Result<(u16, Bytes, bool), String> {
    request(conn, Method::GET, path, "").await
}

/// Raw API call: status and parsed JSON body (Null when empty).
async fn api(base: SocketAddr, method: Method, path: &str, body: Value, agent: &str) -> (u16, Value) {
    let mut conn = connect(&base.to_string()).await;
    let text = if body.is_null() { String::new() } else { body.to_string() };
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", base.to_string())
        .header("user-agent", agent)
        .body(Full::new(Bytes::from(text)))
        .unwrap();
    let resp = conn.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn call(base: SocketAddr, method: Method, path: &str, body: Value) -> (u16, Value) {
    api(base, method, path, body, "toxiproxy-cli").await
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median round trip of `n` GETs on one kept-alive connection.
async fn median_rtt(addr: &str, n: usize) -> Duration {
    let mut conn = connect(addr).await;
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        get(&mut conn, "/").await.unwrap();
        times.push(t.elapsed());
    }
    median(times)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_api_answers_with_toxiproxys_codes_and_shapes() {
    let (handle, _, up) = start().await;
    let base = handle.addr;
    let up = up.to_string();

    let (s, p) = call(base, Method::POST, "/proxies", json!({"name": "api", "listen": "127.0.0.1:0", "upstream": up})).await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(p["name"], "api");
    assert_eq!(p["upstream"], up.as_str());
    assert_eq!(p["enabled"], true);
    assert_eq!(p["toxics"], json!([]));
    let listen = p["listen"].as_str().unwrap().to_string();
    assert!(listen.starts_with("127.0.0.1:") && !listen.ends_with(":0"), "the bound port is shown: {listen}");

    let (s, e) = call(base, Method::POST, "/proxies", json!({"name": "api", "listen": "127.0.0.1:0", "upstream": up})).await;
    assert_eq!((s, e), (409, json!({"error": "proxy already exists", "status": 409})));
    let (s, e) = call(base, Method::POST, "/proxies", json!({"listen": "127.0.0.1:0", "upstream": up})).await;
    assert_eq!((s, e), (400, json!({"error": "missing required field: name", "status": 400})));
    let (s, e) = call(base, Method::POST, "/proxies", json!({"name": "wide", "listen": "0.0.0.0:0", "upstream": up})).await;
    assert_eq!(s, 403, "non-loopback listen is refused by default: {e}");

    let (s, list) = call(base, Method::GET, "/proxies", Value::Null).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_object().unwrap().keys().collect::<Vec<_>>(), vec!["api"], "keyed by name");
    assert_eq!(list["api"], p);
    let (s, e) = call(base, Method::GET, "/proxies/nope", Value::Null).await;
    assert_eq!((s, e), (404, json!({"error": "proxy not found", "status": 404})));

    // Toxics: 200 on create with the default name <type>_<stream>, 409 on a duplicate.
    let (s, t) = call(base, Method::POST, "/proxies/api/toxics", json!({"type": "latency", "attributes": {"latency": 50}})).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(
        t,
        json!({"attributes": {"latency": 50, "jitter": 0}, "name": "latency_downstream", "type": "latency", "stream": "downstream", "toxicity": 1.0})
    );
    let (s, e) = call(base, Method::POST, "/proxies/api/toxics", json!({"type": "latency"})).await;
    assert_eq!((s, e), (409, json!({"error": "toxic already exists", "status": 409})));
    let (s, e) = call(base, Method::POST, "/proxies/api/toxics", json!({"type": "nope"})).await;
    assert_eq!(s, 400, "{e}");
    assert!(e["error"].as_str().unwrap().starts_with("invalid toxic type"));
    let (s, e) = call(base, Method::POST, "/proxies/api/toxics", json!({"type": "timeout", "stream": "sideways"})).await;
    assert_eq!((s, e["error"].as_str().unwrap()), (400, "stream was invalid, can be either upstream or downstream"));
    let (s, _) = call(base, Method::POST, "/proxies/api/toxics", json!({"type": "timeout", "name": "t", "stream": "upstream", "toxicity": 0.5})).await;
    assert_eq!(s, 200);
    let (s, list) = call(base, Method::GET, "/proxies/api/toxics", Value::Null).await;
    assert_eq!(s, 200);
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["t", "latency_downstream"], "upstream toxics are listed first");

    let (s, t) = call(base, Method::PATCH, "/proxies/api/toxics/latency_downstream", json!({"attributes": {"jitter": 5}})).await;
    assert_eq!(s, 200);
    assert_eq!(t["attributes"], json!({"latency": 50, "jitter": 5}), "attributes not given are kept");
    let (s, t) = call(base, Method::GET, "/proxies/api/toxics/t", Value::Null).await;
    assert_eq!((s, t["toxicity"].as_f64().unwrap()), (200, 0.5));
    let (s, e) = call(base, Method::GET, "/proxies/api/toxics/missing", Value::Null).await;
    assert_eq!((s, e), (404, json!({"error": "toxic not found", "status": 404})));
    let (s, _) = call(base, Method::DELETE, "/proxies/api/toxics/t", Value::Null).await;
    assert_eq!(s, 204);
    let (s, _) = call(base, Method::DELETE, "/proxies/api/toxics/t", Value::Null).await;
    assert_eq!(s, 404);

    // Disable, then reset: enabled again and no toxics.
    let (s, p) = call(base, Method::PATCH, "/proxies/api", json!({"enabled": false})).await;
    assert_eq!((s, &p["enabled"]), (200, &json!(false)));
    let (s, body) = call(base, Method::POST, "/reset", Value::Null).await;
    assert_eq!((s, body), (204, Value::Null));
    let (_, p) = call(base, Method::GET, "/proxies/api", Value::Null).await;
    assert_eq!((&p["enabled"], &p["toxics"]), (&json!(true), &json!([])));
    assert_eq!(p["listen"].as_str().unwrap(), listen, "re-enabled on the same address");

    // Populate: 201 with {"proxies": [...]}; an unchanged proxy is kept, a new one created.
    let pop = json!([{"name": "api", "listen": listen, "upstream": up}, {"name": "second", "upstream": up, "enabled": false}]);
    let (s, body) = call(base, Method::POST, "/populate", pop).await;
    assert_eq!(s, 201, "{body}");
    let proxies = body["proxies"].as_array().unwrap();
    assert_eq!(proxies.len(), 2);
    assert_eq!((&proxies[1]["name"], &proxies[1]["enabled"]), (&json!("second"), &json!(false)));
    let (s, e) = call(base, Method::POST, "/populate", json!([{"name": "x"}])).await;
    assert_eq!(s, 400);
    assert_eq!(e["error"], "missing required field: upstream at proxy 1");

    let (s, v) = call(base, Method::GET, "/version", Value::Null).await;
    assert_eq!(s, 200);
    assert!(v["version"].as_str().unwrap().starts_with("2."), "{v}");
    let (s, _) = api(base, Method::GET, "/proxies", Value::Null, "Mozilla/5.0 (X11)").await;
    assert_eq!(s, 403, "browsers are refused, as Toxiproxy refuses them");
    let (s, _) = call(base, Method::DELETE, "/proxies/second", Value::Null).await;
    assert_eq!(s, 204);
    let (s, _) = call(base, Method::DELETE, "/proxies/second", Value::Null).await;
    assert_eq!(s, 404);
    handle.shutdown().await;
    assert!(TcpStream::connect(&listen).await.is_err(), "shutdown removes every proxy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_drives_the_proxy_and_reports_server_errors() {
    let (handle, client, up) = start().await;
    let up = up.to_string();
    assert!(client.version().await.unwrap().starts_with("2."));
    let p = client.create_proxy("c", "127.0.0.1:0", &up).await.unwrap();
    assert!(p.enabled);
    let err = client.create_proxy("c", "127.0.0.1:0", &up).await.unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert!(err.to_string().contains("proxy already exists"), "{err}");

    let t = client.add_toxic("c", &Toxic::latency(Stream::Upstream, 10, 0)).await.unwrap();
    assert_eq!((t.name.as_str(), t.stream), ("latency_upstream", Stream::Upstream));
    let t = client.update_toxic("c", &t.name, Some(0.25), json!({"latency": 20})).await.unwrap();
    assert_eq!((t.toxicity, t.attributes["latency"].as_u64()), (0.25, Some(20)));
    assert_eq!(client.toxics("c").await.unwrap().len(), 1);
    client.remove_toxic("c", "latency_upstream").await.unwrap();
    assert_eq!(client.remove_toxic("c", "latency_upstream").await.unwrap_err().status(), Some(404));

    let all = client
        .populate(&[NewProxy { name: "d".into(), listen: String::new(), upstream: up.clone(), enabled: true }])
        .await
        .unwrap();
    assert_eq!(all[0].name, "d");
    assert!(client.set_enabled("d", false).await.is_ok());
    client.reset().await.unwrap();
    assert!(client.proxy("d").await.unwrap().enabled);
    assert_eq!(client.proxies().await.unwrap().len(), 2);
    client.delete_proxy("c").await.unwrap();
    assert_eq!(client.proxy("c").await.unwrap_err().status(), Some(404));
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_toxic_adds_the_configured_latency() {
    let (handle, client, up) = start().await;
    let p = client.create_proxy("lat", "", &up.to_string()).await.unwrap();
    let direct = median_rtt(&up.to_string(), 30).await;
    let clean = median_rtt(&p.listen, 30).await;
    client.add_toxic("lat", &Toxic::latency(Stream::Downstream, 100, 0)).await.unwrap();
    let slowed = median_rtt(&p.listen, 30).await;
    let added = slowed.saturating_sub(direct);
    println!("direct {direct:?}, through proxy {clean:?}, with 100ms latency {slowed:?}: added {added:?}");
    assert!(added >= Duration::from_millis(90) && added <= Duration::from_millis(110), "added {added:?}");
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_toxic_limits_throughput() {
    let (handle, client, up) = start().await;
    let p = client.create_proxy("bw", "", &up.to_string()).await.unwrap();
    // 200 KB/s for a 100 KB body: about half a second.
    client.add_toxic("bw", &Toxic::bandwidth(Stream::Downstream, 200)).await.unwrap();
    let mut conn = connect(&p.listen).await;
    let t = Instant::now();
    let (status, body, _) = get(&mut conn, "/big").await.unwrap();
    let took = t.elapsed();
    assert_eq!((status, body.len()), (200, BIG));
    assert!(took >= Duration::from_millis(400) && took <= Duration::from_millis(900), "took {took:?}");
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_peer_and_timeout_break_connections() {
    let (handle, client, up) = start().await;
    let p = client.create_proxy("brk", "", &up.to_string()).await.unwrap();
    client.add_toxic("brk", &Toxic::reset_peer(Stream::Upstream, 0)).await.unwrap();
    // A raw socket, to see the RST itself: the read fails with ECONNRESET rather than ending.
    let mut raw = TcpStream::connect(&p.listen).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(2), raw.read(&mut buf)).await.unwrap();
    assert_eq!(read.map_err(|e| e.kind()).unwrap_err(), std::io::ErrorKind::ConnectionReset);

    client.reset().await.unwrap();
    client.add_toxic("brk", &Toxic::timeout(Stream::Downstream, 300)).await.unwrap();
    let mut conn = connect(&p.listen).await;
    let t = Instant::now();
    assert!(get(&mut conn, "/").await.is_err(), "timeout closes the connection");
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(250) && took < Duration::from_millis(1500), "closed after {took:?}");

    client.update_toxic("brk", "timeout_downstream", None, json!({"timeout": 0})).await.unwrap();
    let mut conn = connect(&p.listen).await;
    let stalled = tokio::time::timeout(Duration::from_millis(500), get(&mut conn, "/")).await;
    assert!(stalled.is_err(), "timeout 0 holds the request forever");
    client.remove_toxic("brk", "timeout_downstream").await.unwrap();
    let mut conn = connect(&p.listen).await;
    assert_eq!(get(&mut conn, "/").await.unwrap().0, 200);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxicity_decides_per_connection() {
    let (handle, client, up) = start().await;
    let p = client.create_proxy("tox", "", &up.to_string()).await.unwrap();
    let t = Toxic::latency(Stream::Downstream, 200, 0).with_toxicity(0.0);
    client.add_toxic("tox", &t).await.unwrap();
    for _ in 0..5 {
        assert!(median_rtt(&p.listen, 1).await < Duration::from_millis(100), "toxicity 0 never applies");
    }
    client.update_toxic("tox", "latency_downstream", Some(1.0), Value::Null).await.unwrap();
    for _ in 0..3 {
        assert!(median_rtt(&p.listen, 1).await >= Duration::from_millis(190), "toxicity 1 always applies");
    }
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_abort_and_delay_act_per_request_on_keep_alive_connections() {
    let (handle, client, up) = start().await;
    let p = client.create_proxy("http", "", &up.to_string()).await.unwrap();
    client.add_toxic("http", &Toxic::http_abort(503, 50.0)).await.unwrap();
    let mut conn = connect(&p.listen).await;
    // 1,600 requests: the share's standard deviation is 1.25 points, so the ±7 band is 5.6 sigma
    // wide and a fair coin never fails it by chance (with 400 it did, about once in 200 runs).
    let (mut aborted, n) = (0, 1600);
    for i in 0..n {
        // GETs and POSTs with bodies on one connection: framing must hold across both.
        let (status, body, faulted) = if i % 2 == 0 {
            get(&mut conn, "/").await.unwrap()
        } else {
            request(&mut conn, Method::POST, "/post", "{\"payload\": 12345}").await.unwrap()
        };
        match status {
            503 => {
                assert!(faulted);
                assert_eq!(&body[..], b"fault filter abort");
                aborted += 1;
            }
            200 => assert_eq!(&body[..], b"ok"),
            other => panic!("unexpected status {other}"),
        }
    }
    let share = aborted as f64 * 100.0 / n as f64;
    println!("http_abort 50%: {aborted} of {n} aborted ({share:.1}%)");
    assert!((43.0..=57.0).contains(&share), "{share}% aborted");

    client.remove_toxic("http", "http_abort_upstream").await.unwrap();
    client.add_toxic("http", &Toxic::http_delay(100, 100.0)).await.unwrap();
    let t = Instant::now();
    assert_eq!(get(&mut conn, "/").await.unwrap().0, 200);
    assert!(t.elapsed() >= Duration::from_millis(95), "delayed {:?}", t.elapsed());
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_proxy_refuses_and_closes_connections() {
    let (handle, client, up) = start().await;
    let p = client.create_proxy("off", "", &up.to_string()).await.unwrap();
    let mut live = connect(&p.listen).await;
    assert_eq!(get(&mut live, "/").await.unwrap().0, 200);
    client.set_enabled("off", false).await.unwrap();
    assert!(TcpStream::connect(&p.listen).await.is_err(), "no longer listening");
    assert!(get(&mut live, "/").await.is_err(), "live connections are closed");
    client.set_enabled("off", true).await.unwrap();
    let mut conn = connect(&p.listen).await;
    assert_eq!(get(&mut conn, "/").await.unwrap().0, 200);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_data_closes_after_the_limit() {
    let (handle, client, up) = start().await;
    let p = client.create_proxy("lim", "", &up.to_string()).await.unwrap();
    client.add_toxic("lim", &Toxic::limit_data(Stream::Downstream, 1000)).await.unwrap();
    let mut conn = connect(&p.listen).await;
    assert!(get(&mut conn, "/big").await.is_err(), "a 100 KB answer is cut at 1000 bytes");
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_populate_file_is_valid() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/proxies/example.json")).unwrap();
    let proxies: Vec<NewProxy> = serde_json::from_str(&text).unwrap();
    assert!(!proxies.is_empty());
    let listens: Vec<_> = proxies.iter().map(|p| p.listen.clone()).collect();
    // Start on free ports rather than the file's fixed ones, which may be taken on a test machine.
    let free: Vec<NewProxy> = proxies.into_iter().map(|p| NewProxy { listen: "127.0.0.1:0".into(), ..p }).collect();
    let handle = ProxyHandle::start(Options::default(), "127.0.0.1:0".parse().unwrap(), free).await.unwrap();
    assert_eq!(handle.initial.len(), listens.len());
    handle.shutdown().await;
}

/// DNS rebinding: a page whose name was re-pointed at 127.0.0.1 reaches the API as same-origin,
/// but its requests name its own host. On loopback the API answers only to loopback names and
/// IPs (403 otherwise, reads included) and proxied traffic is not judged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_refuses_hosts_that_are_not_loopback() {
    let (handle, client, up) = start().await;
    let p = client.create_proxy("p", "", &up.to_string()).await.unwrap();
    let (api_addr, port) = (handle.addr, handle.addr.port());
    let with_host = |method: Method, path: &'static str, host: String| async move {
        let mut conn = connect(&api_addr.to_string()).await;
        let req = Request::builder().method(method).uri(path).header("host", host).header("user-agent", "toxiproxy-cli").body(Full::new(Bytes::new())).unwrap();
        let resp = conn.send_request(req).await.unwrap();
        let status = resp.status().as_u16();
        (status, String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).into_owned())
    };
    for host in [format!("evil.example:{port}"), "evil.example".into(), format!("10.1.2.3:{port}")] {
        let (status, body) = with_host(Method::GET, "/proxies", host.clone()).await;
        assert_eq!(status, 403, "{host}: {body}");
        assert!(body.contains("Host") && body.contains("refused") && !body.contains("\"p\""), "{host}: {body}");
        let (status, _) = with_host(Method::POST, "/reset", host.clone()).await;
        assert_eq!(status, 403, "{host}");
    }
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")] {
        let (status, body) = with_host(Method::GET, "/proxies", host.clone()).await;
        assert_eq!(status, 200, "{host}: {body}");
        assert!(body.contains("\"p\""), "{body}");
    }
    // The proxy itself forwards whatever Host its traffic carries (`request` sends `upstream`).
    assert_eq!(get(&mut connect(&p.listen).await, "/").await.unwrap().0, 200);
    handle.shutdown().await;
}

/// A lease out of range is refused (400 naming the header), not ignored: ignoring it added the
/// toxic with no lease at all, so it never lapsed after the run that asked for one died.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_out_of_range_is_refused_not_ignored() {
    let (handle, client, up) = start().await;
    client.create_proxy("p", "", &up.to_string()).await.unwrap();
    let toxic = json!({"name": "lat", "type": "latency", "stream": "downstream", "attributes": {"latency": 100}});
    for lease in ["5", "86400000", "soon"] {
        let mut conn = connect(&handle.addr.to_string()).await;
        let req = Request::builder()
            .method(Method::POST)
            .uri("/proxies/p/toxics")
            .header("host", handle.addr.to_string())
            .header("content-type", "application/json")
            .header("x-skyload-lease-ms", lease)
            .body(Full::new(Bytes::from(toxic.to_string())))
            .unwrap();
        let resp = conn.send_request(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).into_owned();
        assert_eq!(status, 400, "{lease}: {body}");
        assert!(body.contains("x-skyload-lease-ms") && body.contains("1000 to 3600000"), "{body}");
    }
    assert!(client.toxics("p").await.unwrap().is_empty(), "nothing was added");
    handle.shutdown().await;
}
