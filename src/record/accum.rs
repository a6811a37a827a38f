//! Per-thread accumulation of samples. Each generator thread owns one `ThreadRecorder` (no locks on
//! the hot path); it keeps the open 1-second intervals and the run totals, ships each interval once
//! the second is over, and hands its totals over once at the end (wrk2's per-thread histograms merged
//! with `hdr_add`). Nothing is kept per request, so memory is flat in the length of the run.

use super::hist::{add, new_hist, record_ns};
use super::interval::{bump, merge_named, Interval, OutcomeHists, PodTotals, Shape, Totals, MAX_LABELS, MAX_LABEL_VALUES, MAX_PODS, OTHER_POD};
use super::outcome::OutcomeId;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// An instant on CLOCK_MONOTONIC in nanoseconds (the generator's clock, `load::mono`): a
/// difference of two is one subtraction. The recorder places them in seconds from the schedule's
/// second 0 on the same clock (`ThreadRecorder::new`'s `origin`).
pub type MonoNs = u64;

const NS_PER_SEC: u64 = 1_000_000_000;

/// One finished request, as the engine saw it.
#[derive(Debug, Clone, Copy)]
pub struct Completion<'a> {
    pub request: usize,
    pub outcome: OutcomeId,
    /// HTTP status, or 0 when the request failed below HTTP.
    pub status: u16,
    pub intended: MonoNs,
    pub sent: MonoNs,
    pub done: MonoNs,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub pod: Option<&'a [u8]>,
    /// Values of the shape's label headers, in order (None: header absent).
    pub labels: [Option<&'a [u8]>; MAX_LABELS],
}

impl Completion<'_> {
    /// A request that got no HTTP response.
    pub fn failed(request: usize, outcome: OutcomeId, intended: MonoNs, sent: MonoNs, done: MonoNs) -> Completion<'static> {
        Completion {
            request,
            outcome,
            status: 0,
            intended,
            sent,
            done,
            bytes_in: 0,
            bytes_out: 0,
            pod: None,
            labels: [None; MAX_LABELS],
        }
    }
}


/// Maps header values to small slot numbers, at most `cap` distinct ones plus `(other)`, so the hot
/// path counts into a vector and only shipping a second touches strings.
#[derive(Debug, Default)]
struct Slots {
    index: HashMap<Box<[u8]>, usize>,
    names: Vec<String>,
}

impl Slots {
    fn slot(&mut self, value: &[u8], cap: usize) -> usize {
        if let Some(&i) = self.index.get(value) {
            return i;
        }
        let key: &[u8] = if self.index.len() < cap { value } else { OTHER_POD.as_bytes() };
        if let Some(&i) = self.index.get(key) {
            return i;
        }
        let i = self.names.len();
        self.names.push(String::from_utf8_lossy(key).into_owned());
        self.index.insert(key.into(), i);
        i
    }
    fn named(&self, counts: &[u64]) -> BTreeMap<String, u64> {
        counts.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| (self.names[i].clone(), *n)).collect()
    }
}

/// One generator thread's recorder.
pub struct ThreadRecorder {
    /// Second 0 of the schedule.
    origin: MonoNs,
    shape: Arc<Shape>,
    /// Open intervals, ascending and contiguous; the first is `shipped` (the oldest not yet shipped).
    open: VecDeque<Interval>,
    shipped: u64,
    totals: Totals,
    pods: Slots,
    labels: Vec<Slots>,
    pub slow: super::slow::SlowKeeper,
    /// Completions by HTTP status code below `STATUS_SLOTS`: a counter per request instead of a
    /// map lookup; folded into `totals.status` when the thread finishes.
    status: Vec<u64>,
    /// Emptied (reset) per-pair histograms of shipped seconds, reused by the next ones.
    spare: Vec<OutcomeHists>,
    /// This thread's requests in flight now: handed to a connection worker (`admitted`) and not
    /// yet ended (`completed`, or `dropped` after admission). Kept here, beside the seconds, so
    /// each second's peak is raised at the moment of the hand-over that reached it (not sampled
    /// when the second is shipped, ~20 ms into the next one), and the engine's cap reads it too.
    in_flight: u64,
    /// Times the recorder did more than count: opened a second, made a histogram, grew a table
    /// (microseconds, where a completion's counting is a few hundred ns). A worker compares it
    /// before and after a completion to know whether that completion's end reading may also
    /// serve as the next request's start (`growths`).
    growths: u64,
    /// Latency by the stage of the intended start (runs of two or more stages only).
    by_stage: Option<Box<super::by_stage::StageHists>>,
    /// Latency by intended second (`record::intended`), closed as completion seconds ship.
    intended: Option<Box<super::intended::IntendedRing>>,
}

