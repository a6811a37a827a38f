//! Toxic types and their attributes: parsed from the API's JSON into a closed enum the data path can
//! match on, and shown back as Toxiproxy shows them. Attribute names and units are Toxiproxy's
//! (`toxics/*.go` in Shopify/toxiproxy): times in milliseconds, `rate` in KB/s (1 KB = 1000 bytes),
//! `bytes` in bytes. Missing attributes are zero, unknown ones ignored, as Go's JSON decoding does.
//! `http_abort` and `http_delay` are skyload's own, modelled on Envoy's fault filter.

use super::ApiError;
use crate::fault::toxiproxy::Stream;
use serde_json::{json, Map, Value};

/// What a toxic does to the bytes of one direction of a connection.
#[derive(Debug, Clone, PartialEq)]
pub enum ToxicKind {
    /// Each chunk of data waits `latency_ms` ± `jitter_ms` after it arrived.
    Latency { latency_ms: u64, jitter_ms: u64 },
    /// At most `rate_kb` KB/s; 0 means unlimited.
    Bandwidth { rate_kb: u64 },
    /// The close (EOF) waits `delay_ms`.
    SlowClose { delay_ms: u64 },
    /// Data is dropped; the connection closes `timeout_ms` after the toxic takes hold (0: never).
    Timeout { timeout_ms: u64 },
    /// `timeout_ms` after data arrives, the connection is reset (TCP RST).
    ResetPeer { timeout_ms: u64 },
    /// The connection closes once `bytes` bytes have passed.
    LimitData { bytes: u64 },
    /// `percentage`% of HTTP/1.1 requests are answered with `status` and never forwarded.
    HttpAbort { status: u16, percentage: f64 },
    /// `percentage`% of HTTP/1.1 requests wait `delay_ms` before they are forwarded.
    HttpDelay { delay_ms: u64, percentage: f64 },
}

/// Every type this server knows, for error messages.
pub const TYPES: &str = "latency, bandwidth, slow_close, timeout, reset_peer, limit_data, http_abort, http_delay";

impl ToxicKind {
    /// Builds a toxic of `type_name` from its attributes (`null` means all defaults). `Ok(None)` for
    /// an unknown type, so the caller can answer with Toxiproxy's "invalid toxic type".
    pub fn parse(type_name: &str, stream: Stream, attributes: &Value) -> Result<Option<ToxicKind>, ApiError> {
        let empty = Map::new();
        let attrs = match attributes {
            Value::Null => &empty,
            Value::Object(m) => m,
            other => return Err(ApiError::bad_body(format!("`attributes` must be an object, not {other}"))),
        };
        let kind = match type_name {
            "latency" => ToxicKind::Latency { latency_ms: uint(attrs, "latency")?, jitter_ms: uint(attrs, "jitter")? },
            "bandwidth" => ToxicKind::Bandwidth { rate_kb: uint(attrs, "rate")? },
            "slow_close" => ToxicKind::SlowClose { delay_ms: uint(attrs, "delay")? },
            "timeout" => ToxicKind::Timeout { timeout_ms: uint(attrs, "timeout")? },
            "reset_peer" => ToxicKind::ResetPeer { timeout_ms: uint(attrs, "timeout")? },
            "limit_data" => ToxicKind::LimitData { bytes: uint(attrs, "bytes")? },
            "http_abort" => {
                let status = uint(attrs, "status")?;
                if !(200..=599).contains(&status) {
                    return Err(ApiError::bad_body("http_abort needs `status`, an HTTP status from 200 to 599"));
                }
                ToxicKind::HttpAbort { status: status as u16, percentage: percentage(attrs)? }
            }
            "http_delay" => ToxicKind::HttpDelay { delay_ms: uint(attrs, "delay")?, percentage: percentage(attrs)? },
            _ => return Ok(None),
        };
        if kind.is_http() && stream != Stream::Upstream {
            return Err(ApiError::bad_body(format!(
                "{type_name} acts on requests, so its stream must be `upstream`"
            )));
        }
        Ok(Some(kind))
    }

