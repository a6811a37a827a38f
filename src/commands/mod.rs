//! One file per subcommand; each returns the process exit code.

pub mod gateway;
pub mod proxy;
pub mod run;
pub mod validate;
