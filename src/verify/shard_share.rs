//! Checks on one shard of a sharded run. Shard `I/N` sends every N-th arrival, so a latency, a
//! ratio or an error rate means on its share what it means on the whole, but an absolute rate or
//! count is 1/N of the run's: `rate >= 95` failed on every shard of a 4-way run that held 95/s in
//! all. Such thresholds are judged at 1/N on each shard. That errs on the safe side: if every
//! shard holds its 1/N, the sum holds the whole (and a shard below its share fails even when
//! another made up for it), so a sharded gate never passes a run the one-machine gate would fail.

use super::expr::Metric;
use super::{CheckResult, VerifyPlan};

/// Whether a metric's value adds up across shards (and its threshold is therefore scaled).
fn scales(m: &Metric) -> bool {
    matches!(m, Metric::Rate | Metric::SendRate | Metric::PodQpsMin | Metric::PodQpsMean | Metric::Dropped)
}

/// `vp` with every absolute threshold at 1/`count`, in checks and abort rules alike (shard 0 judges
/// the abort rules on its share); the indices of the checks it changed.
pub fn share_of(vp: &VerifyPlan, count: u32) -> (VerifyPlan, Vec<usize>) {
    let mut out = vp.clone();
    let mut changed = Vec::new();
    if count > 1 {
        for (i, c) in out.checks.iter_mut().enumerate() {
            if scales(&c.expr.metric) {
                c.expr.value /= f64::from(count);
                changed.push(i);
            }
        }
        for a in out.abort.iter_mut().filter(|a| scales(&a.rule.expr.metric)) {
            a.rule.expr.value /= f64::from(count);
        }
    }
    (out, changed)
}

/// Says on each changed check's result why its threshold is not the one written.
pub fn annotate(results: &mut [CheckResult], changed: &[usize], index: u32, count: u32) {
    let why = format!("shard {index}/{count}: this shard sends 1/{count} of the run, so the threshold is 1/{count} of the one written");
    explain(results, changed, &why);
}

/// Puts `why` first in the note of each result in `changed` (by check index), before what the
/// check itself noted.
pub fn explain(results: &mut [CheckResult], changed: &[usize], why: &str) {
    for &i in changed {
        if let Some(r) = results.get_mut(i) {
            r.note = Some(match r.note.take() {
                Some(n) => format!("{why}; {n}"),
                None => why.to_string(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;
    use std::path::Path;

    const SCENARIO: &str = r#"name = "s"
pod_header = "x-pod"
[target]
url = "http://127.0.0.1:9"
[checks]
abort_when = ["rate < 40 for 5s", "error_rate > 50% for 5s"]
run = ["p99 < 100ms", "rate >= 95", "send_rate > 80", "error_rate < 1%", "dropped <= 8", "pods >= 2", "per_pod_qps_mean >= 40", "per_pod_qps >= 20", "ratio(ok) >= 99%"]
[[stages]]
rate = 100
duration = "2s"
[[requests]]
name = "a"
path = "/"
"#;

    #[test]
    fn absolute_rates_and_counts_are_shared_the_rest_is_not() {
        let plan = load_str(SCENARIO, Path::new("s.toml")).unwrap();
        let (shard, changed) = share_of(&plan.verify, 4);
        let values: Vec<(String, f64)> = shard.checks.iter().map(|c| (c.source.clone(), c.expr.value)).collect();
        let want = [
            ("p99 < 100ms", 100_000.0),
            ("rate >= 95", 23.75),
            ("send_rate > 80", 20.0),
            ("error_rate < 1%", 0.01),
            ("dropped <= 8", 2.0),
            ("pods >= 2", 2.0),
            ("per_pod_qps_mean >= 40", 10.0),
            ("per_pod_qps >= 20", 5.0),
            ("ratio(ok) >= 99%", 0.99),
        ];
        for ((src, v), (want_src, want_v)) in values.iter().zip(want) {
            assert_eq!(src, want_src);
            assert!((v - want_v).abs() < 1e-9, "{src}: {v} (want {want_v})");
        }
        assert_eq!(changed, vec![1, 2, 4, 6, 7]);
        assert_eq!(shard.abort.iter().map(|a| a.rule.expr.value).collect::<Vec<_>>(), vec![10.0, 0.5]);
        // One shard of one, or no sharding: nothing changes.
        let (same, none) = share_of(&plan.verify, 1);
        assert!(none.is_empty());
        assert_eq!(same.checks.iter().map(|c| c.expr.value).collect::<Vec<_>>(), plan.verify.checks.iter().map(|c| c.expr.value).collect::<Vec<_>>());
    }
}