    /// Toxiproxy's update: the attributes given replace those of the same name, the rest stay.
    pub fn merged(&self, stream: Stream, patch: &Value) -> Result<ToxicKind, ApiError> {
        let mut attrs = self.attributes();
        match patch {
            Value::Null => {}
            Value::Object(p) => {
                let a = attrs.as_object_mut().expect("attributes are an object");
                for (k, v) in p {
                    a.insert(k.clone(), v.clone());
                }
            }
            other => return Err(ApiError::bad_body(format!("`attributes` must be an object, not {other}"))),
        }
        Ok(ToxicKind::parse(self.type_name(), stream, &attrs)?.expect("a known type stays known"))
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            ToxicKind::Latency { .. } => "latency",
            ToxicKind::Bandwidth { .. } => "bandwidth",
            ToxicKind::SlowClose { .. } => "slow_close",
            ToxicKind::Timeout { .. } => "timeout",
            ToxicKind::ResetPeer { .. } => "reset_peer",
            ToxicKind::LimitData { .. } => "limit_data",
            ToxicKind::HttpAbort { .. } => "http_abort",
            ToxicKind::HttpDelay { .. } => "http_delay",
        }
    }

    /// The `attributes` object as the API shows it.
    pub fn attributes(&self) -> Value {
        match *self {
            ToxicKind::Latency { latency_ms, jitter_ms } => json!({ "latency": latency_ms, "jitter": jitter_ms }),
            ToxicKind::Bandwidth { rate_kb } => json!({ "rate": rate_kb }),
            ToxicKind::SlowClose { delay_ms } => json!({ "delay": delay_ms }),
            ToxicKind::Timeout { timeout_ms } => json!({ "timeout": timeout_ms }),
            ToxicKind::ResetPeer { timeout_ms } => json!({ "timeout": timeout_ms }),
            ToxicKind::LimitData { bytes } => json!({ "bytes": bytes }),
            ToxicKind::HttpAbort { status, percentage } => json!({ "status": status, "percentage": percentage }),
            ToxicKind::HttpDelay { delay_ms, percentage } => json!({ "delay": delay_ms, "percentage": percentage }),
        }
    }

    /// Whether the toxic parses HTTP/1.1 requests.
    pub fn is_http(&self) -> bool {
        matches!(self, ToxicKind::HttpAbort { .. } | ToxicKind::HttpDelay { .. })
    }
}

fn uint(attrs: &Map<String, Value>, key: &str) -> Result<u64, ApiError> {
    let max = match key {
        // Milliseconds: a day at most (deadlines far beyond overflow the clock).
        "latency" | "jitter" | "delay" | "timeout" => crate::scenario::bounds::MAX_FAULT_TIME.as_millis() as u64,
        // KB/s: beyond this the per-slice byte budget overflowed and the link stalled.
        "rate" => crate::scenario::bounds::MAX_BANDWIDTH_KBPS,
        _ => u64::MAX,
    };
    match attrs.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v
            .as_u64()
            .filter(|n| *n <= max)
            .ok_or_else(|| ApiError::bad_body(format!("attribute `{key}` must be a whole number from 0 to {max}, not {v}"))),
    }
}

