//! One file per subcommand; each returns a `CliResult`, which `main` maps to the exit code.

pub mod capacity;
pub mod compare;
pub mod gateway;
pub mod k8s;
pub mod merge;
pub mod proxy;
pub mod report;
pub mod run;
pub mod validate;
pub mod signals;
pub mod invoke;
pub mod faults;
pub mod incomplete;
pub mod error;
pub mod outfile;
pub mod merge_judge;
pub mod invoke_output;
pub mod invoke_redirect;
pub mod invoke_writeout;
