//! The requests behind the percentiles, kept by name when tracing: per generator thread the
//! slowest N of each request name and the first N of each outcome other than `ok`, with the
//! sequence number that gives their trace id (`record::trace_id`), merged over threads at the end
//! (`slow.csv`, the terminal, the report); and per second the slowest request in each latency
//! bucket, shipped with the interval as the histogram's OpenMetrics exemplars.
//!
//! Memory is flat: every list is capped at N and preallocated on first use, the per-second part is
//! 21 slots per request name. A completion is staged (`ThreadRecorder::completed` sees the numbers,
//! the worker knows the sequence number) in a small ring and offered right after the worker's
//! `one()` returns, matched by (intended instant, request).

use super::accum::Completion;
use super::outcome::{OutcomeId, OK};
use super::buckets::{self, LATENCY_BUCKETS_US};
use std::cmp::Reverse;
use super::accum::MonoNs;

/// Pod names longer than this are cut (Kubernetes pod names are at most 63 bytes).
pub const POD_BYTES: usize = 64;
/// Latency buckets plus the one above the highest bound.
pub const SLOTS: usize = LATENCY_BUCKETS_US.len() + 1;
/// Completions staged between `ThreadRecorder::completed` and the worker's offer.
const RING: usize = 8;

/// One kept request. Times are nanoseconds since second 0 of the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kept {
    pub seq: u64,
    pub request: usize,
    pub outcome: OutcomeId,
    /// HTTP status, 0 when the request failed below HTTP.
    pub status: u16,
    pub intended_ns: u64,
    pub sent_ns: u64,
    pub latency_ns: u64,
    pod: [u8; POD_BYTES],
    pod_len: u8,
}

impl Kept {
    pub fn pod(&self) -> &str {
        std::str::from_utf8(&self.pod[..self.pod_len as usize]).unwrap_or("")
    }
    pub fn done_ns(&self) -> u64 {
        self.intended_ns + self.latency_ns
    }
}

/// The slowest request of one bucket in one second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exemplar {
    pub seq: u64,
    pub latency_ns: u64,
    pub done_ns: u64,
}

/// One second's exemplars: `[request][bucket]`; empty when nothing was kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecondSlow {
    pub by_request: Vec<[Option<Exemplar>; SLOTS]>,
}

impl SecondSlow {
    fn offer(&mut self, requests: usize, k: &Kept) {
        if self.by_request.len() < requests {
            self.by_request.resize(requests, [None; SLOTS]);
        }
        let slot = buckets::slot(k.latency_ns.div_ceil(1_000));
        let e = &mut self.by_request[k.request][slot];
        if e.is_none_or(|e| e.latency_ns < k.latency_ns) {
            *e = Some(Exemplar { seq: k.seq, latency_ns: k.latency_ns, done_ns: k.done_ns() });
        }
    }

    pub fn merge(&mut self, o: &SecondSlow) {
        if self.by_request.len() < o.by_request.len() {
            self.by_request.resize(o.by_request.len(), [None; SLOTS]);
        }
        for (a, b) in self.by_request.iter_mut().zip(&o.by_request) {
            for (x, y) in a.iter_mut().zip(b) {
                if let Some(y) = y {
                    if x.is_none_or(|x| x.latency_ns < y.latency_ns) {
                        *x = Some(*y);
                    }
                }
            }
        }
    }
}

/// What the run kept in total: per request name its slowest, per outcome its first failures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlowTotals {
    /// `[request]`, each at most `n`, in no particular order until `sorted`.
    pub slowest: Vec<Vec<Kept>>,
    /// `[outcome]` (`ok` stays empty), each at most `n`.
    pub failed: Vec<Vec<Kept>>,
    pub n: usize,
}

impl SlowTotals {
    fn offer(&mut self, k: &Kept, n: usize) {
        self.n = n;
        let grow = |v: &mut Vec<Vec<Kept>>, i: usize| {
            if v.len() <= i {
                v.resize_with(i + 1, Vec::new);
            }
        };
        grow(&mut self.slowest, k.request);
        let list = &mut self.slowest[k.request];
        if list.len() < n {
            if list.capacity() == 0 {
                list.reserve_exact(n);
            }
            list.push(*k);
        } else if let Some((i, min)) = list.iter().enumerate().min_by_key(|(_, m)| m.latency_ns) {
            if k.latency_ns > min.latency_ns {
                list[i] = *k;
            }
        }
        if k.outcome != OK {
            grow(&mut self.failed, k.outcome as usize);
            let list = &mut self.failed[k.outcome as usize];
            if list.len() < n {
                if list.capacity() == 0 {
                    list.reserve_exact(n);
                }
                list.push(*k);
            }
        }
    }

