//! Exact merging of Results: histograms add (HDR `add` is lossless), counters sum, seconds align by
//! the shared epoch, pods and label values union by name. `merge` is a pure function of two loaded
//! Results and is associative, so any number of shards fold in any grouping (the command folds them
//! in parallel) and a merge of merges equals the merge of all. What must not be merged is refused:
//! another scenario, another epoch, another shard count, or a share already held.

use super::read::Results;
use super::summary::{RunMeta, RunStatus, Shards};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    #[error(
        "{b} ran a different scenario than {a} (scenario.toml fingerprints {fa} and {fb} differ): only shards of one scenario, run with the same flags, merge"
    )]
    Scenario { a: String, b: String, fa: String, fb: String },
    #[error(
        "{b} started its schedule at unix ms {eb}, {a} at {ea}: shards merge only with one epoch; run them all with the same --start-at"
    )]
    Epoch { a: String, b: String, ea: u64, eb: u64 },
    #[error("{b} is one of {nb} shards, {a} of {na}: shards of different splits do not add up to one schedule")]
    ShardCount { a: String, b: String, na: u32, nb: u32 },
    #[error("{a} and {b} both hold shard {index} of {count}: merging it twice would count its requests twice")]
    Overlap { a: String, b: String, index: u32, count: u32 },
    #[error("{b} and {a} differ in {what} although their scenario is the same: were they written by different skyload versions?")]
    Shape { a: String, b: String, what: &'static str },
}

/// How bad a status is; a merge has the worst of its inputs'.
fn severity(s: RunStatus) -> u8 {
    match s {
        RunStatus::Completed => 0,
        RunStatus::DrillFailed => 1,
        RunStatus::Interrupted => 2,
        RunStatus::Aborted => 3,
        RunStatus::Incomplete => 4,
        RunStatus::Failed => 5,
    }
}

fn label(r: &Results) -> String {
    match r.sources.as_slice() {
        [one] => one.clone(),
        many => format!("the merge of {}", many.join(", ")),
    }
}

/// Checks that `a` and `b` are disjoint shares of one run.
pub fn check(a: &Results, b: &Results) -> Result<(), MergeError> {
    let (la, lb) = (label(a), label(b));
    let (fa, fb) = (&a.info.scenario_fingerprint, &b.info.scenario_fingerprint);
    if fa != fb {
        return Err(MergeError::Scenario { a: la, b: lb, fa: fa.clone(), fb: fb.clone() });
    }
    if a.info.start_unix_ms != b.info.start_unix_ms {
        return Err(MergeError::Epoch { a: la, b: lb, ea: a.info.start_unix_ms, eb: b.info.start_unix_ms });
    }
    let (sa, sb) = (a.shards(), b.shards());
    if sa.count != sb.count {
        return Err(MergeError::ShardCount { a: la, b: lb, na: sa.count, nb: sb.count });
    }
    if let Some(&index) = sa.indices.iter().find(|i| sb.indices.contains(i)) {
        return Err(MergeError::Overlap { a: la, b: lb, index, count: sa.count });
    }
    let what = if a.shape.requests != b.shape.requests {
        Some("request names")
    } else if a.shape.outcomes != b.shape.outcomes {
        Some("outcome names")
    } else if a.shape.labels != b.shape.labels {
        Some("label headers")
    } else if a.info.planned_duration_s != b.info.planned_duration_s {
        Some("planned duration")
    } else {
        None
    };
    match what {
        Some(what) => Err(MergeError::Shape { a: la, b: lb, what }),
        None => Ok(()),
    }
}

