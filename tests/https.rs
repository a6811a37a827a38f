//! HTTPS end to end: a local rustls server (h2 + http/1.1, optionally demanding a client
//! certificate) with a CA made by rcgen here, driven through the `skyload` binary so exit codes and
//! messages are what a user sees.

mod common;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const BIN: &str = env!("CARGO_BIN_EXE_skyload");

/// A CA, a server certificate for localhost/127.0.0.1/::1 and a client certificate, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new(server_expired: bool) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "skyload test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let leaf = |names: Vec<String>, expired: bool| {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(names).unwrap();
            if expired {
                p.not_before = rcgen::date_time_ymd(2019, 1, 1);
                p.not_after = rcgen::date_time_ymd(2020, 1, 1);
            }
            let cert = p.signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (srv, srv_key) = leaf(vec!["localhost".into(), "127.0.0.1".into(), "::1".into()], server_expired);
        let (cli, cli_key) = leaf(vec!["client.test".into()], false);
        let (_, other_key) = leaf(vec!["other.test".into()], false);
        let w = |n: &str, s: &str| std::fs::write(dir.path().join(n), s).unwrap();
        w("ca.pem", &ca_cert.pem());
        w("server.pem", &srv);
        w("server.key", &srv_key);
        w("client.pem", &cli);
        w("client.key", &cli_key);
        w("other.key", &other_key);
        Pki { dir }
    }
    /// The server's certificate replaced by a self-signed one that is also a CA (basicConstraints
    /// CA:TRUE), as `openssl req -x509` makes them by default.
    fn self_signed_ca_as_server(self) -> Pki {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = p.self_signed(&key).unwrap();
        std::fs::write(self.path("server.pem"), cert.pem()).unwrap();
        std::fs::write(self.path("server.key"), key.serialize_pem()).unwrap();
        self
    }
    fn path(&self, n: &str) -> PathBuf {
        self.dir.path().join(n)
    }
    fn p(&self, n: &str) -> String {
        self.path(n).display().to_string()
    }
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    h2: AtomicU64,
}

struct Server {
    port: u16,
    /// Requests per listener, in the order of `bind`.
    counts: Vec<Arc<Counts>>,
    _rt: tokio::runtime::Runtime,
}

impl Server {
    fn total(&self) -> u64 {
        self.counts.iter().map(|c| c.requests.load(Ordering::SeqCst)).sum()
    }
    fn h2(&self) -> u64 {
        self.counts.iter().map(|c| c.h2.load(Ordering::SeqCst)).sum()
    }
}

struct Opts<'a> {
    client_auth: bool,
    alpn: Vec<&'static [u8]>,
    /// Bind 127.0.0.1 and also ::1 on the same port.
    both_families: bool,
    /// Every second connection (the 2nd, 4th, ...) gets this PKI's server certificate instead.
    every_other: Option<&'a Pki>,
}

impl Default for Opts<'_> {
    fn default() -> Self {
        Opts { client_auth: false, alpn: vec![b"h2", b"http/1.1"], both_families: false, every_other: None }
    }
}

fn serve(pki: &Pki, o: Opts<'_>) -> Option<Server> {
    let acceptor = acceptor_for(pki, &o);
    let other = o.every_other.map(|p| acceptor_for(p, &o));
    let accepted = Arc::new(AtomicU64::new(0));
    serve_with(o.both_families, move || {
        let n = accepted.fetch_add(1, Ordering::SeqCst);
        match &other {
            Some(b) if n % 2 == 1 => b.clone(),
            _ => acceptor.clone(),
        }
    })
}

fn acceptor_for(pki: &Pki, o: &Opts) -> tokio_rustls::TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(pki.path("server.pem")).unwrap().map(|c| c.unwrap()).collect();
    let key = PrivateKeyDer::from_pem_file(pki.path("server.key")).unwrap();
    let b = rustls::ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().unwrap();
    let b = if o.client_auth {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_file(pki.path("ca.pem")).unwrap()).unwrap();
        let v = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
        b.with_client_cert_verifier(v)
    } else {
        b.with_no_client_auth()
    };
    let mut cfg = b.with_single_cert(certs, key).unwrap();
    cfg.alpn_protocols = o.alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

