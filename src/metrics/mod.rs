//! Live metrics: the run's counters and latency histograms served to Prometheus while it runs.
//!
//! `live` folds the collector's closed seconds into cumulative series; `expo` writes the text
//! and OpenMetrics expositions (the gateway's `/metrics` uses it too); `server` is the small HTTP
//! endpoint. Publishing happens once a second on the collector's thread, never on the hot path.

pub mod expo;
pub mod live;
pub mod server;

pub use live::Live;
pub use server::MetricsServer;

/// `promtool check metrics` over an exposition, when Prometheus's promtool is installed (CI
/// installs it, see scripts/ci-deps.sh); says so loudly and passes when it is not.
#[cfg(test)]
pub(crate) mod promtool {
    use std::io::Write;
    use std::process::{Command, Stdio};

    pub fn check(text: &str) {
        let child = Command::new("promtool").args(["check", "metrics"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
        let Ok(mut child) = child else {
            eprintln!("SKIPPED: promtool is not installed (Debian package `prometheus`); the exposition was not linted");
            return;
        };
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write to promtool");
        let out = child.wait_with_output().expect("promtool runs");
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics: {said}\n--- exposition ---\n{text}");
    }
}