/// The Results of `a` and `b` together, as if one machine had sent both shares.
pub fn merge(a: &Results, b: &Results) -> Result<Results, MergeError> {
    check(a, b)?;
    let mut out = a.clone();
    let (x, y) = (&a.info, &b.info);
    let (sa, sb) = (a.shards(), b.shards());
    let mut indices: Vec<u32> = sa.indices.iter().chain(&sb.indices).copied().collect();
    indices.sort_unstable();
    out.info = RunMeta {
        status: if severity(y.status) > severity(x.status) { y.status } else { x.status },
        duration_s: x.duration_s.max(y.duration_s),
        target: targets(&x.target).union(&targets(&y.target)).cloned().collect::<Vec<_>>().join(", "),
        threads: x.threads + y.threads,
        expected: x.expected + y.expected,
        shards: Some(Shards { count: sa.count, indices }),
        ..x.clone()
    };
    out.why = a.why.or(&b.why);
    out.totals.merge(&b.totals);
    for (k, s) in &b.seconds {
        match out.seconds.get_mut(k) {
            Some(mine) => {
                mine.iv.merge(&s.iv);
                for (t, u) in mine.target_tenths.iter_mut().zip(&s.target_tenths) {
                    *t += u;
                }
            }
            None => {
                out.seconds.insert(*k, s.clone());
            }
        }
    }
    out.sources.extend(b.sources.iter().cloned());
    out.tls = crate::record::tls::merge(a.tls.as_ref(), b.tls.as_ref());
    out.pacing.merge(&b.pacing);
    out.accounted = a.accounted && b.accounted;
    // Like the accounting: only when every share has them, else a stage would be judged by some
    // shares' requests alone.
    if a.totals.by_stage.is_none() || b.totals.by_stage.is_none() {
        out.totals.by_stage = None;
    }
    // Like the stage histograms: only when every share has them (an older share's arrivals would
    // be missing from its seconds). Entries of one second add.
    out.intended = match (&a.intended, &b.intended) {
        (Some(x), Some(y)) => {
            let mut sum = x.clone();
            for (k, e) in y {
                sum.entry(*k).and_modify(|s| s.merge(e)).or_insert_with(|| e.clone());
            }
            Some(sum)
        }
        _ => None,
    };
    out.handshakes = match (&a.handshakes, &b.handshakes) {
        (None, None) => None,
        (x, y) => {
            let mut sum = x.clone().unwrap_or_default();
            super::read::add_handshakes(&mut sum, y.iter().flatten().map(|(k, (h, r))| (*k, *h, *r)));
            Some(sum)
        }
    };
    Ok(out)
}

/// The targets a summary's `target` names (a merge lists each once, joined by `, `).
fn targets(joined: &str) -> std::collections::BTreeSet<String> {
    joined.split(", ").filter(|t| !t.is_empty()).map(String::from).collect()
}

