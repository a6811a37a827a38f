//! Stages: the arrival schedule. Each `[[stages]]` table has exactly one shape (rate, ramp_to or
//! steps) and a duration; a ramp without `from` starts where the previous stage ended, so a file
//! reads as a continuous curve. Also the schedule arithmetic the rest of the crate asks about
//! (total time, expected requests, peak rate) and the cut/extend rule behind `--duration`.

use toml::Spanned;
use super::error::{Reporter, ScenarioError};
use super::model::{RawArrivals, RawStage};
use super::plan::{Arrivals, Plan, Stage, StageShape};
use super::resolve::valid_name;
use std::time::Duration;

const RATE_RULE: &str = "a rate is requests per second, a number >= 0";

pub fn resolve(raw: Option<&Spanned<Vec<Spanned<RawStage>>>>, rep: &Reporter) -> Result<Vec<Stage>, ScenarioError> {
    let raw = match raw {
        Some(r) if !r.get_ref().is_empty() => r,
        Some(r) => {
            return Err(rep.span(
                r.span(),
                "stages",
                "at least one stage is needed, e.g. [[stages]] rate = 100, duration = \"30s\"",
            ))
        }
        None => return Err(rep.at(
            None,
            "stages",
            "missing [[stages]]: add at least one, e.g.\n  [[stages]]\n  rate = 100\n  duration = \"30s\"",
        )),
    };
    let mut stages: Vec<Stage> = Vec::new();
    for (i, s) in raw.get_ref().iter().enumerate() {
        let stage = resolve_one(i, s, stages.last(), rep)?;
        if let Some(n) = raw.get_ref()[i].get_ref().name.as_ref() {
            if stages.iter().any(|p| p.name == stage.name) {
                return Err(rep.span(
                    n.span(),
                    format!("stages[{i}].name"),
                    format!("`{}` is already the name of an earlier stage; names must be unique", stage.name),
                ));
            }
        }
        stages.push(stage);
    }
    if stages.iter().all(|s| s.peak_rate() == 0.0) {
        return Err(rep.span(raw.span(), "stages", "every stage has rate 0, so nothing would be sent"));
    }
    Ok(stages)
}

fn resolve_one(
    i: usize,
    s: &Spanned<RawStage>,
    prev: Option<&Stage>,
    rep: &Reporter,
) -> Result<Stage, ScenarioError> {
    let f = |name: &str| format!("stages[{i}].{name}");
    let raw = s.get_ref();
    let rate = |v: &Spanned<f64>, field: String| -> Result<f64, ScenarioError> {
        let r = *v.get_ref();
        if r.is_finite() && r >= 0.0 {
            Ok(r)
        } else {
            Err(rep.span(v.span(), field, format!("{r} is not allowed: {RATE_RULE}")))
        }
    };

    let given: Vec<(&str, std::ops::Range<usize>)> = [
        raw.rate.as_ref().map(|v| ("rate", v.span())),
        raw.ramp_to.as_ref().map(|v| ("ramp_to", v.span())),
        raw.steps.as_ref().map(|v| ("steps", v.span())),
    ]
    .into_iter()
    .flatten()
    .collect();
    match given.as_slice() {
        [] => {
            return Err(rep.span(
                s.span(),
                format!("stages[{i}]"),
                "give exactly one of rate, ramp_to, steps (this stage has none)",
            ))
        }
        [_] => {}
        [(a, _), (b, span), ..] => {
            return Err(rep.span(
                span.clone(),
                format!("stages[{i}]"),
                format!("give exactly one of rate, ramp_to, steps (this stage has {a} and {b})"),
            ))
        }
    }
    if let (Some(from), None) = (&raw.from, &raw.ramp_to) {
        return Err(rep.span(
            from.span(),
            f("from"),
            "from is only used with ramp_to (the rate a ramp starts at)",
        ));
    }
    if let (Some(sd), None) = (&raw.step_duration, &raw.steps) {
        return Err(rep.span(
            sd.span(),
            f("step_duration"),
            "step_duration is only used with steps; use duration",
        ));
    }

    let shape = if let Some(r) = &raw.rate {
        StageShape::Constant { rate: rate(r, f("rate"))? }
    } else if let Some(to) = &raw.ramp_to {
        let from = match &raw.from {
            Some(v) => rate(v, f("from"))?,
            None => prev.map_or(0.0, Stage::final_rate),
        };
        StageShape::Ramp { from, to: rate(to, f("ramp_to"))? }
    } else {
        let steps = raw.steps.as_ref().expect("one shape is given");
        if steps.get_ref().is_empty() {
            return Err(rep.span(
                steps.span(),
                f("steps"),
                "an empty list is not allowed: give the rate of each step, e.g. [100, 200, 300]",
            ));
        }
        let rates = steps
            .get_ref()
            .iter()
            .enumerate()
            .map(|(k, v)| rate(v, format!("stages[{i}].steps[{k}]")))
            .collect::<Result<_, _>>()?;
        StageShape::Steps { rates }
    };

    let duration = match (&raw.duration, &raw.step_duration, &shape) {
        (Some(_), Some(sd), _) => {
            return Err(rep.span(
                sd.span(),
                f("step_duration"),
                "give duration (the whole stage) or step_duration (each step), not both",
            ));
        }
        (None, Some(sd), StageShape::Steps { rates }) => {
            let d = super::resolve::positive(sd, &f("step_duration"), "a step", rep)?;
            d * rates.len() as u32
        }
        (Some(d), None, _) => super::resolve::positive(d, &f("duration"), "a stage", rep)?,
        _ => {
            let also = if matches!(shape, StageShape::Steps { .. }) {
                " (or step_duration = \"10s\" for each step)"
            } else {
                ""
            };
            return Err(rep.span(
                s.span(),
                format!("stages[{i}]"),
                format!("missing duration: how long this stage lasts, e.g. duration = \"30s\"{also}"),
            ));
        }
    };

    let name = match &raw.name {
        Some(n) if valid_name(n.get_ref()) => n.get_ref().clone(),
        Some(n) => {
            return Err(rep.span(
                n.span(),
                f("name"),
                format!(
                    "`{}` is not allowed: a stage name is letters, digits, `.`, `_` and `-`",
                    n.get_ref()
                ),
            ))
        }
        None => format!("stage-{}", i + 1),
    };
    let arrivals = match raw.arrivals {
        Some(RawArrivals::Poisson) => Arrivals::Poisson,
        Some(RawArrivals::Uniform) | None => Arrivals::Uniform,
    };
    Ok(Stage { name, duration, shape, arrivals })
}

