//! Opening a connection: name → addresses (DNS, `--resolve`), round robin over them, TCP connect
//! with TCP_NODELAY, and the TLS handshake when the target is `https://`. Every step is timed, so
//! `invoke` can show the breakdown and a run can report handshake times and resumptions. A host
//! name is looked up again when connections are replaced (at most once a second), so churn follows
//! DNS changes the way a client behind a load balancer would.

use super::tls::{Alpn, TlsClient};
use hdrhistogram::Histogram;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Plain TCP or TLS over TCP: one type for hyper's connection builders.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl super::h1::TryWriteNow for Stream {
    #[inline]
    fn try_write_now(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.try_write_now(buf),
            // rustls buffers and encrypts in its poll_write: the async path.
            Stream::Tls(_) => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// What a TLS handshake agreed on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TlsInfo {
    /// `TLSv1_3`, `TLSv1_2`.
    pub version: String,
    pub cipher: String,
    /// The ALPN protocol the server chose (`h2`, `http/1.1`), if any.
    pub alpn: Option<String>,
    pub resumed: bool,
}

impl TlsInfo {
    pub fn is_h2(&self) -> bool {
        self.alpn.as_deref() == Some("h2")
    }
}

/// An open stream and how long each step took.
pub struct Dialed {
    pub stream: Stream,
    pub addr: SocketAddr,
    /// Set when a name was looked up for this connection.
    pub dns: Option<Duration>,
    pub connect: Duration,
    pub tls: Option<(Duration, TlsInfo)>,
}

#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("cannot resolve `{host}`: {reason}")]
    Resolve { host: String, reason: String },
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
    /// The sentence says what failed and what to do (see `tls::describe`).
    #[error("{0}")]
    Tls(String),
}

/// Why a handshake failed, and the outcome the request that needed it was counted as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFailure {
    /// One sentence ending with the address, e.g. `... (127.0.0.1:8443)`.
    pub why: String,
    pub outcome: crate::scenario::outcomes::OutcomeId,
}

/// Connection-level counts of a run, shared by every thread (touched once per new connection,
/// never per request).
pub struct DialStats {
    pub handshakes: AtomicU64,
    pub resumed: AtomicU64,
    pub lookups: AtomicU64,
    /// The first handshake of the run that failed, as `tls::describe` says it, with the address:
    /// the `tls` outcome counts such failures but carries no text, and "tls 20" alone leaves the
    /// user guessing which certificate or server broke. A handshake that never finished is kept
    /// too, with the outcome its request got (`timeout`, or `connect` under a connect timeout).
    pub first_tls_failure: std::sync::OnceLock<TlsFailure>,
    handshake_us: Mutex<Histogram<u64>>,
    lookup_us: Mutex<Histogram<u64>>,
}

impl Default for DialStats {
    fn default() -> Self {
        let h = || Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"));
        DialStats {
            handshakes: AtomicU64::new(0),
            resumed: AtomicU64::new(0),
            lookups: AtomicU64::new(0),
            first_tls_failure: std::sync::OnceLock::new(),
            handshake_us: h(),
            lookup_us: h(),
        }
    }
}

/// Percentiles of a connection-step histogram, in microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepTimes {
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl DialStats {
    fn times(h: &Mutex<Histogram<u64>>) -> StepTimes {
        let h = h.lock().unwrap_or_else(|e| e.into_inner());
        StepTimes { count: h.len(), p50_us: h.value_at_quantile(0.5), p99_us: h.value_at_quantile(0.99), max_us: h.max() }
    }
    pub fn handshake_times(&self) -> StepTimes {
        Self::times(&self.handshake_us)
    }
    pub fn lookup_times(&self) -> StepTimes {
        Self::times(&self.lookup_us)
    }
}

/// How a run (or `invoke`) reaches its target.
pub struct Dialer {
    host: String,
    port: u16,
    /// Look the name up again on new connections (a name, not an address, and not `--resolve`d).
    relookup: bool,
    addrs: Mutex<(Arc<Vec<SocketAddr>>, Instant)>,
    next: AtomicUsize,
    pub tls: Option<TlsClient>,
    pub stats: DialStats,
    /// curl's --connect-timeout: TCP connect plus TLS handshake (set by `with_connect_timeout`).
    connect_timeout: Option<Duration>,
}

/// How often a name is looked up again at most.
const RELOOKUP_EVERY: Duration = Duration::from_secs(1);

impl Dialer {
    /// Resolves `host` now (blocking: called before a run starts). `overrides` are `--resolve`
    /// entries; the first whose host and port match replaces DNS.
    pub fn new(host: &str, port: u16, overrides: &[crate::scenario::ResolveOverride], tls: Option<TlsClient>) -> Result<Dialer, DialError> {
        let (addrs, relookup, took) = initial_addrs(host, port, overrides)?;
        let stats = DialStats::default();
        if let Some(t) = took {
            stats.lookups.fetch_add(1, Ordering::Relaxed);
            let _ = stats.lookup_us.lock().unwrap_or_else(|e| e.into_inner()).record(t.as_micros().max(1) as u64);
        }
        Ok(Dialer {
            host: host.to_string(),
            port,
            relookup,
            addrs: Mutex::new((Arc::new(addrs), Instant::now())),
            next: AtomicUsize::new(0),
            tls,
            stats,
            connect_timeout: None,
        })
    }

