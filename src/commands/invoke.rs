//! `skyload invoke URL`: one request (or `-n N` in sequence) shown in full, the "quick call, debug"
//! of a function platform: status, headers (secrets redacted), body (pretty JSON, truncated with a
//! note), the pod that answered, and where the time went (DNS, TCP connect, TLS handshake, request
//! sent, first byte, body done), as curl's `-w` or httpstat show. Exit 0 for 2xx/3xx, 1 for any
//! other status, 3 when no response came (could not resolve, connect or handshake, or the
//! connection failed mid-request). `-L` follows redirects (`invoke_redirect` holds curl's rules)
//! and `-w` prints curl's `--write-out` variables (`invoke_writeout`), also when no response came.

use crate::cli::InvokeArgs;
use super::error::{CliError, CliResult};
use super::invoke_redirect::{next_method, resolve, sends_header, max_redirs};
use super::invoke_writeout::{Facts, Format};
use crate::exit;
use crate::load::connect::{Dialer, Stream, TlsInfo};
use crate::load::tls::{Alpn, TlsClient};
use crate::record::redact::{is_secret_header, REDACTED};
use crate::scenario::tls::ConnectFlags;
use crate::scenario::TlsSettings;
use anyhow::Context as _;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What one call found, for text or JSON.
#[derive(Debug, serde::Serialize)]
pub struct Call {
    pub url: String,
    pub address: Option<String>,
    pub protocol: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub body_bytes: usize,
    pub body_truncated: bool,
    /// Where `-o` wrote the body ("N bytes written to FILE"); `body` is then empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_file: Option<String>,
    /// The body as received, for `-o`.
    #[serde(skip)]
    pub raw: Bytes,
    pub pod: Option<String>,
    pub tls: Option<TlsInfo>,
    /// Milliseconds per step; `dns`/`connect`/`tls` are absent when a kept-alive connection was reused.
    pub timing_ms: Timing,
    /// The redirects `-L` followed to reach this answer, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redirects: Vec<Hop>,
    /// Secret -H headers that were not sent to a host other than the first URL's (`-L`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
    /// The `Location` header as received, for `-L`.
    #[serde(skip)]
    location: Option<String>,
}

/// One redirect that `-L` followed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Hop {
    pub status: u16,
    /// Both redacted, as every URL skyload shows.
    pub url: String,
    pub location: String,
    /// The method of the next request (a POST becomes a GET after 301/302/303).
    pub next_method: String,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Timing {
    pub dns: Option<f64>,
    pub connect: Option<f64>,
    pub tls: Option<f64>,
    pub sent: f64,
    pub first_byte: f64,
    pub done: f64,
    pub total: f64,
}

#[derive(Clone)]
struct Target {
    uri: Uri,
    https: bool,
    host: String,
    port: u16,
    authority: String,
    path: String,
}

impl Target {
    /// Scheme, host and port: what a connection (and the secret headers, under -L) belongs to.
    fn origin(&self) -> (bool, String, u16) {
        (self.https, self.host.to_ascii_lowercase(), self.port)
    }
}

