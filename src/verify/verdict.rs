//! The Verdict: one line per check (scope, check, expected, measured, pass/fail), plus the
//! generator guard, which says when the generator rather than the target may have been the limit.
//! Evaluation reads saved Results only; rendering goes to any `impl Write` (terminal table) or JSON.

use super::expr::{format_value, Expr};
use super::metrics::{measure, Data, Measured};
use super::spec::{GuardMode, Scope, VerifyPlan, WindowRange};
use super::window::{SavedRun, Span};
use super::VerifyError;
use crate::record::summary::Summary;
use crate::scenario::Stage;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// `run`, `stage hold`, `request get`, `window after-warmup`, `generator`, `baseline`.
    pub scope: String,
    pub check: String,
    pub expected: String,
    pub measured: String,
    pub passed: bool,
    /// Why there was nothing to measure, or what else the reader must know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Verdict {
    pub results: Vec<CheckResult>,
    /// Generator guard notes, when the generator may have been the limit (also a result line).
    #[serde(default)]
    pub generator_notes: Vec<String>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }
    pub fn failed(&self) -> usize {
        self.results.iter().filter(|r| !r.passed).count()
    }
}

/// Judges one expression against one stretch of data.
pub fn judge(scope: &str, source: &str, e: &Expr, d: Result<Data, String>) -> CheckResult {
    let measured = match d {
        Ok(d) => measure(&e.metric, &d),
        Err(why) => Measured::NoData(why),
    };
    let (measured, passed, note) = match measured {
        Measured::Value(v) => (format_value(e.metric.kind(), v), e.op.holds(v, e.value), None),
        Measured::NoData(why) => ("no data".to_string(), false, Some(why)),
    };
    CheckResult { scope: scope.into(), check: source.into(), expected: e.expected(), measured, passed, note }
}

/// Start and end (seconds) of each stage, by name.
fn stage_span(stages: &[Stage], name: &str) -> Option<(f64, f64)> {
    let mut t = 0.0;
    for s in stages {
        let end = t + s.duration.as_secs_f64();
        if s.name == name {
            return Some((t, end));
        }
        t = end;
    }
    None
}

/// Evaluates every check of `vp` against the saved run (stages give the stage windows).
pub fn evaluate(vp: &VerifyPlan, stages: &[Stage], run: &SavedRun) -> Result<Verdict, VerifyError> {
    let mut v = Verdict::default();
    for c in &vp.checks {
        let (scope, data) = match &c.scope {
            Scope::Run => ("run".to_string(), Ok(Data::from_summary(&run.summary, None))),
            Scope::Request(r) => (format!("request {r}"), Ok(Data::from_summary(&run.summary, Some(r)))),
            Scope::Stage(name) => {
                let d = match stage_span(stages, name) {
                    Some((from, to)) => Ok(run.stage_data(name, Span::judged(from, Some(to)), None)?),
                    None => Err(format!("stage `{name}` is not in this run (were the stages replaced by --rate or cut by --duration?)")),
                };
                (format!("stage {name}"), d)
            }
            Scope::Window(i) => {
                let w = &vp.windows[*i];
                let span = match &w.range {
                    WindowRange::Time { from, to } => Some(Span::judged(from.as_secs_f64(), to.map(|t| t.as_secs_f64()))),
                    WindowRange::Stage { name, skip } => stage_span(stages, name).map(|(f, t)| Span::judged(f + skip.as_secs_f64(), Some(t))),
                };
                // A window over a whole stage is that stage (judged by the requests it scheduled);
                // any other keeps the per-second data.
                let whole_stage = match &w.range {
                    WindowRange::Stage { name, skip } if skip.is_zero() => Some(name.as_str()),
                    _ => None,
                };
                let d = match span {
                    Some(span) => Ok(match whole_stage {
                        Some(stage) => run.stage_data(stage, span, w.request.as_deref())?,
                        None => run.data(span, w.request.as_deref())?,
                    }),
                    None => Err("the window's stage is not in this run (were the stages replaced by --rate?)".to_string()),
                };
                (format!("window {}", w.name), d)
            }
        };
        v.results.push(judge(&scope, &c.source, &c.expr, data));
    }
    if !vp.checks.is_empty() {
        guard(&run.summary, vp.guard, &mut v);
    }
    Ok(v)
}

/// The generator guard as a verdict line: the run offered the planned load (sent >= 99% of the
/// schedule, nothing dropped, generator threads not saturated).
pub fn guard(s: &Summary, mode: GuardMode, v: &mut Verdict) {
    let g = &s.generator;
    let measured = format!("sent {:.1}% of schedule, dropped {}", g.send_ratio * 100.0, s.totals.dropped);
    let ok = !g.limited(s.duration_s);
    v.generator_notes = g.notes.clone();
    v.results.push(CheckResult {
        scope: "generator".into(),
        check: "offered the planned load".into(),
        expected: ">= 99% sent, 0 dropped".into(),
        measured,
        passed: ok || mode == GuardMode::Warn,
        note: (!ok).then(|| format!("the generator, not the target, may have been the limit: {}", g.notes.join("; "))),
    });
}

/// The checks table for the terminal.
pub fn render(v: &Verdict, out: &mut dyn Write) -> io::Result<()> {
    render_for(v, crate::record::summary::RunStatus::Completed, out)
}

