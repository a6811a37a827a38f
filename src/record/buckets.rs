//! The latency buckets of every bucketed histogram skyload shows: the live `/metrics` endpoint, the
//! embedded gateway's metrics, and the per-second slowest request kept per bucket (`slow.rs`, the
//! exemplars). Plain constants, kept with the recorder so all three agree on the bounds.

/// Upper bounds of the latency buckets in microseconds: a 1-2-5 series from 50 µs to a minute,
/// so a loopback answer and a timed-out one both land in a bucket that says something.
pub const LATENCY_BUCKETS_US: [u64; 20] = [
    50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000,
    5_000_000, 10_000_000, 20_000_000, 30_000_000, 60_000_000,
];

/// The bucket a latency in microseconds falls in: the first whose upper bound is >= it, or
/// `LATENCY_BUCKETS_US.len()` (the `+Inf` bucket) above the highest.
pub fn slot(us: u64) -> usize {
    LATENCY_BUCKETS_US.partition_point(|&b| b < us)
}
