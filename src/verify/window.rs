//! Saved Results as verify reads them: summary.json for the whole run, and the per-second data
//! (timeseries.csv, pods.csv, labels.csv, latency.hlog, read once through `record::read`) for any
//! stretch of it, so a check over a stage, a window or a fault is computed from what is on disk,
//! exactly as `skyload compare` or a later re-check would see it. A second belongs to a window when
//! its middle lies inside it. A judged span (a window, a fault, a second of recovery, a capacity
//! sub-window) takes its latency and outcomes by the second requests were scheduled
//! (`intended.hlog`, `by_intended`), a whole stage by the stage they were scheduled in
//! (`stage_data`), when the Results say which those were.

use super::metrics::{add_outcome_latency, Data};
use super::VerifyError;
use crate::record::hist::{add, new_hist, Hist};
use crate::record::read::{self, Results};
use crate::record::summary::Summary;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct SavedRun {
    pub dir: PathBuf,
    pub summary: Summary,
    run: Results,
}

/// Seconds `[first, last]` of the run, by index, that lie in a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub from: f64,
    /// None: to the end of the data.
    pub to: Option<f64>,
    /// A span that is judged (a stage, a check window, a fault's window, a second of its recovery,
    /// a capacity step's sub-window): reaching the end of the schedule (`to` at or past it, or
    /// none), it takes the seconds after the schedule as answers, not as time (`data`). They
    /// hold the answers to its last arrivals: without them a target that stalled in the last
    /// seconds passed `max < 100ms`, and with them as time an open window's rate read low.
    pub tail: bool,
}

impl Span {
    /// A span judged by checks (see `tail`).
    pub fn judged(from: f64, to: Option<f64>) -> Span {
        Span { from, to, tail: true }
    }

    pub fn contains(&self, second: u64) -> bool {
        let mid = second as f64 + 0.5;
        mid >= self.from && self.to.map_or(true, |t| mid < t)
    }

    /// Whether `second` is one after the schedule (which ended at `end` seconds) that this span
    /// takes for its answers: the span reaches the end of the schedule and starts before it.
    fn takes_tail(&self, second: u64, end: f64) -> bool {
        self.tail && second as f64 >= end && self.from < end && self.to.map_or(true, |t| t >= end - 1e-9)
    }
}

impl SavedRun {
    pub fn load(dir: &Path) -> Result<SavedRun, VerifyError> {
        let summary = crate::record::results::read_summary(dir)
            .map_err(|e| VerifyError::Read { path: dir.join(crate::record::results::SUMMARY), reason: e.to_string() })?;
        let run = read::results(dir).map_err(|e| VerifyError::Read { path: dir.to_path_buf(), reason: e.to_string() })?;
        Ok(SavedRun { dir: dir.to_path_buf(), summary, run })
    }

