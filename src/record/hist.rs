//! HDR histogram helpers: one construction (microseconds, 3 significant digits, growing as needed
//! so short runs stay small and no value is ever clamped), the percentile summary every output
//! uses, and the V2-deflate + base64 encoding shared by the interval log and summary.json.

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

pub type Hist = Histogram<u64>;

/// A histogram of microseconds with 3 significant digits. It starts sized for 10 ms and resizes
/// itself, so memory follows the range of values seen, not the number of requests.
pub fn new_hist() -> Hist {
    let mut h = Histogram::new_with_bounds(1, 10_000, 3).expect("valid bounds");
    h.auto(true);
    h
}

/// Records a duration in microseconds (0 is kept as 0: a sub-microsecond answer is still an answer).
#[inline]
pub fn record_us(h: &mut Hist, d: std::time::Duration) {
    record_micros(h, d.as_micros().min(u64::MAX as u128) as u64);
}

/// `record_us` for a span in ns (the hot path's instants are ns): the same microsecond, truncated.
#[inline]
pub fn record_ns(h: &mut Hist, ns: u64) {
    record_micros(h, ns / 1_000);
}

#[inline]
fn record_micros(h: &mut Hist, us: u64) {
    // With auto-resize on, recording can only fail for u64::MAX-sized values; saturate instead.
    if h.record(us).is_err() {
        let _ = h.record(h.high());
    }
}

/// Adds `src` into `dst` (both auto-resizing, so this cannot overflow the range).
pub fn add(dst: &mut Hist, src: &Hist) {
    dst.add(src).expect("auto-resizing histograms always add");
}

/// The latency figures every report shows, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub min_us: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Percentiles {
    pub fn of(h: &Hist) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            min_us: h.min(),
            mean_us: (h.mean() * 10.0).round() / 10.0,
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p95_us: h.value_at_quantile(0.95),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("histogram could not be encoded: {0}")]
    Encode(String),
    #[error("histogram is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("histogram could not be decoded: {0}")]
    Decode(String),
}

/// V2-deflate, base64: the same encoding HdrHistogram interval logs use.
pub fn encode(h: &Hist) -> Result<String, CodecError> {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .map_err(|e| CodecError::Encode(format!("{e:?}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(buf))
}

pub fn decode(s: &str) -> Result<Hist, CodecError> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(s.trim())?;
    let mut h: Hist = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| CodecError::Decode(format!("{e:?}")))?;
    h.auto(true);
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn grows_instead_of_clamping_and_round_trips() {
        let mut h = new_hist();
        for ms in [1u64, 5, 50, 5_000, 90_000] {
            record_us(&mut h, Duration::from_millis(ms));
        }
        assert_eq!(h.len(), 5);
        assert!(h.max() >= 89_900_000, "{}", h.max());
        let back = decode(&encode(&h).unwrap()).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(Percentiles::of(&back), Percentiles::of(&h));
    }

    #[test]
    fn percentiles_of_a_known_spread() {
        let mut h = new_hist();
        for us in 1..=1000u64 {
            h.record(us * 100).unwrap();
        }
        let p = Percentiles::of(&h);
        assert_eq!(p.count, 1000);
        assert!((p.p50_us as f64 - 50_000.0).abs() / 50_000.0 < 0.002);
        assert!((p.p99_us as f64 - 99_000.0).abs() / 99_000.0 < 0.002);
        assert_eq!(Percentiles::of(&new_hist()), Percentiles::default());
    }
}