    /// Merges another thread's (or shard's) lists: the slowest stay the slowest, the first
    /// failures the earliest by intended time.
    pub fn merge(&mut self, o: &SlowTotals) {
        self.n = self.n.max(o.n);
        let n = self.n;
        let join = |a: &mut Vec<Vec<Kept>>, b: &[Vec<Kept>], slowest: bool| {
            if a.len() < b.len() {
                a.resize_with(b.len(), Vec::new);
            }
            for (x, y) in a.iter_mut().zip(b) {
                x.extend_from_slice(y);
                if slowest {
                    x.sort_by_key(|k| (Reverse(k.latency_ns), k.seq));
                } else {
                    x.sort_by_key(|k| (k.intended_ns, k.seq));
                }
                x.truncate(n);
            }
        };
        join(&mut self.slowest, &o.slowest, true);
        join(&mut self.failed, &o.failed, false);
    }

    /// Every kept request once (a slow failure is in both lists), slowest lists first, each
    /// slowest first, then the failures by intended time.
    pub fn rows(&self) -> Vec<Kept> {
        let mut out: Vec<Kept> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut slow: Vec<Kept> = self.slowest.iter().flatten().copied().collect();
        slow.sort_by_key(|k| (k.request, Reverse(k.latency_ns), k.seq));
        let mut failed: Vec<Kept> = self.failed.iter().flatten().copied().collect();
        failed.sort_by_key(|k| (k.outcome, k.intended_ns, k.seq));
        for k in slow.into_iter().chain(failed) {
            if seen.insert(k.seq) {
                out.push(k);
            }
        }
        out
    }

    /// The slowest kept request of all names.
    pub fn slowest(&self) -> Option<&Kept> {
        self.slowest.iter().flatten().max_by_key(|k| (k.latency_ns, Reverse(k.seq)))
    }

    pub fn is_empty(&self) -> bool {
        self.slowest.iter().all(Vec::is_empty) && self.failed.iter().all(Vec::is_empty)
    }
}

/// One generator thread's keeper (lives in its `ThreadRecorder`).
#[derive(Debug)]
pub struct SlowKeeper {
    /// Second 0 of the schedule.
    origin: MonoNs,
    ring: [Option<(MonoNs, Kept)>; RING],
    next: usize,
    pub total: SlowTotals,
    pub second: SecondSlow,
    /// `Some(n)` unless the engine said the run keeps nothing (`keep`): staging costs a 100-byte
    /// copy per request, which a run without tracing must not pay.
    keep: Option<usize>,
    /// Per request name, the latency (ns) a completion must exceed to enter a full slowest list.
    floor: Vec<u64>,
}

impl SlowKeeper {
    pub fn new(origin: MonoNs) -> SlowKeeper {
        SlowKeeper {
            origin,
            ring: [None; RING],
            next: 0,
            total: SlowTotals::default(),
            second: SecondSlow::default(),
            keep: Some(usize::MAX),
            floor: Vec::new(),
        }
    }

    /// How many per list the run keeps (`RequestSet::keep_slow()`); None: nothing is staged.
    pub fn keep(&mut self, n: Option<usize>) {
        self.keep = n;
    }

    /// Whether a completion could enter a list or this second's exemplars; most cannot once the
    /// lists are full, and those are not staged at all.
    fn can_enter(&self, c: &Completion, latency_ns: u64) -> bool {
        let Some(n) = self.keep else { return false };
        if c.outcome != OK && self.total.failed.get(c.outcome as usize).is_none_or(|l| l.len() < n) {
            return true;
        }
        if self.total.slowest.get(c.request).is_none_or(|l| l.len() < n) || self.floor.get(c.request).is_none_or(|&f| latency_ns > f) {
            return true;
        }
        let slot = buckets::slot(latency_ns.div_ceil(1_000));
        self.second.by_request.get(c.request).is_none_or(|b| b[slot].is_none_or(|e| e.latency_ns < latency_ns))
    }

    /// Stages a completion until the worker says which arrival it was (`offer`). No allocation.
    #[inline]
    pub fn stage(&mut self, c: &Completion) {
        if self.keep.is_none() {
            return;
        }
        self.stage_traced(c);
    }

