//! Fault drills: faults applied and removed on a timeline through the embedded gateway's control
//! API, a Toxiproxy-API proxy, or shell commands; and what happened, for the Results.

pub mod backend;
pub mod exec;
pub mod http;
pub mod timeline;
