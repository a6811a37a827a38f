//! Latency by the second each request was *scheduled* (its intended start), not the second it
//! ended. The per-second data (`timeseries.csv`, `latency.hlog`) is keyed by completion: a stall
//! that held the arrivals of seconds 17–19 until 20 s shows as a bad second 20, so a window over
//! [10 s, 20 s) misses the slow answers to its own arrivals and recovery is read a second or more
//! after users arriving at 20.1 s already got fast answers. "A user arriving at second k got
//! latency X" needs latency by intended second.
//!
//! Each generator thread keeps a ring of *open* intended seconds (`IntendedRing`): one latency
//! histogram per outcome that occurred and one service-time histogram, all requests together. A
//! second k is closed and shipped with the completion-second interval j once `k + horizon <= j`
//! (`horizon` = the request timeout + a margin: an arrival ends within its timeout of leaving the
//! pacer, so only one the pacer handed over more than the margin late can end after that). Such a
//! straggler is still counted: it opens a *late* entry for k, shipped with the next second, and
//! readers sum every entry of one second and tag. Memory is the ring (about `horizon` seconds of
//! histograms, reused once closed), flat in the length of the run.
//!
//! Saved as `intended.hlog`, an HDR interval log written as seconds close: entries start at the
//! intended second, one second long, tagged `latency:<outcome>` or `service`; one second may have
//! several entries of one tag (threads, shards, stragglers), which add.

use super::hist::{add, decode, new_hist, record_ns, Hist};
use super::interval::Shape;
use super::read::{complete_lines, LoadError};
use super::results::INTENDED;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::time::Duration;

/// What the requests scheduled in one second got, all requests together.
#[derive(Debug, Clone, PartialEq)]
pub struct IntendedSecond {
    pub second: u64,
    /// Latency from the intended start by outcome id (None: no such completion).
    pub latency: Vec<Option<Hist>>,
    /// Service time (from the actual send), every outcome together.
    pub service: Option<Hist>,
}

impl IntendedSecond {
    pub fn new(second: u64, outcomes: usize) -> IntendedSecond {
        IntendedSecond { second, latency: vec![None; outcomes], service: None }
    }

    /// Completions of the second's arrivals (every outcome).
    pub fn completed(&self) -> u64 {
        self.latency.iter().flatten().map(|h| h.len()).sum()
    }

    /// Adds `o` in (its second is not checked: callers add entries of one second).
    pub fn merge(&mut self, o: &IntendedSecond) {
        if self.latency.len() < o.latency.len() {
            self.latency.resize(o.latency.len(), None);
        }
        for (a, b) in self.latency.iter_mut().zip(&o.latency) {
            if let Some(b) = b {
                add(a.get_or_insert_with(new_hist), b);
            }
        }
        if let Some(b) = &o.service {
            add(self.service.get_or_insert_with(new_hist), b);
        }
    }
}

/// Adds `entries` into `into`, entry by entry: those of a second already there add to it.
pub fn merge_entries(into: &mut Vec<IntendedSecond>, entries: &[IntendedSecond]) {
    for e in entries {
        match into.iter_mut().find(|x| x.second == e.second) {
            Some(x) => x.merge(e),
            None => into.push(e.clone()),
        }
    }
}

/// One open intended second's histograms. Recycled when closed: emptied, never freed, so a
/// thread's steady state records without allocating.
#[derive(Debug, Clone)]
struct Slot {
    latency: Vec<Option<Hist>>,
    service: Option<Hist>,
    used: bool,
}

impl Slot {
    /// Records one completion; true when a histogram had to be made (a growth).
    #[inline]
    fn record(&mut self, outcome: usize, latency_ns: u64, service_ns: u64) -> bool {
        let mut grew = false;
        if self.latency.len() <= outcome {
            self.latency.resize(outcome + 1, None);
            grew = true;
        }
        let l = self.latency[outcome].get_or_insert_with(|| {
            grew = true;
            new_hist()
        });
        record_ns(l, latency_ns);
        let s = self.service.get_or_insert_with(|| {
            grew = true;
            new_hist()
        });
        record_ns(s, service_ns);
        self.used = true;
        grew
    }