/// Status codes counted in `ThreadRecorder::status` (HTTP's are three digits).
const STATUS_SLOTS: usize = 1000;

impl ThreadRecorder {
    pub fn new(origin: MonoNs, shape: Arc<Shape>) -> ThreadRecorder {
        let totals = Totals::new(&shape);
        let labels = shape.labels.iter().map(|_| Slots::default()).collect();
        ThreadRecorder { origin, shape, open: VecDeque::new(), shipped: 0, totals, pods: Slots::default(), labels, slow: super::slow::SlowKeeper::new(origin), status: vec![0; STATUS_SLOTS], spare: Vec::new(), in_flight: 0, growths: 0, by_stage: None, intended: None }
    }

    /// Also keeps latency by the stage of the intended start (`StageHists::for_plan`: None for a
    /// run of one stage, which then records nothing more).
    pub fn with_stages(mut self, stages: Option<super::by_stage::StageHists>) -> ThreadRecorder {
        self.by_stage = stages.map(Box::new);
        self
    }

    /// Also keeps latency by intended second, each closed `horizon` completion seconds after its
    /// end (`record::intended::horizon` of the request timeout).
    pub fn with_intended(mut self, horizon: u64) -> ThreadRecorder {
        self.intended = Some(Box::new(super::intended::IntendedRing::new(horizon, self.shape.outcomes.len())));
        self
    }

    /// The second of the schedule `at` falls in (second 0 for anything before it).
    #[inline]
    fn second(&self, at: MonoNs) -> u64 {
        at.saturating_sub(self.origin) / NS_PER_SEC
    }

    /// The interval an event at `at` belongs to. An event for a second already shipped (a thread
    /// that ran late) goes into the oldest open one rather than being lost.
    fn interval(&mut self, at: MonoNs) -> &mut Interval {
        let i = self.interval_at(at);
        &mut self.open[i]
    }

    /// `interval`'s position in `open`: a subtraction and a division by a constant (a multiply),
    /// then a bounds check; the second is opened only when it is new.
    #[inline]
    fn interval_at(&mut self, at: MonoNs) -> usize {
        let sec = self.second(at);
        let i = sec.wrapping_sub(self.shipped);
        if sec >= self.shipped && i < self.open.len() as u64 {
            return i as usize;
        }
        self.open_through(sec)
    }

    /// Opens the seconds up to `sec` that are not open yet (an event for a shipped second goes to
    /// the oldest open one). A second is opened by its first event (or when shipped without one),
    /// before that event counts, so the requests in flight then were in flight at its start: its
    /// peak starts there. Events are recorded in time order on this thread, so nothing later than
    /// the second's start has counted yet.
    #[inline(never)]
    fn open_through(&mut self, sec: u64) -> usize {
        self.growths += 1;
        let sec = sec.max(self.shipped);
        let next = self.shipped + self.open.len() as u64;
        for s in next..=sec {
            let mut iv = Interval::new(s, &self.shape);
            iv.in_flight = self.in_flight;
            self.open.push_back(iv);
        }
        (sec - self.shipped) as usize
    }

