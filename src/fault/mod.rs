//! Fault drills: faults applied and removed on a timeline (`timeline`) through a backend
//! (`backend`): the embedded gateway's control API, a Toxiproxy-API proxy, or shell commands
//! (`exec`, each command in its own process group: `group`). `proxy` is the built-in fault proxy (`skyload proxy`) that speaks Toxiproxy's REST API,
//! and `toxiproxy` the client that drives it or a real Toxiproxy.

pub mod backend;
pub mod exec;
pub mod exec_undo;
pub mod group;
pub mod http;
pub mod journal;
pub mod lease;
pub mod proxy;
pub mod timeline;
pub mod toxiproxy;
