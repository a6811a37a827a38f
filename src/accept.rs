//! The accept loop the two servers share (the embedded gateway and the fault proxy's API): accept
//! with back-off, `TCP_NODELAY`, the TLS handshake under a deadline, every connection under one
//! graceful watcher, and a bounded drain on shutdown. It was written twice; a fix to one copy (the
//! handshake deadline, the back-off) had to be remembered in the other.
//!
//! What differs stays with each server: which hyper builder serves a connection and with which
//! service ([`Serve`]), and what happens after the drain. The loop knows no crate module, so it
//! sits below both in `layers::ORDER`.

use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// A client that connects over TLS and never finishes its handshake must not hold a task forever.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an accept error (out of file descriptors and the like) pauses the loop, so that it
/// backs off instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// What a server does with one accepted (and, with TLS, handshaken) connection: serve it with its
/// own builder and hand the connection to `watcher`. Generic over the stream so that the plain and
/// the TLS path each get their own compiled code: no boxed or `Either` stream (a dynamic call per
/// read and write) enters the gateway's benchmarked path.
pub trait Serve: Send + Sync + 'static {
    /// Serves `io` (accepted on `local`) until the client or the watcher's shutdown ends it.
    fn serve<I>(self: Arc<Self>, io: I, local: Option<SocketAddr>, watcher: Watcher) -> impl Future<Output = ()> + Send
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static;
}

/// Names the server in its log lines and bounds its shutdown.
#[derive(Debug, Clone, Copy)]
pub struct Loop {
    /// `"gateway"`, `"proxy API"`: the start of an accept failure's warning.
    pub what: &'static str,
    /// How long shutdown waits for connections in flight before dropping them.
    pub drain: Duration,
}

impl Loop {
    /// Serves connections from `listener` with `server` (over TLS with `tls`) until `shutdown`,
    /// then closes the listener and drains for at most `self.drain`. Returns when the drain is
    /// over, so the caller's own cleanup (proxies removed, the access log flushed) runs after it.
    pub async fn run<S: Serve>(
        self,
        listener: TcpListener,
        server: Arc<S>,
        tls: Option<TlsAcceptor>,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let stream = match accepted {
                        Ok((s, _)) => s,
                        Err(e) => {
                            tracing::warn!("{} accept failed: {e}", self.what);
                            tokio::time::sleep(ACCEPT_BACKOFF).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let local = stream.local_addr().ok();
                    let server = server.clone();
                    let watcher = graceful.watcher();
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        match tls {
                            None => server.serve(stream, local, watcher).await,
                            Some(acceptor) => {
                                let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await else {
                                    return;
                                };
                                server.serve(stream, local, watcher).await;
                            }
                        }
                    });
                }
                _ = &mut shutdown => break,
            }
        }
        drop(listener);
        let _ = tokio::time::timeout(self.drain, graceful.shutdown()).await;
    }
}

/// Runs `tick` every `period` (the first at once) until the returned guard is dropped: the lease
/// sweepers both servers keep for as long as they serve.
pub fn every<F, Fut>(period: Duration, mut tick: F) -> AbortOnDrop
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    AbortOnDrop(tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        loop {
            interval.tick().await;
            tick().await;
        }
    }))
}

/// Stops a background task when the server that owns it returns.
#[derive(Debug)]
pub struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