fn parse_url(s: &str) -> Result<Target, String> {
    if !s.contains("://") {
        // `127.0.0.1:8080/x` would otherwise be "invalid format", and `host/x` a path; say what `run --url` says.
        return Err(format!("`{s}` has no scheme: write http://{s} or https://{s}"));
    }
    let uri: Uri = s.parse().map_err(|e| format!("`{s}` is not a URL ({e}); e.g. https://127.0.0.1:8443/fn/hello"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        Some(o) => return Err(format!("`{s}`: the scheme `{o}` is not supported; http:// or https://")),
        None => return Err(format!("`{s}` has no scheme: write https://{s} or http://{s}")),
    };
    let a = uri.authority().ok_or_else(|| format!("`{s}` has no host"))?.clone();
    if a.as_str().contains('@') {
        return Err(format!("`{s}`: credentials in the URL are not supported; send them with -H"));
    }
    let host = a.host().trim_start_matches('[').trim_end_matches(']').to_string();
    let port = crate::scenario::url_port(s, &a, https)?;
    let path = uri.path_and_query().map_or("/".to_string(), |p| p.as_str().to_string());
    Ok(Target { https, host, port, authority: a.as_str().to_string(), path, uri })
}

pub fn run(args: &InvokeArgs) -> CliResult {
    let usage = |m: String| Err(CliError::Usage(m));
    let t = match parse_url(&args.url) {
        Ok(t) => t,
        Err(m) => return usage(m),
    };
    let method = match &args.method {
        Some(m) => match Method::from_bytes(m.to_ascii_uppercase().as_bytes()) {
            Ok(m) => m,
            Err(_) => return usage(format!("-X: `{m}` is not an HTTP method")),
        },
        None if args.data.is_some() => Method::POST,
        None => Method::GET,
    };
    let mut headers = Vec::new();
    for h in &args.headers {
        let Some((n, v)) = h.split_once(':') else { return usage(format!("-H `{h}`: write \"Name: value\"")) };
        match (HeaderName::from_bytes(n.trim().as_bytes()), HeaderValue::from_str(v.trim())) {
            (Ok(n), Ok(v)) => headers.push((n, v)),
            _ => return usage(format!("-H `{h}`: not a valid header name and value")),
        }
    }
    let body = match &args.data {
        Some(d) if d.starts_with('@') => match std::fs::read(&d[1..]) {
            Ok(b) => Bytes::from(b),
            Err(e) => return usage(format!("-d {d}: cannot read {}: {e}", &d[1..])),
        },
        Some(d) => Bytes::from(d.clone()),
        None => Bytes::new(),
    };
    let timeout = match crate::units::parse_duration(&args.timeout) {
        Ok(d) if !d.is_zero() => d,
        Ok(_) => return usage(format!("--timeout: `{}` is 0: give how long to wait for the answer, more than 0 (e.g. 10s)", args.timeout)),
        Err(e) => return usage(format!("--timeout: {e}")),
    };
    let connect_timeout = match args.connect_timeout.as_deref().map(crate::units::parse_duration) {
        None => None,
        Some(Ok(d)) => match crate::scenario::bounds::connect_timeout(d, args.connect_timeout.as_deref().unwrap_or_default(), timeout, &args.timeout) {
            Ok(()) => Some(d),
            Err(m) => return usage(format!("--connect-timeout: {m}")),
        },
        Some(Err(e)) => return usage(format!("--connect-timeout: {e}")),
    };
    let output = match super::invoke_output::Output::from_args(args.output.as_deref(), args.force, args.count, args.json) {
        Ok(o) => o,
        Err(m) => return usage(m),
    };
    let flags: ConnectFlags = args.tls.to_flags();
    let mut resolves = Vec::new();
    for r in &flags.resolve {
        match crate::scenario::tls::parse_resolve(r) {
            Ok(o) => resolves.push(o),
            Err(m) => return usage(format!("--resolve: {m}")),
        }
    }
    let settings = TlsSettings { cacert: flags.cacert.clone(), insecure: flags.insecure, cert: flags.cert.clone(), key: flags.key.clone(), server_name: flags.servername.clone() };
    let follow = args.location || args.location_trusted;
    if !t.https && !follow && settings != TlsSettings::default() {
        return usage("--cacert/--insecure/--cert/--key/--servername apply to https:// URLs only".into());
    }
    if args.http2 && flags.http1 {
        return usage("--http2 and --http1.1 ask for different protocols; give one".into());
    }
    let write_out = match args.write_out.as_deref().map(Format::from_arg) {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(m)) => return usage(m),
    };
    if args.json && (write_out.is_some() || args.silent) {
        return usage("--json prints the whole call as JSON: leave out -w/--write-out and -s/--silent, or --json".into());
    }
    let alpn = match (args.http2, flags.http1) {
        (true, _) => Alpn::H2,
        (_, true) => Alpn::Http1,
        _ => Alpn::Negotiate,
    };
    if t.https {
        // Checked before anything is sent; the settings here are the flags' alone: name the one that was refused, as run does.
        match TlsClient::new(&settings, &t.host, alpn) {
            Ok(_) => {}
            Err(crate::load::tls::TlsError::Settings { field, message }) => return usage(format!("{}: {message}", field.flag())),
            Err(e) => return usage(e.to_string()),
        }
    }
    if settings.insecure && !args.json {
        eprintln!("skyload: WARNING --insecure: the server's certificate is NOT verified");
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start a runtime")?;
    let ctx = Ctx {
        first: t.origin(),
        settings,
        alpn,
        resolves,
        connect_timeout,
        pod_header: HeaderName::from_bytes(args.pod_header.as_bytes()).ok(),
        max_body: args.max_body,
        force_h2: args.http2,
        follow,
        trusted: args.location_trusted,
        max_redirs: max_redirs(args.max_redirs),
    };
    let req = ReqParts { method, headers, body };
    let mut out = std::io::stdout().lock();
    let mut origins: Vec<Origin> = Vec::new();
    let mut code = exit::OK;
    for i in 0..args.count {
        let started = Instant::now();
        let mut progress = Progress::default();
        let result = rt.block_on(async { tokio::time::timeout(timeout, chain(&t, &req, &mut origins, &ctx, &mut progress)).await });
        let total = started.elapsed();
        let facts = write_out.as_ref().map(|_| progress.facts(total));
        let failed = match result {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(m)) => Err(m),
            Err(_) => {
                // A dial cut short by --timeout leaves its cause with the dialer (a TLS handshake the server never finished).
                let why = origins.iter().find_map(|o| o.dialer.stats.first_tls_failure.get()).map(|f| format!(": {}", f.why)).unwrap_or_default();
                Err(format!("no response from {} within {}{why}", crate::record::redact::text(&t.uri.to_string()), args.timeout))
            }
        };
        let mut call = match failed {
            Ok(c) => c,
            Err(m) => {
                // As curl: -w is still written when no response came (http_code 000, what was
                // reached so far), so a script reading it sees every call; the error says why.
                if let (Some(f), Some(facts)) = (&write_out, facts) {
                    write!(out, "{}", f.render(&facts))?;
                    out.flush()?;
                }
                return Err(CliError::RunFailed(m));
            }
        };
        if !(200..400).contains(&call.status) {
            code = exit::CHECK_FAILED;
        }
        if let Some(line) = output.write(&call.raw).map_err(CliError::RunFailed)? {
            (call.body, call.body_truncated, call.body_file) = (String::new(), false, Some(line));
        }
        if args.silent {
            // -s: the call is not shown; -w's text (below) and the body with -o - are all of it.
        } else if output.text_to_stderr() {
            print_call(&call, &mut std::io::stderr().lock())?;
        } else if args.json {
            writeln!(out, "{}", serde_json::to_string(&call)?)?;
        } else {
            if args.count > 1 {
                writeln!(out, "── request {} of {} ──", i + 1, args.count)?;
            }
            print_call(&call, &mut out)?;
        }
        if let (Some(f), Some(facts)) = (&write_out, facts) {
            write!(out, "{}", f.render(&facts))?;
            out.flush()?;
        }
    }
    CliError::from_status(code)
}

