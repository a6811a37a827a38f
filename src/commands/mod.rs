//! One file per subcommand; each returns the process exit code.

pub mod gateway;
pub mod report;
pub mod run;
pub mod validate;
