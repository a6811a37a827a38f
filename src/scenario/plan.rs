//! The resolved, validated Plan: pure data that the runner executes. Nothing here parses or does I/O;
//! `scenario::load` builds a Plan from a file (or from CLI flags) and every field is already checked,
//! so the engine never has to handle a bad value mid-run.

use super::gateway_config::GatewayConfig;
use http::{HeaderName, Method};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Plan {
    /// Scenario name (file stem unless the file sets `name`); used in the results directory name.
    pub name: String,
    pub description: Option<String>,
    /// The file the plan came from, if any.
    pub source_path: Option<PathBuf>,
    /// The scenario as run, in TOML: copied into the Results so a run can be reproduced. For a
    /// flag-built plan this is a generated scenario equivalent to the flags.
    pub source_text: String,
    pub target: Target,
    /// Whole-request timeout (connect + send + response + body).
    pub timeout: Duration,
    pub connections: ConnectionPlan,
    pub stages: Vec<Stage>,
    /// Weighted request mix; at least one entry, every weight > 0.
    pub requests: Vec<RequestPlan>,
    pub feeders: Vec<Feeder>,
    /// Ordered outcome rules; the first that matches names the outcome. Unmatched: 2xx/3xx → `ok`,
    /// anything else → `error`.
    pub matchers: Vec<Matcher>,
    /// Lower-case response header naming the serving pod (e.g. `x-pod`).
    pub pod_header: Option<HeaderName>,
    /// Response headers whose values are counted per second and in total (e.g. `x-fn-version` for a
    /// canary split, `x-cold-start`); at most `MAX_LABELS`.
    pub labels: Vec<HeaderName>,
    /// Requests waiting for or holding a connection; an arrival beyond this is dropped.
    pub max_in_flight: usize,
    /// Opt-in: a request that would be sent later than this after its intended time is dropped
    /// instead. `Duration::MAX` (the default) never drops.
    pub max_lag: Duration,
    /// How each generator thread waits for an arrival's instant (`pacer = "sleep" | "precise"`).
    pub pacer: super::pacing::PacerKind,
    /// Seed for Poisson arrivals, `{{rand_int}}`, `{{uuid}}`, random feeders and the request mix.
    pub seed: u64,
    /// Generator threads (each drives an interleaved share of the schedule); None = one per 25,000/s
    /// of peak rate, at most one per core (`load::runner::default_threads`).
    pub threads: Option<usize>,
    /// Faults on a timeline; may overlap.
    pub faults: Vec<FaultPlan>,
    /// Checks, windows, abort rules, tolerances and capacity settings (`[checks]`, ...).
    pub verify: super::check_lang::VerifyPlan,
    /// `[metrics]`: live Prometheus endpoint and tracing.
    pub metrics: super::metrics::MetricsPlan,
}

/// Label headers one run can count: the recorder keeps a fixed-size array of them per request, so
/// the format refuses more.
pub const MAX_LABELS: usize = 8;

#[derive(Debug, Clone)]
pub enum Target {
    Url(TargetUrl),
    /// Start the embedded reference gateway on 127.0.0.1:0 with this config and load it.
    Embedded(GatewayConfig),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl {
    /// `http` (cleartext HTTP/1.1 or HTTP/2 prior knowledge) or `https` (TLS, ALPN).
    pub scheme: String,
    pub host: String,
    pub port: u16,
    /// `host:port` as sent in the Host header / :authority.
    pub authority: String,
    /// Path prefix from the URL without a trailing slash (`""` for `http://h:1/`); request paths are appended.
    pub base_path: String,
}

impl TargetUrl {
    pub fn to_url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority, self.base_path)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionPlan {
    /// Maximum TCP connections to the target.
    pub max: usize,
    pub http2: bool,
    /// Concurrent streams per HTTP/2 connection the generator will use.
    pub h2_streams: usize,
    /// Close a connection after this many requests (churn, so a load balancer spreads load).
    pub max_requests: Option<u64>,
    /// Close a connection once it is this old (checked before each request).
    pub max_age: Option<Duration>,
    /// A new connection for every request (no keep-alive).
    pub per_request: bool,
    /// Force HTTP/1.1 (`--http1.1`): over TLS only `http/1.1` is offered in ALPN.
    pub http1: bool,
    /// How an `https://` target is verified and who we are to it (`[target] tls`, `--cacert`, ...).
    pub tls: TlsSettings,
    /// `--resolve host:port:addr`: addresses used instead of asking DNS, as curl does.
    pub resolve: Vec<ResolveOverride>,
    /// `target.connect_timeout` / `--connect-timeout`: a TCP connect plus TLS handshake that takes
    /// longer ends the request as a `connect` failure (None: only the whole-request timeout).
    pub connect_timeout: Option<Duration>,
}

/// TLS settings of an `https://` target. Paths are already checked to hold what they should.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM bundle of CAs to trust instead of the system roots (curl's `--cacert`).
    pub cacert: Option<PathBuf>,
    /// Skip verification of the server certificate (recorded in the Results, shown loudly).
    pub insecure: bool,
    /// Client certificate chain and key for mutual TLS.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// SNI and the name the certificate must carry, when it is not the URL's host (testing a
    /// gateway by address or before DNS is switched).
    pub server_name: Option<String>,
}

