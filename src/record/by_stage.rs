//! Latency and service time by the stage each request was *scheduled* in. The per-second data is
//! keyed by the second a request ended, so a stall that began near the end of one stage and was
//! answered in the next would be judged in the next one's seconds: the stage that scheduled the
//! waiting requests passed its `p99` check and the next was blamed. These histograms, one pair per
//! (stage of the intended start, request, outcome), let a stage be judged by the requests it
//! scheduled, however late they ended. Kept only for runs of two or more stages (with one stage
//! the run totals say the same), preallocated per thread, histograms created on first use.
//!
//! Saved as `stages.hlog`, an HDR interval log: one empty entry tagged `stage:<name>` per stage
//! (its start and length, so a stage without completions is still known), then one entry per
//! (stage, request, outcome) that happened, tagged `latency:<stage>:<request>:<outcome>` and
//! `service:<stage>:<request>:<outcome>`.

use super::hist::{add, decode, new_hist, record_ns};
use super::interval::{OutcomeHists, Shape};
use super::read::{complete_lines, LoadError};
use super::results::STAGES;
use crate::scenario::Stage;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use std::path::Path;
use std::time::Duration;

/// One stage of the schedule: its name and where it lies, in ns from second 0.
#[derive(Debug, Clone, PartialEq)]
pub struct StageSpan {
    pub name: String,
    pub from_ns: u64,
    pub to_ns: u64,
}

/// The stage of an instant `t` (ns from second 0) for stages ending at `ends` (ascending): stage
/// `i` holds `[ends[i-1], ends[i])`, so an arrival exactly at a boundary is the next stage's first.
/// Anything before second 0 is the first stage's, anything past the end the last's.
#[inline]
pub fn stage_index(ends: &[u64], t: u64) -> usize {
    ends.partition_point(|e| *e <= t).min(ends.len().saturating_sub(1))
}

#[derive(Debug, Clone)]
pub struct StageHists {
    pub stages: Vec<StageSpan>,
    /// `stages[i].to_ns`, apart for the lookup on the hot path.
    ends: Vec<u64>,
    requests: usize,
    outcomes: usize,
    /// At `(stage * requests + request) * outcomes + outcome`; None until that pair first ends.
    hists: Vec<Option<OutcomeHists>>,
}

impl StageHists {
    /// Empty histograms for a plan's stages, or None for a plan of one stage (nothing to split).
    pub fn for_plan(stages: &[Stage], shape: &Shape) -> Option<StageHists> {
        if stages.len() < 2 {
            return None;
        }
        let mut t = Duration::ZERO;
        let spans = stages
            .iter()
            .map(|s| {
                let from = t;
                t += s.duration;
                StageSpan { name: s.name.clone(), from_ns: nanos(from), to_ns: nanos(t) }
            })
            .collect();
        Some(StageHists::empty(spans, shape.requests.len(), shape.outcomes.len()))
    }

    pub fn empty(stages: Vec<StageSpan>, requests: usize, outcomes: usize) -> StageHists {
        let ends = stages.iter().map(|s| s.to_ns).collect();
        let hists = vec![None; stages.len() * requests * outcomes];
        StageHists { stages, ends, requests, outcomes, hists }
    }

    /// One completion whose arrival was due `intended` ns after second 0. Returns whether it made
    /// the pair's histograms (the first of its stage, request and outcome): microseconds, which
    /// the recorder counts as a growth.
    #[inline]
    pub fn record(&mut self, intended: u64, request: usize, outcome: usize, latency_ns: u64, service_ns: u64) -> bool {
        let stage = stage_index(&self.ends, intended);
        let i = (stage * self.requests + request) * self.outcomes + outcome;
        let Some(slot) = self.hists.get_mut(i) else { return false };
        let made = slot.is_none();
        let h = slot.get_or_insert_with(|| OutcomeHists { latency: new_hist(), service: new_hist() });
        record_ns(&mut h.latency, latency_ns);
        record_ns(&mut h.service, service_ns);
        made
    }