/// What every hop of a call shares: the flags, checked.
struct Ctx {
    /// The first URL's origin: secret headers go only there unless --location-trusted.
    first: (bool, String, u16),
    settings: TlsSettings,
    alpn: Alpn,
    resolves: Vec<crate::scenario::ResolveOverride>,
    connect_timeout: Option<Duration>,
    pod_header: Option<HeaderName>,
    max_body: usize,
    force_h2: bool,
    follow: bool,
    trusted: bool,
    /// The bound, and whether it is the hard one of `--max-redirs -1`.
    max_redirs: (u32, bool),
}

/// A scheme, host and port called during this invocation, with its kept-alive connection (a
/// redirect back to it, or the next of -n, reuses it).
struct Origin {
    key: (bool, String, u16),
    dialer: Dialer,
    conn: Option<(Sender, Arc<Marks>, Option<String>)>,
    /// The name lookup made when the dialer was made, shown on the first call that uses it.
    dns: Option<Duration>,
}

impl Origin {
    fn new(t: &Target, ctx: &Ctx) -> Result<Origin, String> {
        let tls = if t.https {
            // --servername names the first URL's server; another host is checked under its own name.
            let mut s = ctx.settings.clone();
            if t.origin() != ctx.first {
                s.server_name = None;
            }
            Some(TlsClient::new(&s, &t.host, ctx.alpn).map_err(|e| format!("{}: {e}", t.uri))?)
        } else {
            None
        };
        let start = Instant::now();
        let dialer = Dialer::new(&t.host, t.port, &ctx.resolves, tls).map_err(|e| e.to_string())?.with_connect_timeout(ctx.connect_timeout);
        let dns = (dialer.stats.lookups.load(std::sync::atomic::Ordering::Relaxed) > 0).then(|| start.elapsed());
        Ok(Origin { key: t.origin(), dialer, conn: None, dns })
    }
}

