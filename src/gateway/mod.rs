//! The embedded reference gateway and its simulated function pods: the system under test that every
//! skyload demo and test runs against, so each feature works on a fresh machine with no setup.
//!
//! A request to `/fn/<name>` is authenticated, rate-limited, sent to a canary version by weight and
//! to one of its routable pods (round robin or least in flight), served by the pod's capacity model
//! (concurrency slots, bounded queue, service-time distribution, cold start), and turned into the
//! fallback answer when the pod fails. `/_control/` changes pods and weights at run time; `/metrics`
//! exposes Prometheus text. docs/gateway.md documents the file format and the API.

mod accesslog;
mod balance;
mod clock;
pub mod config;
mod control;
mod fault_setting;
mod handler;
mod metrics;
mod pod;
mod ratelimit;
mod server;
mod state;
pub mod tls;

pub use config::GatewayConfig;
/// Service-time distributions are scenario data (`[gateway]` tables); the pods sample them.
use crate::scenario::gateway_config::dist;
pub use server::{serve, serve_tls, GatewayHandle};

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can stop a gateway from starting or running.
#[derive(thiserror::Error, Debug)]
pub enum GatewayError {
    #[error("cannot read gateway config {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("gateway config does not parse: {0}")]
    Parse(String),
    /// A refused config file: `FILE:LINE:COL: field: message`, as a scenario's errors read.
    #[error("{}{}: {}{message}", path.display(), at.map_or(String::new(), |(l, c)| format!(":{l}:{c}")), field.as_ref().map_or(String::new(), |f| format!("{f}: ")))]
    At { path: PathBuf, at: Option<(usize, usize)>, field: Option<String>, message: String },
    #[error("gateway config: `{field}` {message}")]
    Config { field: String, message: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the access log {} (`access_log` in the gateway config): {source}", path.display())]
    AccessLog {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("gateway I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl From<crate::scenario::gateway_config::ConfigError> for GatewayError {
    fn from(e: crate::scenario::gateway_config::ConfigError) -> Self {
        GatewayError::Config { field: e.field, message: e.message }
    }
}

impl GatewayError {
    /// Puts `prefix` in front of a config error's field (e.g. `gateway.` inside a scenario).
    pub fn with_prefix(self, prefix: &str) -> GatewayError {
        match self {
            GatewayError::Config { field, message } => GatewayError::Config {
                field: format!("{prefix}{field}"),
                message,
            },
            other => other,
        }
    }
}

/// What a function looks like from outside, for the CLI's start-up listing.
pub fn describe(config: &GatewayConfig) -> Vec<String> {
    let mut out = Vec::new();
    for (name, f) in &config.functions {
        let weights = f.resolved_weights();
        for (i, (vname, spec)) in f.resolved_versions().into_iter().enumerate() {
            let mean = dist::ServiceTime::from_config(&spec.service_time)
                .map(|s| s.mean())
                .unwrap_or_default();
            let cap = if mean.is_zero() {
                "unbounded".to_string()
            } else {
                format!("{:.0} qps", spec.concurrency as f64 / mean.as_secs_f64())
            };
            let prefix = if i == 0 {
                format!("{name}-")
            } else {
                format!("{name}-{vname}-")
            };
            out.push(format!(
                "/fn/{name}  {vname} weight {}  pods {prefix}1..{prefix}{}  concurrency {}, mean service {} -> {cap} per pod",
                weights[i],
                spec.pods,
                spec.concurrency,
                crate::units::format_duration(mean),
            ));
        }
    }
    out
}