    /// The histograms of one (stage, request, outcome), None when it never happened.
    pub fn get(&self, stage: usize, request: usize, outcome: usize) -> Option<&OutcomeHists> {
        if request >= self.requests || outcome >= self.outcomes {
            return None;
        }
        self.hists.get((stage * self.requests + request) * self.outcomes + outcome)?.as_ref()
    }

    /// The index of the stage called `name`.
    pub fn stage(&self, name: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.name == name)
    }

    /// Adds `o` in; false (and nothing added) when its stages or shape are not these.
    pub fn merge(&mut self, o: &StageHists) -> bool {
        if o.stages != self.stages || o.requests != self.requests || o.outcomes != self.outcomes {
            return false;
        }
        for (a, b) in self.hists.iter_mut().zip(&o.hists) {
            if let Some(b) = b {
                let a = a.get_or_insert_with(|| OutcomeHists { latency: new_hist(), service: new_hist() });
                add(&mut a.latency, &b.latency);
                add(&mut a.service, &b.service);
            }
        }
        true
    }

    /// Writes `stages.hlog` into `dir` (atomically: it is written once, at the end of the run).
    pub fn write(&self, dir: &Path, shape: &Shape) -> std::io::Result<()> {
        let mut buf = Vec::new();
        let mut ser = V2DeflateSerializer::new();
        let mut w = IntervalLogWriterBuilder::new().begin_log_with(&mut buf, &mut ser)?;
        w.write_comment("[skyload stage log: values in microseconds, by the stage of each request's intended start]")?;
        w.write_comment("[Tags: stage:<stage> = the stage's span (empty), latency:<stage>:<request>:<outcome> = latency from intended start, service:<stage>:<request>:<outcome> = service time]")?;
        let err = |e| std::io::Error::other(format!("{STAGES}: {e:?}"));
        for (si, s) in self.stages.iter().enumerate() {
            let (start, len) = (Duration::from_nanos(s.from_ns), Duration::from_nanos(s.to_ns - s.from_ns));
            let tag = format!("stage:{}", s.name);
            w.write_histogram(&new_hist(), start, len, Tag::new(&tag)).map_err(err)?;
            for r in 0..self.requests {
                for o in 0..self.outcomes {
                    let Some(h) = self.get(si, r, o) else { continue };
                    let pair = format!("{}:{}:{}", s.name, shape.requests[r], shape.outcomes.name(o as u16));
                    for (kind, hist) in [("latency", &h.latency), ("service", &h.service)] {
                        let tag = format!("{kind}:{pair}");
                        w.write_histogram(hist, start, len, Tag::new(&tag)).map_err(err)?;
                    }
                }
            }
        }
        super::outdir::write_atomic(&dir.join(STAGES), &buf)
    }

    /// `stages.hlog` of `dir`, None when it has none (one stage, or written before it existed).
    pub fn read(dir: &Path, shape: &Shape) -> Result<Option<StageHists>, LoadError> {
        let path = dir.join(STAGES);
        if !path.exists() {
            return Ok(None);
        }
        let bad = |what: String| LoadError::Bad { dir: dir.to_path_buf(), file: STAGES, what };
        let bytes = complete_lines(std::fs::read(&path).map_err(|source| LoadError::Io { dir: dir.to_path_buf(), file: STAGES, source })?);
        let mut spans = Vec::new();
        let mut pairs = Vec::new();
        for entry in IntervalLogIterator::new(&bytes) {
            let LogEntry::Interval(e) = entry.map_err(|e| bad(format!("{e:?}")))? else { continue };
            let tag = e.tag().map(|t| t.as_str().to_string()).unwrap_or_default();
            let parts: Vec<&str> = tag.split(':').collect();
            match parts[..] {
                ["stage", name] => {
                    let from = nanos(e.start_timestamp());
                    spans.push(StageSpan { name: name.to_string(), from_ns: from, to_ns: from + nanos(e.duration()) });
                }
                [kind @ ("latency" | "service"), stage, request, outcome] => {
                    let h = decode(e.encoded_histogram()).map_err(|source| LoadError::Codec { dir: dir.to_path_buf(), file: STAGES, source })?;
                    pairs.push((kind == "latency", stage.to_string(), request.to_string(), outcome.to_string(), h));
                }
                _ => return Err(bad(format!("entry tagged `{tag}`: expected stage:<stage>, latency:<stage>:<request>:<outcome> or service:<stage>:<request>:<outcome>"))),
            }
        }
        let mut out = StageHists::empty(spans, shape.requests.len(), shape.outcomes.len());
        for (is_latency, stage, request, outcome, h) in pairs {
            let si = out.stage(&stage).ok_or_else(|| bad(format!("histogram of stage `{stage}`, which has no stage:{stage} entry")))?;
            let ri = shape.requests.iter().position(|n| *n == request).ok_or_else(|| bad(format!("histogram of unknown request `{request}`")))?;
            let oi = shape.outcomes.id(&outcome).ok_or_else(|| bad(format!("histogram of unknown outcome `{outcome}`")))? as usize;
            let i = (si * out.requests + ri) * out.outcomes + oi;
            let slot = out.hists[i].get_or_insert_with(|| OutcomeHists { latency: new_hist(), service: new_hist() });
            add(if is_latency { &mut slot.latency } else { &mut slot.service }, &h);
        }
        Ok(Some(out))
    }
}

