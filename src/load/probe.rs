//! The pre-run probe: resolve the target, open one connection (with its TLS handshake) and learn
//! what the run will speak. A certificate that will never be accepted, a name mismatch, an expired
//! certificate or a protocol mismatch stops the run here with one sentence, instead of a run of
//! nothing but `tls` failures. With ALPN left to negotiate, the protocol the server chose becomes
//! the only one offered afterwards, so every connection of the run speaks the same protocol.

use super::connect::{DialError, Dialer, TlsInfo};
use super::tls::{Alpn, TlsClient};
use super::transport::Endpoint;
use crate::record::tls::TlsRun;
use crate::scenario::{Plan, TargetUrl};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot resolve target host `{host}`: {reason}")]
    Resolve { host: String, reason: String },
    /// One sentence naming the cause (see `tls::describe`).
    #[error("{0}")]
    Tls(String),
    #[error("TLS settings: {0}")]
    Settings(String),
    #[error("cannot start a runtime: {0}")]
    Runtime(std::io::Error),
}

/// What the probe found, and the endpoint the run uses.
pub struct Prepared {
    pub endpoint: Endpoint,
    /// Something accepted a connection.
    pub reachable: bool,
    pub http2: bool,
    /// The probe's handshake (https only).
    pub tls: Option<TlsInfo>,
    /// The CA file trusted, for the summary.
    pub cacert: Option<std::path::PathBuf>,
}

/// How long the probe waits for a connection and handshake.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The ALPN a plan asks for.
pub fn alpn_of(plan: &Plan) -> Alpn {
    match (plan.connections.http1, plan.connections.http2) {
        (true, _) => Alpn::Http1,
        (false, true) => Alpn::H2,
        _ => Alpn::Negotiate,
    }
}

/// Resolves, connects once and settles the protocol. Blocking (runs its own small runtime).
pub fn prepare(plan: &Plan, target: &TargetUrl) -> Result<Prepared, ProbeError> {
    let https = target.scheme == "https";
    let alpn = alpn_of(plan);
    let tls = if https {
        Some(TlsClient::new(&plan.connections.tls, &target.host, alpn).map_err(|e| ProbeError::Settings(e.to_string()))?)
    } else {
        None
    };
    let dialer = Dialer::new(&target.host, target.port, &plan.connections.resolve, tls).map_err(|e| match e {
        DialError::Resolve { host, reason } => ProbeError::Resolve { host, reason },
        other => ProbeError::Resolve { host: target.host.clone(), reason: other.to_string() },
    })?
    .with_connect_timeout(plan.connections.connect_timeout);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(ProbeError::Runtime)?;
    let probe = rt.block_on(async {
        let d = tokio::time::timeout(PROBE_TIMEOUT, dialer.dial()).await;
        match d {
            Ok(Ok(d)) if d.tls.is_some() => Ok(verdict_after_handshake(d, dialer.tls.as_ref()).await),
            other => other,
        }
    });
    let (reachable, info) = match probe {
        Ok(Ok(d)) => (true, d.tls.map(|(_, i)| i)),
        Ok(Err(DialError::Tls(msg))) => return Err(ProbeError::Tls(msg)),
        Ok(Err(e)) => {
            tracing::debug!("probe: {e}");
            (false, None)
        }
        Err(_) => {
            // A TLS listener that accepts and then says nothing: name it, not just "no connection".
            if let Some(f) = dialer.stats.first_tls_failure.get() {
                tracing::warn!("the pre-run probe: {}", f.why);
            }
            (false, None)
        }
    };
    let http2 = match (&info, alpn) {
        (Some(i), Alpn::H2) if !i.is_h2() => {
            return Err(ProbeError::Tls(format!(
                "protocol mismatch: --http2 asks for h2 but the server at {} chose {} in ALPN; drop --http2",
                dialer.tls.as_ref().map_or(target.host.as_str(), |t| t.name.as_str()),
                i.alpn.as_deref().unwrap_or("no protocol")
            )))
        }
        (Some(i), Alpn::Negotiate) => i.is_h2(),
        (Some(_), a) => a == Alpn::H2,
        (None, _) => plan.connections.http2,
    };
    // A fresh dialer for the run: counts start at zero, and only the agreed protocol is offered.
    let run_dialer = if https { dialer.with_alpn(if http2 { Alpn::H2 } else { Alpn::Http1 }) } else { dialer };
    let cacert = plan.connections.tls.cacert.clone();
    Ok(Prepared { endpoint: Endpoint { dialer: Arc::new(run_dialer), http2 }, reachable, http2, tls: info, cacert })
}

