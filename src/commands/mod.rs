//! One file per subcommand; each returns the process exit code.

pub mod capacity;
pub mod compare;
pub mod gateway;
pub mod run;
pub mod validate;
