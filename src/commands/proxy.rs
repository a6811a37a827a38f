//! `skyload proxy`: serve the fault proxy's Toxiproxy-compatible REST API, optionally creating the
//! proxies of a `populate` file first, until Ctrl-C or SIGTERM; then remove every proxy so nothing
//! keeps listening.

use super::signals::StopSignals;
use crate::cli::ProxyArgs;
use super::error::{CliError, CliResult};
use crate::fault::proxy::{Options, ProxyError, ProxyHandle};
use crate::fault::toxiproxy::NewProxy;
use crate::gateway::tls::GatewayTls;
use std::net::SocketAddr;

/// Builds a small runtime (the proxy moves bytes; two workers are plenty), serves until a stop
/// signal, and returns the exit code.
pub fn run(args: &ProxyArgs) -> CliResult {
    let listen: SocketAddr = match args.listen.parse() {
        Ok(a) => a,
        Err(_) => {
            return Err(CliError::Usage(format!("--listen `{}` is not an address such as 127.0.0.1:8474", args.listen)));
        }
    };
    let initial: Vec<NewProxy> = match &args.config {
        None => Vec::new(),
        Some(path) => {
            let parsed = std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|text| serde_json::from_slice(&text).map_err(|e| e.to_string()));
            match parsed {
                Ok(p) => p,
                Err(e) => {
                    return Err(CliError::Usage(format!("{}: {e}\n  (a populate file is a JSON array of {{\"name\", \"listen\", \"upstream\"}} objects)", path.display())));
                }
            }
        }
    };
    if args.control_token.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(CliError::Usage("--control-token is empty: give a token, or leave it out for an open API (as Toxiproxy's)".into()));
    }
    if !listen.ip().is_loopback() && args.control_token.is_none() {
        crate::errln!("warning: the API listens on {listen}, not loopback, with no --control-token: anyone who can reach it can add faults and proxies");
    }
    let tls_setting = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => GatewayTls::Files { cert: cert.clone(), key: key.clone() },
        _ => GatewayTls::Generate(args.tls),
    };
    let tls = match crate::gateway::tls::server_alpn(&tls_setting, &[b"http/1.1"]) {
        Ok(t) => t,
        Err(e) => {
            let flag = match e.field {
                "tls.cert" => "--cert",
                "tls.key" => "--key",
                _ => "--tls",
            };
            return Err(CliError::Usage(format!("{flag}: {}", e.message)));
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        let options = Options { allow_remote: args.allow_remote, control_token: args.control_token.clone() };
        let ca_pem = tls.as_ref().and_then(|t| t.ca_pem.clone());
        // Before anything is printed: whoever reads the API line may send SIGTERM at once.
        let stop = StopSignals::listen();
        let handle = match ProxyHandle::start_tls(options, listen, initial, tls.map(|t| t.acceptor)).await {
            Ok(h) => h,
            Err(e @ ProxyError::Populate(_)) => {
                return Err(CliError::Usage(e.to_string()));
            }
            Err(e) => {
                return Err(CliError::RunFailed(e.to_string()));
            }
        };
        crate::outln!("skyload proxy: Toxiproxy API on {}", handle.base_url());
        // Held until the proxy stops, then removed.
        let _ca_file = match ca_pem.map(|pem| crate::gateway::tls::write_ca(&pem, handle.addr.port())) {
            Some(Ok(f)) => {
                crate::outln!("  TLS with a certificate made now; its CA is in {} (trust it with --cacert {0})", f.path.display());
                Some(f)
            }
            Some(Err(e)) => {
                handle.shutdown().await;
                return Err(CliError::RunFailed(format!("cannot write the API's CA certificate: {e}")));
            }
            None => None,
        };
        for p in &handle.initial {
            let state = if p.enabled { "" } else { " (disabled)" };
            crate::outln!("  {}  {} -> {}{state}", p.name, p.listen, p.upstream);
        }
        if handle.initial.is_empty() {
            crate::outln!("  no proxies yet: POST /proxies or /populate (e.g. with toxiproxy-cli, or skyload's fault timeline)");
        }
        crate::outln!("Ctrl-C to stop.");
        stop.recv().await;
        handle.shutdown().await;
        crate::outln!("proxy stopped; all proxies removed");
        Ok(())
    })
}