    /// Counts one more `[scheduled, completed, dropped]` (slot `i`) for the second of `intended`.
    #[inline]
    fn account(&mut self, intended: MonoNs, i: usize) {
        let sec = self.second(intended) as usize;
        if self.totals.by_intended.len() <= sec {
            self.growths += 1;
            self.totals.by_intended.resize(sec + 1, [0; 3]);
        }
        self.totals.by_intended[sec][i] += 1;
    }

    /// An arrival was handed to the engine (it will end completed or dropped).
    pub fn scheduled(&mut self, request: usize, at: MonoNs) {
        self.interval(at).requests[request].scheduled += 1;
        self.totals.requests[request].scheduled += 1;
        self.account(at, 0);
    }

    /// The pacer handed an arrival over at `handed`: its own lateness.
    pub fn handed(&mut self, intended: MonoNs, handed: MonoNs) {
        let lag = handed.saturating_sub(intended);
        // The run's total is the sum of the seconds' (added as each is shipped): one record here.
        record_ns(&mut self.interval(handed).lag, lag);
    }

    /// An arrival found every connection busy and no room for another.
    pub fn conn_limited(&mut self, at: MonoNs) {
        self.interval(at).conn_limited += 1;
        self.totals.conn_limited += 1;
    }

    /// On the wire at `sent`, after waiting for a connection since `handed`.
    pub fn sent(&mut self, request: usize, handed: MonoNs, sent: MonoNs, bytes_out: u64) {
        let wait = sent.saturating_sub(handed);
        let iv = self.interval(sent);
        iv.requests[request].sent += 1;
        iv.requests[request].bytes_out += bytes_out;
        record_ns(&mut iv.conn_wait, wait);
        self.totals.requests[request].sent += 1;
        self.totals.requests[request].bytes_out += bytes_out;
    }

    /// An arrival handed to a connection worker at `at`: one more in flight, and the second's peak
    /// raised if this is its highest point (the count only rises here, so its maximum is at a
    /// hand-over or at the second's start). Two comparisons and two additions: no per-request cost.
    pub fn admitted(&mut self, at: MonoNs) {
        let i = self.interval_at(at);
        self.in_flight += 1;
        let iv = &mut self.open[i];
        iv.in_flight = iv.in_flight.max(self.in_flight);
    }

