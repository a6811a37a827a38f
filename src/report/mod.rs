//! Rendering for people: the live progress line and the end-of-run terminal summary.

pub mod progress;
pub mod terminal;