impl Stage {
    /// The rate at the end of the stage (where a following ramp starts by default).
    pub fn final_rate(&self) -> f64 {
        match &self.shape {
            StageShape::Constant { rate } => *rate,
            StageShape::Ramp { to, .. } => *to,
            StageShape::Steps { rates } => rates.last().copied().unwrap_or(0.0),
        }
    }

    pub fn peak_rate(&self) -> f64 {
        match &self.shape {
            StageShape::Constant { rate } => *rate,
            StageShape::Ramp { from, to } => from.max(*to),
            StageShape::Steps { rates } => rates.iter().copied().fold(0.0, f64::max),
        }
    }

    /// Requests the stage schedules (the integral of its rate over its duration).
    pub fn expected_requests(&self) -> f64 {
        let secs = self.duration.as_secs_f64();
        match &self.shape {
            StageShape::Constant { rate } => rate * secs,
            StageShape::Ramp { from, to } => (from + to) / 2.0 * secs,
            StageShape::Steps { rates } => rates.iter().sum::<f64>() / rates.len().max(1) as f64 * secs,
        }
    }
}

impl Plan {
    pub fn total_duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    pub fn expected_requests(&self) -> f64 {
        self.stages.iter().map(Stage::expected_requests).sum()
    }

    pub fn peak_rate(&self) -> f64 {
        self.stages.iter().map(Stage::peak_rate).fold(0.0, f64::max)
    }
}

/// Makes the schedule last exactly `total`: stages after it are dropped, the stage it falls in is
/// cut (a ramp keeps its slope, steps keep their length), and if `total` is longer than the
/// schedule the last stage's final rate is held for the extra time.
pub fn set_total_duration(stages: &mut Vec<Stage>, total: Duration) {
    let mut start = Duration::ZERO;
    let mut kept = Vec::new();
    for s in stages.drain(..) {
        if start >= total {
            break;
        }
        let left = total - start;
        start += s.duration;
        if s.duration <= left {
            kept.push(s);
        } else {
            kept.extend(cut(s, left));
        }
    }
    let scheduled: Duration = kept.iter().map(|s| s.duration).sum();
    if scheduled < total {
        let extra = total - scheduled;
        let last = kept.last_mut().expect("a plan has at least one stage");
        match last.shape {
            StageShape::Constant { .. } => last.duration += extra,
            _ => {
                let hold = Stage {
                    name: format!("{}-hold", last.name),
                    duration: extra,
                    shape: StageShape::Constant { rate: last.final_rate() },
                    arrivals: last.arrivals,
                };
                kept.push(hold);
            }
        }
    }
    *stages = kept;
}