    #[inline(never)]
    fn stage_traced(&mut self, c: &Completion) {
        let latency_ns = c.done.saturating_sub(c.intended);
        if !self.can_enter(c, latency_ns) {
            return;
        }
        let ns = |t: MonoNs| t.saturating_sub(self.origin);
        let pod = c.pod.unwrap_or(b"");
        let len = pod.len().min(POD_BYTES);
        let mut k = Kept {
            seq: 0,
            request: c.request,
            outcome: c.outcome,
            status: c.status,
            intended_ns: ns(c.intended),
            sent_ns: ns(c.sent),
            latency_ns,
            pod: [0; POD_BYTES],
            pod_len: len as u8,
        };
        k.pod[..len].copy_from_slice(&pod[..len]);
        self.ring[self.next] = Some((c.intended, k));
        self.next = (self.next + 1) % RING;
    }

    /// The staged completion of the arrival (`seq`, `intended`, `request`) is kept if it is among
    /// the slowest or first failures. `n`: how many per list; `requests`: names in the run.
    pub fn offer(&mut self, seq: u64, intended: MonoNs, request: usize, n: usize, requests: usize) {
        let Some(entry) = self.ring.iter_mut().find(|e| e.is_some_and(|(at, k)| at == intended && k.request == request)) else {
            return;
        };
        let (_, mut k) = entry.take().expect("found above");
        k.seq = seq;
        self.total.offer(&k, n);
        self.second.offer(requests, &k);
        if let Some(list) = self.total.slowest.get(k.request).filter(|l| l.len() >= n) {
            if self.floor.len() <= k.request {
                self.floor.resize(k.request + 1, 0);
            }
            self.floor[k.request] = list.iter().map(|m| m.latency_ns).min().unwrap_or(0);
        }
    }

    pub fn take_second(&mut self) -> SecondSlow {
        std::mem::take(&mut self.second)
    }
}

/// The worker's hook, called right after an arrival ended: `keep` is `RequestSet::keep_slow()`
/// (None when not tracing, and then this does nothing).
pub fn after(rec: &mut super::accum::ThreadRecorder, keep: Option<usize>, seq: u64, intended: MonoNs, request: usize) {
    if let Some(n) = keep {
        let requests = rec.requests();
        rec.slow.offer(seq, intended, request, n, requests);
    }
}

/// `slow.csv` in the Results.
pub use super::results::SLOW as SLOW_CSV;

/// One row of `slow.csv`: what a person needs to find the request in the gateway's logs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SlowRow {
    /// The W3C trace id the request carried in its `traceparent`.
    pub trace_id: String,
    pub request: String,
    /// `slowest` (among its name's slowest), `failure` (among its outcome's first), or `both`.
    pub kept_as: String,
    /// Intended send time: seconds after second 0, and as a UTC time for log searches.
    pub intended_s: f64,
    pub intended_utc: String,
    /// Actual send time, seconds after second 0.
    pub sent_s: f64,
    /// From the intended send time (what the percentiles measure).
    pub latency_ms: f64,
    /// HTTP status; 0 when the request failed below HTTP.
    pub status: u16,
    pub outcome: String,
    pub pod: String,
    /// The arrival's sequence number in the schedule.
    pub seq: u64,
}

/// The rows of `slow.csv` for the kept requests; `start` is second 0's wall-clock time.
pub fn rows(t: &SlowTotals, shape: &super::interval::Shape, seed: u64, start: std::time::SystemTime) -> Vec<SlowRow> {
    let in_slowest = |seq| t.slowest.iter().flatten().any(|k| k.seq == seq);
    let in_failed = |seq| t.failed.iter().flatten().any(|k| k.seq == seq);
    t.rows()
        .iter()
        .map(|k| SlowRow {
            trace_id: String::from_utf8_lossy(&super::trace_id::trace_id_hex(seed, k.seq)).into_owned(),
            request: shape.requests.get(k.request).cloned().unwrap_or_default(),
            kept_as: match (in_slowest(k.seq), in_failed(k.seq)) {
                (true, true) => "both",
                (true, false) => "slowest",
                _ => "failure",
            }
            .into(),
            intended_s: round3(k.intended_ns as f64 / 1e9),
            intended_utc: crate::units::rfc3339(start + std::time::Duration::from_nanos(k.intended_ns)),
            sent_s: round3(k.sent_ns as f64 / 1e9),
            latency_ms: (k.latency_ns as f64 / 1e3).round() / 1e3,
            status: k.status,
            outcome: shape.outcomes.name(k.outcome).to_string(),
            pod: k.pod().to_string(),
            seq: k.seq,
        })
        .collect()
}

