//! The `skyload` binary: parse the command line, dispatch, map errors to exit codes.

use clap::Parser;
use skyload::cli::{Cli, Command};
use skyload::{commands, exit};

fn main() {
    skyload::load::memory::no_huge_pages();
    small_heap();
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

/// mimalloc's options for a small resident set, set here (not by the user, who may still override
/// each with its `MIMALLOC_*` variable). Freed memory goes back to the OS at once instead of after
/// mimalloc's 1 s purge delay: each second's histograms are freed as the next second's are made,
/// and with the delay both were resident. Arena memory is committed as it is used, not ahead.
/// Together -2 to -3 MiB of max RSS at 100,000/s with no measurable CPU cost (docs/performance.md).
fn small_heap() {
    // The option numbers of mimalloc v3's `mi_option_t` (libmimalloc-sys 0.1.49, mimalloc.h).
    const ARENA_EAGER_COMMIT: i32 = 4;
    const PURGE_DELAY: i32 = 15;
    extern "C" {
        fn mi_option_set(option: i32, value: std::ffi::c_long);
    }
    for (option, name, value) in [(PURGE_DELAY, "MIMALLOC_PURGE_DELAY", 0), (ARENA_EAGER_COMMIT, "MIMALLOC_ARENA_EAGER_COMMIT", 0)] {
        if std::env::var_os(name).is_none() {
            // SAFETY: sets one integer option of the allocator this binary links; both options
            // are read on each use, so a change after start-up takes effect from then on.
            unsafe { mi_option_set(option, value) };
        }
    }
}
