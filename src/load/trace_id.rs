//! W3C Trace Context ids for `trace = true`: every arrival's `traceparent` is a pure function of
//! (seed, sequence number), so a shard, a thread split or the Results can name the same request
//! without anyone storing or shipping an id, and writing one costs a few multiplies and no heap.
//!
//! The trace id's first 8 bytes are `mix(seed, seq)`, a bijection of `seq` for a fixed seed, so the
//! ids of one run never collide; the last 8 and the span id are further mixes. A rerun with the same
//! seed sends the same ids again (that is what makes them reproducible): change `seed` to tell two
//! runs apart in the platform's logs.
//!
//! The ids themselves are plain functions in `record::trace_id` (the Results name requests by
//! them too); this module puts them on the wire.

use http::HeaderName;

pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

pub use crate::record::trace_id::{ids, trace_id_hex, traceparent, TRACEPARENT_LEN};

/// The request path's hook for the hyper client: adds the header when tracing (`seed` is Some).
/// The one allocation is the header value's, next to the request's own header map.
pub fn insert(seed: Option<u64>, seq: u64, headers: &mut http::HeaderMap) {
    if let Some(seed) = seed {
        let v = http::HeaderValue::from_bytes(&traceparent(seed, seq)).expect("hex digits and dashes are a valid header value");
        headers.insert(TRACEPARENT, v);
    }
}

/// The lean HTTP/1.1 encoder's hook: writes the header line into the request's buffer, no heap.
pub fn push_h1(seed: Option<u64>, seq: u64, out: &mut Vec<u8>) {
    if let Some(seed) = seed {
        out.extend_from_slice(b"traceparent: ");
        out.extend_from_slice(&traceparent(seed, seq));
        out.extend_from_slice(b"\r\n");
    }
}

/// Checks a `traceparent` value as a receiver would (version 00 layout, lowercase hex, non-zero
/// ids); returns the trace id. Used by tests and `skyload`'s own test server.
pub fn parse(v: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(v).ok()?;
    let hex = |p: &str| p.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) && p.bytes().any(|b| b != b'0');
    let mut parts = s.split('-');
    let (ver, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let ok = parts.next().is_none()
        && ver == "00"
        && trace.len() == 32
        && hex(trace)
        && span.len() == 16
        && hex(span)
        && flags.len() == 2
        && flags.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then_some(trace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn header_is_valid_sampled_and_matches_the_trace_id() {
        for seq in [0, 1, 2, u64::MAX] {
            let tp = traceparent(7, seq);
            let trace = parse(&tp).expect("valid traceparent");
            assert_eq!(trace.as_bytes(), &trace_id_hex(7, seq));
            assert!(tp.ends_with(b"-01"), "sampled flag");
            assert!(http::HeaderValue::from_bytes(&tp).is_ok());
        }
    }

    #[test]
    fn ids_are_unique_per_sequence_number_and_depend_on_the_seed() {
        let ids: HashSet<[u8; 32]> = (0..100_000).map(|s| trace_id_hex(1, s)).collect();
        assert_eq!(ids.len(), 100_000);
        assert_ne!(trace_id_hex(1, 5), trace_id_hex(2, 5));
        assert_eq!(traceparent(3, 9), traceparent(3, 9));
    }

    #[test]
    fn receiver_check_refuses_what_the_spec_refuses() {
        assert!(parse(b"00-00000000000000000000000000000000-0000000000000001-01").is_none());
        assert!(parse(b"00-0000000000000000000000000000000A-0000000000000001-01").is_none());
        assert!(parse(b"01-00000000000000000000000000000001-0000000000000001-01").is_none());
        assert!(parse(b"00-00000000000000000000000000000001-0000000000000001-01").is_some());
    }

    fn set(trace: bool) -> (crate::load::request::RequestSet, u64) {
        let toml = "name = \"t\"\nseed = 11\n[target]\nurl = \"http://127.0.0.1:9\"\n[[requests]]\nname = \"a\"\npath = \"/fn/a\"\n[requests.headers]\n\"x-request-id\" = \"req-{{seq}}\"\n[[stages]]\nduration = \"1s\"\nrate = 1\n";
        let plan = crate::scenario::load_str(toml, std::path::Path::new("t.toml")).expect("plan");
        (crate::load::request::RequestSet::new(&plan, "127.0.0.1:9", "", false).with_trace(trace.then_some(20)), plan.seed)
    }

    /// Both request paths carry the same header, next to the scenario's own request id; the lean
    /// encoder writes it without allocating.
    #[test]
    fn both_request_paths_carry_it() {
        let (set, seed) = set(true);
        let mut rng = rand::SeedableRng::seed_from_u64(1);
        let (mut scratch, mut out) = (String::new(), Vec::new());
        set.encode_h1(0, 42, &mut rng, &mut scratch, &mut out).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        let want = format!("traceparent: {}\r\n", String::from_utf8_lossy(&traceparent(seed, 42)));
        assert!(text.contains(&want) && text.contains("x-request-id: req-42\r\n"), "{text}");
        let (req, _) = set.build(0, 42, &mut rng, &mut scratch).unwrap();
        assert_eq!(req.headers()[TRACEPARENT].as_bytes(), &traceparent(seed, 42));
        assert_eq!(req.headers()["x-request-id"], "req-42");
        let n = crate::load::h1::tests::counting::allocations_in(|| {
            for seq in 100..1_100 {
                set.encode_h1(0, seq, &mut rng, &mut scratch, &mut out).unwrap();
            }
        });
        assert_eq!(n, 0, "allocations in 1,000 traced encodings");
        let (plain, _) = self::set(false);
        plain.encode_h1(0, 42, &mut rng, &mut scratch, &mut out).unwrap();
        assert!(!String::from_utf8_lossy(&out).contains("traceparent"));
    }
}
