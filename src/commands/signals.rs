//! Stopping on request: every long-running command (run, gateway, proxy) ends on Ctrl-C, SIGTERM
//! (what `kill PID` and Kubernetes send) or SIGHUP (a closed terminal or SSH session), so all three
//! must be heard the same way: a run that stops must still remove the faults it applied.

/// Resolves on the next Ctrl-C, SIGTERM or SIGHUP.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
