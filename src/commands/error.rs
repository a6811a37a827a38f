//! The one error type every command returns, and the only place its exit code is decided: `main`
//! prints the message (when the command has not already said it) and exits with `exit_code()`.
//! The codes are the CI contract of ARCHITECTURE.md ("Exit codes"), kept in `crate::exit`.

use crate::exit;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad scenario, flag or input; the message says what is allowed.
    #[error("{0}")]
    Usage(String),
    /// Bad input that the command has already described (e.g. `validate`, file by file).
    #[error("the input is not valid (said above)")]
    UsageReported,
    /// The run (or call, or server) could not be carried out; the message says what to do.
    #[error("{0}")]
    RunFailed(String),
    /// The run did not happen as planned (aborted, interrupted, a drill that failed, an
    /// unreachable target) and the command has already said how.
    #[error("the run did not complete as planned (said above)")]
    NotCompleted,
    /// A check failed; the verdict has been printed.
    #[error("a check failed (said above)")]
    ChecksFailed,
    /// `skyload capacity` only: the search's tries disagreed, and the band has been printed.
    #[error("the capacity search's tries disagreed (said above)")]
    Unstable,
    /// Anything else that stopped the command (I/O on the Results, a bug); printed with its causes.
    #[error("{0:#}")]
    Internal(#[from] anyhow::Error),
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Internal(e.into())
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        CliError::Internal(e.into())
    }
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::ChecksFailed => exit::CHECK_FAILED,
            CliError::Usage(_) | CliError::UsageReported => exit::USAGE,
            CliError::RunFailed(_) | CliError::NotCompleted | CliError::Internal(_) => exit::RUN_FAILED,
            CliError::Unstable => exit::UNSTABLE,
        }
    }

    /// The line `main` prints (`error: ...`), or None when the command has already said it.
    pub fn message(&self) -> Option<String> {
        match self {
            CliError::Usage(_) | CliError::RunFailed(_) | CliError::Internal(_) => Some(self.to_string()),
            CliError::UsageReported | CliError::NotCompleted | CliError::ChecksFailed | CliError::Unstable => None,
        }
    }

    /// For commands whose status is an exit code they also write (the gate's JSON, a capacity
    /// report) after reporting it: the same status as a result.
    pub fn from_status(code: i32) -> Result<(), CliError> {
        match code {
            exit::OK => Ok(()),
            exit::CHECK_FAILED => Err(CliError::ChecksFailed),
            exit::USAGE => Err(CliError::UsageReported),
            exit::UNSTABLE => Err(CliError::Unstable),
            _ => Err(CliError::NotCompleted),
        }
    }
}

/// What every command returns.
pub type CliResult = Result<(), CliError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Each variant exits with the code ARCHITECTURE.md documents for its case, and only the
    /// variants whose message was not printed yet are printed by `main`.
    #[test]
    fn each_variant_maps_to_its_documented_exit_code() {
        let cases: [(CliError, i32, bool); 7] = [
            (CliError::ChecksFailed, 1, false),
            (CliError::Usage("bad flag".into()), 2, true),
            (CliError::UsageReported, 2, false),
            (CliError::RunFailed("target unreachable".into()), 3, true),
            (CliError::NotCompleted, 3, false),
            (CliError::Internal(anyhow::anyhow!("disk full")), 3, true),
            (CliError::Unstable, 4, false),
        ];
        for (e, code, printed) in cases {
            assert_eq!(e.exit_code(), code, "{e:?}");
            assert_eq!(e.message().is_some(), printed, "{e:?}");
        }
        assert_eq!(CliError::Usage("bad flag".into()).message().as_deref(), Some("bad flag"));
        let chained = CliError::Internal(anyhow::anyhow!("disk full").context("cannot write summary.json"));
        assert_eq!(chained.message().as_deref(), Some("cannot write summary.json: disk full"));
    }

    /// A status a command computed and reported round-trips to the same exit code.
    #[test]
    fn statuses_round_trip() {
        for code in [exit::OK, exit::CHECK_FAILED, exit::USAGE, exit::RUN_FAILED, exit::UNSTABLE] {
            let got = match CliError::from_status(code) {
                Ok(()) => exit::OK,
                Err(e) => e.exit_code(),
            };
            assert_eq!(got, code);
        }
    }
}