    /// The data of the seconds inside `span`, for all requests or one.
    pub fn data(&self, span: Span, request: Option<&str>) -> Result<Data, VerifyError> {
        let shape = &self.run.shape;
        let only = match request {
            Some(r) => Some(shape.requests.iter().position(|n| n == r).ok_or_else(|| VerifyError::Read {
                path: self.dir.clone(),
                reason: format!("no request `{r}` in these results"),
            })?),
            None => None,
        };
        let one_request = shape.requests.len() <= 1;
        let mut d = Data::default();
        let (mut latency, mut service) = (new_hist(), new_hist());
        let (mut pods, mut labels) = (BTreeMap::new(), BTreeMap::<String, BTreeMap<String, u64>>::new());
        let mut by_outcome = BTreeMap::new();
        // Seconds after the schedule hold answers, not arrivals: a span that reaches the end takes
        // them (a stall in its last seconds is answered there) but they lengthen no rate's divisor.
        let end = self.summary.duration_s;
        for (k, sec) in self.run.seconds.iter().filter(|(k, _)| span.contains(**k) || span.takes_tail(**k, end)) {
            if !span.takes_tail(*k, end) {
                d.seconds += 1.0;
            }
            for (i, r) in sec.iv.requests.iter().enumerate().filter(|(i, _)| only.is_none_or(|o| o == *i)) {
                d.scheduled += r.scheduled;
                d.sent += r.sent;
                d.completed += r.completed;
                d.dropped += r.dropped;
                for (o, n) in r.outcomes.iter().enumerate().filter(|(_, n)| **n > 0) {
                    *d.outcomes.entry(shape.outcomes.name(o as u16).to_string()).or_default() += n;
                }
                add(&mut latency, &r.latency);
                // Service time is kept per second for all requests together (in request 0).
                if i == 0 {
                    add(&mut service, &r.service);
                }
            }
            // Latency by outcome is kept per second for all requests together (like service time).
            if only.is_none() || one_request {
                add_outcome_latency(&mut by_outcome, &sec.iv.outcome_latency, &shape.outcomes);
            }
            if only.is_none() {
                for (p, n) in &sec.iv.pods {
                    *pods.entry(p.clone()).or_default() += n;
                }
                for (h, values) in shape.labels.iter().zip(&sec.iv.labels) {
                    for (v, n) in values {
                        *labels.entry(h.clone()).or_default().entry(v.clone()).or_default() += n;
                    }
                }
            }
        }
        d.latency = Some(latency);
        d.service = (only.is_none() || one_request).then_some(service);
        d.by_outcome = (only.is_none() || one_request).then_some(by_outcome);
        if only.is_none() {
            d.pods = Some(pods);
            d.labels = Some(labels);
        }
        if span.tail && (only.is_none() || one_request) {
            self.by_intended(span, &mut d);
        }
        Ok(d)
    }

    /// A judged span's answers by the second they were *scheduled* (`intended.hlog`): latency,
    /// latency by outcome, service time and completions by outcome of the arrivals of the
    /// intended seconds whose middle lies in the span, however late they ended, and its scheduled
    /// and dropped arrivals (`accounting.csv`). By completion second a stall over a window's last
    /// arrivals was answered after it (the window passed while its own arrivals waited) and a
    /// second of recovery held the backlog of the seconds before it (recovery read late). Sends,
    /// pods, header values and the span's length stay by the second they happened. Only when the
    /// run finished (its accounting is written at the end, once every arrival has ended: a killed
    /// run's log lacks its last seconds) and only for all requests together (the log keeps no
    /// request apart); else the per-second figures stand. The answers after the schedule need no
    /// tail here: they are the last seconds' arrivals'.
    fn by_intended(&self, span: Span, d: &mut Data) {
        let Some(intended) = self.run.intended.as_ref().filter(|_| self.run.accounted) else { return };
        let outcomes = &self.run.shape.outcomes;
        let (mut latency, mut service) = (new_hist(), new_hist());
        let mut by_outcome: BTreeMap<String, (Hist, Option<Hist>)> = BTreeMap::new();
        let mut counts = BTreeMap::new();
        for (_, sec) in intended.iter().filter(|(k, _)| span.contains(**k)) {
            for (o, h) in sec.latency.iter().enumerate() {
                let Some(h) = h.as_ref().filter(|h| !h.is_empty()) else { continue };
                let name = outcomes.name(o as u16).to_string();
                add(&mut latency, h);
                *counts.entry(name.clone()).or_default() += h.len();
                add(&mut by_outcome.entry(name).or_insert_with(|| (new_hist(), None)).0, h);
            }
            if let Some(h) = &sec.service {
                add(&mut service, h);
            }
        }
        scheduled_answers(d, latency, service, counts, by_outcome);
        (d.scheduled, d.dropped) = self.scheduled_in(span);
    }

    /// Arrivals scheduled and dropped in the intended seconds of `span` (`accounting.csv`).
    fn scheduled_in(&self, span: Span) -> (u64, u64) {
        let rows = self.run.totals.by_intended.iter().enumerate().filter(|(k, _)| span.contains(*k as u64));
        rows.fold((0, 0), |(s, x), (_, [sched, _, dropped])| (s + sched, x + dropped))
    }

