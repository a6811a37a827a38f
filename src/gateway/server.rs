//! The accept loop and the handle tests and commands hold. The server takes a listener and a
//! shutdown future (as mini-redis does), so tests bind port 0 and the CLI binds what it was told;
//! shutdown stops accepting, lets in-flight requests finish for a bounded time, then flushes the
//! access log.

use super::handler::handle;
use super::state::Gateway;
use super::tls::ServerTls;
use super::{GatewayConfig, GatewayError};
use tokio_rustls::TlsAcceptor;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
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

/// A client that connects and never finishes its handshake must not hold a task forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn run(
    listener: TcpListener,
    gw: Arc<Gateway>,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let sweeper = {
        let gw = gw.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                super::control::expire_leases(&gw);
            }
        })
    };
    let _sweeper = AbortOnDrop(sweeper);
    let graceful = GracefulShutdown::new();
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((s, _)) => s,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!("gateway accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let local = stream.local_addr().ok();
                let gw = gw.clone();
                let builder = builder.clone();
                let watcher = graceful.watcher();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(gw.clone(), local, req));
                    match tls {
                        None => {
                            let conn = builder.serve_connection(TokioIo::new(stream), svc);
                            let _ = watcher.watch(conn).await;
                        }
                        Some(acceptor) => {
                            let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await else {
                                return;
                            };
                            let conn = builder.serve_connection(TokioIo::new(stream), svc);
                            let _ = watcher.watch(conn).await;
                        }
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
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

/// Stops the lease sweeper when the server returns.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