    /// Requests of this thread in flight now (`admitted` and not yet ended).
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// An admitted arrival given up at `at`: the opt-in `max_lag` passed, or the run was
    /// interrupted before it left. It is no longer in flight.
    pub fn dropped(&mut self, request: usize, intended: MonoNs, at: MonoNs) {
        self.count_drop(request, intended, at);
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// An arrival given up at its hand-over because the in-flight cap was reached: dropped like
    /// the others, but never in flight.
    pub fn refused(&mut self, request: usize, intended: MonoNs, at: MonoNs) {
        self.count_drop(request, intended, at);
    }

    fn count_drop(&mut self, request: usize, intended: MonoNs, at: MonoNs) {
        self.interval(at).requests[request].dropped += 1;
        let t = &mut self.totals.requests[request];
        t.dropped += 1;
        record_ns(&mut t.dropped_wait, at.saturating_sub(intended));
        self.account(intended, 2);
    }

    /// How many times recording did more than count (see the field): equal before and after a
    /// completion, that completion took a few hundred ns to record.
    #[inline]
    pub fn growths(&self) -> u64 {
        self.growths
    }

    pub fn requests(&self) -> usize {
        self.shape.requests.len()
    }

    pub fn completed(&mut self, c: &Completion) {
        self.slow.stage(c);
        let latency = c.done.saturating_sub(c.intended);
        let service = c.done.saturating_sub(c.sent);
        let n_outcomes = self.shape.outcomes.len();
        self.account(c.intended, 1);
        if let Some(s) = &mut self.by_stage {
            if s.record(c.intended.saturating_sub(self.origin), c.request, c.outcome as usize, latency, service) {
                self.growths += 1;
            }
        }
        if let Some(ring) = &mut self.intended {
            let sec = c.intended.saturating_sub(self.origin) / NS_PER_SEC;
            if ring.record(sec, c.outcome as usize, latency, service) {
                self.growths += 1;
            }
        }

        self.totals.requests[c.request].bytes_in += c.bytes_in;
        if c.status != 0 {
            match self.status.get_mut(c.status as usize) {
                Some(n) => *n += 1,
                None => *self.totals.status.entry(c.status).or_default() += 1,
            }
        }
        let pod = c.pod.map(|name| self.pods.slot(name, MAX_PODS));
        let mut label_slots = [usize::MAX; MAX_LABELS];
        for (h, v) in c.labels.iter().enumerate().take(self.labels.len()) {
            if let Some(v) = v {
                label_slots[h] = self.labels[h].slot(v, MAX_LABEL_VALUES);
            }
        }

        let i = self.interval_at(c.done);
        // After the second is opened: the request was in flight at its start.
        self.in_flight = self.in_flight.saturating_sub(1);
        let iv = &mut self.open[i];
        let r = &mut iv.requests[c.request];
        r.completed += 1;
        r.outcomes[c.outcome as usize] += 1;
        r.bytes_in += c.bytes_in;
        let pair = c.request * n_outcomes + c.outcome as usize;
        if iv.by_pair.len() <= pair {
            iv.by_pair.resize((iv.requests.len() * n_outcomes).max(pair + 1), None);
        }
        let (spare, growths) = (&mut self.spare, &mut self.growths);
        let h = iv.by_pair[pair].get_or_insert_with(|| {
            *growths += 1;
            spare.pop().unwrap_or_else(|| OutcomeHists { latency: new_hist(), service: new_hist() })
        });
        record_ns(&mut h.latency, latency);
        record_ns(&mut h.service, service);
        if c.status != 0 && (c.status as usize) < STATUS_SLOTS {
            bump(&mut iv.status_slots, c.status as usize);
        }
        if let Some(i) = pod {
            bump(&mut iv.pod_slots, i);
        }
        for (h, &slot) in label_slots.iter().enumerate().take(iv.label_slots.len()) {
            if slot != usize::MAX {
                bump(&mut iv.label_slots[h], slot);
            }
        }
        if let Some(i) = pod {
            if i == self.totals.pods.len() {
                self.growths += 1;
                self.totals.pods.push(PodTotals { name: self.pods.names[i].clone(), outcomes: vec![0; n_outcomes], latency: new_hist() });
            }
            let p = &mut self.totals.pods[i];
            p.outcomes[c.outcome as usize] += 1;
            record_ns(&mut p.latency, latency);
        }
    }

    /// Turns slot counts into named maps, for shipping.
    fn name_counts(&mut self, iv: &mut Interval) {
        iv.status = std::mem::take(&mut iv.status_slots).iter().enumerate().filter(|(_, n)| **n > 0).map(|(code, n)| (code as u16, *n)).collect();
        iv.pods = self.pods.named(&iv.pod_slots);
        for (h, counts) in iv.label_slots.iter().enumerate() {
            let named = self.labels[h].named(counts);
            merge_named(&mut self.totals.labels[h], &named);
            iv.labels[h] = named;
        }
    }

    /// Adds a closing second's per-(request, outcome) histograms into its per-request and
    /// per-outcome histograms and into the run totals (what each completion recorded into
    /// separately before), then keeps them, emptied, for the seconds to come.
    fn fold_pairs(&mut self, iv: &mut Interval) {
        let n_outcomes = self.shape.outcomes.len().max(1);
        for (pair, slot) in iv.by_pair.iter_mut().enumerate() {
            let Some(mut h) = slot.take() else { continue };
            let (r, o) = (pair / n_outcomes, pair % n_outcomes);
            add(&mut iv.requests[r].latency, &h.latency);
            add(&mut iv.requests[r].service, &h.service);
            if let Some(ol) = iv.outcome_latency.get_mut(o) {
                add(ol.get_or_insert_with(new_hist), &h.latency);
            }
            let t = self.totals.requests[r].by_outcome[o].get_or_insert_with(|| OutcomeHists { latency: new_hist(), service: new_hist() });
            add(&mut t.latency, &h.latency);
            add(&mut t.service, &h.service);
            h.latency.reset();
            h.service.reset();
            self.spare.push(h);
        }
        iv.by_pair = Vec::new();
    }

    /// Ships every interval up to and including `second` (empty ones too, so a consumer can count
    /// on one interval per thread per second, each with its own in-flight peak). `cpu` is this
    /// thread's CPU time since the last call.
    pub fn take_through(&mut self, second: u64, cpu: Duration) -> Vec<Interval> {
        if second < self.shipped {
            return Vec::new();
        }
        self.open_through(second);
        let n = (second + 1 - self.shipped) as usize;
        let mut out: Vec<Interval> = self.open.drain(..n).collect();
        for iv in &mut out {
            self.name_counts(iv);
            self.fold_pairs(iv);
            if let Some(ring) = &mut self.intended {
                iv.intended = ring.close_for(iv.second);
            }
            add(&mut self.totals.lag, &iv.lag);
            add(&mut self.totals.conn_wait, &iv.conn_wait);
        }
        self.shipped = second + 1;
        if let Some(last) = out.last_mut() {
            last.cpu = cpu;
            last.slow = self.slow.take_second();
        }
        self.totals.cpu += cpu;
        out
    }

    /// Ships what is left and the run totals.
    pub fn finish(mut self, cpu: Duration) -> (Vec<Interval>, Totals) {
        let last = (self.shipped + self.open.len() as u64).saturating_sub(1).max(self.shipped);
        let rest = if self.open.is_empty() && cpu.is_zero() { Vec::new() } else { self.take_through(last, cpu) };
        self.totals.slow = std::mem::take(&mut self.slow.total);
        self.totals.by_stage = self.by_stage.take().map(|s| *s);
        if let Some(ring) = &mut self.intended {
            self.totals.intended = ring.close_all();
        }
        for (code, &n) in self.status.iter().enumerate().filter(|(_, n)| **n > 0) {
            *self.totals.status.entry(code as u16).or_default() += n;
        }
        (rest, self.totals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::hist::Hist;
    use crate::record::outcome::OutcomeTable;
    use crate::record::outcome::{OK, RESET};

    fn shape() -> Arc<Shape> {
        Arc::new(Shape { requests: vec!["a".into(), "b".into()], outcomes: OutcomeTable::new(["fallback"]), labels: vec!["x-fn-version".into()] })
    }

    /// Second 0 of the tests' schedules, on a made-up clock (any value far from 0 does).
    const T0: MonoNs = 7_000_000_123;
    const MS: u64 = 1_000_000;

    fn done<'a>(t0: MonoNs, req: usize, outcome: OutcomeId, at_ms: u64, lat_ms: u64, pod: Option<&'a [u8]>) -> Completion<'a> {
        let done = t0 + at_ms * MS;
        Completion {
            request: req,
            outcome,
            status: if outcome == OK { 200 } else { 0 },
            intended: done - lat_ms * MS,
            sent: done - lat_ms / 2 * MS,
            done,
            bytes_in: 10,
            bytes_out: 5,
            pod,
            labels: [pod.map(|_| &b"v1"[..]), None, None, None, None, None, None, None],
        }
    }

    #[test]
    fn events_land_in_their_second_and_every_second_is_shipped() {
        let t0 = T0;
        let mut r = ThreadRecorder::new(t0, shape());
        r.completed(&done(t0, 0, OK, 100, 10, Some(b"p1")));
        r.completed(&done(t0, 1, RESET, 2_500, 40, Some(b"p2")));
        r.dropped(0, t0 + 2_590 * MS, t0 + 2_600 * MS);
        let first = r.take_through(2, Duration::from_millis(5));
        assert_eq!(first.iter().map(|i| i.second).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(first[0].requests[0].completed, 1);
        assert_eq!(first[1].requests[0].completed + first[1].requests[1].completed, 0);
        assert_eq!(first[2].requests[1].outcomes[RESET as usize], 1);
        assert_eq!(first[2].requests[0].dropped, 1);
        assert_eq!(first[0].pods.get("p1"), Some(&1));
        assert_eq!(first[2].pods.get("p2"), Some(&1));
        assert_eq!(first[0].labels[0].get("v1"), Some(&1));
        // Status codes per second: the 200 in second 0, nothing for the reset (no HTTP answer).
        assert_eq!(first[0].status, BTreeMap::from([(200, 1)]));
        assert!(first[1].status.is_empty() && first[2].status.is_empty());
        // Latency by outcome per second: only outcomes that happened hold a histogram.
        assert_eq!(first[0].outcome_latency[OK as usize].as_ref().map(|h| h.len()), Some(1));
        assert!(first[0].outcome_latency[RESET as usize].is_none());
        assert!(first[2].outcome_latency[RESET as usize].as_ref().is_some_and(|h| h.max().abs_diff(40_000) < 40));
        let mut merged = first[0].clone();
        merged.merge(&first[2]);
        assert_eq!(merged.outcome_latency.iter().flatten().map(|h| h.len()).sum::<u64>(), 2);
        // A late event for a shipped second goes to the oldest open one.
        r.completed(&done(t0, 0, OK, 1_000, 10, Some(b"p1")));
        let (rest, totals) = r.finish(Duration::ZERO);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].second, 3);
        assert_eq!(rest[0].requests[0].completed, 1);
        assert_eq!(rest[0].status, BTreeMap::from([(200, 1)]));
        assert_eq!(totals.pods.len(), 2);
        assert_eq!(totals.pods[0].count(), 2);
        assert_eq!(totals.status.get(&200), Some(&2));
        assert_eq!(totals.labels[0].get("v1"), Some(&3));
    }