/// How far one call got, filled in as it goes (it outlives a call cut short by --timeout), so
/// `-w` can say what curl says of a call that failed too: `000`, and the steps reached.
#[derive(Default)]
struct Progress {
    /// The hops left behind by a redirect, added up.
    sums: Sums,
    hops: u32,
    /// The hop being made (or the last one): its URL, redacted, and scheme.
    url: String,
    https: bool,
    now: Attempt,
}

/// One hop's facts so far; a step not reached keeps its zero (or None).
#[derive(Default)]
struct Attempt {
    timing: Timing,
    address: Option<String>,
    /// 0 until a response's head came.
    status: u16,
    /// curl's `%{http_version}` spelling; None (curl's `0`) until a response's head came.
    version: Option<&'static str>,
    header_bytes: u64,
    /// Milliseconds from the hop's start (its name lookup included) to the first response byte.
    first_byte: Option<f64>,
    body_bytes: u64,
}

impl Progress {
    fn enter(&mut self, t: &Target) {
        self.url = crate::record::redact::text(&t.uri.to_string());
        self.https = t.https;
        self.now = Attempt::default();
    }

    /// The hop answered with a redirect that is followed.
    fn leave(&mut self) {
        self.sums.add(&self.now);
        self.hops += 1;
    }

    fn facts(&self, total: Duration) -> Facts {
        let mut s = self.sums.clone();
        s.add(&self.now);
        let remote: Option<std::net::SocketAddr> = self.now.address.as_deref().and_then(|a| a.parse().ok());
        Facts {
            http_code: self.now.status,
            http_version: self.now.version.unwrap_or("0").into(),
            time_namelookup: s.namelookup,
            time_connect: s.connect,
            time_appconnect: s.appconnect,
            time_starttransfer: s.starttransfer,
            time_total: total.as_secs_f64(),
            size_download: self.now.body_bytes,
            size_header: s.header_bytes,
            remote_ip: remote.map(|a| a.ip().to_string()).unwrap_or_default(),
            remote_port: remote.map_or(0, |a| a.port()),
            url_effective: self.url.clone(),
            num_redirects: self.hops,
            scheme: if self.https { "HTTPS" } else { "HTTP" }.into(),
        }
    }
}

/// Per-step times (seconds from each hop's start) added up over the hops, as curl adds them for
/// `-w`; and the header bytes of every answer.
#[derive(Default, Clone)]
struct Sums {
    namelookup: f64,
    connect: f64,
    appconnect: f64,
    starttransfer: f64,
    header_bytes: u64,
}

impl Sums {
    fn add(&mut self, a: &Attempt) {
        let tm = &a.timing;
        let dns = tm.dns.unwrap_or(0.0);
        let connect = dns + tm.connect.unwrap_or(0.0);
        self.namelookup += dns / 1e3;
        // A connect that did not finish counts 0, as in curl.
        if tm.connect.is_some() {
            self.connect += connect / 1e3;
        }
        if let Some(tls) = tm.tls {
            self.appconnect += (connect + tls) / 1e3;
        }
        self.starttransfer += a.first_byte.unwrap_or(0.0) / 1e3;
        self.header_bytes += a.header_bytes;
    }
}

