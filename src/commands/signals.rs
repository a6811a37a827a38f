//! Stopping on request: every long-running command (run, gateway, proxy) ends on Ctrl-C, SIGTERM
//! (what `kill PID` and Kubernetes send) or SIGHUP (a closed terminal or SSH session), so all three
//! must be heard the same way: a run that stops must still remove the faults it applied.

/// The three stop signals, listened for from the moment this is made. A server command makes it
/// before it prints that it is listening: a supervisor (or a test) that reads that line and sends
/// SIGTERM at once must get the graceful stop, and tokio installs a handler only when its signal
/// stream is made — before that SIGTERM's default action kills the process, with nothing removed.
pub struct StopSignals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    /// Installs the handlers now (inside a runtime).
    pub fn listen() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let streams = match (signal(SignalKind::interrupt()), signal(SignalKind::terminate()), signal(SignalKind::hangup())) {
                (Ok(int), Ok(term), Ok(hup)) => Some((int, term, hup)),
                _ => None,
            };
            StopSignals { streams }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// Resolves on the next Ctrl-C, SIGTERM or SIGHUP since `listen`.
    pub async fn recv(self) {
        #[cfg(unix)]
        if let Some((mut int, mut term, mut hup)) = self.streams {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Resolves on the next Ctrl-C, SIGTERM or SIGHUP (handlers installed when first polled).
pub async fn stop_signal() {
    StopSignals::listen().recv().await
}
