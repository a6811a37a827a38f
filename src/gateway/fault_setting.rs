//! What the control API can set on a pod, by kind, and the lease that puts back what leased calls
//! overwrote when it lapses (a dead drill never leaves a pod dead or slow, and never undoes what
//! was set by hand). The pod (`pod.rs`) holds the values; this holds their vocabulary.

/// The faults the control API injects, one per action (`kill`, `latency`, `errors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    Kill,
    Latency,
    Errors,
}

impl FaultKind {
    /// The kind a control action sets or clears (`revive` clears `kill`).
    pub fn of_action(action: &str) -> Option<FaultKind> {
        match action {
            "kill" | "revive" => Some(FaultKind::Kill),
            "latency" => Some(FaultKind::Latency),
            "errors" => Some(FaultKind::Errors),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Latency => "latency",
            FaultKind::Errors => "errors",
        }
    }
}

/// What one fault kind of a pod was set to: what a lapsed lease puts back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Killed(bool),
    Latency { add_us: u64, jitter_us: u64 },
    Errors { ppm: u32, status: u32 },
}

impl Setting {
    pub fn kind(&self) -> FaultKind {
        match self {
            Setting::Killed(_) => FaultKind::Kill,
            Setting::Latency { .. } => FaultKind::Latency,
            Setting::Errors { .. } => FaultKind::Errors,
        }
    }
}

/// A pod's fault lease: until when (gateway-clock ns, 0: none), and for each kind a leased call
/// set, what it was before.
#[derive(Debug, Default)]
pub(super) struct Lease {
    pub(super) until_ns: u64,
    pub(super) before: Vec<Setting>,
}
