//! Rendering for people: the live progress line, the end-of-run terminal summary and the
//! self-contained HTML report.

pub mod html;
pub mod progress;
pub mod terminal;
pub mod saturation;
pub mod tls;
pub mod slow;
