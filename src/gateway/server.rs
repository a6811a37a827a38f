//! The accept loop and the handle tests and commands hold. The server takes a listener and a
//! shutdown future (as mini-redis does), so tests bind port 0 and the CLI binds what it was told;
//! shutdown stops accepting, lets in-flight requests finish for a bounded time, then flushes the
//! access log.

use super::handler::handle;
use super::state::Gateway;
use super::tls::ServerTls;
use super::{GatewayConfig, GatewayError};
use crate::accept::{self, Loop, Serve};
use tokio_rustls::TlsAcceptor;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::Watcher;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long shutdown waits for in-flight requests before dropping them.
const DRAIN: Duration = Duration::from_secs(3);

/// Validates `config`, then serves HTTP/1.1 and HTTP/2 on `listener` until `shutdown` (over TLS
/// when `config.tls` asks; a generated CA is then only in memory: see `serve_tls`).
pub async fn serve(
    listener: TcpListener,
    config: GatewayConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let tls = config.tls.as_ref().map(super::tls::server).transpose().map_err(GatewayError::from)?.flatten();
    serve_tls(listener, config, tls, shutdown).await
}

/// `serve` with TLS material the caller built (and whose CA it has shown to the user).
pub async fn serve_tls(
    listener: TcpListener,
    config: GatewayConfig,
    tls: Option<ServerTls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    config.validate()?;
    let gw = Arc::new(Gateway::build(&config)?);
    run(listener, gw, tls.map(|t| t.acceptor), shutdown).await;
    Ok(())
}

/// How often lapsed fault leases are looked for.
const SWEEP: Duration = Duration::from_millis(500);

/// The gateway's connections: HTTP/1.1 and HTTP/2 (one builder for all, cloned per connection).
struct Conns {
    gw: Arc<Gateway>,
    builder: auto::Builder<TokioExecutor>,
}

impl Serve for Conns {
    async fn serve<I>(self: Arc<Self>, io: I, local: Option<SocketAddr>, watcher: Watcher)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let gw = self.gw.clone();
        let svc = service_fn(move |req| handle(gw.clone(), local, req));
        let _ = watcher.watch(self.builder.serve_connection(TokioIo::new(io), svc)).await;
    }
}

async fn run(
    listener: TcpListener,
    gw: Arc<Gateway>,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let _sweeper = accept::every(SWEEP, {
        let gw = gw.clone();
        move || {
            super::control::expire_leases(&gw);
            std::future::ready(())
        }
    });
    let conns = Arc::new(Conns { gw: gw.clone(), builder: auto::Builder::new(TokioExecutor::new()) });
    Loop { what: "gateway", drain: DRAIN }.run(listener, conns, tls, shutdown).await;
    if let Some(log) = &gw.access_log {
        log.close();
    }
}

/// A gateway running on the current tokio runtime.
#[derive(Debug)]
pub struct GatewayHandle {
    pub addr: SocketAddr,
    /// Serving HTTPS.
    pub https: bool,
    /// The CA that signed a generated certificate (`tls = true`), PEM: what clients must trust.
    pub ca_pem: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl GatewayHandle {
    /// Binds `listen` (127.0.0.1:0 in tests) and spawns the server on the current tokio runtime.
    pub async fn start(
        config: GatewayConfig,
        listen: SocketAddr,
    ) -> Result<GatewayHandle, GatewayError> {
        config.validate()?;
        let gw = Arc::new(Gateway::build(&config)?);
        let tls = config.tls.as_ref().map(super::tls::server).transpose().map_err(GatewayError::from)?.flatten();
        let https = tls.is_some();
        let (acceptor, ca_pem) = match tls {
            Some(t) => (Some(t.acceptor), t.ca_pem),
            None => (None, None),
        };
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| GatewayError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(run(listener, gw, acceptor, async move {
            let _ = rx.await;
        }));
        Ok(GatewayHandle {
            addr,
            https,
            ca_pem,
            stop: Some(tx),
            task,
        })
    }

    /// Stops accepting, drains in-flight requests for at most a few seconds, and returns.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let abort = self.task.abort_handle();
        if tokio::time::timeout(DRAIN + Duration::from_secs(1), &mut self.task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }

    /// `http://127.0.0.1:PORT`, or `https://` when serving TLS.
    pub fn base_url(&self) -> String {
        format!("{}://{}", if self.https { "https" } else { "http" }, self.addr)
    }
}
