//! Seeded random inputs for the check language (`[checks] run`, `abort_when`, tolerances): any
//! string parses or is refused with a column, never a panic. The seed, the case count and their
//! environment overrides are the scenario fuzz suite's (`scenario::bounds::fuzz_tests`), so
//! `SKYLOAD_FUZZ_CASES=200000 cargo test --release --lib fuzz` runs both longer.

use crate::scenario::bounds::fuzz_tests::{cases, pick, seed};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::panic::catch_unwind;

#[test]
fn random_check_expressions_never_panic() {
    const TOKENS: &[&str] = &[
        "p50", "p99", "p99.9", "max", "mean", "error_rate", "rps", "ratio", "(", ")", "fallback", ",", "x-pod", "<", "<=", ">", ">=", "==", "!=",
        "200ms", "1s", "0", "-1", "1e300", "nan", "%", "1%", "pods", "count", "ok", " ", "  ", "\u{0}", "é", "for", "in", "stage", "99999999999999999999",
    ];
    let mut rng = SmallRng::seed_from_u64(seed() ^ 0xc4ec);
    for case in 0..cases() {
        let n = rng.gen_range(0..9);
        let s: String = (0..n).map(|_| pick(&mut rng, TOKENS)).collect::<Vec<_>>().join(if rng.gen_bool(0.5) { " " } else { "" });
        let r = catch_unwind(|| {
            let _ = super::expr::parse(&s);
            let _ = super::expr::parse_abort(&s);
            let _ = super::compare::parse_tolerance(&s);
        });
        assert!(r.is_ok(), "case {case} (seed {}) panicked on {s:?}", seed());
    }
}