/// Serves on 127.0.0.1 (and ::1); `pick` gives the acceptor of each new connection.
fn serve_with(both_families: bool, pick: impl Fn() -> tokio_rustls::TlsAcceptor + Send + Sync + 'static) -> Option<Server> {
    let pick = Arc::new(pick);
    let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = v4.local_addr().unwrap().port();
    let mut listeners = vec![v4];
    if both_families {
        listeners.push(std::net::TcpListener::bind(("::1", port)).ok()?);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let mut counts = Vec::new();
    for l in listeners {
        l.set_nonblocking(true).unwrap();
        let c = Arc::new(Counts::default());
        counts.push(c.clone());
        let pick = pick.clone();
        rt.spawn(async move {
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            loop {
                let Ok((tcp, _)) = l.accept().await else { continue };
                let (acceptor, c) = (pick(), c.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let c = c.clone();
                        async move {
                            c.requests.fetch_add(1, Ordering::SeqCst);
                            if req.version() == hyper::Version::HTTP_2 {
                                c.h2.fetch_add(1, Ordering::SeqCst);
                            }
                            let status = if req.uri().path() == "/fail" { 500 } else { 200 };
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .header("content-type", "application/json")
                                    .header("x-pod", "pod-7")
                                    .header("set-cookie", "session=hunter2secret")
                                    .body(Full::new(Bytes::from_static(br#"{"hello":"world","n":[1,2]}"#)))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
    }
    Some(Server { port, counts, _rt: rt })
}

fn skyload(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run skyload")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// `skyload run` at `rate` for 1 s against the URL with extra flags; the results dir is returned.
fn run(url: &str, rate: u32, extra: &[&str]) -> (Output, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("r");
    let rate = rate.to_string();
    let mut args = vec!["run", "--url", url, "--rate", &rate, "--duration", "1s", "-q", "-o", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    (skyload(&args), out)
}

#[test]
fn verified_with_cacert_counted_exactly_and_negotiates_h2() {
    let pki = Pki::new(false);
    let s = serve(&pki, Opts::default()).unwrap();
    let url = format!("https://127.0.0.1:{}/fn/hello", s.port);
    let (o, out) = run(&url, 50, &["--cacert", &pki.p("ca.pem"), "-c", "4"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let sum = summary(&out.path().join("r"));
    assert_eq!(sum["totals"]["outcomes"]["ok"], 50);
    assert_eq!(s.total(), 50, "every scheduled request reached the server once");
    assert_eq!(s.h2(), 50, "ALPN chose h2");
    assert_eq!(sum["tls"]["protocol"], "h2");
    assert_eq!(sum["tls"]["insecure"], false);
    assert!(String::from_utf8_lossy(&o.stdout).contains("tls: h2 over TLSv1_3"), "{}", String::from_utf8_lossy(&o.stdout));

    // --http1.1 forces http/1.1 over the same server.
    let (o, out) = run(&url, 20, &["--cacert", &pki.p("ca.pem"), "--http1.1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(summary(&out.path().join("r"))["tls"]["protocol"], "http/1.1");
    assert_eq!(s.h2(), 50, "no more h2 requests");
    assert_eq!(s.total(), 70);
}

#[test]
fn refused_without_cacert_and_insecure_is_recorded() {
    let pki = Pki::new(false);
    let s = serve(&pki, Opts::default()).unwrap();
    let url = format!("https://127.0.0.1:{}/", s.port);
    let (o, _out) = run(&url, 10, &[]);
    assert_eq!(o.status.code(), Some(3));
    let e = stderr(&o);
    assert!(e.contains("certificate for 127.0.0.1 is signed by an unknown issuer; pass --cacert FILE"), "{e}");
    assert_eq!(s.total(), 0);

    let (o, out) = run(&url, 10, &["--insecure"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("WARNING --insecure"), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("certificate NOT verified"));
    let sum = summary(&out.path().join("r"));
    assert_eq!(sum["tls"]["insecure"], true);
    assert_eq!(s.total(), 10);
}

#[test]
fn name_mismatch_expired_and_protocol_mismatch_stop_the_run() {
    let pki = Pki::new(false);
    let s = serve(&pki, Opts { alpn: vec![b"http/1.1"], ..Opts::default() }).unwrap();
    let url = format!("https://127.0.0.1:{}/", s.port);
    let ca = pki.p("ca.pem");
    let (o, _d) = run(&url, 10, &["--cacert", &ca, "--servername", "api.example"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("not valid for the name api.example"), "{}", stderr(&o));

    let (o, _d) = run(&url, 10, &["--cacert", &ca, "--http2"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("protocol mismatch"), "{}", stderr(&o));
    assert_eq!(s.total(), 0);

    let old = Pki::new(true);
    let s = serve(&old, Opts::default()).unwrap();
    let (o, _d) = run(&format!("https://localhost:{}/", s.port), 10, &["--cacert", &old.p("ca.pem")]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("certificate for localhost has expired"), "{}", stderr(&o));
}

/// A self-signed certificate that is also a CA (`openssl req -x509`'s default) is refused by
/// rustls even when --cacert names it; the message says so and what to do, instead of
/// `Other(OtherError(CaUsedAsEndEntity))` and advice to pass the --cacert already given.
#[test]
fn a_ca_certificate_served_as_the_server_s_own_is_explained() {
    let pki = Pki::new(false).self_signed_ca_as_server();
    let s = serve(&pki, Opts::default()).unwrap();
    let url = format!("https://127.0.0.1:{}/", s.port);
    let (o, _d) = run(&url, 10, &["--cacert", &pki.p("server.pem")]);
    assert_eq!(o.status.code(), Some(3));
    let e = stderr(&o);
    assert!(e.contains("certificate for 127.0.0.1 is a CA certificate (basicConstraints CA:TRUE)") && e.contains("--insecure"), "{e}");
    assert!(!e.contains("OtherError"), "{e}");
    let o = skyload(&["invoke", &url, "--cacert", &pki.p("server.pem")]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("is a CA certificate"), "{}", stderr(&o));
    assert_eq!(s.total(), 0);
    let (o, _d) = run(&url, 10, &["--insecure"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// Handshakes that fail during the run (here every second connection meets a certificate from
/// another CA of the same name, as after a CA was made again) are the `tls` outcome, and the Results say why: the first cause and its address,
/// in the terminal and in summary.json.
#[test]
fn handshakes_failing_during_the_run_are_counted_and_explained() {
    let pki = Pki::new(false);
    let stranger = Pki::new(false);
    let s = serve(&pki, Opts { every_other: Some(&stranger), ..Opts::default() }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("churn.toml");
    std::fs::write(
        &f,
        format!(
            "[target]\nurl = \"https://127.0.0.1:{}\"\ntls = {{ cacert = \"{}\" }}\n\n[connections]\nper_request = true\n\n[[stages]]\nrate = 20\nduration = \"1s\"\n\n[[requests]]\npath = \"/\"\n",
            s.port,
            pki.p("ca.pem")
        ),
    )
    .unwrap();
    let results = dir.path().join("r");
    let o = skyload(&["run", f.to_str().unwrap(), "-o", results.to_str().unwrap(), "--http1.1"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let sum = summary(&results);
    let (ok, tls) = (sum["totals"]["outcomes"]["ok"].as_u64().unwrap_or(0), sum["totals"]["outcomes"]["tls"].as_u64().unwrap_or(0));
    assert!(ok > 0 && tls > 0 && ok + tls == 20, "{}", sum["totals"]);
    assert_eq!(s.total(), ok, "only the verified connections carried requests");
    let first = sum["tls"]["first_failure"].as_str().unwrap_or_default().to_string();
    let addr = format!("(127.0.0.1:{})", s.port);
    assert!(first.contains("certificate for 127.0.0.1 names a trusted CA as its issuer but that CA's key did not sign it") && first.ends_with(&addr), "{}", sum["tls"]);
    assert!(out.contains("a TLS handshake failed during the run (outcome `tls`); the first: certificate for 127.0.0.1 names a trusted CA"), "{out}");
}

#[test]
fn mutual_tls() {
    let pki = Pki::new(false);
    let s = serve(&pki, Opts { client_auth: true, ..Opts::default() }).unwrap();
    let url = format!("https://127.0.0.1:{}/", s.port);
    let ca = pki.p("ca.pem");
    let (o, _d) = run(&url, 10, &["--cacert", &ca]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("client certificate"), "{}", stderr(&o));

    let (o, _d) = run(&url, 10, &["--cacert", &ca, "--cert", &pki.p("client.pem"), "--key", &pki.p("client.key")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(s.total(), 10);

    // As in curl, a --cert file that holds the key too needs no --key.
    let both = pki.path("client-and-key.pem");
    std::fs::write(&both, std::fs::read_to_string(pki.path("client.pem")).unwrap() + &std::fs::read_to_string(pki.path("client.key")).unwrap()).unwrap();
    let (o, _d) = run(&url, 10, &["--cacert", &ca, "--cert", both.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(s.total(), 20);

    // A key that is not the certificate's is a usage error, found before any connection.
    let (o, _d) = run(&url, 10, &["--cacert", &ca, "--cert", &pki.p("client.pem"), "--key", &pki.p("other.key")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("does not match the certificate"), "{}", stderr(&o));
}

#[test]
fn scenario_tls_table_errors_name_file_and_line() {
    let pki = Pki::new(false);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.toml");
    let text = format!(
        "[target]\nurl = \"https://127.0.0.1:1\"\ntls = {{ cacert = \"{}\", cert = \"{}\", key = \"{}\" }}\n\n[[stages]]\nrate = 1\nduration = \"1s\"\n\n[[requests]]\npath = \"/\"\n",
        pki.p("ca.pem"),
        pki.p("client.pem"),
        pki.p("other.key")
    );
    std::fs::write(&f, &text).unwrap();
    let o = skyload(&["validate", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o) + &String::from_utf8_lossy(&o.stdout);
    assert!(e.contains("s.toml:3:") && e.contains("target.tls.key") && e.contains("does not match"), "{e}");

    std::fs::write(&f, text.replace(&pki.p("ca.pem"), "missing.pem")).unwrap();
    let o = skyload(&["validate", f.to_str().unwrap()]);
    let e = stderr(&o) + &String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2));
    assert!(e.contains("s.toml:3:") && e.contains("target.tls.cacert") && e.contains("missing.pem"), "{e}");
}

#[test]
fn localhost_spreads_over_both_addresses() {
    let pki = Pki::new(false);
    let Some(s) = serve(&pki, Opts { both_families: true, ..Opts::default() }) else {
        eprintln!("no ::1 on this machine; skipped");
        return;
    };
    use std::net::ToSocketAddrs;
    let found: Vec<SocketAddr> = ("localhost", s.port).to_socket_addrs().unwrap().collect();
    let both = found.iter().any(|a| a.is_ipv4()) && found.iter().any(|a| a.is_ipv6());
    // Without ::1 in /etc/hosts, curl's --resolve says the same thing explicitly.
    let resolve = format!("localhost:{}:127.0.0.1,::1", s.port);
    // A new connection per request (churn): round robin alternates the two addresses exactly, and
    // every connection after the first resumes its TLS session.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("spread.toml");
    std::fs::write(
        &f,
        format!(
            "[target]\nurl = \"https://localhost:{}\"\ntls = {{ cacert = \"{}\" }}\n\n[connections]\nmax = 1\nper_request = true\n\n[[stages]]\nrate = 40\nduration = \"1s\"\n\n[[requests]]\npath = \"/\"\n",
            s.port,
            pki.p("ca.pem")
        ),
    )
    .unwrap();
    let results = dir.path().join("r");
    let mut args = vec!["run", f.to_str().unwrap(), "-q", "-o", results.to_str().unwrap(), "--http1.1"];
    if !both {
        args.extend(["--resolve", &resolve]);
    }
    let o = skyload(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (v4, v6) = (s.counts[0].requests.load(Ordering::SeqCst), s.counts[1].requests.load(Ordering::SeqCst));
    assert_eq!((v4, v6), (20, 20), "round robin over 127.0.0.1 and ::1");
    let sum = summary(&results);
    let addrs = sum["tls"]["addresses"].to_string();
    assert!(addrs.contains("127.0.0.1") && addrs.contains("[::1]"), "{addrs}");
    assert_eq!(sum["tls"]["handshakes"], 40);
    assert!(sum["tls"]["resumed"].as_u64().unwrap() >= 30, "churned connections resume: {}", sum["tls"]);
}

#[test]
fn invoke_shows_the_call_and_exits_by_status() {
    let pki = Pki::new(false);
    let s = serve(&pki, Opts::default()).unwrap();
    let url = format!("https://localhost:{}/fn/hello", s.port);
    let ca = pki.p("ca.pem");
    let o = skyload(&["invoke", &url, "--cacert", &ca, "-H", "authorization: Bearer abc"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{}{out}", stderr(&o));
    for needle in ["H2 200 OK", "x-pod: pod-7", "set-cookie: <redacted>", "\"hello\": \"world\"", "pod:            pod-7", "tls handshake", "TLSv1_3", "alpn h2", "first byte", "body done"] {
        assert!(out.contains(needle), "missing `{needle}` in:\n{out}");
    }
    assert!(!out.contains("hunter2secret"));

    let o = skyload(&["invoke", &url.replace("hello", "x").replace("/fn/x", "/fail"), "--cacert", &ca, "--json", "-n", "2", "--http1.1"]);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["status"], 500);
    assert_eq!(lines[0]["protocol"], "http/1.1");
    assert!(lines[0]["timing_ms"]["tls"].is_number());
    assert!(lines[1]["timing_ms"]["tls"].is_null(), "the second request reuses the connection");

    let o = skyload(&["invoke", &url]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("unknown issuer"), "{}", stderr(&o));

    // A port held by a bound, never-listening socket: a port read back from a dropped listener
    // could be taken by a parallel test's server, which would answer.
    let (_held, closed) = common::refusing_port();
    let o = skyload(&["invoke", &format!("http://127.0.0.1:{closed}/")]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("cannot connect"), "{}", stderr(&o));
}

/// A drill over HTTPS on the embedded TLS gateway: the CA it generated is trusted (no
/// --insecure), the fault is applied and removed through the HTTPS control API, churned
/// connections resume their sessions, the per-second handshake rows add up to the totals, and a
/// summary rebuilt from the Results keeps its `tls` section.
#[test]
fn drill_over_https_on_the_embedded_tls_gateway() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("s.toml");
    std::fs::write(
        &scenario,
        "name = \"tls-drill\"\n[target]\nembedded = true\ntimeout = \"2s\"\n\n[connections]\nmax = 2\nper_request = true\n\n\
         [[stages]]\nrate = 30\nduration = \"3s\"\n\n[[requests]]\npath = \"/fn/hello\"\n\n\
         [[faults]]\nname = \"slow\"\nkind = \"latency\"\nfunction = \"hello\"\nlatency = \"20ms\"\nat = \"1s\"\nfor = \"1s\"\n\n\
         [gateway]\ntls = true\n[gateway.functions.hello]\npods = 1\nconcurrency = 8\n",
    )
    .unwrap();
    let dir = tmp.path().join("r");
    let o = skyload(&["run", scenario.to_str().unwrap(), "-q", "-o", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = summary(&dir);
    assert!(s["target"].as_str().unwrap().starts_with("https://127.0.0.1:"), "{}", s["target"]);
    let tls = &s["tls"];
    assert_eq!(tls["insecure"], false);
    assert_eq!(tls["cacert"].as_str().unwrap(), dir.join("gateway-ca.pem").display().to_string());
    assert!(std::fs::read_to_string(dir.join("gateway-ca.pem")).unwrap().contains("BEGIN CERTIFICATE"));
    // Every request on its own connection: one handshake each, all counted at the server side too.
    // 90 arrivals, each ending in one outcome; on a busy CI machine one may wait past the end
    // for one of the two connections (dropped), so the exact figures are the accounting's.
    let t = &s["totals"];
    let done = t["completed"].as_u64().unwrap();
    assert_eq!(t["scheduled"].as_u64(), Some(90), "{t}");
    assert_eq!(done + t["dropped"].as_u64().unwrap_or(0), 90, "{t}");
    assert!(done >= 80, "{t}");
    assert_eq!(t["outcomes"]["ok"].as_u64(), Some(done), "{t}");
    let (handshakes, resumed) = (tls["handshakes"].as_u64().unwrap(), tls["resumed"].as_u64().unwrap());
    assert_eq!(handshakes, done, "{tls}");
    assert!(resumed >= handshakes / 2, "{resumed} of {handshakes} resumed");
    // Per second: rows add up to the totals exactly.
    let rows = skyload::record::tls::read_handshakes(&dir).unwrap().expect("handshakes.csv");
    assert!(rows.len() >= 3, "{rows:?}");
    assert_eq!(rows.iter().map(|r| r.1).sum::<u64>(), handshakes);
    assert_eq!(rows.iter().map(|r| r.2).sum::<u64>(), resumed);
    // The fault went through the HTTPS control API both ways.
    let faults: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("faults.json")).unwrap()).unwrap();
    let f = &faults[0];
    assert!(f["applied_at_s"].is_number() && f["removed_at_s"].is_number(), "{f}");
    assert!(f["apply_error"].is_null() && f["remove_error"].is_null(), "{f}");
    // Rebuilt from the Results (as report and merge do), the summary keeps its tls section.
    let rebuilt = skyload::record::read::results(&dir).unwrap().summary();
    let t = rebuilt.tls.expect("tls kept");
    assert_eq!((t.handshakes, t.resumed, t.protocol.as_str()), (handshakes, resumed, tls["protocol"].as_str().unwrap()));
}

/// `skyload proxy --tls`'s API: a Toxiproxy client that trusts its CA gets through; one without
/// TLS settings is told what is missing.
#[test]
fn proxy_api_over_tls() {
    use skyload::gateway::tls::{server_alpn, GatewayTls};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let tls = server_alpn(&GatewayTls::Generate(true), &[b"http/1.1"]).unwrap().unwrap();
        let ca = tls.ca_pem.clone().unwrap();
        let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let h = skyload::fault::proxy::ProxyHandle::start_tls(Default::default(), listen, Vec::new(), Some(tls.acceptor)).await.unwrap();
        assert!(h.base_url().starts_with("https://"));
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca).unwrap();
        let settings = skyload::scenario::TlsSettings { cacert: Some(ca_file), ..Default::default() };
        let trust = skyload::fault::http::control_tls(&settings, "127.0.0.1").unwrap();
        let version = h.client().with_tls(Some(trust)).version().await.unwrap();
        assert!(version.contains("skyload"), "{version}");
        let e = h.client().version().await.unwrap_err().to_string();
        assert!(e.contains("needs the run's TLS settings"), "{e}");
        h.shutdown().await;
    });
}

/// A listener that accepts TCP and then says nothing (a stuck TLS terminator, or a port that waits
/// for the client to speak): the handshake never finishes. `invoke` says the TLS handshake timed
/// out (under --timeout and under --connect-timeout), and a run counts its requests as `timeout`
/// (no new outcome) with the cause in `tls.first_failure` and under the summary's `tls:` line.
#[test]
fn a_tls_handshake_that_never_finishes_is_named() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        // Hold every connection open, silent; bounded (the run below opens a few dozen at most).
        let held: Vec<_> = l.incoming().take(500).collect();
        drop(held);
    });
    let url = format!("https://127.0.0.1:{port}/");
    let o = skyload(&["invoke", &url, "--insecure", "--timeout", "1s"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("no response from {url} within 1s: TLS handshake timed out")), "{}", stderr(&o));
    let o = skyload(&["invoke", &url, "--insecure", "--connect-timeout", "300ms", "--timeout", "30s"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("TLS handshake timed out") && stderr(&o).contains("connect timeout, 300ms"), "{}", stderr(&o));

    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("r");
    let o = Command::new(BIN)
        .args(["run", "--url", &url, "--insecure", "--rate", "4", "--duration", "1s", "--timeout", "500ms", "-q", "-o"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    let sum = summary(&dir);
    assert!(sum["totals"]["outcomes"]["timeout"].as_u64().unwrap_or(0) > 0, "{}", sum["totals"]);
    assert!(sum["totals"]["outcomes"]["tls"].is_null() || sum["totals"]["outcomes"]["tls"] == 0, "{}", sum["totals"]);
    let first = sum["tls"]["first_failure"].as_str().unwrap_or_default();
    assert!(first.starts_with("TLS handshake timed out") && first.ends_with(&format!("(127.0.0.1:{port})")), "{}", sum["tls"]);
    assert_eq!(sum["tls"]["first_failure_outcome"], "timeout", "{}", sum["tls"]);
    assert!(text.contains("tls: no handshake completed before the run"), "{text}");
    assert!(text.contains("(outcome `timeout`); the first: TLS handshake timed out"), "{text}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("No TLS handshake completed before the run") && html.contains("(outcome <code>timeout</code>); the first: TLS handshake timed out"), "the report says it too");
}