/// Merges many Results in order; the first error stops it.
pub fn merge_all(parts: &[Results]) -> Option<Result<Results, MergeError>> {
    let (first, rest) = parts.split_first()?;
    Some(rest.iter().try_fold(first.clone(), |acc, r| merge(&acc, r)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::accum::{Completion, ThreadRecorder};
    use crate::record::interval::{Shape, Totals};
    use crate::record::hist::Hist;
    use crate::record::read::Second;
    use crate::record::intended::IntendedSecond;
    use crate::record::outcome::{OutcomeTable, OK};
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Duration;

    /// A shard with `n` completions of latency base+i ms, one per 100 ms, on pods p0/p1.
    fn shard(index: u32, n: u64, base: u64) -> Results {
        let shape = Shape { requests: vec!["get".into()], outcomes: OutcomeTable::new([]), labels: vec![] };
        // Second 0 on a made-up CLOCK_MONOTONIC, in ns.
        let (t0, ms) = (4_000_000_000u64, 1_000_000u64);
        let mut rec = ThreadRecorder::new(t0, Arc::new(shape.clone())).with_intended(2);
        for i in 0..n {
            let done = t0 + (100 * i + base) * ms;
            let intended = done - (base + i) * ms;
            let pod = format!("p{}", i % 2);
            rec.handed(intended, intended);
            rec.sent(0, intended, intended, 3);
            let c = Completion { pod: Some(pod.as_bytes()), status: 200, ..Completion::failed(0, OK, intended, intended, done) };
            rec.completed(&c);
        }
        let last = (100 * n + base) / 1000;
        let ivs = rec.take_through(last, Duration::from_millis(7));
        let (_, totals) = rec.finish(Duration::ZERO);
        let mut intended: BTreeMap<u64, IntendedSecond> = BTreeMap::new();
        for e in ivs.iter().flat_map(|iv| &iv.intended).chain(&totals.intended) {
            intended.entry(e.second).and_modify(|s| s.merge(e)).or_insert_with(|| e.clone());
        }
        let seconds: BTreeMap<u64, Second> =
            ivs.into_iter().map(|iv| (iv.second, Second { iv, target_tenths: vec![100] })).collect();
        Results {
            info: RunMeta {
                scenario: "s".into(),
                scenario_file: None,
                status: RunStatus::Completed,
                started_at: "2026-01-01T00:00:00Z".into(),
                start_unix_ms: 1_000,
                planned_duration_s: 3.0,
                duration_s: 3.0,
                target: "http://t".into(),
                threads: 1,
                expected: n as f64,
                shards: Some(Shards { count: 3, indices: vec![index] }),
                scenario_fingerprint: "f".into(),
            },
            scenario_text: "x".into(),
            shape,
            totals,
            seconds,
            sources: vec![format!("shard-{index}")],
            tls: None,
            pacing: Default::default(),
            why: Default::default(),
            accounted: true,
            handshakes: None,
            intended: Some(intended),
        }
    }

    fn values(h: &Hist) -> Vec<(u64, u64)> {
        h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect()
    }

    fn fingerprint_of(r: &Results) -> (String, Vec<(u64, Vec<(u64, u64)>, u64, Duration)>, Vec<(String, u64, Vec<(u64, u64)>)>) {
        let mut s = r.summary();
        s.histograms.clear();
        let secs = r.seconds.iter().map(|(k, s)| (*k, values(&s.iv.requests[0].latency), s.target_tenths[0], s.iv.cpu)).collect();
        let pods = r.totals.pods.iter().map(|p| (p.name.clone(), p.count(), values(&p.latency))).collect();
        (serde_json::to_string(&s).unwrap(), secs, pods)
    }

    fn all_latency(t: &Totals) -> Hist {
        let mut h = crate::record::hist::new_hist();
        for o in t.requests[0].by_outcome.iter().flatten() {
            crate::record::hist::add(&mut h, &o.latency);
        }
        h
    }

    #[test]
    fn merge_adds_exactly_and_is_associative() {
        let (a, b, c) = (shard(0, 20, 5), shard(1, 25, 40), shard(2, 10, 900));
        let left = merge(&merge(&a, &b).unwrap(), &c).unwrap();
        let right = merge(&a, &merge(&b, &c).unwrap()).unwrap();
        assert_eq!(fingerprint_of(&left), fingerprint_of(&right));
        let s = left.summary();
        assert_eq!(s.totals.completed, 55);
        assert_eq!(s.totals.outcomes["ok"], 55);
        assert_eq!(s.generator.threads, 3);
        assert_eq!(s.merged_from, vec!["shard-0", "shard-1", "shard-2"]);
        assert_eq!(s.shards, Some(Shards { count: 3, indices: vec![0, 1, 2] }));
        // The merged p99 is the p99 of the union of samples.
        let mut union = all_latency(&a.totals);
        crate::record::hist::add(&mut union, &all_latency(&b.totals));
        crate::record::hist::add(&mut union, &all_latency(&c.totals));
        assert_eq!(s.totals.latency.p99_us, union.value_at_quantile(0.99));
        assert_eq!(left.seconds[&0].target_tenths[0], 300);
        assert_eq!(left.seconds.values().map(|s| s.iv.cpu).sum::<Duration>(), Duration::from_millis(21));
        assert_eq!(left.totals.cpu, Duration::from_millis(21));
        let p0: u64 = left.totals.pods.iter().find(|p| p.name == "p0").unwrap().count();
        assert_eq!(p0, 10 + 13 + 5);
    }

    #[test]
    fn refuses_what_does_not_add_up() {
        let a = shard(0, 5, 5);
        let mut other = shard(1, 5, 5);
        other.info.scenario_fingerprint = "g".into();
        assert!(matches!(merge(&a, &other), Err(MergeError::Scenario { .. })));
        let mut late = shard(1, 5, 5);
        late.info.start_unix_ms += 1;
        assert!(matches!(merge(&a, &late), Err(MergeError::Epoch { .. })));
        let mut split = shard(1, 5, 5);
        split.info.shards.as_mut().unwrap().count = 4;
        assert!(matches!(merge(&a, &split), Err(MergeError::ShardCount { .. })));
        assert!(matches!(merge(&a, &shard(0, 5, 5)), Err(MergeError::Overlap { index: 0, .. })));
        let partial = merge_all(&[a, shard(2, 5, 5)]).unwrap().unwrap();
        assert!(partial.summary().generator.notes.iter().any(|n| n.contains("2 of 3 shards (missing: 1)")), "{:?}", partial.summary().generator.notes);
    }

    /// The pacer and the CPU wake-up latency request reach the merged summary; shards that were
    /// paced differently make it say so (not pick one), and that survives save, load and a
    /// further merge.
    #[test]
    fn pacing_is_carried_and_a_difference_is_said() {
        let paced = |index: u32, pacer: &str, cpu: &str| {
            let mut r = shard(index, 5, 5);
            r.pacing = crate::record::read::Pacing { pacer: [pacer.to_string()].into(), cpu_latency: [cpu.to_string()].into() };
            r
        };
        let same = merge(&paced(0, "precise", "held at 0 µs"), &paced(1, "precise", "held at 0 µs")).unwrap().summary();
        assert_eq!((same.generator.pacer.as_str(), same.generator.cpu_latency.as_str()), ("precise", "held at 0 µs"));
        assert_eq!(same.generator.pacer_text(), " · pacer precise (CPU wake-up latency request held at 0 µs)");

        let mixed = merge(&paced(0, "precise", "held at 0 µs"), &paced(1, "sleep", "")).unwrap();
        let g = mixed.summary().generator;
        assert_eq!(g.pacer, "differs between shards: precise; sleep");
        assert_eq!(g.cpu_latency, "differs between shards: none; held at 0 µs");

        let dir = tempfile::tempdir().unwrap();
        mixed.save(dir.path()).unwrap();
        let back = crate::record::read::results(dir.path()).unwrap();
        assert_eq!(back.pacing, mixed.pacing);
        // The fingerprint read back is the saved scenario text's.
        let third = |pacer: &str, cpu: &str| {
            let mut r = paced(2, pacer, cpu);
            r.info.scenario_fingerprint = back.info.scenario_fingerprint.clone();
            r
        };
        let all = merge(&back, &third("sleep", "")).unwrap().summary().generator;
        assert_eq!((all.pacer.as_str(), all.cpu_latency.as_str()), (g.pacer.as_str(), g.cpu_latency.as_str()));
        let old = merge(&back, &third("", "")).unwrap().summary().generator;
        assert_eq!(old.pacer, "differs between shards: not recorded; precise; sleep");
    }

    /// One late second on a 3 s shard is a warning, not a limited generator: the note a share
    /// gets about the shards it lacks is not counted as a generator note (it was, and the merged
    /// run's generator check failed on shards that had each passed on their own).
    #[test]
    fn a_shards_own_guard_is_not_tripped_by_the_missing_shards_note() {
        let mut a = shard(1, 20, 5);
        a.totals.guard.pacer_late = crate::record::guard::Flagged { count: 1, seconds: vec![2] };
        let own = a.measured_summary().generator;
        assert!(own.fell_behind && !own.limited(3.0), "{:?}", own.notes);
        let with_note = a.summary().generator;
        assert!(with_note.notes.iter().any(|n| n.contains("holds 1 of 3 shards")), "{:?}", with_note.notes);
        // Two late seconds of three are a limited shard, note or not.
        a.totals.guard.pacer_late = crate::record::guard::Flagged { count: 2, seconds: vec![1, 2] };
        assert!(a.measured_summary().generator.limited(3.0));
    }

    /// accounting.csv and handshakes.csv add up through merge, save and load; a share without
    /// accounting (a killed run) leaves the merge without one rather than with rows short of it.
    #[test]
    fn accounting_and_handshakes_add_up_through_save_and_load() {
        let (mut a, mut b) = (shard(0, 20, 5), shard(1, 25, 40));
        assert!(!a.totals.by_intended.is_empty());
        a.handshakes = Some(BTreeMap::from([(0, (3, 1)), (1, (0, 2))]));
        b.handshakes = Some(BTreeMap::from([(1, (1, 1)), (2, (4, 0))]));
        let m = merge(&a, &b).unwrap();
        let dir = tempfile::tempdir().unwrap();
        m.save(dir.path()).unwrap();
        let back = crate::record::read::results(dir.path()).unwrap();
        let sum: Vec<[u64; 3]> = (0..a.totals.by_intended.len().max(b.totals.by_intended.len()))
            .map(|k| {
                let (x, y) = (a.totals.by_intended.get(k).copied().unwrap_or_default(), b.totals.by_intended.get(k).copied().unwrap_or_default());
                [x[0] + y[0], x[1] + y[1], x[2] + y[2]]
            })
            .collect();
        assert!(back.accounted);
        assert_eq!(back.totals.by_intended, sum);
        assert_eq!(sum.iter().map(|r| r[1]).sum::<u64>(), 45);
        assert_eq!(back.handshakes, Some(BTreeMap::from([(0, (3, 1)), (1, (1, 3)), (2, (4, 0))])));
        // Status codes per second add up too (every completion here is a 200).
        assert_eq!(back.seconds.values().map(|s| s.iv.status.get(&200).copied().unwrap_or(0)).sum::<u64>(), 45);
        for (k, s) in &back.seconds {
            assert_eq!(s.iv.status, m.seconds[k].iv.status, "second {k}");
        }
        let rows = crate::record::tls::read_handshakes(dir.path()).unwrap().unwrap();
        assert_eq!(rows.iter().map(|r| (r.1, r.2)).fold((0, 0), |s, r| (s.0 + r.0, s.1 + r.1)), (8, 4));

        b.accounted = false;
        let unaccounted = tempfile::tempdir().unwrap();
        merge(&a, &b).unwrap().save(unaccounted.path()).unwrap();
        assert!(!unaccounted.path().join(crate::record::results::ACCOUNTING).exists());
        assert!(!crate::record::read::results(unaccounted.path()).unwrap().accounted);
        // A malformed accounting.csv is an error naming the file and line.
        std::fs::write(dir.path().join(crate::record::results::ACCOUNTING), "second,scheduled,completed,dropped\n0,1,1,0\n2,1,1,0\n").unwrap();
        let e = crate::record::read::results(dir.path()).unwrap_err().to_string();
        assert!(e.contains("accounting.csv: line 3: expected `1,scheduled,completed,dropped`"), "{e}");
    }

    /// Per-second latency by outcome, connection wait and connection-limited counts are written,
    /// read back and merged, so a stage or window check like `p99(ok)` reads a sharded run exactly.
    #[test]
    fn per_second_outcome_latency_and_connections_survive_save_load_and_merge() {
        let (mut a, b) = (shard(0, 20, 5), shard(1, 25, 40));
        let s0 = a.seconds.get_mut(&0).unwrap();
        s0.iv.conn_limited = 4;
        crate::record::hist::record_us(&mut s0.iv.conn_wait, Duration::from_millis(3));
        let dir = tempfile::tempdir().unwrap();
        let m = merge(&a, &b).unwrap();
        m.save(dir.path()).unwrap();
        let back = crate::record::read::results(dir.path()).unwrap();
        assert_eq!(back.seconds.len(), m.seconds.len());
        for (k, s) in &back.seconds {
            let ok = s.iv.outcome_latency[OK as usize].as_ref().map(values).unwrap_or_default();
            assert!(!ok.is_empty(), "second {k}");
            assert_eq!(ok, values(&s.iv.requests[0].latency), "second {k}: ok latency is all of it here");
            assert_eq!(ok, values(m.seconds[k].iv.outcome_latency[OK as usize].as_ref().unwrap()));
        }
        assert_eq!(back.seconds[&0].iv.conn_limited, 4);
        assert_eq!(back.seconds[&0].iv.conn_wait.len(), m.seconds[&0].iv.conn_wait.len());
        let csv = std::fs::read_to_string(dir.path().join(crate::record::results::TIMESERIES)).unwrap();
        assert!(csv.lines().next().unwrap().ends_with(",conn_wait_p99_ms,connection_limited"));
        // A file from before the connection columns still reads (they are optional).
        let old: String = csv.lines().map(|l| l.splitn(23, ',').take(22).collect::<Vec<_>>().join(",") + "\n").collect();
        assert!(old.lines().next().unwrap().ends_with(",generator_cpu_pct"), "{}", old.lines().next().unwrap());
        std::fs::write(dir.path().join(crate::record::results::TIMESERIES), old).unwrap();
        let before = crate::record::read::results(dir.path()).unwrap();
        assert_eq!(before.seconds[&0].iv.conn_limited, 0);
    }

    /// intended.hlog adds up through merge, save and load: every completion of every shard in the
    /// second of its intended start, the entries of one second added (`shard` answers its i-th
    /// request base+i ms late, so late ones fall in an earlier second than they ended in). A
    /// share without the file (an older skyload) leaves the merge without one, and so does its save.
    #[test]
    fn intended_seconds_add_up_through_merge_save_and_load() {
        let (a, b) = (shard(0, 20, 5), shard(1, 25, 900));
        let m = merge(&a, &b).unwrap();
        let dir = tempfile::tempdir().unwrap();
        m.save(dir.path()).unwrap();
        let back = crate::record::read::results(dir.path()).unwrap();
        let intended = back.intended.as_ref().unwrap();
        let count = |r: &BTreeMap<u64, IntendedSecond>, k: u64| r.get(&k).map_or(0, |s| s.completed());
        let (ia, ib) = (a.intended.as_ref().unwrap(), b.intended.as_ref().unwrap());
        assert_eq!(intended.values().map(|s| s.completed()).sum::<u64>(), 45);
        for k in 0..5 {
            assert_eq!(count(intended, k), count(ia, k) + count(ib, k), "second {k}");
            // Each second's arrivals are the accounting's completions of that intended second.
            assert_eq!(count(intended, k), back.totals.by_intended.get(k as usize).map_or(0, |r| r[1]), "second {k}");
        }
        for (k, s) in intended {
            let mut sum = ia.get(k).cloned().unwrap_or_else(|| IntendedSecond::new(*k, s.latency.len()));
            if let Some(y) = ib.get(k) {
                sum.merge(y);
            }
            assert_eq!(values(s.latency[OK as usize].as_ref().unwrap()), values(sum.latency[OK as usize].as_ref().unwrap()), "second {k}");
        }
        // By completion second, shard 1's late answers are in later seconds than they were due.
        assert!(count(ib, 0) > b.seconds[&0].iv.requests[0].completed);

        let mut old = shard(2, 5, 5);
        old.intended = None;
        let partial = merge(&m, &old).unwrap();
        assert!(partial.intended.is_none());
        let saved = tempfile::tempdir().unwrap();
        partial.save(saved.path()).unwrap();
        assert!(!saved.path().join(crate::record::results::INTENDED).exists());
        assert!(crate::record::read::results(saved.path()).unwrap().intended.is_none());
    }
}