/// Sends the request to `first` and, with -L, follows its redirects (at most --max-redirs).
async fn chain(first: &Target, req: &ReqParts, origins: &mut Vec<Origin>, ctx: &Ctx, progress: &mut Progress) -> Result<Call, String> {
    let mut t = first.clone();
    let (mut method, mut body) = (req.method.clone(), req.body.clone());
    let mut hops = Vec::new();
    let mut withheld: Vec<String> = Vec::new();
    loop {
        progress.enter(&t);
        let key = t.origin();
        let idx = match origins.iter().position(|o| o.key == key) {
            Some(i) => i,
            None => {
                origins.push(Origin::new(&t, ctx)?);
                origins.len() - 1
            }
        };
        let o = &mut origins[idx];
        let mut headers = Vec::new();
        for (n, v) in &req.headers {
            if sends_header(is_secret_header(n.as_str()), key == ctx.first, ctx.trusted) {
                headers.push((n.clone(), v.clone()));
            } else {
                let note = format!("{n} not sent to {}://{}:{} (not the first URL's scheme, host and port; --location-trusted sends it)", if t.https { "https" } else { "http" }, t.host, t.port);
                if !withheld.contains(&note) {
                    withheld.push(note);
                }
            }
        }
        let hop_req = ReqParts { method: method.clone(), headers, body: body.clone() };
        let call = one(&t, &o.dialer, &hop_req, &mut o.conn, o.dns.take(), ctx.pod_header.as_ref(), ctx.max_body, ctx.force_h2, &mut progress.now).await?;
        let next = match (ctx.follow, next_method(call.status, &method), call.location.as_deref()) {
            (true, Some(next), Some(loc)) => Some((next, loc.to_string())),
            _ => None,
        };
        let Some(((next_m, keep_body), loc)) = next else {
            return Ok(Call { redirects: hops, withheld, ..call });
        };
        let here = t.uri.to_string();
        if hops.len() as u32 >= ctx.max_redirs.0 {
            return Err(format!(
                "maximum ({}) redirects followed: {} answered {} again, to {}; {}",
                ctx.max_redirs.0,
                crate::record::redact::text(&here),
                call.status,
                crate::record::redact::text(&loc),
                if ctx.max_redirs.1 {
                    "--max-redirs -1 follows any number up to this bound, so this is a redirect loop"
                } else {
                    "raise --max-redirs N (or -1 for no limit) if the chain is that long, else it is a redirect loop"
                }
            ));
        }
        let to = resolve(&here, &loc).and_then(|u| parse_url(&u)).map_err(|m| format!("{} answered {} with Location `{}`, which cannot be followed: {m}", crate::record::redact::text(&here), call.status, crate::record::redact::text(&loc)))?;
        hops.push(Hop { status: call.status, url: crate::record::redact::text(&here), location: crate::record::redact::text(&to.uri.to_string()), next_method: next_m.to_string() });
        progress.leave();
        method = next_m;
        if !keep_body {
            body = Bytes::new();
        }
        t = to;
    }
}

