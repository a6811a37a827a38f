//! The `/metrics` endpoint: its own thread and single-threaded runtime, so a slow scraper never
//! touches the generator's runtimes. It reads the `Live` view under a mutex the collector takes
//! once a second; rendering happens at scrape time, on this thread.

use super::expo::Format;
use super::Live;
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot listen for metrics on {addr}: {source} (is another process using the port? pick another with --metrics-listen)")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot start the metrics endpoint: {0}")]
    Start(std::io::Error),
}

/// A running endpoint. `finish` marks the values final and lingers; dropping it stops serving.
pub struct MetricsServer {
    pub addr: SocketAddr,
    pub live: Arc<Mutex<Live>>,
    /// A scrape has read the final values.
    final_scraped: Arc<AtomicBool>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn lock(live: &Mutex<Live>) -> std::sync::MutexGuard<'_, Live> {
    live.lock().unwrap_or_else(|e| e.into_inner())
}

impl MetricsServer {
    /// Binds `addr` (port 0 picks one; read it back from `addr`) and serves `live`.
    pub fn start(addr: SocketAddr, live: Live) -> Result<MetricsServer, MetricsError> {
        let std_listener = std::net::TcpListener::bind(addr).map_err(|source| MetricsError::Bind { addr, source })?;
        std_listener.set_nonblocking(true).map_err(MetricsError::Start)?;
        let addr = std_listener.local_addr().map_err(MetricsError::Start)?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(MetricsError::Start)?;
        let live = Arc::new(Mutex::new(live));
        let final_scraped = Arc::new(AtomicBool::new(false));
        let (tx, rx) = oneshot::channel();
        let (l, f) = (live.clone(), final_scraped.clone());
        let thread = std::thread::Builder::new()
            .name("skyload-metrics".into())
            .spawn(move || {
                rt.block_on(async move {
                    match tokio::net::TcpListener::from_std(std_listener) {
                        Ok(listener) => serve(listener, l, f, rx).await,
                        Err(e) => tracing::error!("metrics endpoint: {e}"),
                    }
                })
            })
            .map_err(MetricsError::Start)?;
        Ok(MetricsServer { addr, live, final_scraped, stop: Some(tx), thread: Some(thread) })
    }

    /// Marks the values final, then keeps serving until a scrape has read them or `linger` passed.
    pub fn finish(mut self, linger: Duration) {
        lock(&self.live).finish();
        let deadline = Instant::now() + linger;
        while Instant::now() < deadline && !self.final_scraped.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50).min(deadline.saturating_duration_since(Instant::now())));
        }
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn serve(listener: tokio::net::TcpListener, live: Arc<Mutex<Live>>, final_scraped: Arc<AtomicBool>, mut stop: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let (live, final_scraped) = (live.clone(), final_scraped.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let r = respond(&req, &live, &final_scraped);
                        async move { Ok::<_, std::convert::Infallible>(r) }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                });
            }
            _ = &mut stop => break,
        }
    }
}

fn respond<B>(req: &Request<B>, live: &Mutex<Live>, final_scraped: &AtomicBool) -> Response<Full<Bytes>> {
    let plain = |status: StatusCode, text: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
        *r.status_mut() = status;
        r
    };
    if req.uri().path() != "/metrics" {
        return plain(StatusCode::NOT_FOUND, "skyload serves Prometheus metrics at /metrics\n");
    }
    if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "GET /metrics\n");
    }
    let format = Format::from_accept(req.headers().get(hyper::header::ACCEPT).and_then(|v| v.to_str().ok()));
    let (body, finished) = {
        let l = lock(live);
        (l.render(format), l.is_finished())
    };
    if finished {
        final_scraped.store(true, Ordering::Relaxed);
    }
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(format.content_type()));
    r
}

/// Starts the endpoint when the plan asks for one.
pub fn start_for(
    plan: &crate::scenario::Plan,
    shard: Option<crate::load::shard::Shard>,
) -> Result<Option<MetricsServer>, MetricsError> {
    let Some(addr) = plan.metrics.listen else { return Ok(None) };
    MetricsServer::start(addr, Live::new(plan, shard)).map(Some)
}

impl MetricsServer {
    /// The run has ended: every later scrape gets the final values.
    pub fn mark_final(&self) {
        lock(&self.live).finish();
    }
}

/// Passes each closed second to the live view, then to the observer it wraps (progress, aborts).
pub struct Publish<'a> {
    inner: &'a mut dyn crate::load::runner::Observer,
    live: Option<Arc<Mutex<Live>>>,
}

impl<'a> Publish<'a> {
    pub fn new(inner: &'a mut dyn crate::load::runner::Observer, server: Option<&MetricsServer>) -> Publish<'a> {
        Publish { inner, live: server.map(|s| s.live.clone()) }
    }
}

impl crate::load::runner::Observer for Publish<'_> {
    fn second(&mut self, iv: &crate::record::interval::Interval, target_rps: f64, shape: &crate::record::interval::Shape) {
        if let Some(l) = &self.live {
            lock(l).second(iv, target_rps);
        }
        self.inner.second(iv, target_rps, shape);
    }
}
