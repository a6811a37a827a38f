//! The `skyload` binary: parse the command line, dispatch, map errors to exit codes.

use clap::Parser;
use skyload::cli::{Cli, Command};
use skyload::{commands, exit};

fn main() {
    skyload::load::memory::no_huge_pages();
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let result = match &cli.command {
        Command::Run(a) => commands::run::run(a),
        Command::Merge(a) => commands::merge::run(a),
        Command::K8s(a) => commands::k8s::run(a),
        Command::Validate(a) => commands::validate::run(a),
        Command::Gateway(a) => commands::gateway::run(a),
        Command::Compare(a) => commands::compare::run(a),
        Command::Capacity(a) => commands::capacity::run(a),
        Command::Proxy(a) => commands::proxy::run(a),
        Command::Report(a) => commands::report::run(a),
        Command::Invoke(a) => commands::invoke::run(a),
        Command::Faults(a) => commands::faults::run(a),
    };
    let code = match result {
        Ok(()) => exit::OK,
        Err(e) => {
            if let Some(m) = e.message() {
                skyload::errln!("error: {m}");
            }
            e.exit_code()
        }
    };
    std::process::exit(code);
}

/// `-v` info, `-vv` debug, `-vvv` trace; `RUST_LOG` wins when set. Logs go to stderr.
fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour codes only for a person at a terminal: in CI logs and files they are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| skyload::out::LogWriter).with_target(false).with_ansi(ansi).init();
}

/// mimalloc: the hot path allocates a little per request (hyper's request/response plumbing), and
/// glibc's malloc was a measurable share of the generator's CPU time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
