//! Load generation: the arrival schedule (pure math), the HTTP transport, and the open-loop runner.

pub mod schedule;
pub mod transport;
pub mod request;
pub mod engine;
pub mod runner;
pub mod shard;
pub mod queue;
pub mod h1;
pub mod h1_head;
pub mod guard;
pub mod tls;
pub mod connect;
pub mod probe;
pub mod pacer;
pub mod trace_id;
pub mod memory;
pub mod worker;
pub mod cpu_latency;
pub mod drive;
#[cfg(test)]
mod poisson_guard_tests;
pub mod pacer_trace;
pub mod mono;
pub mod packed;
