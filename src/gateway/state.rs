//! The running gateway built from a validated config: functions, their versions and pods, limiters,
//! and what the control API may change (canary weights, pod faults). Built once, shared by every
//! connection through an `Arc`; everything that changes at run time is an atomic.

use super::accesslog::AccessLog;
use super::balance::pick_weighted;
use super::clock::{with_rng, Clock};
use super::config::{Balance, FallbackConfig, GatewayConfig};
use super::metrics::{Series, Stats};
use super::pod::Pod;
use super::ratelimit::TokenBucket;
use super::GatewayError;
use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::StatusCode;
use rand::Rng;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Most versions one function may have (the weight table lives on the stack).
pub use crate::scenario::gateway_config::MAX_VERSIONS;

#[derive(Debug)]
pub struct Gateway {
    pub clock: Clock,
    /// Functions in name order (for listing and metrics).
    pub functions: Vec<Arc<Function>>,
    by_name: HashMap<String, Arc<Function>>,
    pods_by_name: HashMap<String, Arc<Pod>>,
    pub control: bool,
    /// `Bearer <token>` as the `authorization` header must read.
    pub control_auth: Option<Vec<u8>>,
    pub metrics: bool,
    pub access_log: Option<AccessLog>,
    pub max_body: usize,
    pub not_found: AtomicU64,
}

#[derive(Debug)]
pub struct Function {
    pub name: String,
    pub versions: Vec<Version>,
    weights: Vec<AtomicU32>,
    configured_weights: Vec<u32>,
    /// Accepted `authorization` header values (`Bearer <token>`); `None` = open.
    pub auth: Option<Vec<Vec<u8>>>,
    pub limiter: Option<TokenBucket>,
    pub timeout: Option<Duration>,
    pub fallback: Option<Fallback>,
    pub balance: Balance,
    pub detect_ns: u64,
    /// Answers that no pod was chosen for (401, 429, no routable pod).
    pub none_stats: Stats,
}

#[derive(Debug)]
pub struct Version {
    pub name: String,
    pub header: HeaderValue,
    pub pods: Vec<Arc<Pod>>,
    pub cursor: AtomicUsize,
}

#[derive(Debug)]
pub struct Fallback {
    pub status: StatusCode,
    pub body: Bytes,
    pub content_type: HeaderValue,
}

