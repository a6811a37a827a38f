//! A local server for verify and capacity tests with a capacity model: `pods` pods taken in turn,
//! each serving at most `concurrency` requests at once for a fixed `service` time (so a pod holds
//! concurrency / service requests per second, and beyond that requests queue, as a real pod's
//! would). Completion times are computed from slot times, not from when a sleep happens to wake,
//! so the capacity is exact. It can also fail every n-th request with 500 and label responses
//! with `x-fn-version`.
#![allow(dead_code)]

use crate::common::{serve, Serving};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct ServerCfg {
    pub pods: usize,
    pub concurrency: usize,
    pub service: Duration,
    /// Every n-th request answers 500.
    pub fail_every: Option<u64>,
    /// Every n-th request is labelled `x-fn-version: v2` (the rest `v1`).
    pub v2_every: Option<u64>,
    /// Added to the service time of the failures (so their latency is apart from the successes').
    pub fail_delay: Duration,
}

impl Default for ServerCfg {
    fn default() -> Self {
        ServerCfg { pods: 2, concurrency: 1000, service: Duration::from_millis(1), fail_every: None, v2_every: None, fail_delay: Duration::ZERO }
    }
}

pub struct VerifyServer {
    pub addr: SocketAddr,
    pub count: Arc<AtomicU64>,
    _server: Serving,
}

impl VerifyServer {
    pub fn start(cfg: ServerCfg) -> VerifyServer {
        let count = Arc::new(AtomicU64::new(0));
        // Per pod: when each of its slots is next free.
        let slots: Arc<Vec<Mutex<Vec<Instant>>>> = Arc::new((0..cfg.pods).map(|_| Mutex::new(vec![Instant::now(); cfg.concurrency])).collect());
        let c = count.clone();
        let server = serve(move |_req: Request<hyper::body::Incoming>| {
            let (c, slots, cfg) = (c.clone(), slots.clone(), cfg.clone());
            async move {
                let n = c.fetch_add(1, Ordering::Relaxed);
                let pod = (n % cfg.pods as u64) as usize;
                let done = {
                    let mut s = slots[pod].lock().unwrap();
                    let (i, free) = s.iter().copied().enumerate().min_by_key(|(_, t)| *t).unwrap();
                    let done = free.max(Instant::now()) + cfg.service;
                    s[i] = done;
                    done
                };
                let fail = cfg.fail_every.is_some_and(|k| n % k == 0);
                tokio::time::sleep_until((done + if fail { cfg.fail_delay } else { Duration::ZERO }).into()).await;
                let v2 = cfg.v2_every.is_some_and(|k| n % k == 0);
                Response::builder()
                    .status(if fail { 500 } else { 200 })
                    .header("x-pod", format!("pod-{pod}"))
                    .header("x-fn-version", if v2 { "v2" } else { "v1" })
                    .body(Full::new(Bytes::from_static(b"ok")))
                    .unwrap()
            }
        });
        VerifyServer { addr: server.addr, count, _server: server }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Runs the skyload binary.
pub fn skyload(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_skyload")).args(args).output().unwrap()
}