/// The first `keep` of a stage, shaped as it was.
fn cut(s: Stage, keep: Duration) -> Vec<Stage> {
    let frac = keep.as_secs_f64() / s.duration.as_secs_f64();
    match &s.shape {
        StageShape::Constant { .. } => vec![Stage { duration: keep, ..s }],
        StageShape::Ramp { from, to } => {
            let to = from + (to - from) * frac;
            vec![Stage { duration: keep, shape: StageShape::Ramp { from: *from, to }, ..s }]
        }
        StageShape::Steps { rates } => {
            let step = s.duration / rates.len() as u32;
            let whole = (keep.as_nanos() / step.as_nanos().max(1)) as usize;
            let partial = keep - step * whole as u32;
            let mut out = Vec::new();
            if whole > 0 {
                out.push(Stage {
                    duration: step * whole as u32,
                    shape: StageShape::Steps { rates: rates[..whole].to_vec() },
                    ..s.clone()
                });
            }
            if !partial.is_zero() {
                let name = if whole > 0 { format!("{}-cut", s.name) } else { s.name.clone() };
                out.push(Stage {
                    name,
                    duration: partial,
                    shape: StageShape::Constant { rate: rates[whole] },
                    ..s
                });
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(name: &str, secs: u64, shape: StageShape) -> Stage {
        Stage { name: name.into(), duration: Duration::from_secs(secs), shape, arrivals: Arrivals::Uniform }
    }

    #[test]
    fn schedule_arithmetic() {
        let s = st("r", 10, StageShape::Ramp { from: 0.0, to: 100.0 });
        assert_eq!((s.final_rate(), s.peak_rate(), s.expected_requests()), (100.0, 100.0, 500.0));
        let s = st("s", 9, StageShape::Steps { rates: vec![10.0, 30.0, 20.0] });
        assert_eq!((s.final_rate(), s.peak_rate(), s.expected_requests()), (20.0, 30.0, 180.0));
    }

    #[test]
    fn cutting_keeps_shapes() {
        let mut v = vec![
            st("a", 10, StageShape::Constant { rate: 5.0 }),
            st("b", 10, StageShape::Ramp { from: 0.0, to: 100.0 }),
        ];
        set_total_duration(&mut v, Duration::from_secs(15));
        assert_eq!(v[1], st("b", 5, StageShape::Ramp { from: 0.0, to: 50.0 }));
        assert_eq!(v.len(), 2);

        let mut v = vec![
            st("a", 10, StageShape::Constant { rate: 5.0 }),
            st("b", 10, StageShape::Constant { rate: 9.0 }),
        ];
        set_total_duration(&mut v, Duration::from_secs(4));
        assert_eq!(v, vec![st("a", 4, StageShape::Constant { rate: 5.0 })]);

        let mut v = vec![st("s", 30, StageShape::Steps { rates: vec![1.0, 2.0, 3.0] })];
        set_total_duration(&mut v, Duration::from_secs(25));
        assert_eq!(
            v,
            vec![
                st("s", 20, StageShape::Steps { rates: vec![1.0, 2.0] }),
                st("s-cut", 5, StageShape::Constant { rate: 3.0 })
            ]
        );

        let mut v = vec![st("s", 30, StageShape::Steps { rates: vec![1.0, 2.0, 3.0] })];
        set_total_duration(&mut v, Duration::from_secs(4));
        assert_eq!(v, vec![st("s", 4, StageShape::Constant { rate: 1.0 })]);
    }

    #[test]
    fn extending_holds_the_final_rate() {
        let mut v = vec![st("a", 10, StageShape::Constant { rate: 5.0 })];
        set_total_duration(&mut v, Duration::from_secs(60));
        assert_eq!(v, vec![st("a", 60, StageShape::Constant { rate: 5.0 })]);

        let mut v = vec![st("up", 10, StageShape::Ramp { from: 0.0, to: 80.0 })];
        set_total_duration(&mut v, Duration::from_secs(30));
        assert_eq!(v[1], st("up-hold", 20, StageShape::Constant { rate: 80.0 }));
    }
}
