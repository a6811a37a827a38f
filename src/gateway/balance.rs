//! Choosing who serves: a version by canary weight, then a routable pod of that version by round
//! robin or least in flight. Pure functions over slices, so the choices are tested without a server.

use super::config::Balance;
use super::pod::Pod;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Index of the weight that `r` (drawn uniformly from `0..sum(weights)`) falls in.
pub fn pick_weighted(weights: &[u32], mut r: u64) -> usize {
    for (i, &w) in weights.iter().enumerate() {
        if r < w as u64 {
            return i;
        }
        r -= w as u64;
    }
    weights.iter().rposition(|&w| w > 0).unwrap_or(0)
}

/// A pod of `pods` that the gateway routes to at `now`, or `None` when none is routable.
pub fn pick_pod<'a>(
    pods: &'a [Arc<Pod>],
    strategy: Balance,
    cursor: &AtomicUsize,
    now: u64,
    detect_ns: u64,
) -> Option<&'a Arc<Pod>> {
    let n = pods.len();
    let start = cursor.fetch_add(1, Ordering::Relaxed) % n;
    let ring = (0..n).map(|k| &pods[(start + k) % n]);
    match strategy {
        Balance::RoundRobin => ring.into_iter().find(|p| p.routable(now, detect_ns)),
        // Starting the scan at the cursor spreads ties instead of piling them on the first pod.
        Balance::LeastInFlight => ring
            .filter(|p| p.routable(now, detect_ns))
            .min_by_key(|p| p.in_flight()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::config::PodSpec;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    fn pods(n: usize) -> Vec<Arc<Pod>> {
        (1..=n)
            .map(|i| Arc::new(Pod::new("f", "v1", format!("f-{i}"), &PodSpec::default())))
            .collect()
    }

    #[test]
    fn weighted_pick_follows_weights() {
        let w = [90, 10];
        assert_eq!(pick_weighted(&w, 0), 0);
        assert_eq!(pick_weighted(&w, 89), 0);
        assert_eq!(pick_weighted(&w, 90), 1);
        assert_eq!(pick_weighted(&w, 99), 1);
        assert_eq!(pick_weighted(&[0, 5, 0], 3), 1);
        let mut rng = SmallRng::seed_from_u64(3);
        let n = 100_000;
        let v2 = (0..n)
            .filter(|_| pick_weighted(&w, rng.gen_range(0..100)) == 1)
            .count();
        assert!((v2 as f64 / n as f64 - 0.10).abs() < 0.01, "{v2}");
    }

    #[test]
    fn round_robin_skips_killed_pods() {
        let p = pods(3);
        let c = AtomicUsize::new(0);
        let names = |c: &AtomicUsize| -> Vec<String> {
            (0..3)
                .map(|_| {
                    pick_pod(&p, Balance::RoundRobin, c, 10, 0)
                        .unwrap()
                        .name
                        .clone()
                })
                .collect()
        };
        assert_eq!(names(&c), ["f-1", "f-2", "f-3"]);
        p[1].kill(5);
        assert_eq!(names(&c), ["f-1", "f-3", "f-3"]);
        p[0].kill(5);
        p[2].kill(5);
        assert!(pick_pod(&p, Balance::RoundRobin, &c, 10, 0).is_none());
        // Not yet noticed: still routed within detect_after.
        assert!(pick_pod(&p, Balance::RoundRobin, &c, 10, 1_000).is_some());
    }

    #[test]
    fn least_in_flight_spreads_ties() {
        let p = pods(2);
        let c = AtomicUsize::new(0);
        let a = pick_pod(&p, Balance::LeastInFlight, &c, 0, 0)
            .unwrap()
            .name
            .clone();
        let b = pick_pod(&p, Balance::LeastInFlight, &c, 0, 0)
            .unwrap()
            .name
            .clone();
        assert_ne!(a, b);
    }
}
