//! A killed run's summary, rebuilt from what it wrote as it went. `kill -9`, an OOM kill or a lost
//! CI runner stop a run before it writes `summary.json`, but every finished second is already on
//! disk (`timeseries.csv`, `latency.hlog`, `pods.csv`, `labels.csv` are flushed per second). This
//! turns those seconds back into a summary with status `incomplete`, so `report`, `merge` and
//! `compare` can read the directory, and so nothing gates on it: an incomplete run never passes.
//!
//! Everything the per-second files hold is carried: counts, latency (per request, per outcome of
//! all requests together), pacer lag, connection wait, arrivals held by the connection cap, CPU,
//! labels (every header the scenario declares, as a live run lists them). What they do not hold
//! is said in the summary's notes rather than guessed: status codes (counted per run, not per
//! second), per-pod latency, service time per request; latency by outcome *per request* is exact
//! in seconds where no outcome was shared between requests (in the others it is counted under the
//! request's most frequent outcome, while the outcome *counts* stay exact, from `timeseries.csv`);
//! the second that was being written when the run died is dropped.

use super::interval::{OutcomeHists, Shape, Totals};
use super::hist::{add, new_hist};
use super::read::{self, LoadError, Second};
use super::outcome::{OutcomeId, OutcomeTable};
use super::results::{ALL_REQUESTS, HLOG, LABELS, SCENARIO_COPY, SUMMARY, TIMESERIES};
use super::summary::{ratio, scenario_fingerprint, RunMeta, RunStatus, Summary};
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

/// What `failure` says in a rebuilt summary; readers print it.
pub const REBUILT: &str = "the run ended without writing summary.json (killed?): this summary was rebuilt from the per-second files, with status `incomplete`; it never passes a check or a comparison";

/// What a rebuilt summary cannot say, because no per-second file holds it (the start of a note).
pub const ABSENT: &str = "not in the per-second files, so absent here: per-pod totals (pods.csv has the per-second counts)";

/// Whether `dir` looks like a run that died before writing its summary.
pub fn is_killed_run(dir: &Path) -> bool {
    !dir.join(SUMMARY).exists() && dir.join(TIMESERIES).is_file() && dir.join(HLOG).is_file()
}

