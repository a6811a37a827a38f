//! Outcome classification. Every finished request gets exactly one outcome id: the transport
//! failures are a closed set with fixed ids (wrk2's connect/read/write/timeout counters, not a map
//! keyed by error text), and the scenario's ordered rules name the rest (`fallback`, `limited`, ...).

use crate::scenario::Matcher;
use http::{HeaderMap, HeaderName};

pub use crate::scenario::outcomes::{OutcomeId, OutcomeTable, CONNECT, ERROR, OK, PROTOCOL, RESET, TIMEOUT, TLS};

/// Why a request got no HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFailure {
    /// No answer within the request timeout.
    Timeout,
    /// The connection could not be opened (refused, unreachable, handshake failed).
    Connect,
    /// The peer closed or reset the connection mid-request.
    Reset,
    /// The peer spoke something that is not valid HTTP.
    Protocol,
    /// The TLS handshake failed (certificate refused, alert, not TLS).
    Tls,
}

impl TransportFailure {
    pub fn outcome(self) -> OutcomeId {
        match self {
            TransportFailure::Timeout => TIMEOUT,
            TransportFailure::Connect => CONNECT,
            TransportFailure::Reset => RESET,
            TransportFailure::Protocol => PROTOCOL,
            TransportFailure::Tls => TLS,
        }
    }
}

/// The scenario's rules compiled against an outcome table.
#[derive(Debug, Clone)]
pub struct Classifier {
    rules: Vec<(Matcher, OutcomeId)>,
    needs_body: bool,
    table: OutcomeTable,
}

impl Classifier {
    pub fn new(matchers: &[Matcher]) -> Classifier {
        let table = OutcomeTable::new(matchers.iter().map(|m| m.outcome.as_str()));
        let rules = matchers
            .iter()
            .map(|m| (m.clone(), table.id(&m.outcome).expect("outcome named in table")))
            .collect();
        let needs_body = matchers.iter().any(|m| m.body_contains.is_some());
        Classifier { rules, needs_body, table }
    }

    pub fn table(&self) -> &OutcomeTable {
        &self.table
    }

    /// Whether any rule looks at the body (otherwise the engine only counts body bytes).
    pub fn needs_body(&self) -> bool {
        self.needs_body
    }

    pub fn classify(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> OutcomeId {
        self.classify_with(status, |name| headers.get(name).map(|v| v.as_bytes()), body)
    }

    /// Response header names the rules look at (the lean HTTP/1.1 client captures only these).
    pub fn header_names(&self) -> impl Iterator<Item = &HeaderName> {
        self.rules.iter().filter_map(|(m, _)| m.header.as_ref().map(|h| &h.name))
    }

    /// `classify` over any header lookup (the lean client's captures instead of a `HeaderMap`).
    pub fn classify_with<'h>(&self, status: u16, header: impl Fn(&HeaderName) -> Option<&'h [u8]>, body: &[u8]) -> OutcomeId {
        for (m, id) in &self.rules {
            if rule_matches(m, status, &header, body) {
                return *id;
            }
        }
        if (200..400).contains(&status) {
            OK
        } else {
            ERROR
        }
    }
}

fn rule_matches<'h>(m: &Matcher, status: u16, header: &impl Fn(&HeaderName) -> Option<&'h [u8]>, body: &[u8]) -> bool {
    if let Some(s) = &m.status {
        if !s.matches(status) {
            return false;
        }
    }
    if let Some(h) = &m.header {
        match (header(&h.name), &h.equals) {
            (None, _) => return false,
            (Some(v), Some(want)) if v != want.as_bytes() => return false,
            _ => {}
        }
    }
    if let Some(needle) = &m.body_contains {
        if !contains(body, needle.as_bytes()) {
            return false;
        }
    }
    true
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{HeaderMatch, StatusMatch};
    use http::{HeaderName, HeaderValue};

    fn rule(name: &str) -> Matcher {
        Matcher { outcome: name.into(), status: None, header: None, body_contains: None }
    }

    #[test]
    fn ordered_rules_then_defaults() {
        let fallback = Matcher {
            header: Some(HeaderMatch { name: HeaderName::from_static("x-fallback"), equals: Some("1".into()) }),
            ..rule("fallback")
        };
        let limited = Matcher { status: Some(StatusMatch::Codes(vec![429])), ..rule("limited") };
        let degraded = Matcher { body_contains: Some("degraded".into()), ..rule("degraded") };
        let c = Classifier::new(&[fallback, limited, degraded]);
        let t = c.table();
        let mut fb = HeaderMap::new();
        fb.insert("x-fallback", HeaderValue::from_static("1"));
        let none = HeaderMap::new();
        let cases = [
            (200, &fb, &b""[..], "fallback"),
            (200, &none, &b"all fine"[..], "ok"),
            (429, &none, &b""[..], "limited"),
            (503, &none, &b""[..], "error"),
            (200, &none, &b"service degraded"[..], "degraded"),
            (302, &none, &b""[..], "ok"),
        ];
        for (status, h, body, want) in cases {
            assert_eq!(t.name(c.classify(status, h, body)), want, "{status} {body:?}");
        }
        assert!(c.needs_body());
    }

    #[test]
    fn user_names_reuse_fixed_ids() {
        let t = OutcomeTable::new(["ok", "limited", "limited"]);
        assert_eq!(t.id("ok"), Some(OK));
        assert_eq!(t.len(), 8);
        assert!(OutcomeTable::is_failure(TLS));
        assert_eq!(TransportFailure::Reset.outcome(), RESET);
        assert!(OutcomeTable::is_failure(TIMEOUT) && !OutcomeTable::is_failure(OK));
    }
}
