//! Verification: turns Results into a Verdict. Checks (`p99 < 50ms` over the run, a stage, a
//! request or a window), abort conditions on live seconds, the generator guard, JUnit output,
//! baseline comparison and the capacity search's pure math. Everything here reads saved Results
//! (or one live second), never the network, so a verdict can be recomputed from a directory.
//!
//! `expr` (the check language) and `spec` (a scenario's checks resolved against its plan) live in
//! `scenario::check_lang` and are re-exported here;
//! `metrics` measures one stretch of data; `window` cuts stretches out of saved Results;
//! `verdict` judges and renders; `junit`, `compare`, `capacity`, `abort` as named.

pub mod abort;
pub mod capacity;
pub mod compare;
pub mod junit;
pub mod metrics;
pub mod verdict;
pub mod window;

/// The check language (parser, AST, resolved `VerifyPlan`) belongs to the scenario format; these
/// keep its old paths.
pub use crate::scenario::check_lang::{expr, spec};
pub use spec::{Check, Scope, VerifyPlan};
pub use verdict::{CheckResult, Verdict};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read results {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
}

/// `verdict.json`, written beside summary.json when a run has checks.
pub use crate::record::results::VERDICT as VERDICT_FILE;
pub mod faults;
#[cfg(test)]
mod fuzz_tests;
pub mod all_failed;
pub mod shard_share;
