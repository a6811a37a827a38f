//! The check language, as far as the scenario format needs it: `expr` parses a check
//! (`p99 < 50ms`) into its AST, `tolerance` a comparison tolerance (`p99 +10%`), and `spec`
//! resolves `[checks]`, `[[windows]]` and `[capacity]` against the plan into a `VerifyPlan`, so a
//! bad check is reported at file:line:column while the scenario loads. Nothing here measures or
//! judges: evaluation (metrics, windows, verdict, comparison) is `verify`'s, which re-exports these
//! modules at their old paths (`verify::expr`, `verify::spec`, `verify::compare::Tolerance`).

pub mod expr;
pub mod spec;
pub mod tolerance;

pub use spec::{Check, Scope, VerifyPlan};
