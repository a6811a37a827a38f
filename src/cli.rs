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
    /// Serve the embedded reference gateway and simulated pods, for pointing other tools at it.
    Gateway(GatewayArgs),
    /// Make the HTML report again from saved results; with several directories, a comparison
    /// (the first is the baseline, the last the current run).
    Report(ReportArgs),
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
    /// HTTP method for a quick run.
    #[arg(long, short = 'm')]
    pub method: Option<String>,
    /// Extra header "Name: value"; repeatable.
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// Request body for a quick run.
    #[arg(long, short = 'd')]
    pub body: Option<String>,
    /// Maximum number of connections to the target.
    #[arg(long, short = 'c')]
    pub connections: Option<usize>,
    /// Use HTTP/2 (prior knowledge over cleartext).
    #[arg(long)]
    pub http2: bool,
    /// Results directory (default reports/<scenario>-<UTC timestamp>/).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// No live progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
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
    #[arg(long, short = 'c')]
    pub config: PathBuf,
    /// Address to listen on. Loopback by default; anything else must be asked for.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
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
