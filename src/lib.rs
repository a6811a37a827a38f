//! skyload: open-loop load testing and stability verification for serverless functions behind an
//! API gateway. The binary is a thin shell over this library so that tests drive exactly what users run.
//!
//! Data flows one way: `scenario` (file → validated Plan) → `load` (open-loop runner) → `record`
//! (HDR histograms, Results on disk) → `verify` / `report` → `commands`. `gateway` is the embedded
//! system under test; `fault` holds the fault proxy and its client. The layer order is
//! `layers::ORDER`, and a test holds every import to it.

pub mod cli;
pub mod commands;
pub mod fault;
pub mod gateway;
pub mod k8s;
pub mod load;
pub mod record;
pub mod report;
pub mod scenario;
pub mod units;
pub mod verify;
pub mod metrics;

/// Exit codes: the CI contract from ARCHITECTURE.md.
pub mod exit {
    /// All checks passed.
    pub const OK: i32 = 0;
    /// A check failed; the run itself was fine.
    pub const CHECK_FAILED: i32 = 1;
    /// Bad scenario or usage.
    pub const USAGE: i32 = 2;
    /// The run could not be carried out (target unreachable at start, aborted).
    pub const RUN_FAILED: i32 = 3;
    /// `skyload capacity` only: the search's tries disagreed, so it reports a band, not a number.
    pub const UNSTABLE: i32 = 4;
}
pub mod out;
pub mod layers;
pub mod session;
pub mod accept;