/// The verdict of a run that ended as `status`: a run stopped early never reads "PASS", since its
/// checks saw only part of what was planned.
pub fn render_for(v: &Verdict, status: crate::record::summary::RunStatus, out: &mut dyn Write) -> io::Result<()> {
    use crate::record::summary::RunStatus;
    const EARLY: &str = "the run did not complete";
    let stopped = match status {
        RunStatus::Completed => None,
        RunStatus::Interrupted => Some(("INTERRUPTED", EARLY, " on the part that ran")),
        RunStatus::Aborted => Some(("ABORTED", EARLY, " on the part that ran")),
        RunStatus::Failed => Some(("FAILED", EARLY, " on the part that ran")),
        RunStatus::Incomplete => Some(("INCOMPLETE", EARLY, " on the part that ran")),
        RunStatus::DrillFailed => Some(("DRILL FAILED", "a planned fault did not happen", "")),
    };
    if v.results.is_empty() {
        if let Some((word, why, _)) = stopped {
            writeln!(out, "verdict: {word} ({why}; nothing was checked)")?;
        }
        return Ok(());
    }
    writeln!(out)?;
    let mut rows = vec![["scope", "check", "expected", "measured", ""].map(String::from).to_vec()];
    for r in &v.results {
        let status = match (r.passed, &r.note) {
            (true, Some(_)) => "WARN",
            (true, None) => "PASS",
            (false, _) => "FAIL",
        };
        rows.push(vec![r.scope.clone(), r.check.clone(), r.expected.clone(), r.measured.clone(), status.into()]);
    }
    let widths: Vec<usize> = (0..5).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    for r in &rows {
        let line: Vec<String> = r.iter().enumerate().map(|(c, cell)| format!("{cell:<w$}", w = widths[c])).collect();
        writeln!(out, "  {}", line.join("  ").trim_end())?;
    }
    for r in v.results.iter().filter(|r| r.note.is_some()) {
        let tag = if r.passed { "WARNING" } else { "FAIL" };
        writeln!(out, "  {tag} {} `{}`: {}", r.scope, r.check, r.note.as_deref().unwrap_or_default())?;
    }
    let failed = v.failed();
    if let Some((word, why, part)) = stopped {
        writeln!(out, "verdict: {word} ({why}; {failed} of {} checks failed{part})", v.results.len())?;
    } else if failed == 0 {
        writeln!(out, "verdict: PASS ({} checks)", v.results.len())?;
    } else {
        writeln!(out, "verdict: FAIL ({failed} of {} checks failed)", v.results.len())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::expr::parse;

    #[test]
    fn a_run_stopped_early_never_reads_pass() {
        use crate::record::summary::RunStatus;
        let pass = CheckResult { scope: "run".into(), check: "p99 < 50ms".into(), expected: "< 50ms".into(), measured: "3ms".into(), passed: true, note: None };
        let v = Verdict { results: vec![pass], generator_notes: vec![] };
        let text = |status| {
            let mut out = Vec::new();
            render_for(&v, status, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert!(text(RunStatus::Completed).contains("verdict: PASS (1 checks)"));
        let t = text(RunStatus::Interrupted);
        assert!(t.contains("verdict: INTERRUPTED") && !t.contains("PASS ("), "{t}");
        let mut out = Vec::new();
        render_for(&Verdict::default(), RunStatus::Interrupted, &mut out).unwrap();
        assert!(String::from_utf8(out).unwrap().contains("verdict: INTERRUPTED"));
    }

    #[test]
    fn judging_states_expected_measured_and_why() {
        let e = parse("p99 < 50ms").unwrap();
        let mut h = crate::record::hist::new_hist();
        h.record(60_000).unwrap();
        let d = Data { seconds: 1.0, completed: 1, latency: Some(h), ..Data::default() };
        let r = judge("run", "p99 < 50ms", &e, Ok(d));
        assert_eq!((r.expected.as_str(), r.measured.as_str(), r.passed), ("< 50ms", "60.03ms", false));
        let r = judge("stage x", "p99 < 50ms", &e, Err("stage `x` is not in this run".into()));
        assert!(!r.passed && r.measured == "no data" && r.note.unwrap().contains("not in this run"));
    }

    #[test]
    fn stage_spans_add_up() {
        let st = |name: &str, s: u64| Stage { name: name.into(), duration: std::time::Duration::from_secs(s), shape: crate::scenario::StageShape::Constant { rate: 1.0 }, arrivals: Default::default() };
        let stages = [st("warm", 5), st("hold", 10)];
        assert_eq!(stage_span(&stages, "hold"), Some((5.0, 15.0)));
        assert_eq!(stage_span(&stages, "nope"), None);
    }

    #[test]
    fn table_rendering() {
        let v = Verdict {
            results: vec![
                CheckResult { scope: "run".into(), check: "p99 < 50ms".into(), expected: "< 50ms".into(), measured: "12ms".into(), passed: true, note: None },
                CheckResult { scope: "window w".into(), check: "ratio(ok) > 99%".into(), expected: "> 99%".into(), measured: "no data".into(), passed: false, note: Some("no data: x".into()) },
            ],
            generator_notes: vec![],
        };
        let mut out = Vec::new();
        render(&v, &mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("  run       p99 < 50ms       < 50ms    12ms      PASS"), "{s}");
        assert!(s.contains("FAIL window w `ratio(ok) > 99%`: no data: x"), "{s}");
        assert!(s.ends_with("verdict: FAIL (1 of 2 checks failed)\n"), "{s}");
    }
}
