//! Load generation: the arrival schedule (pure math), the HTTP transport, and the open-loop runner.

pub mod schedule;
