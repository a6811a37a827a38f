//! Command-line definitions (clap derive) and nothing else: each subcommand's behaviour lives in
//! `commands/`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

mod values;
use values::{count, Decimal, Redirs};

#[derive(Debug, Parser)]
#[command(
    name = "skyload",
    version,
    about = "Open-loop load testing and fault drills for serverless functions behind an API gateway",
    long_about = "skyload sends requests at their scheduled times whether or not earlier ones returned \
(open loop), measures latency from each request's intended start (no coordinated omission), keeps \
every number in HDR histograms and writes a Results directory (summary.json, timeseries.csv, \
latency.hlog) that other tools read.\n\nStart with:  skyload run scenarios/quickstart.toml\n\
(the demo: 30 s against the embedded gateway, nothing to set up). `skyload help COMMAND` explains \
each command with examples; README.md and docs/ hold the rest.",
    after_help = "Examples:
  skyload run scenarios/quickstart.toml                 the demo against the embedded gateway
  skyload gateway --config scenarios/gateways/demo.toml  serves 127.0.0.1:8080 for the next two
  skyload run --url http://127.0.0.1:8080/fn/echo --rate 200 --duration 30s
  skyload invoke http://127.0.0.1:8080/fn/hello -H 'authorization: Bearer demo-token'
  skyload validate scenarios/*.toml                     check scenario files, send nothing

Exit codes: 0 all checks pass, 1 a check failed, 2 bad scenario or usage, 3 the run could not be \
carried out, 4 `capacity` only: the search's tries disagreed (an unstable band, not a number)."
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
    #[command(after_help = "Examples:
  skyload run scenarios/quickstart.toml
  skyload run --url http://127.0.0.1:8080/fn/hello --rate 200 --duration 30s -H 'authorization: Bearer demo-token'
  skyload run --url http://127.0.0.1:8080/fn/echo --rate 50 --duration 10s -d '{\"a\":1}'
  skyload run scenarios/quickstart.toml --rate 300 --duration 10s
  skyload run scenarios/ci-gate.toml -q -o reports/current --junit reports/junit.xml
  skyload run --url http://127.0.0.1:8080/fn/echo --rate 100 --duration 10s --connect-timeout 500ms
  skyload run --url http://127.0.0.1:8080/fn/echo --rate 100 --duration 10s --check 'p99 < 50ms'

Without a file, --url, --rate and --duration are required; the method is GET, or POST with -d \
(as in curl). Results go to reports/<name>-<UTC time>/ (summary.json, timeseries.csv, \
latency.hlog, report.html). How flags override a file: docs/scenarios.md, \"Command-line flags\". \
The 127.0.0.1:8080 examples run against `skyload gateway --config scenarios/gateways/demo.toml` \
(its `hello` needs the bearer token shown, `echo` is public).

Exit codes: 0 the run completed and every check passed, 1 a check failed (or a --baseline \
regression), 2 bad scenario or flag (nothing was sent), 3 the run could not be carried out \
(target unreachable, interrupted, aborted, skyload failed; the results so far are kept).")]
    Run(RunArgs),
    /// Check scenario files without sending anything; errors name file:line:column.
    #[command(after_help = "Examples:
  skyload validate scenarios/quickstart.toml
  skyload validate scenarios/*.toml

Each valid file gets a line with its stages, total duration, requests and peak rate; each mistake \
names file:line:column, the field, the bad value and what is allowed. Feeder files are read too. \
Exit codes: 0 every file is valid, 2 otherwise.")]
    Validate(ValidateArgs),
    /// Find the maximum sustainable rate: step the rate up, judge each step by the scenario's checks, bisect.
    #[command(after_help = "Examples:
  skyload capacity scenarios/ci-gate.toml
  skyload capacity scenarios/quickstart.toml --check 'p99 < 100ms' --check 'error_rate < 1%'
  skyload capacity scenarios/ci-gate.toml --start 200 --step 100 --max 1000 --confirm 0

The scenario's [checks] run (and request) checks and any --check are the SLO every step must keep; its requests \
are sent at one constant rate per step. A flag not given takes the scenario's [capacity] value, \
else the default shown. Writes capacity.json, one Results directory per step and report.html \
(docs/checks.md, docs/checks-and-capacity.md).

Exit codes: 0 every [capacity] target met, 1 a target missed or no rate kept the SLO, 2 bad \
scenario or flag (also: no checks), 3 the target could not be reached, 4 the search's tries \
disagreed (an unstable band, not a number).")]
    Capacity(CapacityArgs),
    /// Compare two results directories; exit 1 on a regression beyond the tolerances.
    #[command(after_help = "Examples:
  skyload compare reports/baseline reports/current
  skyload compare reports/baseline reports/current -t \"p99 +10%\" -t \"rate -2%\"

Tolerances: + bounds a rise, - a fall; % is relative to the baseline; absolute amounts take \
us/ms/s for latency, rps for rates, pp (percentage points) for ratios. A latency change under \
1 ms is never a regression (docs/ci.md).

Exit codes: 0 no regression, 1 a regression, a run that did not complete (interrupted, aborted, \
failed, killed) or a current run in which every request failed, 2 bad flag or a \
directory that is not a skyload Results directory.")]
    Compare(CompareArgs),
    /// Make the HTML report again from saved results; with several directories, a comparison
    /// (the first is the baseline, the last the current run).
    #[command(after_help = "Examples:
  skyload report reports/quickstart-20261201T085512Z     writes its report.html again
  skyload report reports/base-run reports/new-run        writes reports/new-run/compare.html
  skyload report reports/base-run reports/new-run -o review.html

The report is one self-contained HTML file (no network needed to view it). -o replaces only an \
earlier skyload report. Exit codes: 0 written, 2 not a Results directory or a refused -o.")]
    Report(ReportArgs),
    /// Serve the embedded reference gateway and simulated pods, for pointing other tools at it.
    #[command(after_help = "Examples:
  skyload gateway --config scenarios/gateways/demo.toml          serves http://127.0.0.1:8080
  skyload gateway --config scenarios/quickstart.toml --listen 127.0.0.1:9000
  curl -H 'Authorization: Bearer demo-token' 127.0.0.1:8080/fn/hello

Serves until Ctrl-C. The configuration format and the control API: docs/gateway.md.")]
    Gateway(GatewayArgs),
    /// Serve the fault proxy: TCP proxies with toxics, driven through Toxiproxy's REST API.
    #[command(after_help = "Examples:
  skyload proxy                                          API on 127.0.0.1:8474
  skyload proxy --config scenarios/proxies/example.json
  curl -XPOST 127.0.0.1:8474/proxies \\
    -d '{\"name\":\"up\",\"listen\":\"127.0.0.1:26003\",\"upstream\":\"127.0.0.1:9001\"}'

Serves until Ctrl-C, then removes every proxy. Routes and toxics: docs/drills.md, \"Fault proxy\".")]
    Proxy(ProxyArgs),
    /// Merge the Results of shards (or of merges) into one Results directory, exactly.
    #[command(after_help = "Examples:
  skyload merge r/shard-0 r/shard-1 r/shard-2 r/shard-3 --out r/merged
  skyload merge r/shard-* --out r/merged --junit reports/junit.xml --summary-json reports/gate.json

Histograms add losslessly; each second's percentiles are recomputed. Directories of another \
scenario, start time, shard count or schedule flags (--rate, --duration) are refused (exit 2). \
The scenario's checks are then judged on the merged Results, at the whole run's rates (k/N of \
them when only k of N shards are merged), with the stages the shards ran (docs/sharding.md).

Exit codes: 0 every check passed, 1 a check failed, 2 bad input (nothing judged), 3 a shard did \
not run to its end (interrupted, aborted, failed).")]
    Merge(MergeArgs),
    /// Write Kubernetes manifests that run a scenario as N shards and merge their Results.
    #[command(after_help = "Example:
  skyload k8s scenarios/ci-gate.toml --shards 8 --image registry.example/skyload:0.1 -o k8s/ \\
      --run-arg=--url --run-arg=http://api-gateway.prod.svc:8080
  kubectl apply -f k8s/

Details: docs/sharding.md, \"Running on Kubernetes\".")]
    K8s(K8sArgs),
    /// One request (or -n in sequence), shown in full: status, headers, body, pod and a timing
    /// breakdown (DNS, connect, TLS, first byte). Exit 0 for 2xx/3xx, 1 otherwise, 3 if it could not connect.
    #[command(after_help = "Examples:
  skyload invoke http://127.0.0.1:8080/fn/hello -H 'authorization: Bearer demo-token'
  skyload invoke http://127.0.0.1:8080/fn/echo -d @payload.json -H 'content-type: application/json'
  skyload invoke https://127.0.0.1:8443/fn/hello --cacert ca.pem -n 3 --json
  skyload invoke http://127.0.0.1:8080/fn/report -o report.pdf     the body to a file
  skyload invoke http://127.0.0.1:8080/fn/echo -o - | jq .          the body alone on stdout
  skyload invoke http://10.0.0.7:8080/fn/hello --connect-timeout 500ms
  skyload invoke http://127.0.0.1:8080/old -L -w '%{http_code} %{num_redirects} %{time_total}\\n' -s

Headers whose names look secret are shown as <redacted>. With -L, Authorization, Cookie and other \
secret-looking -H headers are not sent to a host other than the first URL's unless \
--location-trusted (as curl). Exit codes: 0 a 2xx/3xx answer, 1 any other status, 2 bad flag or \
URL, 3 no connection, no answer within --timeout, or more than --max-redirs redirects.")]
    Invoke(InvokeArgs),
    /// Faults left behind by runs that did not finish (kill -9, OOM, lost runner): list or clear.
    #[command(after_help = "Examples:
  skyload faults list
  skyload faults clear

A run journals each fault it applies; the gateway and the proxy also undo a fault whose lease \
is not renewed (about 10 s). Details: docs/safety.md.")]
    Faults(FaultsArgs),
}

/// Outputs for CI, shared by run, compare and capacity.
#[derive(Debug, Args, Clone, Default)]
pub struct GateArgs {
    /// Write a JUnit XML report (one testcase per check) to this file (an existing one is replaced
    /// only if skyload wrote it).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the verdict as JSON (checks, status, exit code) to this file (same rule).
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// Scenario file (TOML). Optional when --url is given.
    pub scenario: Option<PathBuf>,
    /// Target base URL (overrides the scenario's target); with no scenario, the URL to load
    /// (path and query included).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Constant request rate per second (overrides the scenario's stages).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = Decimal)]
    pub rate: Option<f64>,
    /// Run duration such as 30s or 2m (with a file: cuts or extends its schedule to this length).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub duration: Option<String>,
    /// HTTP method of every request (default: the scenario's; a quick run's is GET, or POST with
    /// -d; -X as in curl).
    #[arg(long, short = 'X', visible_alias = "request", value_name = "METHOD")]
    pub method: Option<String>,
    /// Header "Name: value" on every request, replacing one of the same name; repeatable.
    #[arg(long = "header", short = 'H', value_name = "HEADER")]
    pub headers: Vec<String>,
    /// Body of every request (--data, as in curl; templates such as {{seq}} work); @FILE reads
    /// it from a file (at most 1 MiB).
    #[arg(long, short = 'd', visible_aliases = ["data", "data-binary"], value_name = "BODY")]
    pub body: Option<String>,
    /// Maximum number of connections to the target, opened as needed (default: the scenario's
    /// `[connections] max`, else 10000, lowered to fit the open-file limit).
    #[arg(long, short = 'c', value_name = "N", allow_negative_numbers = true, value_parser = count::<usize>("the number of TCP connections", 1, Some(crate::scenario::bounds::MAX_CONNECTIONS as u64)))]
    pub connections: Option<usize>,
    /// Generator threads (wrk's -t, spelled out: `-t` is compare's tolerance; default: the
    /// scenario's `threads`, else one per 25,000 requests/s of peak rate, at most one per core).
    /// Overrides the scenario's `threads`.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count::<usize>("the number of generator threads", 1, Some(crate::scenario::bounds::MAX_THREADS as u64)))]
    pub threads: Option<usize>,
    /// Use HTTP/2 (prior knowledge over cleartext; over TLS, offer only h2 in ALPN).
    #[arg(long)]
    pub http2: bool,
    /// Results directory, new or empty (default reports/<scenario>-<UTC timestamp>/).
    #[arg(long, short = 'o', value_name = "DIR")]
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
    /// A whole-run check such as "p99 < 50ms" or "error_rate < 1%", added to the scenario's
    /// [checks] run; repeatable (the check language: docs/checks.md).
    #[arg(long = "check", value_name = "CHECK")]
    pub checks: Vec<String>,
    /// Compare with this baseline results directory at the end; a regression exits 1.
    #[arg(long, value_name = "DIR")]
    pub baseline: Option<PathBuf>,
    /// Tolerance for --baseline such as "p99 +10%" or "rate -2%"; repeatable (default: the scenario's
    /// [checks] tolerances, else p50 +10%, p99 +10%, rate -2%, error_rate +0.1pp).
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
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub metrics_linger: Option<String>,
    /// Send a W3C traceparent with every request and keep the slowest and first failed requests
    /// with their trace ids (slow.csv, the report, metrics exemplars); same as `[metrics] trace = true`.
    #[arg(long)]
    pub trace: bool,
    /// How arrivals are paced: precise (the default: wakes early and spins, µs lag for some CPU
    /// per arrival at low and middle rates) or sleep (no CPU while waiting; lag is the OS's
    /// wake-up lateness, ~0.1 ms p99 on a VM). Overrides the scenario's `pacer`.
    #[arg(long, value_name = "sleep|precise")]
    pub pacer: Option<String>,
    /// Whole-request timeout such as 2s: connect, send, response and body (overrides
    /// `target.timeout`; default 10s). A request that takes longer is a `timeout` outcome.
    #[arg(long, short = 'm', visible_alias = "max-time", value_name = "DURATION", allow_hyphen_values = true)]
    pub timeout: Option<String>,
    /// Give up on a connection whose TCP connect plus TLS handshake takes longer than this, e.g.
    /// 500ms (curl's --connect-timeout; overrides `target.connect_timeout`; at most --timeout).
    /// Such a request ends as a `connect` failure.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub connect_timeout: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct CompareArgs {
    /// Results directory of the baseline run.
    pub baseline: PathBuf,
    /// Results directory of the run to judge.
    pub current: PathBuf,
    /// Tolerance such as "p99 +10%", "rate -2%", "p99 +5ms", "error_rate +0.1pp"; repeatable
    /// (default: --scenario's [checks] tolerances, else p50 +10%, p99 +10%, rate -2%, error_rate +0.1pp).
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
    /// A check every step must keep, such as "p99 < 100ms" or "error_rate < 1%", added to the
    /// scenario's [checks] run (its SLO); repeatable. Needed when the scenario has no checks.
    #[arg(long = "check", value_name = "CHECK")]
    pub checks: Vec<String>,
    /// First step's rate in rps [scenario default: 100].
    #[arg(long, value_name = "RPS", allow_negative_numbers = true, value_parser = Decimal)]
    pub start: Option<f64>,
    /// Add this many rps per step (instead of --factor).
    #[arg(long, conflicts_with = "factor", value_name = "RPS", allow_negative_numbers = true, value_parser = Decimal)]
    pub step: Option<f64>,
    /// Multiply the rate by this per step [scenario default: 1.5].
    #[arg(long, value_name = "X", allow_negative_numbers = true, value_parser = Decimal)]
    pub factor: Option<f64>,
    /// Highest rate to try, in rps [scenario default: 100000].
    #[arg(long, value_name = "RPS", allow_negative_numbers = true, value_parser = Decimal)]
    pub max: Option<f64>,
    /// How long each step up holds its rate [scenario default: 5s].
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub hold: Option<String>,
    /// How long each bisection step holds [scenario default: 3s].
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub bisect_hold: Option<String>,
    /// Stop bisecting when the bracket is within this fraction [scenario default: 0.05].
    #[arg(long, value_name = "FRACTION", allow_negative_numbers = true, value_parser = Decimal)]
    pub precision: Option<f64>,
    /// Declared pod count (default: pods seen through pod_header).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count::<usize>("the number of pods", 1, Some(crate::scenario::bounds::MAX_PODS as u64)))]
    pub pods: Option<usize>,
    /// Peak requests per second to plan pods for (no plan without it).
    #[arg(long, value_name = "RPS", allow_negative_numbers = true, value_parser = Decimal)]
    pub peak_qps: Option<f64>,
    /// Headroom factor for the plan [scenario default: 1.3].
    #[arg(long, value_name = "X", allow_negative_numbers = true, value_parser = Decimal)]
    pub headroom: Option<f64>,
    /// Output directory, new or empty (default reports/<scenario>-capacity-<UTC timestamp>/).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub gate: GateArgs,
    /// Holds of the answer that must all keep the SLO before it is reported (0: report it
    /// unconfirmed) [scenario default: 3].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count::<u32>("holds that confirm the answer", 0, Some(crate::scenario::bounds::MAX_CONFIRM as u64)))]
    pub confirm: Option<u32>,
    /// Length of each confirmation hold [scenario default: 30s].
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub confirm_hold: Option<String>,
    /// How many times the first failing rate is run again before the boundary is believed
    /// [scenario default: 1].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count::<u32>("re-runs of the first failing rate", 0, Some(crate::scenario::bounds::MAX_RETESTS as u64)))]
    pub retests: Option<u32>,
    /// Sub-window length each step is also judged over, in whole seconds [scenario default: 1s].
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub window: Option<String>,
    /// Share of a step's sub-windows that must keep the SLO (1 = every one) [scenario default: 1].
    #[arg(long, value_name = "SHARE", allow_negative_numbers = true, value_parser = Decimal)]
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
    #[arg(long, short = 'f', value_name = "FILE")]
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
    /// A merge holding fewer shards than the run had (one step of a merge in stages, or a look at
    /// the shards that finished) is judged by its checks alone; without it such a merge exits 3,
    /// since the missing shards' load was never sent.
    #[arg(long)]
    pub allow_missing: bool,
    #[command(flatten)]
    pub gate: GateArgs,
}

#[derive(Debug, Args, Clone)]
pub struct K8sArgs {
    /// Scenario file to run; it is put into a Secret as it is (it may hold tokens), with its
    /// feeder files.
    pub scenario: PathBuf,
    /// Number of shards (pods of the Indexed Job).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count::<u32>("the number of shards", 1, Some(crate::k8s::MAX_JOB_SHARDS as u64)))]
    pub shards: u32,
    /// Container image holding the skyload binary (see the Dockerfile).
    #[arg(long)]
    pub image: String,
    /// Common start time of all shards (RFC 3339 or unix seconds); default now + --lead.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// With no --start-at: how far ahead of now the shards start (time to apply, pull and schedule).
    #[arg(long, default_value = "2m", value_name = "DURATION", allow_hyphen_values = true)]
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
    /// Output file (default DIR/report.html, or CURRENT/compare.html for a comparison); an
    /// existing file is replaced only if it is a skyload report.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// TLS and connection flags (curl's names), shared by run and invoke.
#[derive(Debug, Args, Clone, Default)]
pub struct TlsArgs {
    /// Trust the CAs in this PEM bundle instead of the system's roots (https:// targets).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Do not verify the server's certificate (printed loudly; a run also records it in its Results).
    #[arg(long, short = 'k')]
    pub insecure: bool,
    /// Client certificate chain (PEM) for mutual TLS; needs --key unless this file holds the key too (as curl).
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
    #[arg(long = "header", short = 'H', value_name = "HEADER")]
    pub headers: Vec<String>,
    /// Request body; @FILE reads it from a file.
    #[arg(long = "data", short = 'd', visible_alias = "data-binary", value_name = "DATA")]
    pub data: Option<String>,
    /// Send the request this many times in sequence (on one connection when it is kept alive).
    #[arg(short = 'n', default_value_t = 1, allow_negative_numbers = true, value_parser = count::<u32>("the number of requests", 1, None))]
    pub count: u32,
    /// Use HTTP/2 (prior knowledge over cleartext; over TLS, offer only h2 in ALPN).
    #[arg(long)]
    pub http2: bool,
    /// Response header naming the pod that answered.
    #[arg(long, default_value = "x-pod", value_name = "NAME")]
    pub pod_header: String,
    /// Show at most this many bytes of the body.
    #[arg(long, default_value_t = 4096, value_name = "BYTES", allow_negative_numbers = true, value_parser = count::<usize>("bytes of the body to show", 0, None))]
    pub max_body: usize,
    /// Give up on a request after this long (curl's --max-time).
    #[arg(long, short = 'm', visible_alias = "max-time", default_value = "10s", value_name = "DURATION", allow_hyphen_values = true)]
    pub timeout: String,
    /// Print one JSON object (per request) instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Write the response body, whole and byte for byte, to FILE instead of showing it (curl's
    /// -o); status, headers and timing are shown as usual. `-o -` writes the body to stdout and
    /// the rest to stderr. An existing FILE is refused unless --force.
    // Hidden alias `--out`: -o names where output goes in every command (tests/cli.rs holds shorts to one meaning).
    #[arg(long = "output", short = 'o', alias = "out", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace an existing -o FILE.
    #[arg(long)]
    pub force: bool,
    /// Give up when the TCP connect plus TLS handshake takes longer than this, e.g. 500ms (curl's
    /// --connect-timeout; at most --timeout). Exit 3, naming the address.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub connect_timeout: Option<String>,
    /// Follow redirects (curl's -L): 301/302/303 turn a POST into a GET without its body, 307/308
    /// keep both; a relative Location is resolved against the URL that answered. As curl, the
    /// Authorization and Cookie headers given with -H (here: every secret-looking header) are NOT
    /// sent to another scheme, host or port than the first URL's, unless --location-trusted.
    #[arg(long = "location", short = 'L')]
    pub location: bool,
    /// Like -L, and sends the secret -H headers (Authorization, Cookie, ...) to every host it is
    /// redirected to: only for hosts you trust with them.
    #[arg(long)]
    pub location_trusted: bool,
    /// With -L: follow at most N redirects (curl's default: 50); one more is an error, exit 3.
    /// -1: no limit, as curl, but a chain still stops at 1000 redirects (a loop would never end).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = Redirs)]
    pub max_redirs: Option<i64>,
    /// After each call, print FORMAT with curl's variables (%{http_code} %{time_total} ...; see
    /// docs/https.md), `\n` `\t` escapes and `%%`; @FILE reads it from a file. An unknown
    /// variable is an error listing the known ones. Never prints a header or body. Written also
    /// when no response came, as curl (%{http_code} is then 000).
    #[arg(long = "write-out", short = 'w', value_name = "FORMAT")]
    pub write_out: Option<String>,
    /// Show nothing of the call (status, headers, body, timing): only what -w writes, the body
    /// with -o -, and errors. The exit code still follows the status.
    #[arg(long, short = 's')]
    pub silent: bool,
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
    /// Processes an exec fault's commands left running are ended (SIGTERM, then SIGKILL). An exec
    /// fault whose start ran has its stop command shown (redacted) and run only with --yes (or a
    /// yes typed on a terminal), in the run's directory with this environment.
    Clear {
        /// Bearer token for a gateway's control API (else $SKYLOAD_CONTROL_TOKEN).
        #[arg(long, env = "SKYLOAD_CONTROL_TOKEN", hide_env_values = true)]
        control_token: Option<String>,
        /// Run dead runs' exec stop commands without asking (each is still printed, redacted).
        #[arg(long)]
        yes: bool,
        /// Also run the stop command of an exec fault whose run died before or while its start
        /// command ran (the start may not have run; check first).
        #[arg(long, conflicts_with = "dismiss")]
        stop_unconfirmed: bool,
        /// Drop exec faults whose run died before or while their start command ran, without
        /// running their stop command (after checking that nothing is left); each is printed.
        #[arg(long)]
        dismiss: bool,
    },
}

#[cfg(test)]
mod tests {
    /// Every duration flag takes a value starting with `-`, so `--timeout -1s` reaches the
    /// duration parser (which says it is negative) instead of clap's "unexpected argument '-1'";
    /// every numeric flag likewise takes `-5` as its value. A flag added later is held to it too.
    #[test]
    fn duration_and_number_flags_take_a_leading_minus_as_their_value() {
        let cli = <super::Cli as clap::CommandFactory>::command();
        let mut missing = Vec::new();
        let mut durations = 0;
        for sub in cli.get_subcommands() {
            for a in sub.get_arguments() {
                let names: Vec<String> = a.get_value_names().into_iter().flatten().map(|n| n.to_string()).collect();
                if names.iter().any(|n| n == "DURATION") {
                    durations += 1;
                    if !a.is_allow_hyphen_values_set() {
                        missing.push(format!("{} --{}", sub.get_name(), a.get_id()));
                    }
                }
            }
        }
        assert!(durations >= 11, "{durations} duration flags found");
        assert!(missing.is_empty(), "duration flags without allow_hyphen_values: {missing:?}");
        for args in [&["skyload", "run", "--timeout", "-1s"][..], &["skyload", "capacity", "s.toml", "--start", "-5"], &["skyload", "invoke", "u", "-n", "-1"]] {
            let r = <super::Cli as clap::Parser>::try_parse_from(args);
            if let Err(e) = &r {
                assert!(!e.to_string().contains("unexpected argument"), "{args:?}: {e}");
            }
        }
    }

    /// Every flag that takes a number refuses `-5` (when its type has no sign) by naming itself,
    /// the value as typed and its range, as `--timeout -1s` is refused; never clap's "invalid
    /// digit found in string". A flag added later is held to it too.
    #[test]
    fn a_negative_whole_number_names_the_flag_and_the_range() {
        let cli = <super::Cli as clap::CommandFactory>::command();
        let mut refused = Vec::new();
        for sub in cli.get_subcommands() {
            for a in sub.get_arguments().filter(|a| a.is_allow_negative_numbers_set()) {
                let flag = match (a.get_long(), a.get_short()) {
                    (Some(l), _) => format!("--{l}"),
                    (None, Some(c)) => format!("-{c}"),
                    _ => continue,
                };
                let Err(e) = sub.clone().try_get_matches_from([sub.get_name(), flag.as_str(), "-5"]) else { continue };
                if e.kind() == clap::error::ErrorKind::ValueValidation || e.kind() == clap::error::ErrorKind::InvalidValue {
                    let m = e.to_string();
                    assert!(m.starts_with(&format!("error: {flag}: `-5` is negative: ")) && m.contains("a whole number"), "{} {flag}: {m}", sub.get_name());
                    refused.push(flag);
                }
            }
        }
        for f in ["--connections", "--threads", "--pods", "--confirm", "--retests", "--shards", "-n", "--max-body", "--max-redirs"] {
            assert!(refused.iter().any(|r| r == f), "{f} not found among {refused:?}");
        }
    }

    /// Every decimal flag refuses `abc` and `1e400` naming itself and the value as typed; none is
    /// left with clap's "invalid float literal" (a flag added later is held to it too).
    #[test]
    fn a_decimal_flag_that_is_not_a_number_names_itself_and_the_value() {
        let cli = <super::Cli as clap::CommandFactory>::command();
        let mut refused = Vec::new();
        for sub in cli.get_subcommands() {
            for a in sub.get_arguments() {
                let Some(long) = a.get_long() else { continue };
                let flag = format!("--{long}");
                for bad in ["abc", "1e400"] {
                    let Err(e) = sub.clone().try_get_matches_from([sub.get_name(), flag.as_str(), bad]) else { continue };
                    let m = e.to_string();
                    assert!(!m.contains("invalid float literal"), "{} {flag}: {m}", sub.get_name());
                    if m.starts_with(&format!("error: {flag}: `{bad}` is not a")) && m.contains("such as 250 or 1.5") {
                        refused.push(format!("{} {flag} {bad}", sub.get_name()));
                    }
                }
            }
        }
        for f in ["run --rate", "capacity --start", "capacity --step", "capacity --factor", "capacity --max", "capacity --precision", "capacity --peak-qps", "capacity --headroom", "capacity --consistency"] {
            for bad in ["abc", "1e400"] {
                assert!(refused.iter().any(|r| *r == format!("{f} {bad}")), "{f} {bad} not refused by name: {refused:?}");
            }
        }
    }

    /// `skyload k8s --help` said the scenario went into a ConfigMap: it goes into a Secret (it may
    /// hold tokens), and a reader deciding who may see it needs the right word.
    #[test]
    fn k8s_help_says_the_scenario_goes_into_a_secret() {
        let mut cli = <super::Cli as clap::CommandFactory>::command();
        let help = cli.find_subcommand_mut("k8s").expect("k8s command").render_long_help().to_string();
        assert!(help.contains("into a Secret") && !help.contains("ConfigMap"), "{help}");
    }
}