    /// The histograms summed at shipping from the per-(request, outcome) ones hold exactly what
    /// recording each completion into each of them held: 3,000 seeded completions over 5 seconds,
    /// 2 requests × 3 outcomes, some late for an already-shipped second, checked value by value
    /// against histograms recorded directly.
    #[test]
    fn per_pair_histograms_sum_to_what_direct_records_hold() {
        use rand::{Rng, SeedableRng};
        let t0 = T0;
        let shape = shape();
        let n_out = shape.outcomes.len();
        let mut r = ThreadRecorder::new(t0, shape.clone());
        let mut rng = rand::rngs::SmallRng::seed_from_u64(13);
        let outcomes = [OK, RESET, crate::record::outcome::TIMEOUT];
        // Expected, recorded directly: per second (request latency, service; outcome latency),
        // and run totals per (request, outcome).
        let mut sec_req: Vec<Vec<(Hist, Hist)>> = (0..6).map(|_| (0..2).map(|_| (new_hist(), new_hist())).collect()).collect();
        let mut sec_out: Vec<Vec<Hist>> = (0..6).map(|_| (0..n_out).map(|_| new_hist()).collect()).collect();
        let mut tot: Vec<Vec<(Hist, Hist)>> = (0..2).map(|_| (0..n_out).map(|_| (new_hist(), new_hist())).collect()).collect();
        let mut shipped = Vec::new();
        for i in 0..3_000u64 {
            let at_ms = i * 5 / 3; // 0..5,000 ms
            if i == 1_500 {
                shipped.extend(r.take_through(1, Duration::ZERO));
            }
            // After second 1 is shipped, a late event for it lands in second 2.
            let at_ms = if i >= 1_500 && rng.gen_bool(0.05) { 1_500 } else { at_ms };
            let (req, o) = (rng.gen_range(0..2), outcomes[rng.gen_range(0..3)]);
            let c = done(t0, req, o, at_ms, rng.gen_range(1..3_000), None);
            r.completed(&c);
            let sec = ((at_ms / 1_000) as usize).max(if i >= 1_500 { 2 } else { 0 });
            let (lat, svc) = (c.done - c.intended, c.done - c.sent);
            record_ns(&mut sec_req[sec][req].0, lat);
            record_ns(&mut sec_req[sec][req].1, svc);
            record_ns(&mut sec_out[sec][o as usize], lat);
            record_ns(&mut tot[req][o as usize].0, lat);
            record_ns(&mut tot[req][o as usize].1, svc);
        }
        let (rest, totals) = r.finish(Duration::ZERO);
        shipped.extend(rest);
        let values = |h: &Hist| h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect::<Vec<_>>();
        assert_eq!(shipped.len(), 5);
        for iv in &shipped {
            let k = iv.second as usize;
            for req in 0..2 {
                assert_eq!(values(&iv.requests[req].latency), values(&sec_req[k][req].0), "second {k} request {req} latency");
                assert_eq!(values(&iv.requests[req].service), values(&sec_req[k][req].1), "second {k} request {req} service");
            }
            for o in 0..n_out {
                let got = iv.outcome_latency[o].as_ref().map(values).unwrap_or_default();
                assert_eq!(got, values(&sec_out[k][o]), "second {k} outcome {o}");
            }
            assert!(iv.by_pair.is_empty(), "shipped seconds carry no per-pair histograms");
        }
        for req in 0..2 {
            for o in 0..n_out {
                let got = totals.requests[req].by_outcome[o].as_ref();
                assert_eq!(got.map(|h| values(&h.latency)).unwrap_or_default(), values(&tot[req][o].0), "total {req}/{o} latency");
                assert_eq!(got.map(|h| values(&h.service)).unwrap_or_default(), values(&tot[req][o].1), "total {req}/{o} service");
            }
        }
    }

