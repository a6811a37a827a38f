//! Command-line definitions (clap derive) and nothing else: each subcommand's behaviour lives in
//! `commands/`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "skyload",
    version,
    about = "Open-loop load testing and fault drills for serverless functions behind an API gateway",
    long_about = "skyload sends requests at their scheduled times whether or not earlier ones returned \
(open loop), measures latency from each request's intended start (no coordinated omission), keeps \
every number in HDR histograms and writes a Results directory (summary.json, timeseries.csv, \
latency.hlog) that other tools read.\n\nStart with:  skyload run scenarios/quickstart.toml",
    after_help = "Exit codes: 0 all checks pass, 1 a check failed, 2 bad scenario or usage, 3 the run could not be carried out."
)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario file, or a quick one-request test from flags (--url, --rate, --duration).
    Run(RunArgs),
    /// Check a scenario file without sending anything; errors name file:line:column.
    Validate(ValidateArgs),
    /// Find the maximum sustainable rate: step the rate up, judge each step by the scenario's checks, bisect.
    Capacity(CapacityArgs),
    /// Compare two results directories; exit 1 on a regression beyond the tolerances.
    Compare(CompareArgs),
    /// Make the HTML report again from saved results; with several directories, a comparison
    /// (the first is the baseline, the last the current run).
    Report(ReportArgs),
    /// Serve the embedded reference gateway and simulated pods, for pointing other tools at it.
    Gateway(GatewayArgs),
    /// Serve the fault proxy: TCP proxies with toxics, driven through Toxiproxy's REST API.
    Proxy(ProxyArgs),
    /// Merge the Results of shards (or of merges) into one Results directory, exactly.
    Merge(MergeArgs),
    /// Write Kubernetes manifests that run a scenario as N shards and merge their Results.
    K8s(K8sArgs),
    /// One request (or -n in sequence), shown in full: status, headers, body, pod and a timing
    /// breakdown (DNS, connect, TLS, first byte). Exit 0 for 2xx/3xx, 1 otherwise, 3 if it could not connect.
    Invoke(InvokeArgs),
    /// Faults left behind by runs that did not finish (kill -9, OOM, lost runner): list or clear.
    Faults(FaultsArgs),
}

