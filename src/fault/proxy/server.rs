//! The API's accept loop and the handle tests and commands hold. Like the embedded gateway, the
//! server takes a listener and a shutdown future (mini-redis style), so tests bind port 0; on
//! shutdown it stops accepting, lets API calls in flight finish for a bounded time, then stops and
//! removes every proxy, so nothing keeps listening after `skyload proxy` exits.

use super::api;
use super::registry::Registry;
use super::{Options, ProxyError};
use crate::fault::toxiproxy::{Client, NewProxy, Proxy};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use crate::accept::{self, Loop, Serve};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::Watcher;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// How long shutdown waits for API calls in flight.
const DRAIN: Duration = Duration::from_secs(2);

/// Serves the API on `listener` until `shutdown`, with `initial` proxies created first (a
/// `populate` file); then removes every proxy.
pub async fn serve(
    listener: TcpListener,
    options: Options,
    initial: Vec<NewProxy>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ProxyError> {
    let registry = Arc::new(Registry::new(options));
    populate(&registry, initial).await?;
    run(listener, registry, None, shutdown).await;
    Ok(())
}

async fn populate(registry: &Registry, initial: Vec<NewProxy>) -> Result<Vec<Proxy>, ProxyError> {
    if initial.is_empty() {
        return Ok(Vec::new());
    }
    match registry.populate(initial).await {
        (done, None) => Ok(done),
        (_, Some(e)) => {
            registry.remove_all().await;
            Err(ProxyError::Populate(e))
        }
    }
}

/// How often lapsed fault leases are looked for; a lapsed toxic lives at most this much longer.
const SWEEP: Duration = Duration::from_millis(500);

/// The API's connections: HTTP/1.1 only (Toxiproxy's clients speak nothing else).
struct Api {
    registry: Arc<Registry>,
}

impl Serve for Api {
    async fn serve<I>(self: Arc<Self>, io: I, local: Option<SocketAddr>, watcher: Watcher)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let svc = service_fn(move |req| {
            let registry = self.registry.clone();
            async move { api::handle(&registry, local, req).await }
        });
        let _ = watcher.watch(http1::Builder::new().serve_connection(TokioIo::new(io), svc)).await;
    }
}

async fn run(listener: TcpListener, registry: Arc<Registry>, tls: Option<TlsAcceptor>, shutdown: impl Future<Output = ()> + Send + 'static) {
    let _sweeper = accept::every(SWEEP, {
        let registry = registry.clone();
        move || {
            let registry = registry.clone();
            async move {
                for (proxy, toxic) in registry.expire(tokio::time::Instant::now()).await {
                    tracing::warn!("removed toxic `{toxic}` from proxy `{proxy}`: its lease lapsed (the run that added it stopped renewing it)");
                }
            }
        }
    });
    let api = Arc::new(Api { registry: registry.clone() });
    Loop { what: "proxy API", drain: DRAIN }.run(listener, api, tls, shutdown).await;
    registry.remove_all().await;
}

/// A proxy server running on the current tokio runtime.
#[derive(Debug)]
pub struct ProxyHandle {
    /// Where the API listens.
    pub addr: SocketAddr,
    /// The API is served over TLS (`skyload proxy --tls`).
    pub https: bool,
    /// The proxies created at start, with the addresses they got.
    pub initial: Vec<Proxy>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl ProxyHandle {
    /// Binds `listen` (127.0.0.1:0 in tests), creates `initial` proxies, and spawns the server.
    pub async fn start(options: Options, listen: SocketAddr, initial: Vec<NewProxy>) -> Result<ProxyHandle, ProxyError> {
        Self::start_tls(options, listen, initial, None).await
    }

    /// `start`, serving the API over TLS with `tls` (ALPN http/1.1: the API speaks nothing else).
    /// The proxies themselves move bytes, so TLS between a client and its upstream passes through.
    pub async fn start_tls(options: Options, listen: SocketAddr, initial: Vec<NewProxy>, tls: Option<TlsAcceptor>) -> Result<ProxyHandle, ProxyError> {
        let https = tls.is_some();
        let listener = TcpListener::bind(listen).await.map_err(|source| ProxyError::Bind { addr: listen, source })?;
        let addr = listener.local_addr()?;
        let registry = Arc::new(Registry::new(options));
        let initial = populate(&registry, initial).await?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(run(listener, registry, tls, async move {
            let _ = rx.await;
        }));
        Ok(ProxyHandle { addr, https, initial, stop: Some(tx), task })
    }

    /// `http://127.0.0.1:PORT` (`https://` with TLS)
    pub fn base_url(&self) -> String {
        format!("{}://{}", if self.https { "https" } else { "http" }, self.addr)
    }

    /// A Toxiproxy client for this server (give it trust with `with_tls` when `https`).
    pub fn client(&self) -> Client {
        Client::new(&self.base_url()).expect("a socket address is a valid endpoint")
    }

    /// Stops the API and removes every proxy (their listeners are closed when this returns).
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let abort = self.task.abort_handle();
        if tokio::time::timeout(DRAIN + Duration::from_secs(2), &mut self.task).await.is_err() {
            abort.abort();
        }
    }
}
