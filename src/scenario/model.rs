//! The raw scenario model: serde structs that only parse. Every field a later check looks at is
//! `Spanned`, so `resolve` can point at the exact line and column of a bad value; nothing here
//! judges a value beyond its TOML type (ripgrep's lowargs/hiargs split: parse here, decide there).

use crate::gateway::GatewayConfig;
use crate::units::HumanDuration;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// `Spanned<T>`, shortened: nearly every field is one.
pub type S<T> = Spanned<T>;

/// A `{ name = "value" }` table of headers, names with their spans.
pub type RawHeaders = BTreeMap<S<String>, S<String>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<S<String>>,
    pub description: Option<String>,
    pub seed: Option<S<u64>>,
    pub threads: Option<S<i64>>,
    pub pod_header: Option<S<String>>,
    pub labels: Option<S<Vec<S<String>>>>,
    pub max_in_flight: Option<S<i64>>,
    pub max_lag: Option<S<HumanDuration>>,
    pub target: Option<S<RawTarget>>,
    pub connections: Option<S<RawConnections>>,
    pub stages: Option<S<Vec<S<RawStage>>>>,
    pub requests: Option<S<Vec<S<RawRequest>>>>,
    #[serde(default)]
    pub feeders: Vec<S<RawFeeder>>,
    #[serde(default)]
    pub outcomes: Vec<S<RawOutcome>>,
    #[serde(default)]
    pub faults: Vec<S<RawFault>>,
    /// Not `Spanned`: toml 0.8 cannot wrap a table whose first entry is a dotted sub-table
    /// (`[gateway.functions.hello]`) in `Spanned`; `resolve` finds the table's position itself.
    pub gateway: Option<GatewayConfig>,
    /// `[checks]`, `[[windows]]`, `[capacity]`: resolved by `verify::spec`.
    pub checks: Option<S<super::checks::RawChecks>>,
    #[serde(default)]
    pub windows: Vec<S<super::checks::RawWindow>>,
    pub capacity: Option<S<super::checks::RawCapacity>>,
    /// `[metrics]`: resolved by `scenario::metrics`.
    pub metrics: Option<S<super::metrics::RawMetrics>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub url: Option<S<String>>,
    pub embedded: Option<S<bool>>,
    pub timeout: Option<S<HumanDuration>>,
    pub headers: Option<RawHeaders>,
    /// `tls = { cacert = "ca.pem", insecure = false, cert = "...", key = "...", server_name = "..." }`.
    pub tls: Option<S<super::tls::RawTls>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnections {
    pub max: Option<S<i64>>,
    pub http2: Option<bool>,
    pub h2_streams: Option<S<i64>>,
    pub max_requests: Option<S<i64>>,
    pub max_age: Option<S<HumanDuration>>,
    pub per_request: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    pub name: Option<S<String>>,
    pub rate: Option<S<f64>>,
    pub ramp_to: Option<S<f64>>,
    pub from: Option<S<f64>>,
    pub steps: Option<S<Vec<S<f64>>>>,
    pub duration: Option<S<HumanDuration>>,
    pub step_duration: Option<S<HumanDuration>>,
    pub arrivals: Option<RawArrivals>,
    pub checks: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawArrivals {
    Uniform,
    Poisson,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    pub name: Option<S<String>>,
    pub weight: Option<S<i64>>,
    pub method: Option<S<String>>,
    pub path: Option<S<String>>,
    pub headers: Option<RawHeaders>,
    pub body: Option<S<String>>,
    pub checks: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeeder {
    pub name: S<String>,
    pub file: S<String>,
    pub mode: Option<RawFeedMode>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawFeedMode {
    Cycle,
    Random,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutcome {
    pub name: S<String>,
    pub status: Option<S<RawStatus>>,
    pub header: Option<S<String>>,
    pub equals: Option<S<String>>,
    pub body_contains: Option<S<String>>,
}

/// `status = 200`, `status = [200, 201]` or `status = "5xx"`: checked in `resolve`.
#[derive(Debug, Clone, PartialEq)]
pub enum RawStatus {
    Codes(Vec<i64>),
    Class(String),
}

impl<'de> Deserialize<'de> for RawStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawStatus;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a status code (200), a list of codes ([200, 201]) or a class (\"5xx\")")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawStatus, E> {
                Ok(RawStatus::Codes(vec![v]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawStatus, E> {
                Ok(RawStatus::Class(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawStatus, A::Error> {
                let mut codes = Vec::new();
                while let Some(c) = seq.next_element::<i64>()? {
                    codes.push(c);
                }
                Ok(RawStatus::Codes(codes))
            }
        }
        d.deserialize_any(V)
    }
}

/// One `[[faults]]` entry: checked in `faults.rs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub name: Option<S<String>>,
    pub at: S<HumanDuration>,
    #[serde(rename = "for")]
    pub duration: S<HumanDuration>,
    pub kind: S<String>,
    pub pod: Option<S<String>>,
    pub function: Option<S<String>>,
    pub proxy: Option<S<String>>,
    pub latency: Option<S<HumanDuration>>,
    pub jitter: Option<S<HumanDuration>>,
    pub status: Option<S<i64>>,
    pub percent: Option<S<f64>>,
    pub rate_kbps: Option<S<i64>>,
    pub delay: Option<S<HumanDuration>>,
    pub toxic: Option<S<String>>,
    pub stream: Option<S<String>>,
    pub toxicity: Option<S<f64>>,
    pub attributes: Option<S<toml::Table>>,
    pub api: Option<S<String>>,
    pub control_url: Option<S<String>>,
    pub start: Option<S<String>>,
    pub stop: Option<S<String>>,
    pub command_timeout: Option<S<HumanDuration>>,
    pub expect: Option<S<Vec<S<String>>>>,
    pub recover_within: Option<S<HumanDuration>>,
    pub recovered_when: Option<S<Vec<S<String>>>>,
}