/// Outputs for CI, shared by run, compare and capacity.
#[derive(Debug, Args, Clone, Default)]
pub struct GateArgs {
    /// Write a JUnit XML report (one testcase per check) to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the verdict as JSON (checks, status, exit code) to this file.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// Scenario file (TOML). Optional when --url is given.
    pub scenario: Option<PathBuf>,
    /// Target base URL (overrides the scenario's target); with no scenario, the URL to load.
    #[arg(long)]
    pub url: Option<String>,
    /// Constant request rate per second (overrides the scenario's stages).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Run duration such as 30s or 2m (overrides the scenario's stages' duration).
    #[arg(long)]
    pub duration: Option<String>,
    /// HTTP method for a quick run (-X as in curl and `skyload invoke`; -m still works).
    #[arg(long, short = 'X', short_alias = 'm', visible_alias = "request")]
    pub method: Option<String>,
    /// Extra header "Name: value"; repeatable.
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// Request body for a quick run (--data, as in curl and `skyload invoke`).
    #[arg(long, short = 'd', visible_alias = "data")]
    pub body: Option<String>,
    /// Maximum number of connections to the target.
    #[arg(long, short = 'c')]
    pub connections: Option<usize>,
    /// Use HTTP/2 (prior knowledge over cleartext; over TLS, offer only h2 in ALPN).
    #[arg(long)]
    pub http2: bool,
    /// Results directory (default reports/<scenario>-<UTC timestamp>/).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Run only shard I of N: the arrivals whose sequence number is I mod N (e.g. 0/4).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Second 0 of the schedule, shared by all shards: RFC 3339 or unix seconds. Waits until then;
    /// refused if more than 1 s in the past.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// No live progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Compare with this baseline results directory at the end; a regression exits 1.
    #[arg(long, value_name = "DIR")]
    pub baseline: Option<PathBuf>,
    /// Tolerance for --baseline such as "p99 +10%" or "rate -2%"; repeatable (default: the scenario's [checks] tolerances).
    #[arg(long = "tolerance", value_name = "T")]
    pub tolerances: Vec<String>,
    #[command(flatten)]
    pub gate: GateArgs,
    /// Empty a non-empty --out directory first (only one that holds nothing but an earlier run).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Serve live Prometheus metrics at http://ADDR/metrics while the run lasts: host:port, or a
    /// port alone for loopback (overrides `[metrics] listen`).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// After the run, keep serving metrics until a scrape has read the final values, at most this long (e.g. 30s).
    #[arg(long, value_name = "DURATION")]
    pub metrics_linger: Option<String>,
    /// Send a W3C traceparent with every request and keep the slowest and first failed requests
    /// with their trace ids (slow.csv, the report, metrics exemplars); same as `[metrics] trace = true`.
    #[arg(long)]
    pub trace: bool,
    /// How arrivals are paced: sleep (no CPU while waiting; lag is the OS's wake-up lateness) or
    /// precise (wakes early and spins: µs lag, CPU per arrival). Overrides the scenario's `pacer`.
    #[arg(long, value_name = "sleep|precise")]
    pub pacer: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct CompareArgs {
    /// Results directory of the baseline run.
    pub baseline: PathBuf,
    /// Results directory of the run to judge.
    pub current: PathBuf,
    /// Tolerance such as "p99 +10%", "rate -2%", "p99 +5ms", "error_rate +0.1pp"; repeatable.
    #[arg(long = "tolerance", short = 't', value_name = "T")]
    pub tolerances: Vec<String>,
    /// Take the tolerances from this scenario's [checks] tolerances.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    #[command(flatten)]
    pub gate: GateArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct CapacityArgs {
    /// Scenario file: its requests, target and checks (the SLO each step must keep).
    pub scenario: PathBuf,
    /// Target base URL (overrides the scenario's target).
    #[arg(long)]
    pub url: Option<String>,
    /// First step's rate (rps).
    #[arg(long)]
    pub start: Option<f64>,
    /// Add this many rps per step (instead of --factor).
    #[arg(long, conflicts_with = "factor")]
    pub step: Option<f64>,
    /// Multiply the rate by this per step.
    #[arg(long)]
    pub factor: Option<f64>,
    /// Highest rate to try (rps).
    #[arg(long)]
    pub max: Option<f64>,
    /// How long each step up holds its rate, e.g. 5s.
    #[arg(long)]
    pub hold: Option<String>,
    /// How long each bisection step holds, e.g. 3s.
    #[arg(long)]
    pub bisect_hold: Option<String>,
    /// Stop bisecting when the bracket is within this fraction, e.g. 0.05.
    #[arg(long)]
    pub precision: Option<f64>,
    /// Declared pod count (default: pods seen through pod_header).
    #[arg(long)]
    pub pods: Option<usize>,
    /// Peak requests per second to plan pods for.
    #[arg(long)]
    pub peak_qps: Option<f64>,
    /// Headroom factor for the plan, e.g. 1.3.
    #[arg(long)]
    pub headroom: Option<f64>,
    /// Output directory (default reports/<scenario>-capacity-<UTC timestamp>/).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub gate: GateArgs,
    /// Holds of the answer that must all keep the SLO before it is reported (0: report it unconfirmed).
    #[arg(long)]
    pub confirm: Option<u32>,
    /// Length of each confirmation hold (e.g. 30s).
    #[arg(long)]
    pub confirm_hold: Option<String>,
    /// How many times the first failing rate is run again before the boundary is believed.
    #[arg(long)]
    pub retests: Option<u32>,
    /// Sub-window length each step is also judged over (whole seconds, e.g. 1s).
    #[arg(long)]
    pub window: Option<String>,
    /// Share of a step's sub-windows that must keep the SLO (1 = every one).
    #[arg(long)]
    pub consistency: Option<f64>,
    /// Empty a non-empty --out directory first (only one that holds nothing but an earlier run or search).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ValidateArgs {
    /// Scenario files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct GatewayArgs {
    /// Gateway configuration file (TOML); a scenario file with a [gateway] table also works.
    /// (-f: `-c` is the connection count everywhere, as in wrk and hey.)
    #[arg(long, short = 'f')]
    pub config: PathBuf,
    /// Address to listen on. Loopback by default; anything else must be asked for.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
}

#[derive(Debug, Args, Clone)]
pub struct MergeArgs {
    /// Results directories to merge (shards of one run, or earlier merges of them).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where to write the merged Results (must not be one of the inputs).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct K8sArgs {
    /// Scenario file to run; it is put into a ConfigMap as it is.
    pub scenario: PathBuf,
    /// Number of shards (pods of the Indexed Job).
    #[arg(long)]
    pub shards: u32,
    /// Container image holding the skyload binary (see the Dockerfile).
    #[arg(long)]
    pub image: String,
    /// Common start time of all shards (RFC 3339 or unix seconds); default now + --lead.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// With no --start-at: how far ahead of now the shards start (time to apply, pull and schedule).
    #[arg(long, default_value = "2m")]
    pub lead: String,
    /// Name prefix of every object.
    #[arg(long, default_value = "skyload")]
    pub name: String,
    /// Kubernetes namespace.
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// Use this existing ReadWriteMany PersistentVolumeClaim for Results instead of creating one.
    #[arg(long, value_name = "NAME")]
    pub claim: Option<String>,
    /// Size of the PersistentVolumeClaim created for Results.
    #[arg(long, default_value = "1Gi")]
    pub storage: String,
    /// Storage class of the created claim (it must support ReadWriteMany).
    #[arg(long)]
    pub storage_class: Option<String>,
    /// Extra arguments for every shard's `skyload run` (e.g. --url http://gateway.prod:8080); repeatable.
    #[arg(long = "run-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub run_args: Vec<String>,
    /// Directory to write the manifests into (created); `-` prints them all to stdout.
    #[arg(long, short = 'o', default_value = "-")]
    pub out: String,
    /// Overwrite manifests already in the -o directory (without it a file that exists is refused).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ProxyArgs {
    /// Address of the REST API (Toxiproxy's port by default). Loopback unless told otherwise.
    #[arg(long, default_value = "127.0.0.1:8474")]
    pub listen: String,
    /// Proxies to create at start: a JSON array as for `POST /populate` (-f, as for the gateway).
    #[arg(long, short = 'f')]
    pub config: Option<PathBuf>,
    /// Let proxies listen on non-loopback addresses (anyone who reaches such a port reaches the upstream).
    #[arg(long)]
    pub allow_remote: bool,
    /// Require `Authorization: Bearer TOKEN` on every API call (stock Toxiproxy clients send none,
    /// so it is off unless given; skyload runs send $SKYLOAD_CONTROL_TOKEN).
    #[arg(long, env = "SKYLOAD_CONTROL_TOKEN", hide_env_values = true)]
    pub control_token: Option<String>,
    /// Serve the API over HTTPS with a certificate made at start (its CA is written to a new file,
    /// printed). The proxies pass TLS between client and upstream through untouched.
    #[arg(long)]
    pub tls: bool,
    /// Serve the API over HTTPS with this certificate chain (PEM); needs --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// Results directories: one for a report, several for a comparison (first = baseline).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Output file (default DIR/report.html, or CURRENT/compare.html for a comparison).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
}

/// TLS and connection flags (curl's names), shared by run and invoke.
#[derive(Debug, Args, Clone, Default)]
pub struct TlsArgs {
    /// Trust the CAs in this PEM bundle instead of the system's roots (https:// targets).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Do not verify the server's certificate (printed loudly and recorded in the Results).
    #[arg(long, short = 'k')]
    pub insecure: bool,
    /// Client certificate chain (PEM) for mutual TLS; needs --key.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Name to send in SNI and to check in the certificate, when the URL has an address or another name.
    #[arg(long, visible_alias = "server-name", value_name = "NAME")]
    pub servername: Option<String>,
    /// Use HTTP/1.1 only (over TLS, offer only http/1.1 in ALPN).
    #[arg(long = "http1.1")]
    pub http1: bool,
    /// Use these addresses for host:port instead of DNS, as curl: host:port:addr[,addr...]; repeatable.
    #[arg(long, value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<String>,
}

impl TlsArgs {
    pub fn to_flags(&self) -> crate::scenario::tls::ConnectFlags {
        crate::scenario::tls::ConnectFlags {
            cacert: self.cacert.clone(),
            insecure: self.insecure,
            cert: self.cert.clone(),
            key: self.key.clone(),
            servername: self.servername.clone(),
            http1: self.http1,
            resolve: self.resolve.clone(),
        }
    }
}

#[derive(Debug, Args, Clone, Default)]
pub struct InvokeArgs {
    /// The URL to call, http:// or https://.
    pub url: String,
    /// HTTP method (default GET, or POST with -d).
    #[arg(long = "request", short = 'X', value_name = "METHOD")]
    pub method: Option<String>,
    /// Header "Name: value"; repeatable.
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// Request body; @FILE reads it from a file.
    #[arg(long = "data", short = 'd', visible_alias = "data-binary", value_name = "DATA")]
    pub data: Option<String>,
    /// Send the request this many times in sequence (on one connection when it is kept alive).
    #[arg(short = 'n', default_value_t = 1)]
    pub count: u32,
    /// Use HTTP/2 (prior knowledge over cleartext; over TLS, offer only h2 in ALPN).
    #[arg(long)]
    pub http2: bool,
    /// Response header naming the pod that answered.
    #[arg(long, default_value = "x-pod")]
    pub pod_header: String,
    /// Show at most this many bytes of the body.
    #[arg(long, default_value_t = 4096)]
    pub max_body: usize,
    /// Give up on a request after this long (e.g. 10s).
    #[arg(long, default_value = "10s")]
    pub timeout: String,
    /// Print one JSON object (per request) instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
}

#[derive(Debug, Args, Clone)]
pub struct FaultsArgs {
    #[command(subcommand)]
    pub action: FaultsAction,
}

#[derive(Debug, Subcommand, Clone)]
pub enum FaultsAction {
    /// Show the fault journals in the state directory (runs still going are marked).
    List,
    /// Remove the faults of runs that are no longer running; exit 1 when some could not be removed.
    Clear {
        /// Bearer token for a gateway's control API (else $SKYLOAD_CONTROL_TOKEN).
        #[arg(long, env = "SKYLOAD_CONTROL_TOKEN", hide_env_values = true)]
        control_token: Option<String>,
    },
}