    /// The data of the stage `name` (over `span`, its seconds): `data`, with its latency, service
    /// time and completions by outcome taken from the requests the stage *scheduled* (by intended
    /// start, `stages.hlog`) however late they ended, and its scheduled and dropped arrivals by
    /// intended second (`accounting.csv`, all requests only). Sends, pods and header values stay
    /// by the second they happened. Results without the file (one stage, older skyload) keep the
    /// per-second figures.
    pub fn stage_data(&self, name: &str, span: Span, request: Option<&str>) -> Result<Data, VerifyError> {
        let mut d = self.data(span, request)?;
        let Some(stages) = self.run.totals.by_stage.as_ref() else { return Ok(d) };
        let Some(si) = stages.stage(name) else { return Ok(d) };
        let shape = &self.run.shape;
        let only = request.and_then(|r| shape.requests.iter().position(|n| n == r));
        let (mut latency, mut service) = (new_hist(), new_hist());
        let mut by_outcome = BTreeMap::new();
        let mut outcomes = BTreeMap::new();
        for r in (0..shape.requests.len()).filter(|r| only.is_none_or(|o| o == *r)) {
            for o in 0..shape.outcomes.len() {
                let Some(h) = stages.get(si, r, o) else { continue };
                add(&mut latency, &h.latency);
                add(&mut service, &h.service);
                let name = shape.outcomes.name(o as u16).to_string();
                *outcomes.entry(name.clone()).or_default() += h.latency.len();
                let (l, sv) = by_outcome.entry(name).or_insert_with(|| (new_hist(), Some(new_hist())));
                add(l, &h.latency);
                add(sv.get_or_insert_with(new_hist), &h.service);
            }
        }
        scheduled_answers(&mut d, latency, service, outcomes, by_outcome);
        if only.is_none() && self.run.accounted {
            (d.scheduled, d.dropped) = self.scheduled_in(span);
        }
        Ok(d)
    }
}

/// Puts the answers of the requests a span or stage *scheduled* in place of `d`'s by completion
/// second; the completion-second outcome counts stay beside the labels they were counted with.
fn scheduled_answers(d: &mut Data, latency: Hist, service: Hist, outcomes: BTreeMap<String, u64>, by_outcome: BTreeMap<String, (Hist, Option<Hist>)>) {
    d.completed = latency.len();
    d.label_outcomes.get_or_insert_with(|| std::mem::take(&mut d.outcomes));
    d.outcomes = outcomes;
    d.latency = Some(latency);
    d.service = Some(service);
    d.by_outcome = Some(by_outcome);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_belongs_where_its_middle_is() {
        let s = Span { from: 10.0, to: Some(12.0), tail: false };
        assert_eq!((9..14).filter(|x| s.contains(*x)).collect::<Vec<_>>(), vec![10, 11]);
        let s = Span { from: 1.4, to: Some(2.6), tail: false };
        assert_eq!((0..5).filter(|x| s.contains(*x)).collect::<Vec<_>>(), vec![1, 2]);
        let open = Span { from: 3.0, to: None, tail: false };
        assert!(open.contains(1000) && !open.contains(2));
        let short = Span { from: 0.2, to: Some(0.4), tail: false };
        assert!(!(0..3).any(|x| short.contains(x)), "a window shorter than a second may hold none");
    }

    #[test]
    fn a_judged_span_that_reaches_the_end_takes_the_answers_after_it() {
        let end = 5.0;
        let last_stage = Span::judged(3.0, Some(5.0));
        assert!(last_stage.takes_tail(5, end) && last_stage.takes_tail(9, end) && !last_stage.takes_tail(4, end));
        assert!(Span::judged(0.0, None).takes_tail(6, end));
        assert!(!Span::judged(1.0, Some(4.0)).takes_tail(5, end), "ends before the schedule does");
        assert!(!Span::judged(6.0, None).takes_tail(7, end), "starts after the schedule: nothing of its own");
        assert!(!Span { from: 4.0, to: Some(5.0), tail: false }.takes_tail(5, end), "a probe of one second stays one second");
    }
}
