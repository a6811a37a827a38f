//! The raw scenario model: serde structs that only parse. Every field a later check looks at is
//! `Spanned`, so `resolve` can point at the exact line and column of a bad value; nothing here
//! judges a value beyond its TOML type (ripgrep's lowargs/hiargs split: parse here, decide there).

use super::gateway_config::GatewayConfig;
use crate::units::HumanDuration;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// A `{ name = "value" }` table of headers, names with their spans.
pub type RawHeaders = BTreeMap<Spanned<String>, Spanned<String>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<Spanned<String>>,
    pub description: Option<String>,
    pub seed: Option<Spanned<u64>>,
    pub threads: Option<Spanned<i64>>,
    pub pod_header: Option<Spanned<String>>,
    pub labels: Option<Spanned<Vec<Spanned<String>>>>,
    pub max_in_flight: Option<Spanned<i64>>,
    pub max_lag: Option<Spanned<HumanDuration>>,
    pub pacer: Option<Spanned<String>>,
    pub target: Option<Spanned<RawTarget>>,
    pub connections: Option<Spanned<RawConnections>>,
    pub stages: Option<Spanned<Vec<Spanned<RawStage>>>>,
    pub requests: Option<Spanned<Vec<Spanned<RawRequest>>>>,
    #[serde(default)]
    pub feeders: Vec<Spanned<RawFeeder>>,
    #[serde(default)]
    pub outcomes: Vec<Spanned<RawOutcome>>,
    #[serde(default)]
    pub faults: Vec<Spanned<RawFault>>,
    /// Not `Spanned`: toml 0.8 cannot wrap a table whose first entry is a dotted sub-table
    /// (`[gateway.functions.hello]`) in `Spanned`; `resolve` finds the table's position itself.
    pub gateway: Option<GatewayConfig>,
    /// `[checks]`, `[[windows]]`, `[capacity]`: resolved by `check_lang::spec` (the check language lives in scenario).
    pub checks: Option<Spanned<super::checks::RawChecks>>,
    #[serde(default)]
    pub windows: Vec<Spanned<super::checks::RawWindow>>,
    pub capacity: Option<Spanned<super::checks::RawCapacity>>,
    /// `[metrics]`: resolved by `scenario::metrics`.
    pub metrics: Option<Spanned<super::metrics::RawMetrics>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub url: Option<Spanned<String>>,
    pub embedded: Option<Spanned<bool>>,
    pub timeout: Option<Spanned<HumanDuration>>,
    /// curl's --connect-timeout: TCP connect plus TLS handshake.
    pub connect_timeout: Option<Spanned<HumanDuration>>,
    pub headers: Option<RawHeaders>,
    /// `tls = { cacert = "ca.pem", insecure = false, cert = "...", key = "...", server_name = "..." }`.
    pub tls: Option<Spanned<super::tls::RawTls>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnections {
    pub max: Option<Spanned<i64>>,
    pub http2: Option<bool>,
    pub h2_streams: Option<Spanned<i64>>,
    pub max_requests: Option<Spanned<i64>>,
    pub max_age: Option<Spanned<HumanDuration>>,
    pub per_request: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    pub name: Option<Spanned<String>>,
    pub rate: Option<Spanned<f64>>,
    pub ramp_to: Option<Spanned<f64>>,
    pub from: Option<Spanned<f64>>,
    pub steps: Option<Spanned<Vec<Spanned<f64>>>>,
    pub duration: Option<Spanned<HumanDuration>>,
    pub step_duration: Option<Spanned<HumanDuration>>,
    pub arrivals: Option<RawArrivals>,
    pub checks: Option<Spanned<Vec<Spanned<String>>>>,
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
    pub name: Option<Spanned<String>>,
    pub weight: Option<Spanned<i64>>,
    pub method: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub headers: Option<RawHeaders>,
    pub body: Option<Spanned<String>>,
    pub checks: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeeder {
    pub name: Spanned<String>,
    pub file: Spanned<String>,
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
    pub name: Spanned<String>,
    pub status: Option<Spanned<RawStatus>>,
    pub header: Option<Spanned<String>>,
    pub equals: Option<Spanned<String>>,
    pub body_contains: Option<Spanned<String>>,
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
    pub name: Option<Spanned<String>>,
    pub at: Spanned<HumanDuration>,
    #[serde(rename = "for")]
    pub duration: Spanned<HumanDuration>,
    pub kind: Spanned<String>,
    pub pod: Option<Spanned<String>>,
    pub function: Option<Spanned<String>>,
    pub proxy: Option<Spanned<String>>,
    pub latency: Option<Spanned<HumanDuration>>,
    pub jitter: Option<Spanned<HumanDuration>>,
    pub status: Option<Spanned<i64>>,
    pub percent: Option<Spanned<f64>>,
    pub rate_kbps: Option<Spanned<i64>>,
    pub delay: Option<Spanned<HumanDuration>>,
    pub toxic: Option<Spanned<String>>,
    pub stream: Option<Spanned<String>>,
    pub toxicity: Option<Spanned<f64>>,
    pub attributes: Option<Spanned<toml::Table>>,
    pub api: Option<Spanned<String>>,
    pub control_url: Option<Spanned<String>>,
    pub start: Option<Spanned<String>>,
    pub stop: Option<Spanned<String>>,
    pub command_timeout: Option<Spanned<HumanDuration>>,
    pub expect: Option<Spanned<Vec<Spanned<String>>>>,
    pub recover_within: Option<Spanned<HumanDuration>>,
    pub recovered_when: Option<Spanned<Vec<Spanned<String>>>>,
}