/// In TLS 1.3 the client finishes its handshake before the server has judged the client's
/// certificate (or its absence): a refusal arrives as an alert on the first read. So the probe
/// listens briefly; silence means accepted. No request is sent, so the server counts only the run's.
async fn verdict_after_handshake(mut d: super::connect::Dialed, tls: Option<&TlsClient>) -> Result<super::connect::Dialed, DialError> {
    use tokio::io::AsyncReadExt;
    let mut byte = [0u8; 1];
    match tokio::time::timeout(Duration::from_millis(300), d.stream.read(&mut byte)).await {
        Ok(Err(e)) if e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) => {
            Err(DialError::Tls(super::tls::describe(&e, tls.map_or("the server", |t| t.name.as_str()))))
        }
        _ => Ok(d),
    }
}

impl Prepared {
    /// The `tls` section of the summary, read after the run (https only).
    /// Also when the probe's handshake never finished (`tls` is None): the section then says no
    /// handshake completed, and keeps the run's first failure, e.g. a handshake that timed out.
    pub fn tls_run(&self) -> Option<TlsRun> {
        let d = &self.endpoint.dialer;
        let client = d.tls.as_ref()?;
        let hs = d.stats.handshake_times();
        let dns = d.stats.lookup_times();
        Some(TlsRun {
            protocol: if self.http2 { "h2" } else { "http/1.1" }.to_string(),
            version: self.tls.as_ref().map(|i| i.version.clone()).unwrap_or_default(),
            cipher: self.tls.as_ref().map(|i| i.cipher.clone()).unwrap_or_default(),
            insecure: client.insecure,
            server_name: client.name.clone(),
            addresses: d.addrs().iter().map(|a| a.to_string()).collect(),
            handshakes: d.stats.handshakes.load(Ordering::Relaxed),
            resumed: d.stats.resumed.load(Ordering::Relaxed),
            handshake_p50_us: hs.p50_us,
            handshake_p99_us: hs.p99_us,
            handshake_max_us: hs.max_us,
            dns_lookups: d.stats.lookups.load(Ordering::Relaxed),
            dns_p99_us: dns.p99_us,
            cacert: self.cacert.as_ref().map(|p| p.display().to_string()),
            first_failure: d.stats.first_tls_failure.get().map(|f| f.why.clone()),
            first_failure_outcome: d.stats.first_tls_failure.get().filter(|f| f.outcome != crate::scenario::outcomes::TLS).map(|f| crate::scenario::outcomes::fixed_name(f.outcome).to_string()),
            merged_percentiles: false,
        })
    }
}

/// `handshakes.csv` fed from the run's dial counters as seconds close (https runs only).
pub struct HandshakeSeries<'a> {
    log: Option<(crate::record::tls::HandshakeLog, &'a super::connect::DialStats)>,
}

impl<'a> HandshakeSeries<'a> {
    pub fn start(prepared: &'a Prepared, dir: &std::path::Path) -> std::io::Result<HandshakeSeries<'a>> {
        let log = match prepared.tls {
            Some(_) => Some((crate::record::tls::HandshakeLog::create(dir)?, &prepared.endpoint.dialer.stats)),
            None => None,
        };
        Ok(HandshakeSeries { log })
    }

    fn totals(stats: &super::connect::DialStats) -> (u64, u64) {
        (stats.handshakes.load(Ordering::Relaxed), stats.resumed.load(Ordering::Relaxed))
    }

    pub fn second(&mut self, second: u64) -> std::io::Result<()> {
        let Some((log, stats)) = self.log.as_mut() else { return Ok(()) };
        let (h, r) = Self::totals(stats);
        log.second(second, h, r)
    }

    pub fn finish(self, last_second: u64) -> std::io::Result<()> {
        let Some((log, stats)) = self.log else { return Ok(()) };
        let (h, r) = Self::totals(stats);
        log.finish(last_second, h, r)
    }
}
