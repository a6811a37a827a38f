//! The scenario file format: raw serde model (`model`), resolution into a validated `Plan` (`plan`),
//! templates and CSV feeders, and errors that name file, line, column and field.

pub mod plan;

pub use plan::*;