    /// `in_flight` is each second's peak, raised at the hand-over that reached it and carried
    /// into seconds with no event, whenever the seconds are shipped: not the count ~20 ms into the
    /// next second when the ticker ships, and not only on the last of several shipped together.
    #[test]
    fn in_flight_is_the_peak_of_each_second() {
        let t0 = T0;
        let ms = |m: u64| t0 + m * MS;
        let mut r = ThreadRecorder::new(t0, shape());
        let end = |r: &mut ThreadRecorder, at: u64| r.completed(&done(t0, 0, OK, at, 1, None));
        // Second 0: three out, two back, one more: the peak is 3 although 2 are left at its end.
        for at in [100, 200, 300] {
            r.admitted(ms(at));
        }
        end(&mut r, 400);
        end(&mut r, 500);
        r.admitted(ms(600));
        // Second 1: the target stalls, nothing happens; the two still out are its peak.
        // Second 2: a third joins them, then all three come back and one is refused at the cap
        // (never in flight) and one admitted is dropped (max_lag).
        r.admitted(ms(2_100));
        r.refused(0, ms(2_150), ms(2_150));
        for at in [2_200, 2_300, 2_400] {
            end(&mut r, at);
        }
        r.admitted(ms(2_500));
        r.dropped(0, ms(2_500), ms(2_600));
        assert_eq!(r.in_flight(), 0);
        // Five hand-overs 10 ms into second 4, before the ticker ships second 3 at 4.02 s: they
        // are second 4's, not second 3's.
        for _ in 0..5 {
            r.admitted(ms(4_010));
        }
        let shipped = r.take_through(3, Duration::ZERO);
        assert_eq!(shipped.iter().map(|i| (i.second, i.in_flight)).collect::<Vec<_>>(), [(0, 3), (1, 2), (2, 3), (3, 0)]);
        assert_eq!(shipped[2].requests[0].dropped, 2, "refused and dropped both count as dropped");
        // Late answers: second 4 starts with none out and peaks at 5; second 5 starts at 5.
        end(&mut r, 5_500);
        assert_eq!(r.in_flight(), 4, "the other four are still out");
        let (rest, _) = r.finish(Duration::ZERO);
        assert_eq!(rest.iter().map(|i| (i.second, i.in_flight)).collect::<Vec<_>>(), [(4, 5), (5, 5)]);
    }