/// The summary of a killed run, from its per-second files.
pub fn rebuild(dir: &Path) -> Result<Summary, LoadError> {
    let bad = |file: &'static str, what: String| LoadError::Bad { dir: dir.to_path_buf(), file, what };
    let io = |file: &'static str| move |source| LoadError::Io { dir: dir.to_path_buf(), file, source };
    let scenario_text = std::fs::read_to_string(dir.join(SCENARIO_COPY)).map_err(io(SCENARIO_COPY))?;
    let plan = crate::scenario::load_str(&scenario_text, &dir.join(SCENARIO_COPY)).ok();
    let declared: Vec<String> = plan.as_ref().map_or(Vec::new(), |p| p.labels.iter().map(|h| h.as_str().to_string()).collect());
    let shape = shape_of(dir, &declared)?;
    let mut seconds = BTreeMap::new();
    read::read_timeseries(dir, &shape, &mut seconds)?;
    read::read_hlog(dir, &shape, &mut seconds)?;
    read::read_counts(dir, &shape, &mut seconds)?;
    // A second is whole once its last interval-log entry is (that log is written after the CSVs).
    let hlog = read::complete_lines(std::fs::read(dir.join(HLOG)).map_err(io(HLOG))?);
    let last_tag = if shape.requests.len() > 1 { format!("req.{}", shape.requests[shape.requests.len() - 1]) } else { "lag".into() };
    let mut whole: Option<u64> = None;
    for e in IntervalLogIterator::new(&hlog) {
        let LogEntry::Interval(e) = e.map_err(|e| bad(HLOG, format!("{e:?}")))? else { continue };
        if e.tag().map(|t| t.as_str()) == Some(last_tag.as_str()) {
            whole = Some(whole.unwrap_or(0).max(e.start_timestamp().as_secs_f64().round() as u64));
        }
    }
    seconds.retain(|k, _| whole.is_some_and(|w| *k <= w));
    let start_s = start_time(&hlog).unwrap_or(0.0);
    let (totals, mixed) = totals_of(&shape, &seconds);
    let duration_s = whole.map_or(0.0, |w| (w + 1) as f64);
    let expected: f64 = seconds.values().flat_map(|s| s.target_tenths.iter()).sum::<u64>() as f64 / 10.0;

    let raw: Option<toml::Value> = toml::from_str(&scenario_text).ok();
    let name = raw.as_ref().and_then(|v| v.get("name")).and_then(|v| v.as_str()).map(String::from);
    let target = raw.as_ref().and_then(|v| v.get("target")).and_then(|t| t.as_str().or_else(|| t.get("url").and_then(|u| u.as_str())));
    let start_ms = (start_s * 1000.0).round().max(0.0) as u64;
    let meta = RunMeta {
        scenario: name
            .or_else(|| plan.as_ref().map(|p| p.name.clone()))
            .unwrap_or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()),
        scenario_file: None,
        status: RunStatus::Incomplete,
        started_at: crate::units::rfc3339(UNIX_EPOCH + Duration::from_millis(start_ms)),
        start_unix_ms: start_ms,
        planned_duration_s: plan.as_ref().map_or(duration_s, |p| p.total_duration().as_secs_f64()),
        duration_s,
        target: target.map(String::from).unwrap_or_default(),
        threads: 0,
        expected,
        shards: None,
        scenario_fingerprint: scenario_fingerprint(&scenario_text),
    };
    let mut s = Summary::build(&meta, &shape, &totals);
    exact_counts(&mut s, &shape, &seconds);
    exact_outcome_latency(&mut s, &shape, &seconds);
    s.failure = Some(REBUILT.to_string());
    let g = &mut s.generator.notes;
    g.insert(0, format!("INCOMPLETE: rebuilt from {} whole second(s) of per-second files; the run did not end normally (no summary.json)", seconds.len()));
    // Status codes come from status.csv; Results written before it existed have none.
    let status = if dir.join(crate::record::results::STATUS).exists() { "" } else { ", HTTP status codes (no status.csv)" };
    g.push(format!("{ABSENT}{status}, generator threads, the per-second guard"));
    if shape.requests.len() > 1 {
        g.push("service time is kept per second for all requests together: it is shown under the first request".into());
    }
    if mixed > 0 {
        g.push(format!(
            "in {mixed} request-second(s) an outcome occurred in several requests: that request's latency is counted under its most frequent outcome there (outcome counts, and latency by outcome of all requests together, are exact)"
        ));
    }
    s.generator.fell_behind = true;
    Ok(s)
}

/// Request names (in order of first appearance), outcome columns and label headers: those the
/// scenario declares first (in its order, as the run had them, values or not), then any other
/// that labels.csv names (a scenario copy that no longer parses).
fn shape_of(dir: &Path, declared: &[String]) -> Result<Shape, LoadError> {
    let bad = |file: &'static str, what: String| LoadError::Bad { dir: dir.to_path_buf(), file, what };
    let ts = read::timeseries(dir)?;
    let outcomes = ts.outcome_columns;
    if outcomes.is_empty() || outcomes.len() > u16::MAX as usize {
        return Err(bad(TIMESERIES, format!("{} outcome columns between `dropped` and `p50_ms`; 1 to 65535 are allowed", outcomes.len())));
    }
    let mut requests: Vec<String> = Vec::new();
    for row in &ts.rows {
        let n = &row.request;
        if n != ALL_REQUESTS && !n.is_empty() && !requests.contains(n) {
            requests.push(n.clone());
        }
    }
    if requests.is_empty() {
        return Err(bad(TIMESERIES, "no whole second was written before the run ended: nothing to rebuild".into()));
    }
    let mut labels: Vec<String> = declared.iter().take(super::interval::MAX_LABELS).cloned().collect();
    if let Ok(mut rd) = read::csv_reader(dir, LABELS) {
        for row in rd.records().flatten() {
            if let Some(h) = row.get(1) {
                if !labels.iter().any(|l| l == h) && labels.len() < super::interval::MAX_LABELS {
                    labels.push(h.to_string());
                }
            }
        }
    }
    Ok(Shape { requests, outcomes: OutcomeTable::from_names(outcomes), labels })
}

/// `#[StartTime: 1700000000.123 (seconds since epoch)]`.
fn start_time(hlog: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(&hlog[..hlog.len().min(4096)]).ok()?;
    let rest = text.lines().find_map(|l| l.strip_prefix("#[StartTime: "))?;
    rest.split_whitespace().next()?.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e11)
}