    /// What it holds as a shipped entry (None when nothing was recorded), and empties it.
    fn close(&mut self, second: u64) -> Option<IntendedSecond> {
        if !self.used {
            return None;
        }
        let keep = |h: &mut Option<Hist>| {
            let out = h.as_ref().filter(|h| !h.is_empty()).cloned();
            if let Some(h) = h {
                h.reset();
            }
            out
        };
        let entry = IntendedSecond { second, latency: self.latency.iter_mut().map(keep).collect(), service: keep(&mut self.service) };
        self.used = false;
        Some(entry)
    }
}

/// One generator thread's open intended seconds (see the module).
#[derive(Debug)]
pub struct IntendedRing {
    /// Seconds a second stays open after its end, counted in completion seconds shipped.
    horizon: u64,
    /// The oldest open second: `open[i]` is second `first + i`.
    first: u64,
    open: VecDeque<Slot>,
    /// Stragglers: completions for seconds already closed, by second, shipped with the next one.
    late: Vec<(u64, Slot)>,
    /// Emptied slots of closed seconds, reused.
    free: Vec<Slot>,
    outcomes: usize,
}

/// The margin over the request timeout before an intended second is closed: an arrival ends
/// within its timeout of the pacer's hand-over, so only the pacer's own lateness (normally µs)
/// can take it past the timeout, and 2 s of that is already a broken generator.
pub const MARGIN: Duration = Duration::from_secs(2);

/// Completion seconds an intended second stays open for a request `timeout`.
pub fn horizon(timeout: Duration) -> u64 {
    (timeout + MARGIN).as_secs_f64().ceil() as u64
}

impl IntendedRing {
    pub fn new(horizon: u64, outcomes: usize) -> IntendedRing {
        IntendedRing { horizon: horizon.max(1), first: 0, open: VecDeque::new(), late: Vec::new(), free: Vec::new(), outcomes }
    }

    fn slot(free: &mut Vec<Slot>, outcomes: usize, grew: &mut bool) -> Slot {
        free.pop().unwrap_or_else(|| {
            *grew = true;
            Slot { latency: vec![None; outcomes], service: None, used: false }
        })
    }

    /// One completion of an arrival due in `second`. True when it needed memory (a slot or a
    /// histogram made: the recorder counts a growth); recording into an open second's existing
    /// histograms is a few additions.
    #[inline]
    pub fn record(&mut self, second: u64, outcome: usize, latency_ns: u64, service_ns: u64) -> bool {
        let mut grew = false;
        if second >= self.first {
            let i = (second - self.first) as usize;
            while self.open.len() <= i {
                let s = Self::slot(&mut self.free, self.outcomes, &mut grew);
                self.open.push_back(s);
            }
            return self.open[i].record(outcome, latency_ns, service_ns) | grew;
        }
        let i = match self.late.iter().position(|(k, _)| *k == second) {
            Some(i) => i,
            None => {
                let s = Self::slot(&mut self.free, self.outcomes, &mut grew);
                self.late.push((second, s));
                self.late.len() - 1
            }
        };
        self.late[i].1.record(outcome, latency_ns, service_ns) | grew
    }

    /// Closes what shipping completion second `j` closes: every open second `k` with
    /// `k + horizon <= j`, and every straggler entry.
    pub fn close_for(&mut self, j: u64) -> Vec<IntendedSecond> {
        self.close_before((j + 1).saturating_sub(self.horizon))
    }

    /// Closes every open second before `bound`, and every straggler entry.
    fn close_before(&mut self, bound: u64) -> Vec<IntendedSecond> {
        let mut out = Vec::new();
        for (k, mut s) in std::mem::take(&mut self.late) {
            out.extend(s.close(k));
            self.free.push(s);
        }
        while self.first < bound {
            if let Some(mut s) = self.open.pop_front() {
                out.extend(s.close(self.first));
                self.free.push(s);
            }
            self.first += 1;
            if self.open.is_empty() {
                self.first = self.first.max(bound);
            }
        }
        out
    }

    /// Closes everything (the thread is done: every arrival has ended).
    pub fn close_all(&mut self) -> Vec<IntendedSecond> {
        self.close_before(self.first + self.open.len() as u64)
    }

    /// Seconds held open or as stragglers now (what the ring's memory is proportional to).
    pub fn held(&self) -> usize {
        self.open.len() + self.late.len() + self.free.len()
    }
}

/// `intended.hlog`'s header (appended after by `ResultsWriter::write_intended`).
pub const HEADER: &str = "#[skyload intended-second log: values in microseconds, by the second of each request's intended start (all requests); a second may have several entries of a tag, which add]\n#[Tags: latency:<outcome> = latency from intended start, service = service time (every outcome)]\n\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";