fn nanos(d: Duration) -> u64 {
    d.as_nanos().min(u64::MAX as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::outcome::{OutcomeTable, OK, RESET};

    const S: u64 = 1_000_000_000;

    #[test]
    fn an_instant_belongs_to_the_stage_it_falls_in_boundaries_to_the_next() {
        let ends = [5 * S, 7 * S, 10 * S];
        let at = |t: u64| stage_index(&ends, t);
        assert_eq!((at(0), at(5 * S - 1), at(5 * S), at(7 * S - 1), at(7 * S), at(10 * S - 1)), (0, 0, 1, 1, 2, 2));
        assert_eq!(at(10 * S), 2, "past the end: the last stage");
        assert_eq!(at(u64::MAX), 2);
        assert_eq!(stage_index(&[3 * S], 9 * S), 0, "one stage holds everything");
        // A zero-length stage holds nothing: its boundary belongs to the one after it.
        assert_eq!(stage_index(&[2 * S, 2 * S, 4 * S], 2 * S), 2);
    }

    fn shape() -> Shape {
        Shape { requests: vec!["a".into(), "b".into()], outcomes: OutcomeTable::new(["fallback"]), labels: vec![] }
    }

    fn spans() -> Vec<StageSpan> {
        vec![
            StageSpan { name: "warm".into(), from_ns: 0, to_ns: 2 * S },
            StageSpan { name: "hold".into(), from_ns: 2 * S, to_ns: 3_500_000_000 },
            StageSpan { name: "idle".into(), from_ns: 3_500_000_000, to_ns: 4 * S },
        ]
    }

    #[test]
    fn records_by_intended_stage_merge_and_round_trip_through_the_file() {
        let shape = shape();
        let mut a = StageHists::empty(spans(), 2, shape.outcomes.len());
        // Intended at 1.9 s, answered 3 s later: stage `warm`'s, whenever it ended.
        assert!(a.record(1_900_000_000, 0, OK as usize, 3 * S, 2 * S), "the first of its pair makes its histograms");
        assert!(!a.record(1_900_000_000, 0, OK as usize, 3 * S, 2 * S), "the second only counts");
        a.record(2 * S, 1, RESET as usize, 1_000_000, 500_000);
        let mut b = StageHists::empty(spans(), 2, shape.outcomes.len());
        b.record(1_000, 0, OK as usize, 2_000_000, 1_000_000);
        assert!(a.merge(&b));
        let warm = a.get(0, 0, OK as usize).unwrap();
        assert_eq!((warm.latency.len(), warm.latency.max() / 1_000), (3, 3_000));
        assert_eq!(a.get(1, 1, RESET as usize).map(|h| h.service.len()), Some(1));
        assert!(a.get(1, 0, OK as usize).is_none() && a.get(2, 0, OK as usize).is_none());
        let other = StageHists::empty(spans()[..2].to_vec(), 2, shape.outcomes.len());
        assert!(!a.merge(&other), "other stages do not add");

        let dir = tempfile::tempdir().unwrap();
        a.write(dir.path(), &shape).unwrap();
        let back = StageHists::read(dir.path(), &shape).unwrap().unwrap();
        assert_eq!(back.stages, a.stages, "every stage, the empty `idle` too, with its span");
        for s in 0..3 {
            for r in 0..2 {
                for o in 0..shape.outcomes.len() {
                    let (x, y) = (a.get(s, r, o), back.get(s, r, o));
                    assert_eq!(x.map(|h| (h.latency.clone(), h.service.clone())), y.map(|h| (h.latency.clone(), h.service.clone())), "{s}/{r}/{o}");
                }
            }
        }
        assert!(StageHists::read(tempfile::tempdir().unwrap().path(), &shape).unwrap().is_none());
    }

    #[test]
    fn a_bad_tag_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut buf = Vec::new();
        let mut ser = V2DeflateSerializer::new();
        let mut w = IntervalLogWriterBuilder::new().begin_log_with(&mut buf, &mut ser).unwrap();
        w.write_histogram(&new_hist(), Duration::ZERO, Duration::from_secs(1), Tag::new("latency:warm:a")).unwrap();
        drop(w);
        std::fs::write(dir.path().join(STAGES), buf).unwrap();
        let e = StageHists::read(dir.path(), &shape()).unwrap_err().to_string();
        assert!(e.contains(STAGES) && e.contains("latency:warm:a"), "{e}");
    }

    #[test]
    fn one_stage_keeps_nothing() {
        let plan = crate::scenario::load_str(
            "name = \"x\"\n[target]\nurl = \"http://127.0.0.1:1\"\n[[stages]]\nrate = 1\nduration = \"1s\"\n[[requests]]\nname = \"a\"\npath = \"/\"\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert!(StageHists::for_plan(&plan.stages, &shape()).is_none());
        let two = [plan.stages[0].clone(), Stage { name: "second".into(), duration: Duration::from_millis(1_500), ..plan.stages[0].clone() }];
        let h = StageHists::for_plan(&two, &shape()).unwrap();
        assert_eq!(h.stages[1], StageSpan { name: "second".into(), from_ns: S, to_ns: 2_500_000_000 });
    }

    /// Through the thread recorder: a completion counts in the stage of its intended start, not
    /// of its end, and the threads' totals add.
    #[test]
    fn the_recorder_keeps_them_by_intended_stage_and_threads_add() {
        use crate::record::accum::{Completion, ThreadRecorder};
        use std::sync::Arc;
        let t0 = 9 * S;
        let shape = Arc::new(shape());
        let done = |intended_ms: u64, done_ms: u64| {
            let (intended, done) = (t0 + intended_ms * 1_000_000, t0 + done_ms * 1_000_000);
            Completion::failed(0, OK, intended, intended, done)
        };
        let mut a = ThreadRecorder::new(t0, shape.clone()).with_stages(Some(StageHists::empty(spans(), 2, shape.outcomes.len())));
        a.completed(&done(1_990, 3_000)); // due in `warm`, ended in `idle`
        a.completed(&done(2_000, 2_001)); // the first of `hold`
        let mut b = ThreadRecorder::new(t0, shape.clone()).with_stages(Some(StageHists::empty(spans(), 2, shape.outcomes.len())));
        b.completed(&done(100, 200));
        let (_, mut total) = ThreadRecorder::new(t0, shape.clone()).finish(Duration::ZERO);
        assert!(total.by_stage.is_none(), "a recorder without stages keeps none");
        for r in [a, b] {
            total.merge(&r.finish(Duration::ZERO).1);
        }
        let h = total.by_stage.unwrap();
        let count = |s: usize| h.get(s, 0, OK as usize).map_or(0, |x| x.latency.len());
        assert_eq!((count(0), count(1), count(2)), (2, 1, 0));
        assert_eq!(h.get(0, 0, OK as usize).unwrap().latency.max() / 1_000, 1_010, "the late one's whole wait");
    }
}
