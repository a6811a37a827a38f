//! Faults done to the system under test during a drill. Two pieces live here so far: `proxy`, the
//! built-in fault proxy (`skyload proxy`) that sits between a gateway and its upstream and speaks
//! Toxiproxy's REST API, and `toxiproxy`, the client skyload uses to drive that API, whether the
//! server behind it is ours or a real Toxiproxy.

pub mod proxy;
pub mod toxiproxy;