/// One `--resolve host:port:addr[,addr...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveOverride {
    pub host: String,
    pub port: u16,
    pub addrs: Vec<std::net::IpAddr>,
}

/// Connections are opened only as arrivals find every one busy, so a high cap costs nothing until
/// the target slows down; then it keeps the load open-loop. The runner lowers it to fit the
/// open-file limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

impl Default for ConnectionPlan {
    fn default() -> Self {
        ConnectionPlan {
            max: DEFAULT_MAX_CONNECTIONS,
            http2: false,
            h2_streams: 100,
            max_requests: None,
            max_age: None,
            per_request: false,
            http1: false,
            tls: TlsSettings::default(),
            resolve: Vec::new(),
            connect_timeout: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub name: String,
    pub duration: Duration,
    pub shape: StageShape,
    pub arrivals: Arrivals,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StageShape {
    /// `rate = N`: N requests per second throughout.
    Constant { rate: f64 },
    /// `ramp_to = N`: linear from `from` (the previous stage's final rate, or `from =`, or 0) to `to`.
    Ramp { from: f64, to: f64 },
    /// `steps = [a, b, c]`: the stage's duration split into equal steps at those constant rates.
    Steps { rates: Vec<f64> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrivals {
    /// Evenly spaced, as wrk2 does.
    #[default]
    Uniform,
    /// Exponential gaps with the stage's (possibly changing) rate: an inhomogeneous Poisson process.
    Poisson,
}

#[derive(Debug, Clone)]
pub struct RequestPlan {
    pub name: String,
    pub weight: u32,
    pub method: Method,
    /// Path and query appended to the target's base path; must start with `/` once rendered.
    pub path: Template,
    /// Default headers already merged in (the request's own win); names are valid header names.
    pub headers: Vec<(HeaderName, Template)>,
    pub body: Option<Template>,
}

/// A string with `{{...}}` placeholders, parsed once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Lit(String),
    /// A feeder column: `{{user_id}}` or `{{users.user_id}}`.
    Var { feeder: usize, column: usize },
    /// `{{seq}}`: the request's sequence number in the run's schedule (0-based, unique across threads).
    Seq,
    /// `{{uuid}}`: a random version-4 UUID.
    Uuid,
    /// `{{rand_int A B}}`: a uniform integer in A..=B.
    RandInt(i64, i64),
    /// `{{trace_id}}`: the 32 hex digits of the request's W3C trace id, a function of (seed, seq)
    /// (`record::trace_id`): with tracing on, the id its `traceparent` carries, so a request id or
    /// body field can name the same request in systems that do not read Trace Context.
    TraceId,
}

impl Template {
    pub fn literal(s: impl Into<String>) -> Self {
        Template { parts: vec![Part::Lit(s.into())] }
    }
    /// The literal text when the template has no placeholders (lets the engine prebuild it).
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }
    /// Feeders this template draws from (so one row per feeder is picked per request).
    pub fn feeders(&self) -> impl Iterator<Item = usize> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { feeder, .. } => Some(*feeder),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feeder {
    pub name: String,
    pub columns: Vec<String>,
    /// At least one row; every row has `columns.len()` fields.
    pub rows: Vec<Vec<String>>,
    pub mode: FeedMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FeedMode {
    /// Rows in order, wrapping around.
    #[default]
    Cycle,
    /// A uniformly random row each time.
    Random,
}

/// One outcome rule. Every condition given must hold (AND); at least one condition is given.
#[derive(Debug, Clone, PartialEq)]
pub struct Matcher {
    /// Outcome name: lower-case `[a-z0-9_]+`, not one of the transport outcomes.
    pub outcome: String,
    pub status: Option<StatusMatch>,
    pub header: Option<HeaderMatch>,
    /// The response body contains this text (the body is read up to 64 KiB for matching).
    pub body_contains: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusMatch {
    /// Any of these codes.
    Codes(Vec<u16>),
    /// A class: 2 for `2xx`, 4 for `4xx`, ...
    Class(u8),
}

impl StatusMatch {
    pub fn matches(&self, status: u16) -> bool {
        match self {
            StatusMatch::Codes(c) => c.contains(&status),
            StatusMatch::Class(k) => status / 100 == *k as u16,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HeaderMatch {
    pub name: HeaderName,
    /// None: the header is present (any value).
    pub equals: Option<String>,
}

/// Something done to the system under test at `at` for `duration`, and what must hold meanwhile.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    pub name: String,
    /// From the start of the schedule.
    pub at: Duration,
    pub duration: Duration,
    pub action: FaultAction,
    /// Checks that must hold inside the fault's window (check expressions, e.g. `ratio(fallback) >= 0.95`).
    pub expect: Vec<String>,
    /// After the fault ends, error rate and p99 must be back inside the run's SLO within this long.
    pub recover_within: Option<Duration>,
}

impl FaultPlan {
    pub fn end(&self) -> Duration {
        self.at + self.duration
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// Through the gateway's control API (`/_control/`).
    Gateway { control: ControlEndpoint, scope: GatewayScope, fault: GatewayFault },
    /// A toxic on a proxy served with Toxiproxy's REST API (`skyload proxy` or Toxiproxy itself).
    Toxic { api: String, proxy: String, toxic: ToxicSpec },
    /// A start and a stop shell command (e.g. `kubectl delete pod ...`).
    Exec { start: String, stop: Option<String>, timeout: Duration },
}

impl FaultAction {
    /// One line for tables: what is done to what.
    pub fn describe(&self) -> String {
        match self {
            FaultAction::Gateway { scope, fault, .. } => {
                let what = match fault {
                    GatewayFault::Kill => "kill".to_string(),
                    // As the rest of the terminal writes durations (`+40.0ms`, not `+40ms ±0ns`).
                    GatewayFault::Latency { add, jitter } if jitter.is_zero() => format!("latency +{}", crate::units::format_duration(*add)),
                    GatewayFault::Latency { add, jitter } => format!("latency +{} ±{}", crate::units::format_duration(*add), crate::units::format_duration(*jitter)),
                    GatewayFault::Errors { rate, status } => format!("{status} for {:.0}% of requests", rate * 100.0),
                };
                let target = match scope {
                    GatewayScope::Pod(p) => format!("pod {p}"),
                    GatewayScope::Function(f) => format!("function {f}"),
                };
                format!("{what} on {target}")
            }
            // The attributes say how much (a `latency` toxic of 150 ms, a 10% `http_abort`): without
            // them the fault table of a proxy drill reads `latency (downstream)`, with no size.
            FaultAction::Toxic { proxy, toxic, .. } => {
                // Zero attributes are the defaults (`jitter=0`) and only crowd the table.
                let mut parts: Vec<String> = toxic.attributes.as_object().into_iter().flatten().filter(|(_, v)| v.as_f64() != Some(0.0)).map(|(k, v)| format!("{k}={v}")).collect();
                parts.push(toxic.stream.clone());
                if toxic.toxicity < 1.0 {
                    parts.push(format!("toxicity {}", toxic.toxicity));
                }
                format!("{} ({}) on proxy {proxy}", toxic.kind, parts.join(", "))
            }
            FaultAction::Exec { start, .. } => format!("exec `{start}`"),
        }
    }
}

/// Where the gateway's control API is: the embedded gateway (known once it runs) or a URL.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlEndpoint {
    Embedded,
    Url(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum GatewayScope {
    Pod(String),
    Function(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum GatewayFault {
    Kill,
    Latency { add: Duration, jitter: Duration },
    /// A fraction (0..=1] of requests answered with `status`.
    Errors { rate: f64, status: u16 },
}

/// A Toxiproxy toxic: `type`, `stream`, `toxicity` and its attributes as Toxiproxy expects them.
#[derive(Debug, Clone, PartialEq)]
pub struct ToxicSpec {
    pub kind: String,
    pub stream: String,
    pub toxicity: f64,
    pub attributes: serde_json::Value,
}