    #[test]
    fn totals_merge_adds_and_unions_pods() {
        let t0 = T0;
        let mut a = ThreadRecorder::new(t0, shape());
        let mut b = ThreadRecorder::new(t0, shape());
        a.completed(&done(t0, 0, OK, 10, 5, Some(b"p1")));
        b.completed(&done(t0, 0, OK, 10, 7, Some(b"p2")));
        b.completed(&done(t0, 0, OK, 10, 9, Some(b"p1")));
        let (_, mut ta) = a.finish(Duration::ZERO);
        let (_, tb) = b.finish(Duration::ZERO);
        ta.merge(&tb);
        assert_eq!(ta.requests[0].by_outcome[OK as usize].as_ref().unwrap().latency.len(), 3);
        let p1 = ta.pods.iter().find(|p| p.name == "p1").unwrap();
        assert_eq!(p1.count(), 2);
        assert_eq!(ta.pods.len(), 2);
    }

    #[test]
    fn pod_names_are_capped() {
        let t0 = T0;
        let mut r = ThreadRecorder::new(t0, shape());
        for i in 0..MAX_PODS + 50 {
            let name = format!("req-{i}");
            r.completed(&done(t0, 0, OK, 10, 1, Some(name.as_bytes())));
        }
        let (_, t) = r.finish(Duration::ZERO);
        assert_eq!(t.pods.len(), MAX_PODS + 1);
        assert_eq!(t.pods.last().unwrap().name, OTHER_POD);
        assert_eq!(t.pods.last().unwrap().count(), 50);
    }