    /// Ends a dial that has not connected (and finished TLS) within `d` as a connect failure.
    pub fn with_connect_timeout(mut self, d: Option<Duration>) -> Dialer {
        self.connect_timeout = d;
        self
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The addresses connections are spread over now.
    pub fn addrs(&self) -> Arc<Vec<SocketAddr>> {
        self.addrs.lock().unwrap_or_else(|e| e.into_inner()).0.clone()
    }

    /// The same target with other ALPN protocols offered.
    pub fn with_alpn(&self, alpn: Alpn) -> Dialer {
        Dialer {
            host: self.host.clone(),
            port: self.port,
            relookup: self.relookup,
            addrs: Mutex::new((self.addrs(), Instant::now())),
            next: AtomicUsize::new(0),
            tls: self.tls.as_ref().map(|t| t.with_alpn(alpn)),
            stats: DialStats::default(),
            connect_timeout: self.connect_timeout,
        }
    }

    /// Looks the name up again if it is due; returns how long the lookup took.
    async fn refresh(&self) -> Option<Duration> {
        if !self.relookup {
            return None;
        }
        {
            let g = self.addrs.lock().unwrap_or_else(|e| e.into_inner());
            if g.1.elapsed() < RELOOKUP_EVERY {
                return None;
            }
        }
        let start = Instant::now();
        let found: Vec<SocketAddr> = match tokio::net::lookup_host((self.host.as_str(), self.port)).await {
            Ok(it) => it.collect(),
            Err(e) => {
                tracing::debug!("looking up {} again failed ({e}); keeping the addresses we have", self.host);
                Vec::new()
            }
        };
        let took = start.elapsed();
        self.stats.lookups.fetch_add(1, Ordering::Relaxed);
        let _ = self.stats.lookup_us.lock().unwrap_or_else(|e| e.into_inner()).record(took.as_micros().max(1) as u64);
        let mut g = self.addrs.lock().unwrap_or_else(|e| e.into_inner());
        g.1 = Instant::now();
        if !found.is_empty() && *g.0 != found {
            tracing::info!("{} now resolves to {:?}", self.host, found);
            g.0 = Arc::new(found);
        }
        Some(took)
    }

    /// Opens one connection: the next address in turn (the others if it refuses), then TLS.
    pub async fn dial(&self) -> Result<Dialed, DialError> {
        let dns = self.refresh().await;
        let addrs = self.addrs();
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        let mut last = None;
        let deadline = self.connect_timeout.map(|d| tokio::time::Instant::now() + d);
        for i in 0..addrs.len() {
            let addr = addrs[(first + i) % addrs.len()];
            let start = Instant::now();
            match within(deadline, TcpStream::connect(addr)).await {
                Some(Ok(tcp)) => {
                    let _ = tcp.set_nodelay(true);
                    let connect = start.elapsed();
                    let Some(tls) = &self.tls else {
                        return Ok(Dialed { stream: Stream::Plain(tcp), addr, dns, connect, tls: None });
                    };
                    let Some(done) = within(deadline, self.handshake(tls, tcp, addr, deadline)).await else { return Err(self.handshake_timed_out(addr)) };
                    let (stream, took, info) = done.inspect_err(|e| {
                        if let DialError::Tls(why) = e {
                            let _ = self.stats.first_tls_failure.set(TlsFailure { why: format!("{why} ({addr})"), outcome: crate::scenario::outcomes::TLS });
                        }
                    })?;
                    return Ok(Dialed { stream, addr, dns, connect, tls: Some((took, info)) });
                }
                Some(Err(e)) => last = Some(DialError::Connect { addr, source: e }),
                None => return Err(self.timed_out(addr)),
            }
        }
        Err(last.unwrap_or_else(|| DialError::Resolve { host: self.host.clone(), reason: "no addresses".into() }))
    }

    /// curl counts the TLS handshake in the connect timeout, and so does the outcome: `connect`.
    fn timed_out(&self, addr: SocketAddr) -> DialError {
        let d = crate::units::HumanDuration(self.connect_timeout.unwrap_or_default());
        DialError::Connect { addr, source: io::Error::new(io::ErrorKind::TimedOut, format!("no connection (TCP and TLS) within the connect timeout, {d}")) }
    }

    /// The TLS handshake ran out of the connect timeout: said as such, since "no connection"
    /// alone hides that TCP worked and the server then never finished its part.
    fn handshake_timed_out(&self, addr: SocketAddr) -> DialError {
        let d = crate::units::HumanDuration(self.connect_timeout.unwrap_or_default());
        let why = format!("TLS handshake timed out: the server accepted the TCP connection but did not finish the handshake within the connect timeout, {d}");
        DialError::Connect { addr, source: io::Error::new(io::ErrorKind::TimedOut, why) }
    }

    /// `deadline` is the connect timeout's: it tells the unfinished-handshake note which outcome
    /// the request gets (`connect` when it ran out, else the request's own `timeout`).
    async fn handshake(&self, tls: &TlsClient, tcp: TcpStream, addr: SocketAddr, deadline: Option<tokio::time::Instant>) -> Result<(Stream, Duration, TlsInfo), DialError> {
        let start = Instant::now();
        let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
        let mut unfinished = Unfinished { stats: &self.stats, addr, start, deadline, armed: true };
        let s = connector.connect(tls.server_name.clone(), tcp).await;
        unfinished.armed = false;
        let s = s.map_err(|e| DialError::Tls(super::tls::describe(&e, &tls.name)))?;
        let took = start.elapsed();
        let (_, c) = s.get_ref();
        let info = TlsInfo {
            version: c.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default(),
            cipher: c.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())).unwrap_or_default(),
            alpn: c.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned()),
            resumed: matches!(c.handshake_kind(), Some(rustls::HandshakeKind::Resumed)),
        };
        self.stats.handshakes.fetch_add(1, Ordering::Relaxed);
        if info.resumed {
            self.stats.resumed.fetch_add(1, Ordering::Relaxed);
        }
        let _ = self.stats.handshake_us.lock().unwrap_or_else(|e| e.into_inner()).record(took.as_micros().max(1) as u64);
        Ok((Stream::Tls(Box::new(s)), took, info))
    }
}

