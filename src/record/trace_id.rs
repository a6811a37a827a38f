//! W3C Trace Context ids as plain functions of (seed, sequence number): the runner sends them
//! (`load::trace_id`) and the Results name requests by them (`slow.csv`, exemplars), so they live
//! below both. See `load::trace_id` for why an id is a pure function of the sequence number.

/// A fixed bijective mix of the sequence number (splitmix64), so request picks and trace ids look random but are a pure
/// function of (seed, seq).
pub fn mix(seed: u64, seq: u64) -> u64 {
    let mut z = seed ^ seq.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `00-<32 hex trace id>-<16 hex span id>-01`.
pub const TRACEPARENT_LEN: usize = 55;

const HEX: &[u8; 16] = b"0123456789abcdef";
const LOW: u64 = 0x5bd1_e995_7f4a_7c15;
const SPAN: u64 = 0xc2b2_ae3d_27d4_eb4f;

/// The 16-byte trace id and 8-byte parent (span) id of arrival `seq`; neither is all zeros (the
/// spec's invalid value).
pub fn ids(seed: u64, seq: u64) -> (u128, u64) {
    let hi = mix(seed, seq);
    let lo = mix(seed ^ LOW, seq).max(u64::from(hi == 0));
    let span = mix(seed ^ SPAN, seq).max(1);
    ((u128::from(hi) << 64) | u128::from(lo), span)
}

fn hex_into(out: &mut [u8], v: u128, digits: usize) {
    for (i, b) in out[..digits].iter_mut().enumerate() {
        *b = HEX[((v >> (4 * (digits - 1 - i))) & 0xF) as usize];
    }
}

/// The 32 lowercase hex digits of arrival `seq`'s trace id (what gateways log and exemplars carry).
pub fn trace_id_hex(seed: u64, seq: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex_into(&mut out, ids(seed, seq).0, 32);
    out
}

/// The `traceparent` header value of arrival `seq`: version 00, sampled.
pub fn traceparent(seed: u64, seq: u64) -> [u8; TRACEPARENT_LEN] {
    let (trace, span) = ids(seed, seq);
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-01";
    hex_into(&mut out[3..35], trace, 32);
    hex_into(&mut out[36..52], u128::from(span), 16);
    out
}