impl Gateway {
    /// Builds the running state; the config must already be valid.
    pub fn build(cfg: &GatewayConfig) -> Result<Gateway, GatewayError> {
        let clock = Clock::new();
        let mut functions = Vec::new();
        let mut by_name = HashMap::new();
        let mut pods_by_name = HashMap::new();
        for (name, f) in &cfg.functions {
            let mut versions = Vec::new();
            for (i, (vname, spec)) in f.resolved_versions().into_iter().enumerate() {
                let pods: Vec<Arc<Pod>> = (1..=spec.pods)
                    .map(|k| {
                        let pod_name = if i == 0 {
                            format!("{name}-{k}")
                        } else {
                            format!("{name}-{vname}-{k}")
                        };
                        Arc::new(Pod::new(name, &vname, pod_name, &spec))
                    })
                    .collect();
                for p in &pods {
                    if pods_by_name.insert(p.name.clone(), p.clone()).is_some() {
                        return Err(GatewayError::Config {
                            field: format!("functions.{name}"),
                            message: format!(
                                "pod name `{}` is also another function's pod; rename one",
                                p.name
                            ),
                        });
                    }
                }
                versions.push(Version {
                    header: HeaderValue::from_str(&vname).expect("validated name"),
                    name: vname,
                    pods,
                    cursor: AtomicUsize::new(0),
                });
            }
            let configured_weights = f.resolved_weights();
            let features = cfg.features_for(f);
            let auth = features.auth.filter(|a| a.enabled).map(|a| {
                a.tokens
                    .iter()
                    .map(|t| format!("Bearer {t}").into_bytes())
                    .collect()
            });
            let function = Arc::new(Function {
                name: name.clone(),
                versions,
                weights: configured_weights
                    .iter()
                    .map(|&w| AtomicU32::new(w))
                    .collect(),
                configured_weights,
                auth,
                limiter: features.rate_limit.map(|r| TokenBucket::new(r.rate, r.burst)),
                timeout: features.timeout.map(|t| t.get()),
                fallback: features.fallback.map(Fallback::from_config),
                balance: features.balance.unwrap_or_default(),
                detect_ns: features.detect_after.map_or(0, |d| d.get().as_nanos() as u64),
                none_stats: Stats::default(),
            });
            by_name.insert(name.clone(), function.clone());
            functions.push(function);
        }
        let access_log = match &cfg.access_log {
            Some(path) => {
                Some(
                    AccessLog::open(path).map_err(|source| GatewayError::AccessLog {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        if let Some(seed) = cfg.seed {
            super::clock::set_seed(seed);
        }
        Ok(Gateway {
            clock,
            functions,
            by_name,
            pods_by_name,
            control: cfg.control,
            control_auth: cfg
                .control_token
                .as_ref()
                .map(|t| format!("Bearer {t}").into_bytes()),
            metrics: cfg.metrics,
            access_log,
            max_body: cfg.max_body_bytes,
            not_found: AtomicU64::new(0),
        })
    }

    pub fn function(&self, name: &str) -> Option<&Arc<Function>> {
        self.by_name.get(name)
    }

    pub fn pod(&self, name: &str) -> Option<&Arc<Pod>> {
        self.pods_by_name.get(name)
    }

    /// Every labelled stats set, for `/metrics`.
    pub fn series(&self) -> Vec<Series<'_>> {
        let mut out = Vec::new();
        for f in &self.functions {
            out.push(Series {
                function: &f.name,
                version: "",
                pod: "gateway",
                stats: &f.none_stats,
            });
            for v in &f.versions {
                for p in &v.pods {
                    out.push(Series {
                        function: &f.name,
                        version: &v.name,
                        pod: &p.name,
                        stats: &p.stats,
                    });
                }
            }
        }
        out
    }
}

impl Function {
    /// Picks a version by the current canary weights.
    pub fn pick_version(&self) -> &Version {
        if self.versions.len() == 1 {
            return &self.versions[0];
        }
        let mut w = [0u32; MAX_VERSIONS];
        for (slot, a) in w.iter_mut().zip(&self.weights) {
            *slot = a.load(Ordering::Relaxed);
        }
        let w = &w[..self.weights.len()];
        let sum: u64 = w.iter().map(|&x| x as u64).sum();
        if sum == 0 {
            return &self.versions[0];
        }
        let r = with_rng(|rng| rng.gen_range(0..sum));
        &self.versions[pick_weighted(w, r)]
    }

    pub fn weights(&self) -> Vec<(String, u32)> {
        self.versions
            .iter()
            .zip(&self.weights)
            .map(|(v, w)| (v.name.clone(), w.load(Ordering::Relaxed)))
            .collect()
    }

    /// Sets weights by version name; names left out get 0. Refuses unknown names and all-zero.
    pub fn set_weights(&self, new: &HashMap<String, u32>) -> Result<(), String> {
        if let Some(k) = new
            .keys()
            .find(|k| !self.versions.iter().any(|v| &v.name == *k))
        {
            return Err(format!("function `{}` has no version `{k}`", self.name));
        }
        if new.values().all(|&w| w == 0) {
            return Err("weights are all 0: no version would serve".into());
        }
        for (v, a) in self.versions.iter().zip(&self.weights) {
            a.store(new.get(&v.name).copied().unwrap_or(0), Ordering::Relaxed);
        }
        Ok(())
    }

    pub fn reset_weights(&self) {
        for (a, &w) in self.weights.iter().zip(&self.configured_weights) {
            a.store(w, Ordering::Relaxed);
        }
    }

    pub fn pods(&self) -> impl Iterator<Item = &Arc<Pod>> {
        self.versions.iter().flat_map(|v| v.pods.iter())
    }

    /// True when `header` (the request's `authorization`) is one of the accepted tokens.
    pub fn authorized(&self, header: Option<&HeaderValue>) -> bool {
        match &self.auth {
            None => true,
            Some(ok) => header.is_some_and(|h| ok.iter().any(|t| t.as_slice() == h.as_bytes())),
        }
    }
}

impl Fallback {
    fn from_config(c: &FallbackConfig) -> Fallback {
        Fallback {
            status: StatusCode::from_u16(c.status).expect("validated status"),
            body: Bytes::from(c.body.clone()),
            content_type: HeaderValue::from_str(&c.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        }
    }
}