/// Totals summed from the seconds; the number of request-seconds whose latency could not be split
/// by outcome exactly.
fn totals_of(shape: &Shape, seconds: &BTreeMap<u64, Second>) -> (Totals, u64) {
    let mut t = Totals::new(shape);
    let mut mixed = 0;
    for s in seconds.values() {
        let iv = &s.iv;
        let mut service_slot: Option<(usize, usize, u64)> = None;
        for (ri, r) in iv.requests.iter().enumerate() {
            let tr = &mut t.requests[ri];
            tr.scheduled += r.scheduled;
            tr.sent += r.sent;
            tr.dropped += r.dropped;
            tr.bytes_in += r.bytes_in;
            let present = r.outcomes.iter().filter(|n| **n > 0).count();
            let Some((oi, _)) = r.outcomes.iter().enumerate().max_by_key(|(i, n)| (**n, std::cmp::Reverse(*i))) else { continue };
            if present > 1 {
                if let Some(split) = split_by_outcome(iv, ri) {
                    for (o, h) in split {
                        let slot = tr.by_outcome[o].get_or_insert_with(|| OutcomeHists { latency: new_hist(), service: new_hist() });
                        add(&mut slot.latency, h);
                    }
                    if service_slot.is_none_or(|(_, _, n)| r.latency.len() > n) {
                        service_slot = Some((ri, oi, r.latency.len()));
                    }
                    continue;
                }
                mixed += 1;
            }
            if r.latency.is_empty() && present == 0 {
                continue;
            }
            let slot = tr.by_outcome[oi].get_or_insert_with(|| OutcomeHists { latency: new_hist(), service: new_hist() });
            add(&mut slot.latency, &r.latency);
            if service_slot.is_none_or(|(_, _, n)| r.latency.len() > n) {
                service_slot = Some((ri, oi, r.latency.len()));
            }
        }
        // Service time of all requests together is held by request 0 (see `load`).
        if let (Some((ri, oi, _)), false) = (service_slot, iv.requests[0].service.is_empty()) {
            if let Some(slot) = t.requests[ri].by_outcome[oi].as_mut() {
                add(&mut slot.service, &iv.requests[0].service);
            }
        }
        add(&mut t.lag, &iv.lag);
        add(&mut t.conn_wait, &iv.conn_wait);
        t.conn_limited += iv.conn_limited;
        t.cpu += iv.cpu;
        for (code, n) in &iv.status {
            *t.status.entry(*code).or_default() += n;
        }
        for (a, b) in t.labels.iter_mut().zip(&iv.labels) {
            for (v, n) in b {
                *a.entry(v.clone()).or_default() += n;
            }
        }
    }
    // pods.csv has counts per pod but not their outcomes or latency: totals per pod would have to
    // invent those, so they are left out (pods.csv itself still holds the per-second counts).
    (t, mixed)
}

/// Request `ri`'s latency in one second split exactly by outcome, when the interval log's
/// per-outcome histograms (all requests together) are that request's alone: no other request had
/// any of its outcomes in that second, and each histogram holds exactly the count
/// `timeseries.csv` gives (files written before per-outcome entries, or damaged, fall back).
fn split_by_outcome(iv: &super::interval::Interval, ri: usize) -> Option<Vec<(usize, &super::hist::Hist)>> {
    let r = &iv.requests[ri];
    let mut split = Vec::new();
    for (o, &n) in r.outcomes.iter().enumerate().filter(|(_, n)| **n > 0) {
        let shared = iv.requests.iter().enumerate().any(|(i, q)| i != ri && q.outcomes.get(o).is_some_and(|m| *m > 0));
        let h = iv.outcome_latency.get(o)?.as_ref()?;
        if shared || h.len() != n {
            return None;
        }
        split.push((o, h));
    }
    Some(split)
}

/// Latency by outcome of all requests together, from the interval log's per-outcome entries,
/// which are exact where the per-request split (`totals_of`) may have lumped a second. Used only
/// when the entries hold every completion of the outcome that `timeseries.csv` counts.
fn exact_outcome_latency(s: &mut Summary, shape: &Shape, seconds: &BTreeMap<u64, Second>) {
    for (name, o) in s.by_outcome.iter_mut() {
        let Some(id) = shape.outcomes.id(name) else { continue };
        let mut h = new_hist();
        for sec in seconds.values() {
            if let Some(Some(x)) = sec.iv.outcome_latency.get(id as usize) {
                add(&mut h, x);
            }
        }
        if h.len() == o.count {
            o.latency = super::hist::Percentiles::of(&h);
        }
    }
}