struct ReqParts {
    method: Method,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

#[allow(clippy::too_many_arguments)]
async fn one(
    t: &Target,
    dialer: &Dialer,
    req: &ReqParts,
    conn: &mut Option<(Sender, Arc<Marks>, Option<String>)>,
    dns: Option<Duration>,
    pod_header: Option<&HeaderName>,
    max_body: usize,
    force_h2: bool,
    now: &mut Attempt,
) -> Result<Call, String> {
    now.timing.dns = dns.map(ms);
    let start = Instant::now();
    let mut tls_info = None;
    let reusable = match conn.as_mut() {
        Some((Sender::H1(s), ..)) => s.ready().await.is_ok(),
        Some((Sender::H2(s), ..)) => s.ready().await.is_ok(),
        None => false,
    };
    if !reusable {
        let d = dialer.dial().await.map_err(|e| e.to_string())?;
        now.timing.connect = Some(ms(d.connect));
        now.address = Some(d.addr.to_string());
        let h2 = match &d.tls {
            Some((took, info)) => {
                now.timing.tls = Some(ms(*took));
                tls_info = Some(info.clone());
                info.is_h2()
            }
            None => force_h2,
        };
        let marks = Arc::new(Marks::default());
        let io = TokioIo::new(Timed { inner: d.stream, marks: marks.clone() });
        let sender = if h2 {
            let (s, c) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.map_err(|e| format!("HTTP/2 handshake with {}: {e}", d.addr))?;
            tokio::spawn(async move {
                let _ = c.await;
            });
            Sender::H2(s)
        } else {
            let (s, c) = hyper::client::conn::http1::handshake(io).await.map_err(|e| format!("HTTP/1.1 handshake with {}: {e}", d.addr))?;
            tokio::spawn(async move {
                let _ = c.await;
            });
            Sender::H1(s)
        };
        *conn = Some((sender, marks, Some(d.addr.to_string())));
    }
    let (sender, marks, addr) = conn.as_mut().expect("connection set above");
    now.address = addr.clone();
    let is_h2 = matches!(sender, Sender::H2(_));
    let mut b = Request::builder().method(req.method.clone());
    b = if is_h2 { b.uri(t.uri.clone()) } else { b.uri(t.path.as_str()).header(http::header::HOST, t.authority.as_str()) };
    for (n, v) in &req.headers {
        b = b.header(n, v);
    }
    let request = b.body(Full::new(req.body.clone())).map_err(|e| format!("cannot build the request: {e}"))?;
    marks.reset();
    let before_send = Instant::now();
    let resp = match sender {
        Sender::H1(s) => s.send_request(request).await,
        Sender::H2(s) => s.send_request(request).await,
    };
    let resp = resp.map_err(|e| format!("no response from {}: {e}", t.uri))?;
    let head_at = Instant::now();
    let (parts, mut body) = resp.into_parts();
    // The first byte has been read with the head: later reads do not move it.
    let (sent_at, first_at) = marks.get();
    let sent_at = sent_at.unwrap_or(before_send).max(before_send);
    let first_at = first_at.unwrap_or(head_at).max(sent_at);
    let dns_ms = now.timing.dns.unwrap_or(0.0);
    now.status = parts.status.as_u16();
    now.version = Some(match parts.version {
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_10 => "1.0",
        _ => "1.1",
    });
    now.header_bytes = match parts.version {
        // curl writes HTTP/2's status line without a reason phrase.
        http::Version::HTTP_2 => super::invoke_writeout::header_size("2", parts.status, Some(""), &parts.headers),
        v => {
            let reason = parts.extensions.get::<hyper::ext::ReasonPhrase>().and_then(|r| std::str::from_utf8(r.as_bytes()).ok());
            super::invoke_writeout::header_size(if v == http::Version::HTTP_10 { "1.0" } else { "1.1" }, parts.status, reason, &parts.headers)
        }
    };
    now.first_byte = Some(ms(first_at - start) + dns_ms);
    // Frame by frame, so a body that breaks off still counts what came (curl's size_download).
    let mut received = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("the response body from {} broke off: {e}", t.uri))?;
        if let Ok(data) = frame.into_data() {
            now.body_bytes += data.len() as u64;
            received.extend_from_slice(&data);
        }
    }
    let bytes = Bytes::from(received);
    let done = Instant::now();
    let mut timing = now.timing.clone();
    timing.sent = ms(sent_at - before_send);
    timing.first_byte = ms(first_at - sent_at);
    timing.done = ms(done - first_at);
    timing.total = ms(done - start) + dns_ms;
    let headers = parts
        .headers
        .iter()
        .map(|(n, v)| {
            let v = if is_secret_header(n.as_str()) { REDACTED.to_string() } else { String::from_utf8_lossy(v.as_bytes()).into_owned() };
            (n.as_str().to_string(), v)
        })
        .collect();
    let location = parts.headers.get(http::header::LOCATION).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let pod = pod_header.and_then(|h| parts.headers.get(h)).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let is_json = parts.headers.get(http::header::CONTENT_TYPE).is_some_and(|v| v.to_str().unwrap_or("").contains("json"));
    let (body, truncated) = show_body(&bytes, is_json, max_body);
    let protocol = match parts.version {
        http::Version::HTTP_2 => "h2",
        http::Version::HTTP_10 => "http/1.0",
        _ => "http/1.1",
    };
    Ok(Call {
        // `--json` prints it: a token in the query (`?api_key=...`) is redacted like every output.
        url: crate::record::redact::text(&t.uri.to_string()),
        address: addr.clone(),
        protocol: protocol.into(),
        status: parts.status.as_u16(),
        headers,
        body,
        body_bytes: bytes.len(),
        body_truncated: truncated,
        body_file: None,
        raw: bytes.clone(),
        pod,
        tls: tls_info,
        timing_ms: timing,
        redirects: Vec::new(),
        withheld: Vec::new(),
        location,
    })
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// The body as text: pretty JSON when it parses as JSON, cut at `max` bytes with a note.
pub fn show_body(b: &[u8], is_json: bool, max: usize) -> (String, bool) {
    let text = match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => return (format!("({} bytes of binary data, not shown)", b.len()), b.len() > 0),
    };
    let pretty = if is_json || text.trim_start().starts_with(['{', '[']) {
        serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| serde_json::to_string_pretty(&v).ok())
    } else {
        None
    };
    let s = pretty.unwrap_or(text);
    if s.len() <= max {
        return (s, false);
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    (format!("{}\n… ({} more bytes not shown; --max-body N shows more)", &s[..cut], s.len() - cut), true)
}

