//! `skyload validate FILE...`: builds each scenario's Plan without sending anything, so a CI job or
//! an editor can check files cheaply. One line per file; exit 0 when all are fine, 2 otherwise.

use crate::cli::ValidateArgs;
use super::error::{CliError, CliResult};
use crate::scenario::{self, Plan};
use crate::units::HumanDuration;
use std::io::Write;
use std::time::Duration;

pub fn run(args: &ValidateArgs) -> CliResult {
    let mut ok = true;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for file in &args.files {
        match scenario::load_file(file) {
            Ok(plan) => match scenario::bounds::check(&plan, scenario::bounds::raise_fd_limit()) {
                Ok(()) => writeln!(out, "ok  {}  ({})", file.display(), summary(&plan))?,
                Err(msg) => {
                    ok = false;
                    // The message starts with the file and line of the field.
                    crate::errln!("error: {msg}");
                }
            },
            Err(e) => {
                ok = false;
                out.flush()?;
                crate::errln!("error: {e}");
            }
        }
    }
    if ok {
        Ok(())
    } else {
        Err(CliError::UsageReported)
    }
}

/// `3 stages, 1m30s total, 27000 requests, peak 600 rps`.
pub fn summary(plan: &Plan) -> String {
    let n = plan.stages.len();
    let peak = plan.peak_rate();
    let peak = if peak.fract() == 0.0 { format!("{peak:.0}") } else { format!("{peak:.1}") };
    let requests = plan.expected_requests().round();
    format!(
        "{n} stage{}, {} total, {requests:.0} request{}, peak {peak} rps",
        if n == 1 { "" } else { "s" },
        total(plan.total_duration()),
        if requests == 1.0 { "" } else { "s" }
    )
}

/// A schedule length as people write it: `45s`, `1m30s`, `2h05m`, `1500ms`.
fn total(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_nanos() != 0 || s < 60 {
        HumanDuration(d).to_string()
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals() {
        for (secs, want) in [(45.0, "45s"), (90.0, "1m30s"), (1.5, "1500ms"), (7505.0, "2h05m05s")] {
            assert_eq!(total(Duration::from_secs_f64(secs)), want);
        }
    }
}