/// `percentage` of requests, 0 to 100; 100 when not given.
fn percentage(attrs: &Map<String, Value>) -> Result<f64, ApiError> {
    match attrs.get("percentage") {
        None | Some(Value::Null) => Ok(100.0),
        Some(v) => v
            .as_f64()
            .filter(|p| (0.0..=100.0).contains(p))
            .ok_or_else(|| ApiError::bad_body(format!("attribute `percentage` must be a number from 0 to 100, not {v}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_toxiproxy_attributes_with_defaults() {
        let k = ToxicKind::parse("latency", Stream::Downstream, &json!({"latency": 100})).unwrap().unwrap();
        assert_eq!(k, ToxicKind::Latency { latency_ms: 100, jitter_ms: 0 });
        assert_eq!(k.attributes(), json!({"latency": 100, "jitter": 0}));
        let k = ToxicKind::parse("timeout", Stream::Upstream, &Value::Null).unwrap().unwrap();
        assert_eq!(k, ToxicKind::Timeout { timeout_ms: 0 });
        // Unknown attributes are ignored, as Go's decoder does.
        assert!(ToxicKind::parse("limit_data", Stream::Upstream, &json!({"bytes": 5, "x": 1})).unwrap().is_some());
        assert_eq!(ToxicKind::parse("slicer2", Stream::Upstream, &Value::Null).unwrap(), None);
    }

    #[test]
    fn rejects_bad_attributes() {
        let e = ToxicKind::parse("latency", Stream::Upstream, &json!({"latency": -1})).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.error.starts_with("bad request body: attribute `latency`"), "{}", e.error);
        // Huge values once panicked a link task (jitter) or stalled it (bandwidth wrapping).
        for (t, a) in [("latency", json!({"latency": 1, "jitter": u64::MAX})), ("bandwidth", json!({"rate": 1u64 << 62})), ("slow_close", json!({"delay": 86_400_001}))] {
            let e = ToxicKind::parse(t, Stream::Downstream, &a).unwrap_err();
            assert!(e.status == 400 && e.error.contains("from 0 to"), "{t}: {}", e.error);
        }
        assert!(ToxicKind::parse("latency", Stream::Downstream, &json!({"latency": 86_400_000, "jitter": 86_400_000})).is_ok());
        assert!(ToxicKind::parse("http_abort", Stream::Upstream, &json!({"status": 99})).is_err());
        assert!(ToxicKind::parse("http_abort", Stream::Upstream, &json!({"status": 503, "percentage": 101})).is_err());
        let e = ToxicKind::parse("http_delay", Stream::Downstream, &json!({"delay": 5})).unwrap_err();
        assert!(e.error.contains("must be `upstream`"), "{}", e.error);
    }

    /// Seeded random API bodies (any JSON in any attribute, any type name, any stream): a toxic
    /// parses, or the answer is a 400 naming the attribute; no panic, and an update of a parsed
    /// toxic with random attributes behaves the same.
    #[test]
    fn fuzz_random_toxic_bodies_never_panic() {
        use rand::{Rng, SeedableRng};
        const VALUES: &[&str] = &[
            "0", "1", "-1", "1.5", "1e300", "-1e300", "18446744073709551615", "18446744073709551616", "9223372036854775807", "86400000",
            "86400001", "1000000000", "1000000001", "null", "true", "\"x\"", "[]", "{}", "[1]", "{\"a\":1}", "100", "101", "599", "600",
        ];
        const KEYS: &[&str] = &["latency", "jitter", "rate", "delay", "timeout", "bytes", "status", "percentage", "other"];
        let types: Vec<&str> = TYPES.split(", ").chain(["slicer", ""]).collect();
        let cases = std::env::var("SKYLOAD_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000u64);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(0x5eed_15 ^ 0x7081c);
        for case in 0..cases {
            let pairs: Vec<String> = (0..rng.gen_range(0..5))
                .map(|_| format!("\"{}\": {}", KEYS[rng.gen_range(0..KEYS.len())], VALUES[rng.gen_range(0..VALUES.len())]))
                .collect();
            let text = format!("{{{}}}", pairs.join(", "));
            let attrs: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let t = types[rng.gen_range(0..types.len())];
            let stream = if rng.gen_bool(0.5) { Stream::Upstream } else { Stream::Downstream };
            let r = std::panic::catch_unwind(|| match ToxicKind::parse(t, stream, &attrs) {
                Ok(Some(k)) => {
                    let _ = k.merged(stream, &attrs);
                    let _ = k.attributes();
                }
                Ok(None) => {}
                Err(e) => assert!(e.status == 400 && !e.error.is_empty()),
            });
            assert!(r.is_ok(), "case {case} panicked on {t} {text}");
        }
    }

    #[test]
    fn http_abort_defaults_to_every_request() {
        let k = ToxicKind::parse("http_abort", Stream::Upstream, &json!({"status": 503})).unwrap().unwrap();
        assert_eq!(k, ToxicKind::HttpAbort { status: 503, percentage: 100.0 });
    }

    #[test]
    fn update_merges_attributes() {
        let k = ToxicKind::Latency { latency_ms: 100, jitter_ms: 10 };
        let m = k.merged(Stream::Downstream, &json!({"latency": 250})).unwrap();
        assert_eq!(m, ToxicKind::Latency { latency_ms: 250, jitter_ms: 10 });
        assert_eq!(k.merged(Stream::Downstream, &Value::Null).unwrap(), k);
    }
}
