//! The `[gateway]` table: the embedded gateway's configuration as plain scenario data (serde
//! structs that only parse, then `validate()` that names the offending field), so a scenario can be
//! read and checked without the gateway (which imports these types downward to serve them).
//!
//! Every feature except routing is off unless its table or field is present. Features that make sense
//! at both levels (auth, rate limit, timeout, fallback, balance) are set on the gateway as a default
//! and may be replaced per function.

pub mod dist;
pub mod tls;
mod validate;

use crate::units::HumanDuration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The whole gateway: functions by name plus gateway-wide defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Bearer token required on `/_control/` when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_token: Option<String>,
    /// Serve the control API at all (default true: fault drills need it).
    #[serde(default = "yes")]
    pub control: bool,
    /// Serve Prometheus text at `/metrics` (default false).
    #[serde(default)]
    pub metrics: bool,
    /// Append one line per request to this file (default: no access log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log: Option<PathBuf>,
    /// Seed for the per-worker random generators (service times, error injection, canary picks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Largest request body accepted, in bytes (default 1 MiB); larger bodies get 413.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Defaults for every function (each function may replace them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<FallbackConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<Balance>,
    /// How long a killed pod still receives traffic before the gateway notices (default 0s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_after: Option<HumanDuration>,
    /// Serve HTTPS: `true` (a CA and leaf generated at start) or `{ cert, key }` PEM files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<tls::GatewayTls>,
    /// Functions by name, routed at `/fn/<name>`.
    #[serde(default)]
    pub functions: BTreeMap<String, FunctionConfig>,
}

/// One function: its stable version's pods, gateway features for it, and optional canary versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionConfig {
    /// Name of the stable version (default "v1"); its pods are named `<fn>-1`, `<fn>-2`, ...
    #[serde(default = "default_version")]
    pub version: String,
    /// Number of pods (default 1).
    #[serde(default = "default_pods")]
    pub pods: u32,
    /// Requests a pod serves at once (default 16).
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// Requests a pod holds waiting for a free slot; past that it sheds with 503 (default 64).
    #[serde(default = "default_queue")]
    pub queue: u32,
    /// Service time distribution (default fixed 0: answer at once).
    #[serde(default)]
    pub service_time: ServiceTimeConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_start: Option<ColdStartConfig>,
    #[serde(default)]
    pub response: ResponseConfig,
    /// Canary versions by name; each field left out is taken from the function. Pods are named
    /// `<fn>-<version>-1`, ...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub versions: BTreeMap<String, VersionConfig>,
    /// Share of traffic per version name (default: all to the stable version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<BTreeMap<String, u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<FallbackConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<Balance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_after: Option<HumanDuration>,
}

/// What a pod is: how many, how fast, how much at once, what it answers (resolved per version).
#[derive(Debug, Clone, PartialEq)]
pub struct PodSpec {
    pub pods: u32,
    pub concurrency: u32,
    pub queue: u32,
    pub service_time: ServiceTimeConfig,
    pub cold_start: Option<ColdStartConfig>,
    pub response: ResponseConfig,
}

/// A canary version: every field optional, inherited from the function when left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_time: Option<ServiceTimeConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_start: Option<ColdStartConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dist {
    #[default]
    Fixed,
    Normal,
    Lognormal,
}

/// `{ dist = "lognormal", mean = "8ms", p99 = "40ms" }`; `fixed` takes only `mean`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceTimeConfig {
    #[serde(default)]
    pub dist: Dist,
    #[serde(default)]
    pub mean: HumanDuration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<HumanDuration>,
}

/// A pod that was just started, revived, or idle longer than `idle` takes `delay` more to answer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColdStartConfig {
    pub delay: HumanDuration,
    /// Idle time after which the pod is cold again (default: never from idleness).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<HumanDuration>,
}

/// What a healthy pod answers. Default: 200 with a small JSON naming function, version and pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseConfig {
    #[serde(default = "default_ok")]
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default = "default_json")]
    pub content_type: String,
    /// Answer with the request's body instead.
    #[serde(default)]
    pub echo: bool,
}

/// Bearer tokens accepted; `enabled = false` on a function opens it when the gateway has auth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub tokens: Vec<String>,
}

/// Token bucket: `rate` tokens per second, at most `burst` saved up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub rate: f64,
    #[serde(default = "default_burst")]
    pub burst: u32,
}

/// The disaster-recovery answer given instead of a failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackConfig {
    #[serde(default = "default_ok")]
    pub status: u16,
    pub body: String,
    #[serde(default = "default_json")]
    pub content_type: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    #[default]
    RoundRobin,
    LeastInFlight,
}

fn yes() -> bool {
    true
}
fn default_max_body() -> usize {
    1 << 20
}
fn default_version() -> String {
    "v1".into()
}
fn default_pods() -> u32 {
    1
}
fn default_concurrency() -> u32 {
    16
}
fn default_queue() -> u32 {
    64
}
fn default_ok() -> u16 {
    200
}
fn default_json() -> String {
    "application/json".into()
}
fn default_burst() -> u32 {
    1
}

