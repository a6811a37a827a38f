//! Stopping on request: every long-running command (run, gateway, proxy) ends on Ctrl-C or on
//! SIGTERM (what `kill PID` and Kubernetes send), so both must be heard the same way.

/// Resolves on the first Ctrl-C or SIGTERM.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
