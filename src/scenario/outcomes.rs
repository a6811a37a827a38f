//! Outcome names and ids: the fixed ones every run has and the scenario's own (`[[outcomes]]`), in
//! one table. Plain data the scenario format defines (checks name outcomes, and the scenario is
//! resolved against this table), so it lives here; `record::outcome` classifies responses with it.

pub type OutcomeId = u16;

/// The fixed outcomes: 2xx/3xx with no rule matching, any other status, and transport failures.
pub const OK: OutcomeId = 0;
pub const ERROR: OutcomeId = 1;
pub const TIMEOUT: OutcomeId = 2;
pub const CONNECT: OutcomeId = 3;
pub const RESET: OutcomeId = 4;
pub const PROTOCOL: OutcomeId = 5;
/// The TLS handshake failed mid-run (the pre-run probe stops a run that could never handshake).
pub const TLS: OutcomeId = 6;
const FIXED: [&str; 7] = ["ok", "error", "timeout", "connect", "reset", "protocol", "tls"];

/// The name of a fixed outcome (`TIMEOUT` → "timeout"); an id past them reads as "error".
pub fn fixed_name(id: OutcomeId) -> &'static str {
    FIXED.get(id as usize).copied().unwrap_or(FIXED[ERROR as usize])
}

/// Outcome names by id: the fixed ones first, then the scenario's own in first-seen order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeTable {
    names: Vec<String>,
}

impl OutcomeTable {
    pub fn new<'a>(extra: impl IntoIterator<Item = &'a str>) -> OutcomeTable {
        let mut names: Vec<String> = FIXED.iter().map(|s| s.to_string()).collect();
        for n in extra {
            if !names.iter().any(|x| x == n) {
                names.push(n.to_string());
            }
        }
        OutcomeTable { names }
    }
    pub fn from_names(names: Vec<String>) -> OutcomeTable {
        OutcomeTable { names }
    }
    pub fn id(&self, name: &str) -> Option<OutcomeId> {
        self.names.iter().position(|n| n == name).map(|i| i as OutcomeId)
    }
    pub fn name(&self, id: OutcomeId) -> &str {
        &self.names[id as usize]
    }
    pub fn len(&self) -> usize {
        self.names.len()
    }
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// Outcomes that count as failures in an error rate: `error` and the transport failures.
    pub fn is_failure(id: OutcomeId) -> bool {
        (ERROR..=TLS).contains(&id)
    }
}