/// The outcome counts and error rates from `timeseries.csv`, which are exact where the histograms
/// (lumped by second) are not.
fn exact_counts(s: &mut Summary, shape: &Shape, seconds: &BTreeMap<u64, Second>) {
    let n = shape.outcomes.len();
    let d = s.duration_s;
    let mut all = vec![0u64; n];
    for (ri, rs) in s.requests.iter_mut().enumerate() {
        let mut counts = vec![0u64; n];
        for sec in seconds.values() {
            for (c, x) in counts.iter_mut().zip(&sec.iv.requests[ri].outcomes) {
                *c += x;
            }
        }
        for (a, c) in all.iter_mut().zip(&counts) {
            *a += c;
        }
        fix(&mut rs.overall, &counts, shape, d);
        for (name, o) in rs.by_outcome.iter_mut() {
            if let Some(id) = shape.outcomes.id(name) {
                o.count = counts[id as usize];
            }
        }
    }
    fix(&mut s.totals, &all, shape, d);
    for (name, o) in s.by_outcome.iter_mut() {
        if let Some(id) = shape.outcomes.id(name) {
            o.count = all[id as usize];
        }
    }
}

fn fix(o: &mut super::summary::Overall, counts: &[u64], shape: &Shape, duration_s: f64) {
    let completed: u64 = counts.iter().sum();
    let failed: u64 = counts.iter().enumerate().filter(|(i, _)| OutcomeTable::is_failure(*i as OutcomeId)).map(|(_, n)| n).sum();
    o.completed = completed;
    o.outcomes = counts.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| (shape.outcomes.name(i as OutcomeId).to_string(), *n)).collect();
    o.error_rate = ratio(failed + o.dropped, completed + o.dropped);
    o.achieved_rps = if duration_s > 0.0 { completed as f64 / duration_s } else { 0.0 };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::interval::Interval;
    use crate::record::hist::record_us;
    use crate::record::outcome::{ERROR, OK};
    use crate::record::results::ResultsWriter;
    use std::io::Write;
    use std::sync::Arc;

    /// Three seconds written as a run writes them, then a fourth cut off mid-line in both files
    /// (what `kill -9` during a flush leaves).
    #[test]
    fn a_killed_run_is_rebuilt_from_its_whole_seconds() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("r");
        let shape = Arc::new(Shape { requests: vec!["get".into()], outcomes: OutcomeTable::new([]), labels: vec![] });
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut w = ResultsWriter::create(&dir, shape.clone(), start, "name = \"killme\"\ntarget = \"http://127.0.0.1:9\"\n").unwrap();
        for k in 0..3u64 {
            let mut iv = Interval::new(k, &shape);
            let r = &mut iv.requests[0];
            r.scheduled = 10;
            r.sent = 10;
            r.completed = 10;
            r.outcomes[OK as usize] = if k == 1 { 7 } else { 10 };
            r.outcomes[ERROR as usize] = if k == 1 { 3 } else { 0 };
            for i in 0..10 {
                record_us(&mut r.latency, Duration::from_millis(1 + i));
                record_us(&mut r.service, Duration::from_millis(1 + i));
            }
            iv.status = if k == 1 { [(200, 7), (503, 3)].into() } else { [(200, 10)].into() };
            w.write_interval(&iv, &[10.0]).unwrap();
        }
        drop(w);
        for f in [TIMESERIES, HLOG] {
            let mut file = std::fs::OpenOptions::new().append(true).open(dir.join(f)).unwrap();
            file.write_all(b"3,get,10.0,1").unwrap();
        }
        assert!(is_killed_run(&dir));
        let s = crate::record::results::read_summary(&dir).unwrap();
        assert_eq!(s.status, RunStatus::Incomplete);
        assert_eq!(s.scenario, "killme");
        assert_eq!(s.target, "http://127.0.0.1:9");
        assert_eq!(s.start_unix_ms, 1_700_000_000_000);
        assert_eq!(s.duration_s, 3.0);
        assert_eq!((s.totals.scheduled, s.totals.completed), (30, 30));
        assert_eq!(s.totals.outcomes.get("ok"), Some(&27));
        assert_eq!(s.totals.outcomes.get("error"), Some(&3));
        assert!((s.totals.error_rate - 0.1).abs() < 1e-9);
        // status.csv's per-second counts give the run's status codes back.
        assert_eq!(s.totals.status_codes, [("200".to_string(), 27), ("503".to_string(), 3)].into());
        assert!(!s.generator.notes.iter().any(|n| n.contains("HTTP status codes")), "{:?}", s.generator.notes);
        assert_eq!(s.totals.latency.count, 30);
        assert!(s.generator.notes.iter().any(|n| n.contains("1 request-second")), "{:?}", s.generator.notes);
        // The Results loader (merge, verify, report) reads it as well.
        let r = crate::record::read::results(&dir).unwrap();
        assert_eq!(r.info.status, RunStatus::Incomplete);
    }

    /// Seeded random damage to a Results directory (bytes changed, cut, inserted in one file, with
    /// and without summary.json): the loader and the rebuild answer or refuse, never panic, and
    /// never allocate for a second or shard count a file merely claims. Longer run:
    /// `SKYLOAD_FUZZ_CASES=200000 cargo test --release --lib fuzz`.
    #[test]
    fn fuzz_damaged_results_never_panic() {
        use rand::{Rng, SeedableRng};
        let tmp = tempfile::tempdir().unwrap();
        let clean = tmp.path().join("clean");
        let shape = Arc::new(Shape { requests: vec!["a".into(), "b".into()], outcomes: OutcomeTable::new([]), labels: vec!["x-v".into()] });
        let mut w = ResultsWriter::create(&clean, shape.clone(), UNIX_EPOCH, "name = \"f\"\n").unwrap();
        for k in 0..4u64 {
            let mut iv = Interval::new(k, &shape);
            for (ri, r) in iv.requests.iter_mut().enumerate() {
                r.scheduled = 5;
                r.completed = 5;
                r.outcomes[ri] = 5;
                for i in 0..5 {
                    record_us(&mut r.latency, Duration::from_micros(100 + i * 7 + k));
                }
            }
            iv.pods.insert("p,1".into(), 3);
            iv.labels[0].insert("v\"2".into(), 4);
            w.write_interval(&iv, &[5.0, 5.0]).unwrap();
        }
        drop(w);
        let rebuilt = crate::record::results::read_summary(&clean).unwrap();
        let files = [TIMESERIES, HLOG, crate::record::results::PODS, crate::record::results::LABELS, SCENARIO_COPY, SUMMARY];
        const BYTES: &[u8] = b"0123456789,*\n\"-.e{}:[]a \t";
        let cases = (crate::scenario::bounds::fuzz_tests::cases() / 10).max(50);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(crate::scenario::bounds::fuzz_tests::seed() ^ 0x2e5);
        for case in 0..cases {
            let dir = tmp.path().join(format!("c{case}"));
            std::fs::create_dir(&dir).unwrap();
            for f in &files[..5] {
                std::fs::copy(clean.join(f), dir.join(f)).unwrap();
            }
            let with_summary = rng.gen_bool(0.5);
            if with_summary {
                crate::record::results::write_summary(&dir, &rebuilt).unwrap();
            }
            let target = files[rng.gen_range(0..if with_summary { 6 } else { 5 })];
            let mut b = std::fs::read(dir.join(target)).unwrap();
            for _ in 0..rng.gen_range(1..5) {
                let at = rng.gen_range(0..=b.len());
                match rng.gen_range(0..4) {
                    0 if at < b.len() => b[at] = BYTES[rng.gen_range(0..BYTES.len())],
                    1 => b.truncate(at),
                    2 => b.splice(at..at, b"99999999999999,".iter().copied()).for_each(drop),
                    _ => b.insert(at, BYTES[rng.gen_range(0..BYTES.len())]),
                }
            }
            std::fs::write(dir.join(target), &b).unwrap();
            let r = std::panic::catch_unwind(|| {
                let _ = crate::record::results::read_summary(&dir);
                let _ = crate::record::read::results(&dir);
            });
            assert!(r.is_ok(), "case {case}: damaging {target} panicked:\n{}", String::from_utf8_lossy(&b));
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn a_run_killed_before_its_first_second_says_there_is_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let shape = Arc::new(Shape { requests: vec!["get".into()], outcomes: OutcomeTable::new([]), labels: vec![] });
        let w = ResultsWriter::create(tmp.path(), shape, UNIX_EPOCH, "").unwrap();
        drop(w);
        let e = crate::record::results::read_summary(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("nothing to rebuild"), "{e}");
    }
}
