//! `skyload gateway`: serve the embedded reference gateway and its simulated pods so other tools
//! (wrk, curl, a browser, another skyload) can be pointed at it. Reads a bare gateway config or a
//! scenario's `[gateway]` table, serves until Ctrl-C, and says where and what it serves.

use super::signals::StopSignals;
use crate::cli::GatewayArgs;
use super::error::{CliError, CliResult};
use crate::gateway::{self, GatewayConfig, GatewayError};
use std::net::SocketAddr;

/// Builds its own tokio runtime (one worker per CPU this process may run on, so `taskset -c 0` gives
/// a one-thread gateway), serves until Ctrl-C, and returns the exit code.
pub fn run(args: &GatewayArgs) -> CliResult {
    let config = match GatewayConfig::from_file(&args.config) {
        Ok(c) => c,
        Err(e) => {
            return Err(CliError::Usage(match e {
                GatewayError::At { .. } | GatewayError::Read { .. } => format!("{e}\n  (see docs/gateway.md for the format)"),
                e => format!("{e}\n  (in {}; see docs/gateway.md for the format)", args.config.display()),
            }));
        }
    };
    let listen: SocketAddr = match args.listen.parse() {
        Ok(a) => a,
        Err(_) => {
            return Err(CliError::Usage(format!("--listen `{}` is not an address such as 127.0.0.1:8080", args.listen)));
        }
    };
    if !listen.ip().is_loopback() && config.control && config.control_token.is_none() {
        return Err(CliError::Usage(format!("--listen {listen} is reachable beyond this machine, and the control API (kill pods, inject faults) \
             would be open to anyone: set control_token in {}, or control = false, or listen on 127.0.0.1", args.config.display())));
    }
    if !listen.ip().is_loopback() {
        crate::errln!(
            "warning: listening on {listen}, not loopback: anyone who can reach it can call the functions{}",
            if config.control && config.control_token.is_none() {
                " and drive the control API (set control_token)"
            } else {
                ""
            }
        );
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        // Before the listening line is printed: whoever reads it may send SIGTERM at once.
        let stop = StopSignals::listen();
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(source) => {
                return Err(CliError::RunFailed(format!("{}", GatewayError::Bind { addr: listen, source })));
            }
        };
        let addr = listener.local_addr()?;
        let tls = match config.tls.as_ref().map(gateway::tls::server).transpose() {
            Ok(t) => t.flatten(),
            Err(e) => {
                return Err(CliError::Usage(e.to_string()));
            }
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        crate::outln!("skyload gateway listening on {scheme}://{addr} ({threads} worker thread(s))");
        // Held until the gateway stops, then removed.
        let _ca_file = match tls.as_ref().and_then(|t| t.ca_pem.as_deref()).map(|pem| gateway::tls::write_ca(pem, addr.port())) {
            Some(Ok(f)) => {
                crate::outln!("  TLS with a certificate made now; its CA is in {} (curl --cacert {0}, skyload --cacert {0})", f.path.display());
                Some(f)
            }
            Some(Err(e)) => {
                return Err(CliError::RunFailed(format!("cannot write the gateway's CA certificate: {e}")));
            }
            None => None,
        };
        for line in gateway::describe(&config) {
            crate::outln!("  {line}");
        }
        if config.metrics {
            crate::outln!("  metrics:  {scheme}://{addr}/metrics");
        }
        if config.control {
            crate::outln!(
                "  control:  {scheme}://{addr}/_control/functions{}",
                if config.control_token.is_some() {
                    " (bearer token required)"
                } else {
                    ""
                }
            );
        }
        crate::outln!("Ctrl-C to stop.");
        let shutdown = stop.recv();
        match gateway::serve_tls(listener, config, tls, shutdown).await {
            Ok(()) => {
                crate::outln!("gateway stopped");
                Ok(())
            }
            Err(e @ GatewayError::Config { .. }) => {
                Err(CliError::Usage(e.to_string()))
            }
            Err(e) => {
                Err(CliError::RunFailed(e.to_string()))
            }
        }
    })
}