fn print_call(c: &Call, out: &mut dyn Write) -> std::io::Result<()> {
    for (i, h) in c.redirects.iter().enumerate() {
        let reason = http::StatusCode::from_u16(h.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
        writeln!(out, "redirect {}: {} {reason}  {} -> {} ({})", i + 1, h.status, h.url, h.location, h.next_method)?;
    }
    for w in &c.withheld {
        writeln!(out, "  {w}")?;
    }
    if !c.redirects.is_empty() {
        writeln!(out)?;
    }
    writeln!(out, "{} {} {}", c.protocol.to_uppercase(), c.status, http::StatusCode::from_u16(c.status).ok().and_then(|s| s.canonical_reason()).unwrap_or(""))?;
    for (n, v) in &c.headers {
        writeln!(out, "{n}: {v}")?;
    }
    writeln!(out)?;
    if !c.body.is_empty() {
        writeln!(out, "{}", c.body)?;
        writeln!(out)?;
    }
    if let Some(f) = &c.body_file {
        writeln!(out, "body:           {f}")?;
        writeln!(out)?;
    }
    if let Some(p) = &c.pod {
        writeln!(out, "pod:            {p}")?;
    }
    if let Some(a) = &c.address {
        writeln!(out, "address:        {a}")?;
    }
    let t = &c.timing_ms;
    let mut acc = 0.0;
    let mut line = |name: &str, v: Option<f64>, note: String, out: &mut dyn Write| -> std::io::Result<()> {
        match v {
            Some(v) => {
                acc += v;
                writeln!(out, "  {name:<15} {v:>9.3} ms   (at {acc:>9.3} ms)  {note}")
            }
            None => writeln!(out, "  {name:<15} {:>9}      {note}", "-"),
        }
    };
    writeln!(out, "timing:")?;
    line("dns lookup", t.dns, if t.dns.is_none() { "(an address, --resolve, or reused)".into() } else { String::new() }, out)?;
    line("tcp connect", t.connect, if t.connect.is_none() { "(connection reused)".into() } else { String::new() }, out)?;
    let tls_note = match &c.tls {
        Some(i) => format!("{} {} alpn {}{}", i.version, i.cipher, i.alpn.as_deref().unwrap_or("none"), if i.resumed { " (resumed)" } else { "" }),
        None if t.connect.is_some() => "(cleartext)".into(),
        None => String::new(),
    };
    line("tls handshake", t.tls, tls_note, out)?;
    line("request sent", Some(t.sent), String::new(), out)?;
    line("first byte", Some(t.first_byte), String::new(), out)?;
    line("body done", Some(t.done), format!("{} bytes", c.body_bytes), out)?;
    writeln!(out, "  {:<15} {:>9.3} ms", "total", t.total)?;
    Ok(())
}

/// When the request's last byte was written and the response's first byte read (per request).
#[derive(Default)]
struct Marks {
    m: Mutex<(Option<Instant>, Option<Instant>)>,
}

impl Marks {
    fn reset(&self) {
        *self.m.lock().unwrap_or_else(|e| e.into_inner()) = (None, None);
    }
    fn get(&self) -> (Option<Instant>, Option<Instant>) {
        *self.m.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn wrote(&self) {
        let mut g = self.m.lock().unwrap_or_else(|e| e.into_inner());
        if g.1.is_none() {
            g.0 = Some(Instant::now());
        }
    }
    fn read(&self) {
        let mut g = self.m.lock().unwrap_or_else(|e| e.into_inner());
        if g.0.is_some() && g.1.is_none() {
            g.1 = Some(Instant::now());
        }
    }
}

/// A stream that notes the write and read times `Marks` keeps.
struct Timed {
    inner: Stream,
    marks: Arc<Marks>,
}

impl AsyncRead for Timed {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut me.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            me.marks.read();
        }
        r
    }
}

impl AsyncWrite for Timed {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let me = self.get_mut();
        let r = Pin::new(&mut me.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            me.marks.wrote();
        }
        r
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        let (s, cut) = show_body(br#"{"a":1}"#, true, 100);
        assert_eq!((s.as_str(), cut), ("{\n  \"a\": 1\n}", false));
        let (s, cut) = show_body(&[b'x'; 50], false, 10);
        assert!(cut && s.starts_with("xxxxxxxxxx\n… (40 more bytes"), "{s}");
        assert!(show_body(&[0xff, 0xfe], false, 10).0.contains("binary"));
    }
}