impl Default for PodSpec {
    fn default() -> Self {
        PodSpec {
            pods: default_pods(),
            concurrency: default_concurrency(),
            queue: default_queue(),
            service_time: ServiceTimeConfig::default(),
            cold_start: None,
            response: ResponseConfig::default(),
        }
    }
}

impl Default for ResponseConfig {
    fn default() -> Self {
        ResponseConfig {
            status: 200,
            body: None,
            content_type: default_json(),
            echo: false,
        }
    }
}

impl VersionConfig {
    /// This version's pods: its own fields over the function's.
    pub fn resolve(&self, base: &PodSpec) -> PodSpec {
        PodSpec {
            pods: self.pods.unwrap_or(base.pods),
            concurrency: self.concurrency.unwrap_or(base.concurrency),
            queue: self.queue.unwrap_or(base.queue),
            service_time: self.service_time.unwrap_or(base.service_time),
            cold_start: self.cold_start.or(base.cold_start),
            response: self
                .response
                .clone()
                .unwrap_or_else(|| base.response.clone()),
        }
    }
}

impl Default for FunctionConfig {
    fn default() -> Self {
        let p = PodSpec::default();
        FunctionConfig {
            version: default_version(),
            pods: p.pods,
            concurrency: p.concurrency,
            queue: p.queue,
            service_time: p.service_time,
            cold_start: p.cold_start,
            response: p.response,
            versions: BTreeMap::new(),
            weights: None,
            auth: None,
            rate_limit: None,
            timeout: None,
            fallback: None,
            balance: None,
            detect_after: None,
        }
    }
}

impl FunctionConfig {
    /// The stable version's pods.
    pub fn pod_spec(&self) -> PodSpec {
        PodSpec {
            pods: self.pods,
            concurrency: self.concurrency,
            queue: self.queue,
            service_time: self.service_time,
            cold_start: self.cold_start,
            response: self.response.clone(),
        }
    }

    /// Versions in routing order: the stable one first, then canaries by name.
    pub fn resolved_versions(&self) -> Vec<(String, PodSpec)> {
        let base = self.pod_spec();
        let mut out = vec![(self.version.clone(), base.clone())];
        for (name, v) in &self.versions {
            out.push((name.clone(), v.resolve(&base)));
        }
        out
    }

    /// Configured weight of each version, in `resolved_versions` order.
    pub fn resolved_weights(&self) -> Vec<u32> {
        match &self.weights {
            None => {
                let mut w = vec![0; 1 + self.versions.len()];
                w[0] = 100;
                w
            }
            Some(map) => std::iter::once(&self.version)
                .chain(self.versions.keys())
                .map(|n| map.get(n).copied().unwrap_or(0))
                .collect(),
        }
    }
}

/// The six settings a function takes from the gateway-wide defaults unless it sets its own,
/// borrowed from one table (`GatewayConfig::features`, `FunctionConfig::features`) or resolved for
/// a function (`GatewayConfig::features_for`), so that the gateway and validation read them in one
/// place. A view and not one struct shared by both tables: serde's `flatten` does not combine
/// with `deny_unknown_fields` (an unknown field's error would lose its list of expected fields).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Features<'a> {
    pub auth: Option<&'a AuthConfig>,
    pub rate_limit: Option<RateLimitConfig>,
    pub timeout: Option<HumanDuration>,
    pub fallback: Option<&'a FallbackConfig>,
    pub balance: Option<Balance>,
    pub detect_after: Option<HumanDuration>,
}

impl<'a> Features<'a> {
    /// Each setting of `self`, or of `defaults` where `self` leaves it out (whole tables: a
    /// function's `auth` replaces the gateway's, it is not merged with it).
    pub fn or(self, defaults: Features<'a>) -> Features<'a> {
        Features {
            auth: self.auth.or(defaults.auth),
            rate_limit: self.rate_limit.or(defaults.rate_limit),
            timeout: self.timeout.or(defaults.timeout),
            fallback: self.fallback.or(defaults.fallback),
            balance: self.balance.or(defaults.balance),
            detect_after: self.detect_after.or(defaults.detect_after),
        }
    }
}

/// Both tables name the six fields alike: one reading of them for both.
macro_rules! features_of {
    ($table:expr) => {
        Features {
            auth: $table.auth.as_ref(),
            rate_limit: $table.rate_limit,
            timeout: $table.timeout,
            fallback: $table.fallback.as_ref(),
            balance: $table.balance,
            detect_after: $table.detect_after,
        }
    };
}

impl GatewayConfig {
    /// The gateway-wide defaults.
    pub fn features(&self) -> Features<'_> {
        features_of!(self)
    }

    /// What function `f` runs with: its own settings over the gateway's.
    pub fn features_for<'a>(&'a self, f: &'a FunctionConfig) -> Features<'a> {
        f.features().or(self.features())
    }
}

impl FunctionConfig {
    /// The function's own settings, none inherited.
    pub fn features(&self) -> Features<'_> {
        features_of!(self)
    }
}

/// Versions a function may have (the stable one and its canaries); the gateway sizes its weight
/// tables by it.
pub const MAX_VERSIONS: usize = 16;

/// A `[gateway]` setting that is not allowed; `field` is its dotted path within the table.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("gateway config: `{field}` {message}")]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}