fn round3(v: f64) -> f64 {
    (v * 1e3).round() / 1e3
}

/// Writes `slow.csv` (atomically: it is written once, at the end).
pub fn write_csv(dir: &std::path::Path, rows: &[SlowRow]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if rows.is_empty() {
        w.write_record(["trace_id", "request", "kept_as", "intended_s", "intended_utc", "sent_s", "latency_ms", "status", "outcome", "pod", "seq"])?;
    }
    for r in rows {
        w.serialize(r)?;
    }
    let bytes = w.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?;
    super::outdir::write_atomic(&dir.join(SLOW_CSV), &bytes)
}

/// Reads `slow.csv`; None when the run was not traced (no file).
pub fn read_csv(dir: &std::path::Path) -> Option<Result<Vec<SlowRow>, String>> {
    let path = dir.join(SLOW_CSV);
    let file = std::fs::File::open(&path).ok()?;
    let rows = csv::Reader::from_reader(file).deserialize().collect::<Result<Vec<SlowRow>, _>>();
    Some(rows.map_err(|e| format!("{}: {e}", path.display())))
}

/// Merges shards' `slow.csv` rows into the run's: per request name the slowest, per outcome the
/// first failures, as many per list as the largest list any shard kept (every shard ran with the
/// same `slow`). Shards hold disjoint arrivals, so a request is in one shard only; the order is the
/// one `SlowTotals::rows` gives a single run's file.
pub fn merge_rows(parts: &[Vec<SlowRow>]) -> Vec<SlowRow> {
    use std::collections::BTreeMap;
    let is_slow = |r: &SlowRow| r.kept_as != "failure";
    let is_failure = |r: &SlowRow| r.kept_as != "slowest";
    let mut keep = 0;
    for rows in parts {
        let mut groups: BTreeMap<(bool, &str), usize> = BTreeMap::new();
        for r in rows {
            if is_slow(r) {
                *groups.entry((true, r.request.as_str())).or_default() += 1;
            }
            if is_failure(r) {
                *groups.entry((false, r.outcome.as_str())).or_default() += 1;
            }
        }
        keep = keep.max(groups.values().copied().max().unwrap_or(0));
    }
    let all: Vec<&SlowRow> = parts.iter().flatten().collect();
    let mut slowest: BTreeMap<&str, Vec<&SlowRow>> = BTreeMap::new();
    let mut failed: BTreeMap<&str, Vec<&SlowRow>> = BTreeMap::new();
    for r in all.iter().copied() {
        if is_slow(r) {
            slowest.entry(r.request.as_str()).or_default().push(r);
        }
        if is_failure(r) {
            failed.entry(r.outcome.as_str()).or_default().push(r);
        }
    }
    let mut slow_kept = std::collections::HashSet::new();
    let mut out: Vec<SlowRow> = Vec::new();
    for list in slowest.values_mut() {
        list.sort_by(|a, b| b.latency_ms.total_cmp(&a.latency_ms).then(a.seq.cmp(&b.seq)));
        list.truncate(keep);
        for r in list.iter() {
            slow_kept.insert(r.seq);
            out.push((*r).clone());
        }
    }
    let mut failed_kept = std::collections::HashSet::new();
    let mut failures: Vec<SlowRow> = Vec::new();
    for list in failed.values_mut() {
        list.sort_by(|a, b| a.intended_s.total_cmp(&b.intended_s).then(a.seq.cmp(&b.seq)));
        list.truncate(keep);
        for r in list.iter() {
            failed_kept.insert(r.seq);
            if !slow_kept.contains(&r.seq) {
                failures.push((*r).clone());
            }
        }
    }
    out.extend(failures);
    for r in &mut out {
        r.kept_as = match (slow_kept.contains(&r.seq), failed_kept.contains(&r.seq)) {
            (true, true) => "both",
            (true, false) => "slowest",
            _ => "failure",
        }
        .into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::outcome::{ERROR, TIMEOUT};
    /// Second 0 on a made-up clock, and a millisecond in ns.
    const T0: MonoNs = 3_000_000_017;
    const MS: u64 = 1_000_000;

    fn done(t0: MonoNs, request: usize, outcome: OutcomeId, at_ms: u64, lat_ms: u64, pod: &'static [u8]) -> Completion<'static> {
        let intended = t0 + at_ms * MS;
        let mut c = Completion::failed(request, outcome, intended, intended, intended + lat_ms * MS);
        c.status = if outcome == OK { 200 } else { 500 };
        c.pod = Some(pod);
        c
    }

    fn feed(k: &mut SlowKeeper, t0: MonoNs, seq: u64, request: usize, outcome: OutcomeId, lat_ms: u64) {
        let c = done(t0, request, outcome, seq * 10, lat_ms, b"pod-a");
        k.stage(&c);
        k.offer(seq, c.intended, request, 3, 2);
    }

    #[test]
    fn keeps_the_slowest_per_name_and_the_first_failures() {
        let t0 = T0;
        let mut k = SlowKeeper::new(t0);
        for seq in 0..100 {
            let outcome = if seq % 10 == 3 { ERROR } else { OK };
            feed(&mut k, t0, seq, (seq % 2) as usize, outcome, seq % 37);
        }
        let t = &k.total;
        assert!(t.slowest.iter().all(|l| l.len() == 3) && t.slowest[0].capacity() == 3);
        let mut lat0: Vec<u64> = t.slowest[0].iter().map(|x| x.latency_ns / 1_000_000).collect();
        lat0.sort();
        // even seqs: latencies seq % 37; the three largest are 36 (seq 36), 35 (72), 34 (34).
        assert_eq!(lat0, vec![34, 35, 36]);
        assert_eq!(t.failed[ERROR as usize].iter().map(|x| x.seq).collect::<Vec<_>>(), vec![3, 13, 23]);
        assert!(t.failed[OK as usize].is_empty());
        assert_eq!(t.slowest().unwrap().pod(), "pod-a");
        assert_eq!(t.slowest().unwrap().latency_ns, 36_000_000);
    }

    /// Staging only what can enter a list or a second's exemplar keeps exactly what staging
    /// everything keeps; a completion that cannot enter is not staged at all, and a run without
    /// tracing stages nothing.
    #[test]
    fn the_entry_check_keeps_the_same_requests_and_skips_the_rest() {
        let t0 = T0;
        let (mut all, mut checked, mut off) = (SlowKeeper::new(t0), SlowKeeper::new(t0), SlowKeeper::new(t0));
        checked.keep(Some(3));
        off.keep(None);
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for seq in 0..2_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let outcome = if rng % 50 == 0 { ERROR } else if rng % 77 == 0 { TIMEOUT } else { OK };
            let lat = rng % 2_000;
            for k in [&mut all, &mut checked, &mut off] {
                feed(k, t0, seq, (seq % 2) as usize, outcome, lat);
            }
            if seq % 500 == 499 {
                assert_eq!(all.take_second(), checked.take_second(), "exemplars up to {seq}");
                assert_eq!(off.take_second(), SecondSlow::default());
            }
        }
        assert_eq!(all.total, checked.total);
        assert!(off.total.is_empty());
        // The lists are full of slow requests now, and this second's fastest bucket has an
        // exemplar of 0 ms: another fast ok one is not even staged.
        feed(&mut checked, t0, 2_990, 0, OK, 0);
        let fast = done(t0, 0, OK, 30_000, 0, b"p");
        checked.stage(&fast);
        assert!(checked.ring.iter().flatten().all(|(at, _)| *at != fast.intended));
        let slow = done(t0, 0, OK, 30_010, 5_000, b"p");
        checked.stage(&slow);
        assert!(checked.ring.iter().flatten().any(|(at, _)| *at == slow.intended));
    }

    #[test]
    fn an_offer_without_a_staged_completion_is_ignored_and_staging_is_matched() {
        let t0 = T0;
        let mut k = SlowKeeper::new(t0);
        let a = done(t0, 0, OK, 5, 50, b"p");
        let b = done(t0, 0, OK, 6, 1, b"q");
        k.stage(&a);
        k.stage(&b);
        // offered in the other order: each finds its own numbers
        k.offer(2, b.intended, 0, 3, 1);
        k.offer(1, a.intended, 0, 3, 1);
        k.offer(9, t0 + 9_000 * MS, 0, 3, 1);
        let by_seq = |s| k.total.slowest[0].iter().find(|x| x.seq == s).copied().unwrap();
        assert_eq!(by_seq(1).latency_ns, 50_000_000);
        assert_eq!(by_seq(2).pod(), "q");
        assert_eq!(k.total.slowest[0].len(), 2);
    }

    #[test]
    fn merge_keeps_the_slowest_and_earliest_and_exemplars_are_the_bucket_maximum() {
        let t0 = T0;
        let (mut a, mut b) = (SlowKeeper::new(t0), SlowKeeper::new(t0));
        for seq in 0..20 {
            feed(&mut a, t0, seq * 2, 0, if seq == 7 { TIMEOUT } else { OK }, seq);
            feed(&mut b, t0, seq * 2 + 1, 0, if seq == 2 { TIMEOUT } else { OK }, seq + 100);
        }
        let mut t = a.total.clone();
        t.merge(&b.total);
        assert_eq!(t.slowest[0].iter().map(|x| x.latency_ns / 1_000_000).collect::<Vec<_>>(), vec![119, 118, 117]);
        assert_eq!(t.failed[TIMEOUT as usize].iter().map(|x| x.seq).collect::<Vec<_>>(), vec![5, 14]);
        let rows = t.rows();
        assert_eq!(rows.len(), 5);
        let mut s = a.take_second();
        s.merge(&b.take_second());
        assert!(a.second.by_request.is_empty());
        // bucket 10..20 ms (slot 8) holds a's 10..19 ms requests; its exemplar is the 19 ms one.
        let e = s.by_request[0][8].unwrap();
        assert_eq!((e.seq, e.latency_ns), (38, 19_000_000));
        // 100..119 ms: bucket 100..200 ms, all b's; the slowest is 119 ms.
        assert_eq!(s.by_request[0][11].unwrap().latency_ns, 119_000_000);
    }

    #[test]
    fn csv_round_trips_with_trace_ids() {
        let t0 = T0;
        let mut k = SlowKeeper::new(t0);
        for seq in 0..6 {
            feed(&mut k, t0, seq, 0, if seq == 4 { TIMEOUT } else { OK }, seq + 1);
        }
        let shape = crate::record::interval::Shape {
            requests: vec!["get, \"quoted\"".into()],
            outcomes: crate::record::outcome::OutcomeTable::new([]),
            labels: vec![],
        };
        let start = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let rows = rows(&k.total, &shape, 9, start);
        let dir = std::env::temp_dir().join(format!("skyload-slow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write_csv(&dir, &rows).unwrap();
        let back = read_csv(&dir).unwrap().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(back, rows);
        assert_eq!(rows[0].latency_ms, 6.0);
        assert_eq!(rows[0].trace_id.as_bytes(), &crate::record::trace_id::trace_id_hex(9, 5));
        let t = rows.iter().find(|r| r.outcome == "timeout").unwrap();
        assert_eq!((t.kept_as.as_str(), t.seq, t.intended_s), ("both", 4, 0.04));
        assert!(t.intended_utc.starts_with("2023-11-14T22:13:20.04"), "{}", t.intended_utc);
    }

    #[test]
    fn shards_slow_rows_merge_into_one_runs() {
        let row = |seq: u64, request: &str, kept_as: &str, latency_ms: f64, outcome: &str| SlowRow {
            trace_id: format!("t{seq}"),
            request: request.into(),
            kept_as: kept_as.into(),
            intended_s: seq as f64,
            intended_utc: String::new(),
            sent_s: seq as f64,
            latency_ms,
            status: if outcome == "ok" { 200 } else { 500 },
            outcome: outcome.into(),
            pod: "p".into(),
            seq,
        };
        // Two shards, each kept 2 per list.
        let a = vec![row(0, "a", "slowest", 90.0, "ok"), row(2, "a", "both", 50.0, "error"), row(4, "a", "failure", 1.0, "error")];
        let b = vec![row(1, "a", "slowest", 70.0, "ok"), row(3, "a", "slowest", 60.0, "ok"), row(5, "a", "failure", 2.0, "timeout")];
        let m = merge_rows(&[a, b]);
        let got: Vec<(u64, &str)> = m.iter().map(|r| (r.seq, r.kept_as.as_str())).collect();
        // Slowest two of `a`: 90 (seq 0), 70 (seq 1); first two errors: seq 2 (now only a failure), 4; the timeout: seq 5.
        assert_eq!(got, [(0, "slowest"), (1, "slowest"), (2, "failure"), (4, "failure"), (5, "failure")]);
        assert!(merge_rows(&[]).is_empty());
    }
}