/// The tags of one entry's histograms, in file order.
pub fn tagged<'a>(e: &'a IntendedSecond, shape: &Shape) -> Vec<(String, &'a Hist)> {
    let mut out = Vec::new();
    for (o, h) in e.latency.iter().enumerate() {
        if let Some(h) = h.as_ref().filter(|h| !h.is_empty()) {
            out.push((format!("latency:{}", shape.outcomes.name(o as u16)), h));
        }
    }
    if let Some(h) = e.service.as_ref().filter(|h| !h.is_empty()) {
        out.push(("service".to_string(), h));
    }
    out
}

/// `intended.hlog` of `dir`, its entries of one second added together; None when there is none
/// (Results of a skyload before it).
pub fn read(dir: &Path, shape: &Shape) -> Result<Option<BTreeMap<u64, IntendedSecond>>, LoadError> {
    let path = dir.join(INTENDED);
    if !path.exists() {
        return Ok(None);
    }
    let bad = |what: String| LoadError::Bad { dir: dir.to_path_buf(), file: INTENDED, what };
    let bytes = complete_lines(std::fs::read(&path).map_err(|source| LoadError::Io { dir: dir.to_path_buf(), file: INTENDED, source })?);
    let mut out: BTreeMap<u64, IntendedSecond> = BTreeMap::new();
    for entry in IntervalLogIterator::new(&bytes) {
        let LogEntry::Interval(e) = entry.map_err(|e| bad(format!("{e:?}")))? else { continue };
        let tag = e.tag().map(|t| t.as_str().to_string()).unwrap_or_default();
        let k = e.start_timestamp().as_secs_f64().round() as u64;
        crate::scenario::bounds::results_second(k).map_err(bad)?;
        let h = decode(e.encoded_histogram()).map_err(|source| LoadError::Codec { dir: dir.to_path_buf(), file: INTENDED, source })?;
        let s = out.entry(k).or_insert_with(|| IntendedSecond::new(k, shape.outcomes.len()));
        match tag.split_once(':') {
            Some(("latency", outcome)) => {
                let o = shape.outcomes.id(outcome).ok_or_else(|| bad(format!("entry of second {k} tagged `{tag}`: no outcome `{outcome}` in this run")))?;
                add(s.latency[o as usize].get_or_insert_with(new_hist), &h);
            }
            None if tag == "service" => add(s.service.get_or_insert_with(new_hist), &h),
            _ => return Err(bad(format!("entry of second {k} tagged `{tag}`: expected latency:<outcome> or service"))),
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::outcome::{OutcomeTable, OK, TIMEOUT};

    const MS: u64 = 1_000_000;

    fn count(entries: &[IntendedSecond], second: u64) -> u64 {
        entries.iter().filter(|e| e.second == second).map(|e| e.completed()).sum()
    }

    #[test]
    fn horizon_is_the_timeout_and_the_margin_in_whole_seconds() {
        assert_eq!(horizon(Duration::from_secs(10)), 12);
        assert_eq!(horizon(Duration::from_millis(2_500)), 5);
        assert_eq!(horizon(Duration::ZERO), 2);
    }

    /// Second k closes with the shipping of completion second k + horizon, not before; closing
    /// skips empty seconds and ships only those that had completions.
    #[test]
    fn a_second_closes_once_the_horizon_has_passed() {
        let n = OutcomeTable::new([]).len();
        let mut r = IntendedRing::new(3, n);
        assert!(r.record(0, OK as usize, 5 * MS, 4 * MS), "the first completion makes a slot");
        assert!(!r.record(0, OK as usize, 6 * MS, 4 * MS), "the second only counts");
        r.record(2, TIMEOUT as usize, 3_000 * MS, 3_000 * MS);
        assert!(r.close_for(0).is_empty() && r.close_for(2).is_empty(), "0 + 3 > 2: still open");
        let c = r.close_for(3);
        assert_eq!(c.iter().map(|e| (e.second, e.completed())).collect::<Vec<_>>(), [(0, 2)]);
        assert!(c[0].latency[TIMEOUT as usize].is_none() && c[0].service.as_ref().unwrap().len() == 2);
        assert!(r.close_for(4).is_empty(), "second 1 had nothing");
        let c = r.close_for(7);
        assert_eq!(c.iter().map(|e| e.second).collect::<Vec<_>>(), [2]);
        assert_eq!(c[0].latency[TIMEOUT as usize].as_ref().map(|h| h.max() / 1_000), Some(3_000));
        // Seconds far ahead of what was closed open at their place.
        r.record(40, OK as usize, MS, MS);
        assert!(r.close_for(42).is_empty());
        assert_eq!(r.close_all().iter().map(|e| e.second).collect::<Vec<_>>(), [40]);
    }

    /// A completion for a second already shipped is not lost: it is shipped with the next second
    /// as one more entry of its second, and the entries add.
    #[test]
    fn stragglers_are_shipped_as_more_entries_of_their_second() {
        let n = OutcomeTable::new([]).len();
        let mut r = IntendedRing::new(2, n);
        r.record(1, OK as usize, MS, MS);
        let first = r.close_for(3);
        assert_eq!(count(&first, 1), 1);
        assert!(!r.record(1, OK as usize, 2_500 * MS, 2_400 * MS), "a closed second's emptied slot is reused");
        r.record(1, OK as usize, 2_600 * MS, 2_400 * MS);
        let second = r.close_for(4);
        assert_eq!(count(&second, 1), 2, "the stragglers, as their own entry");
        let mut all = first.clone();
        merge_entries(&mut all, &second);
        assert_eq!((all.len(), count(&all, 1)), (1, 3));
        assert_eq!(all[0].latency[OK as usize].as_ref().unwrap().max() / 1_000, 2_600);
    }

    /// An hour of completions keeps the ring at about `horizon` slots, every one reused: no
    /// growth after the first seconds, however long the run.
    #[test]
    fn memory_stays_bounded_over_a_long_run() {
        let n = OutcomeTable::new([]).len();
        let mut r = IntendedRing::new(12, n);
        let mut growths_after_warmup = 0;
        let mut shipped = 0;
        for j in 0..3_600u64 {
            for i in 0..50u64 {
                // Arrivals of this second and the one before (answered late).
                let k = j.saturating_sub(i % 2);
                let grew = r.record(k, if i % 7 == 0 { TIMEOUT } else { OK } as usize, (i + 1) * MS, MS);
                if j > 20 && grew {
                    growths_after_warmup += 1;
                }
            }
            shipped += r.close_for(j).iter().map(|e| e.completed()).sum::<u64>();
            assert!(r.held() <= 16, "second {j}: {} slots", r.held());
        }
        shipped += r.close_all().iter().map(|e| e.completed()).sum::<u64>();
        assert_eq!(growths_after_warmup, 0);
        assert_eq!(shipped, 3_600 * 50, "every completion shipped exactly once");
    }

    #[test]
    fn the_file_sums_entries_of_a_second_and_names_a_bad_tag() {
        use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
        use hdrhistogram::serialization::V2DeflateSerializer;
        let shape = Shape { requests: vec!["a".into()], outcomes: OutcomeTable::new([]), labels: vec![] };
        let write = |entries: &[(u64, &str, u64)]| {
            let dir = tempfile::tempdir().unwrap();
            let mut buf = HEADER.as_bytes().to_vec();
            let mut ser = V2DeflateSerializer::new();
            let mut w = IntervalLogWriterBuilder::new().begin_log_with(&mut buf, &mut ser).unwrap();
            for (k, tag, ms) in entries {
                let mut h = new_hist();
                h.record(ms * 1_000).unwrap();
                w.write_histogram(&h, Duration::from_secs(*k), Duration::from_secs(1), Tag::new(tag)).unwrap();
            }
            drop(w);
            std::fs::write(dir.path().join(INTENDED), buf).unwrap();
            dir
        };
        let dir = write(&[(3, "latency:ok", 5), (3, "service", 4), (4, "latency:timeout", 900), (3, "latency:ok", 2_000)]);
        let got = read(dir.path(), &shape).unwrap().unwrap();
        assert_eq!(got[&3].completed(), 2);
        assert_eq!(got[&3].latency[OK as usize].as_ref().unwrap().max() / 1_000, 2_000);
        assert_eq!(got[&4].latency[TIMEOUT as usize].as_ref().map(|h| h.len()), Some(1));
        let bad = write(&[(1, "latency:nope", 1)]);
        let e = read(bad.path(), &shape).unwrap_err().to_string();
        assert!(e.contains(INTENDED) && e.contains("latency:nope"), "{e}");
        assert!(read(tempfile::tempdir().unwrap().path(), &shape).unwrap().is_none());
    }
}