    /// Through the recorder: a completion counts in the second of its intended start, shipped
    /// with the completion second `horizon` after it; making its histograms is a growth,
    /// counting into them is not; what is open at the end is closed into the totals.
    #[test]
    fn intended_seconds_ride_on_the_shipped_seconds_and_the_rest_on_the_totals() {
        let t0 = T0;
        let mut r = ThreadRecorder::new(t0, shape()).with_intended(2);
        // Due at 0.9 s, answered at 2.5 s (a stall); due at 1.2 s, answered at once.
        r.completed(&done(t0, 0, OK, 2_500, 1_600, None));
        let g = r.growths();
        r.completed(&done(t0, 0, OK, 2_600, 1_700, None));
        assert_eq!(r.growths(), g, "a second completion of an open intended second only counts");
        r.completed(&done(t0, 0, RESET, 1_300, 100, None));
        let shipped = r.take_through(2, Duration::ZERO);
        let carried = |ivs: &[Interval]| ivs.iter().map(|iv| (iv.second, iv.intended.iter().map(|e| (e.second, e.completed())).collect::<Vec<_>>())).collect::<Vec<_>>();
        assert_eq!(carried(&shipped), [(0, vec![]), (1, vec![]), (2, vec![(0, 2)])], "second 0 closes with completion second 0 + 2");
        assert_eq!(shipped[2].requests[0].completed + shipped[2].requests[1].completed, 2, "by completion they are second 2's");
        let (rest, totals) = r.finish(Duration::ZERO);
        assert!(rest.iter().all(|iv| iv.intended.is_empty()));
        assert_eq!(totals.intended.iter().map(|e| (e.second, e.completed())).collect::<Vec<_>>(), [(1, 1)]);
        assert!(totals.intended[0].latency[RESET as usize].is_some());
        // A recorder without the ring ships none.
        let mut plain = ThreadRecorder::new(t0, shape());
        plain.completed(&done(t0, 0, OK, 100, 10, None));
        assert!(plain.take_through(5, Duration::ZERO).iter().all(|iv| iv.intended.is_empty()));
    }
}