/// Notes a handshake that was dropped before it finished: a timeout (the request's, the connect
/// timeout, invoke's --timeout) ends the dial from outside, so the dial itself never returns and
/// only this guard sees that TCP worked and TLS did not. Without it a silent TLS listener shows
/// as a bare `timeout` with no cause.
struct Unfinished<'a> {
    stats: &'a DialStats,
    addr: SocketAddr,
    start: Instant,
    deadline: Option<tokio::time::Instant>,
    armed: bool,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let connect_ran_out = self.deadline.is_some_and(|d| tokio::time::Instant::now() >= d);
        let outcome = if connect_ran_out { crate::scenario::outcomes::CONNECT } else { crate::scenario::outcomes::TIMEOUT };
        let waited = self.start.elapsed().as_secs_f64();
        let why = format!("TLS handshake timed out: the server accepted the TCP connection but did not finish the handshake in {waited:.1}s (a TLS listener that is stuck or overloaded, or a port that is not TLS) ({})", self.addr);
        let _ = self.stats.first_tls_failure.set(TlsFailure { why, outcome });
    }
}

/// `f`, or None when `deadline` passes first.
async fn within<F: std::future::Future>(deadline: Option<tokio::time::Instant>, f: F) -> Option<F::Output> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d, f).await.ok(),
        None => Some(f.await),
    }
}

/// Addresses before the first connection: `--resolve`, an IP literal, or a blocking lookup
/// (timed). Returns whether the name should be looked up again later.
fn initial_addrs(host: &str, port: u16, overrides: &[crate::scenario::ResolveOverride]) -> Result<(Vec<SocketAddr>, bool, Option<Duration>), DialError> {
    let lower = host.to_ascii_lowercase();
    if let Some(o) = overrides.iter().find(|o| o.host == lower && o.port == port) {
        return Ok((o.addrs.iter().map(|a| SocketAddr::new(*a, port)).collect(), false, None));
    }
    if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Ok((vec![SocketAddr::new(ip, port)], false, None));
    }
    let start = Instant::now();
    use std::net::ToSocketAddrs;
    let mut addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| DialError::Resolve { host: host.to_string(), reason: e.to_string() })?
        .collect();
    let took = start.elapsed();
    addrs.dedup();
    if addrs.is_empty() {
        return Err(DialError::Resolve { host: host.to_string(), reason: "no addresses".into() });
    }
    Ok((addrs, true, Some(took)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_and_literals_skip_dns() {
        let o = crate::scenario::tls::parse_resolve("api.example:443:127.0.0.1,::1").unwrap();
        let (a, again, took) = initial_addrs("API.example", 443, &[o]).unwrap();
        assert_eq!(a.len(), 2);
        assert!(!again && took.is_none());
        let (a, again, _) = initial_addrs("::1", 8, &[]).unwrap();
        assert_eq!((a[0].port(), again), (8, false));
    }

    #[tokio::test]
    async fn round_robin_over_addresses() {
        let l4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l4.local_addr().unwrap().port();
        let l4b = std::net::TcpListener::bind(("127.0.0.2", port));
        let Ok(_l4b) = l4b else { return }; // 127.0.0.2 not routable here: nothing to spread over
        let o = crate::scenario::tls::parse_resolve(&format!("svc:{port}:127.0.0.1,127.0.0.2")).unwrap();
        let d = Dialer::new("svc", port, &[o], None).unwrap();
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(d.dial().await.unwrap().addr.ip().to_string());
        }
        assert_eq!(seen, ["127.0.0.1", "127.0.0.2", "127.0.0.1", "127.0.0.2"]);
    }
}
