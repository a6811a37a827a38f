//! What a scenario asks verify to judge, resolved: checks with their scope (whole run, stage,
//! request, time window), abort rules, comparison tolerances and capacity-search settings. The raw
//! serde structs for `[checks]`, `[[windows]]` and `[capacity]` are part of the scenario format
//! (`scenario::checks`); `resolve` turns them into a `VerifyPlan` or an error at a byte
//! offset, which `scenario::resolve` turns into file:line:column. Every name a check mentions
//! (request, stage, outcome) is checked here against the plan, with a "did you mean".

use super::tolerance::{parse_tolerance, Tolerance};
use super::expr::{self, AbortExpr, Expr, Metric, ParseError};
use crate::scenario::checks::{RawCapacity, RawChecks, RawWindow};
use crate::scenario::did_you_mean;
use std::time::Duration;
use toml::Spanned;

/// Everything verify needs from a scenario. Empty (no checks) by default.
#[derive(Debug, Clone, Default)]
pub struct VerifyPlan {
    pub checks: Vec<Check>,
    pub windows: Vec<Window>,
    pub abort: Vec<AbortRule>,
    pub tolerances: Vec<Tolerance>,
    pub guard: GuardMode,
    pub capacity: CapacitySettings,
    /// `recovered_when` of the faults that have one, by fault name (the others recover by default
    /// to the run's SLO and their `expect` ratios' level before the fault).
    pub recovered_when: Vec<(String, Vec<Check>)>,
}

/// What happens when the generator may have been the limit (dropped, or sent < 99%).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GuardMode {
    /// A failed verdict line of its own (exit 1): a pass drawn from a run that did not offer the
    /// planned load would be a silent pass.
    #[default]
    Fail,
    /// A loud warning line; the exit code follows the other checks.
    Warn,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub scope: Scope,
    /// The check as written (`p99 < 50ms`).
    pub source: String,
    pub expr: Expr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Run,
    Stage(String),
    Request(String),
    /// Index into `VerifyPlan::windows`.
    Window(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub name: String,
    pub range: WindowRange,
    /// Only this request's data (latency, counts); pods and labels are not kept per request.
    pub request: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WindowRange {
    /// From `from` to `to` (None: the end of the run), seconds after the start of the schedule.
    Time { from: Duration, to: Option<Duration> },
    /// A stage's span, optionally skipping its first `from` (e.g. the warm-up of a hold).
    Stage { name: String, skip: Duration },
}

#[derive(Debug, Clone, PartialEq)]
pub struct AbortRule {
    pub source: String,
    pub rule: AbortExpr,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Growth {
    Factor(f64),
    Step(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CapacitySettings {
    pub start: f64,
    pub growth: Growth,
    pub max: f64,
    pub hold: Duration,
    pub bisect_hold: Duration,
    pub cooldown: Duration,
    /// Stop bisecting when (first bad − last good) / last good is at most this.
    pub precision: f64,
    /// Declared pod count (else pods seen through `pod_header`).
    pub pods: Option<usize>,
    pub peak_qps: Option<f64>,
    pub headroom: f64,
    pub targets: Vec<(String, Expr)>,
    /// Each step is also judged over sub-windows of this length (whole seconds)...
    pub window: Duration,
    /// ...and passes only when at least this fraction of them keep the SLO.
    pub consistency: f64,
    /// How many times the first failing rate is run again before the boundary is believed.
    pub retests: u32,
    /// Holds of the answer that must all pass before it is reported (0: report unconfirmed).
    pub confirm: u32,
    pub confirm_hold: Duration,
}

impl Default for CapacitySettings {
    fn default() -> Self {
        CapacitySettings {
            start: 100.0,
            growth: Growth::Factor(1.5),
            max: 100_000.0,
            hold: Duration::from_secs(5),
            bisect_hold: Duration::from_secs(3),
            cooldown: Duration::from_millis(500),
            precision: 0.05,
            pods: None,
            peak_qps: None,
            headroom: 1.3,
            targets: Vec::new(),
            window: Duration::from_secs(1),
            consistency: 1.0,
            retests: 1,
            confirm: 3,
            confirm_hold: Duration::from_secs(30),
        }
    }
}

/// A problem at a byte offset of the scenario text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub at: Option<usize>,
    pub field: String,
    pub message: String,
}

/// The names checks may refer to, from the plan being resolved.
pub struct Names<'a> {
    pub stages: Vec<&'a str>,
    pub requests: Vec<&'a str>,
    /// Built-in outcomes and the scenario's own.
    pub outcomes: Vec<String>,
    pub has_pod_header: bool,
}

/// The raw pieces of a scenario that carry checks.
pub struct Sources<'a> {
    pub text: &'a str,
    pub checks: Option<&'a Spanned<RawChecks>>,
    pub windows: &'a [Spanned<RawWindow>],
    pub capacity: Option<&'a Spanned<RawCapacity>>,
    /// `checks` of each `[[stages]]`, in order.
    pub stage_checks: Vec<Option<&'a Spanned<Vec<Spanned<String>>>>>,
    pub request_checks: Vec<Option<&'a Spanned<Vec<Spanned<String>>>>>,
    /// `expect` of each `[[faults]]`: checks over the fault's window.
    pub faults: Vec<FaultSource<'a>>,
}

/// A fault's window and the checks that must hold in it.
pub struct FaultSource<'a> {
    pub name: String,
    pub from: Duration,
    pub to: Duration,
    pub expect: Option<&'a Spanned<Vec<Spanned<String>>>>,
    pub recovered_when: Option<&'a Spanned<Vec<Spanned<String>>>>,
}

/// The window name a fault's expectations are reported under.
pub fn fault_window_name(fault: &str) -> String {
    format!("fault:{fault}")
}

pub struct Resolved {
    pub plan: VerifyPlan,
    /// Headers named by `split(...)`, to be counted as labels.
    pub split_headers: Vec<String>,
}

/// Where a string's content starts: after `"`, `'`, `"""` or `'''`.
fn content_start(text: &str, span: &std::ops::Range<usize>) -> usize {
    let t = &text[span.start.min(text.len())..];
    span.start + if t.starts_with("\"\"\"") || t.starts_with("'''") { 3 } else { 1 }
}

struct Ctx<'a> {
    text: &'a str,
    names: &'a Names<'a>,
    split_headers: Vec<String>,
}

impl Ctx<'_> {
    fn located(&self, s: &Spanned<String>, field: &str, e: ParseError) -> SpecError {
        SpecError { at: Some(content_start(self.text, &s.span()) + e.at), field: field.to_string(), message: format!("`{}`: {}", s.get_ref(), e.message) }
    }

    /// Parses one check and checks the names it uses against the plan.
    fn check(&mut self, s: &Spanned<String>, field: &str, scope: &Scope, request_filter: bool) -> Result<Expr, SpecError> {
        self.check_text(s.get_ref(), scope, request_filter).map_err(|e| self.located(s, field, e))
    }

    /// `check` on the bare text: the error's `at` is an offset into `s`.
    fn check_text(&mut self, s: &str, scope: &Scope, request_filter: bool) -> Result<Expr, ParseError> {
        let e = expr::parse(s)?;
        self.names_in(&e.metric, scope, request_filter).map_err(|m| ParseError { at: e.arg_at, message: m })?;
        if let (Some(message), Scope::Stage(_) | Scope::Window(_)) = (per_second_outcome(&e.metric, request_filter), scope) {
            return Err(ParseError { at: e.arg_at, message });
        }
        if let Metric::Split { header, .. } | Metric::RatioAmong { header, .. } = &e.metric {
            if !self.split_headers.contains(header) {
                self.split_headers.push(header.clone());
            }
        }
        Ok(e)
    }

    fn names_in(&self, metric: &Metric, scope: &Scope, request_filter: bool) -> Result<(), String> {
        let per_request = matches!(scope, Scope::Request(_)) || request_filter;
        match metric {
            Metric::Latency { outcome: Some(o), .. } if o == "dropped" => return Err("`dropped` is not an outcome (dropped requests never completed): their waiting time is `dropped_wait` in summary.json; check `dropped == 0`".into()),
            Metric::Latency { outcome: Some(o), .. } if !self.names.outcomes.contains(o) => {
                let hint = did_you_mean(o, self.names.outcomes.iter().map(String::as_str)).map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
                return Err(format!("no outcome is named `{o}`{hint}; outcomes: {} (name more with [[outcomes]])", self.names.outcomes.join(", ")));
            }
            Metric::Ratio(o) | Metric::RatioAmong { outcome: o, .. } if o == "dropped" => return Err("`dropped` is not an outcome (dropped requests never completed): use the `dropped` metric, e.g. `dropped == 0`".into()),
            Metric::Ratio(o) | Metric::RatioAmong { outcome: o, .. } if !self.names.outcomes.contains(o) => {
                let hint = did_you_mean(o, self.names.outcomes.iter().map(String::as_str)).map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
                return Err(format!("no outcome is named `{o}`{hint}; outcomes: {} (name more with [[outcomes]])", self.names.outcomes.join(", ")));
            }
            m if m.is_capacity_only() => return Err(format!("`{m}` is a result of `skyload capacity`; use it in [capacity] targets")),
            m if m.needs_pods() && !self.names.has_pod_header => return Err(format!("`{m}` needs the pod of each response: set pod_header = \"x-pod\" (the header naming the pod)")),
            m if (m.needs_pods() || matches!(m, Metric::Split { .. } | Metric::RatioAmong { .. })) && per_request => {
                return Err(format!("`{m}` counts pods and header values over all requests, not per request: move it to [checks] run, a stage or a window without `request`"))
            }
            _ => {}
        }
        Ok(())
    }

    fn list(&mut self, list: Option<&Spanned<Vec<Spanned<String>>>>, field: &str, scope: Scope, request_filter: bool, out: &mut Vec<Check>) -> Result<(), SpecError> {
        for (i, s) in list.map(|l| l.get_ref().as_slice()).unwrap_or_default().iter().enumerate() {
            let expr = self.check(s, &format!("{field}[{i}]"), &scope, request_filter)?;
            out.push(Check { scope: scope.clone(), source: s.get_ref().trim().to_string(), expr });
        }
        Ok(())
    }
}

/// Per second, latency by outcome is kept for all requests together and without service time (one
/// histogram per outcome per second is what the hot path affords), so a stretch of seconds can
/// select an outcome's latency (`p99(ok)`), but not its service time nor one request's: the reason
/// for refusing what it cannot measure.
fn per_second_outcome(m: &Metric, request_filter: bool) -> Option<String> {
    let Metric::Latency { stat, service, outcome: Some(o) } = m else { return None };
    if *service {
        let latency = Metric::Latency { stat: *stat, service: false, outcome: Some(o.clone()) };
        return Some(format!("service time of `{o}` alone is kept for the whole run and per request, not per second: use `{latency}` (latency from the intended start) here, or this check in [checks] run"));
    }
    request_filter.then(|| format!("latency of `{o}` alone is kept per second for all requests together, not per request: drop `request` from this window, or use the request's own checks (whole run)"))
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn at<T>(s: &Spanned<T>, field: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError { at: Some(s.span().start), field: field.into(), message: message.into() }
}

fn name_check(s: &Spanned<String>, field: &str, what: &str, known: &[&str]) -> Result<String, SpecError> {
    let n = s.get_ref();
    if known.contains(&n.as_str()) {
        return Ok(n.clone());
    }
    let hint = did_you_mean(n, known.iter().copied()).map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
    Err(at(s, field, format!("no {what} is named `{n}`{hint}; {what}s: {}", known.join(", "))))
}

/// Whole-run checks given on the command line (`--check 'p99 < 50ms'`), resolved by the same
/// rules as `[checks] run`: the first bad one gives its text and what is wrong with it. Returns the
/// checks and the headers their `split(...)` needs counted.
pub fn run_checks(list: &[String], names: &Names) -> Result<(Vec<Check>, Vec<String>), String> {
    let mut cx = Ctx { text: "", names, split_headers: Vec::new() };
    let mut out = Vec::new();
    for s in list {
        let expr = cx.check_text(s, &Scope::Run, false).map_err(|e| format!("`{s}`: {}", e.message))?;
        out.push(Check { scope: Scope::Run, source: s.trim().to_string(), expr });
    }
    Ok((out, cx.split_headers))
}

pub fn resolve(src: &Sources, names: &Names) -> Result<Resolved, SpecError> {
    let mut cx = Ctx { text: src.text, names, split_headers: Vec::new() };
    let mut plan = VerifyPlan::default();
    let mut checks = Vec::new();
    if let Some(c) = src.checks {
        let c = c.get_ref();
        cx.list(c.run.as_ref(), "checks.run", Scope::Run, false, &mut checks)?;
        for (i, s) in c.abort_when.as_ref().map(|l| l.get_ref().as_slice()).unwrap_or_default().iter().enumerate() {
            let field = format!("checks.abort_when[{i}]");
            let rule = expr::parse_abort(s.get_ref()).map_err(|e| cx.located(s, &field, e))?;
            cx.names_in(&rule.expr.metric, &Scope::Run, false).map_err(|m| cx.located(s, &field, ParseError { at: rule.expr.arg_at, message: m }))?;
            if let Some(message) = per_second_outcome(&rule.expr.metric, false) {
                return Err(cx.located(s, &field, ParseError { at: rule.expr.arg_at, message }));
            }
            if let Metric::Split { header, .. } | Metric::RatioAmong { header, .. } = &rule.expr.metric {
                cx.split_headers.push(header.clone());
            }
            plan.abort.push(AbortRule { source: s.get_ref().trim().to_string(), rule });
        }
        for (i, s) in c.tolerances.as_ref().map(|l| l.get_ref().as_slice()).unwrap_or_default().iter().enumerate() {
            let field = format!("checks.tolerances[{i}]");
            let t = parse_tolerance(s.get_ref()).map_err(|e| cx.located(s, &field, e))?;
            cx.names_in(&t.metric, &Scope::Run, false).map_err(|m| cx.located(s, &field, ParseError { at: 0, message: m }))?;
            plan.tolerances.push(t);
        }
        if let Some(g) = &c.generator_guard {
            plan.guard = match g.get_ref().as_str() {
                "fail" => GuardMode::Fail,
                "warn" => GuardMode::Warn,
                other => return Err(at(g, "checks.generator_guard", format!("`{other}` is not allowed; allowed: fail, warn"))),
            };
        }
    }
    for (i, list) in src.stage_checks.iter().enumerate() {
        let stage = names.stages.get(i).copied().unwrap_or_default().to_string();
        cx.list(*list, &format!("stages[{i}].checks"), Scope::Stage(stage), false, &mut checks)?;
    }
    for (i, list) in src.request_checks.iter().enumerate() {
        let req = names.requests.get(i).copied().unwrap_or_default().to_string();
        cx.list(*list, &format!("requests[{i}].checks"), Scope::Request(req), false, &mut checks)?;
    }
    for (i, w) in src.windows.iter().enumerate() {
        let f = |n: &str| format!("windows[{i}].{n}");
        let raw = w.get_ref();
        let name = match &raw.name {
            Some(n) if valid_name(n.get_ref()) => n.get_ref().clone(),
            Some(n) => return Err(at(n, f("name"), format!("`{}` is not allowed: a window name is letters, digits, `.`, `_` and `-`", n.get_ref()))),
            None => format!("window-{}", i + 1),
        };
        if plan.windows.iter().any(|x: &Window| x.name == name) {
            return Err(SpecError { at: raw.name.as_ref().map(|n| n.span().start), field: f("name"), message: format!("`{name}` is already the name of an earlier window; names must be unique") });
        }
        let range = match (&raw.stage, &raw.from, &raw.to) {
            (Some(s), from, None) => WindowRange::Stage { name: name_check(s, &f("stage"), "stage", &names.stages)?, skip: from.as_ref().map_or(Duration::ZERO, |d| d.get_ref().get()) },
            (Some(_), _, Some(t)) => return Err(at(t, f("to"), "a window on a stage ends with the stage; remove `to` (use `from` to skip the stage's first seconds)")),
            (None, None, _) => return Err(SpecError { at: Some(w.span().start), field: format!("windows[{i}]"), message: "a window needs `from` (and optionally `to`), or `stage`".into() }),
            (None, Some(from), to) => {
                let from_d = from.get_ref().get();
                if let Some(t) = to {
                    if t.get_ref().get() <= from_d {
                        return Err(at(t, f("to"), format!("`to` ({}) must be after `from` ({})", t.get_ref(), from.get_ref())));
                    }
                }
                WindowRange::Time { from: from_d, to: to.as_ref().map(|t| t.get_ref().get()) }
            }
        };
        let request = match &raw.request {
            Some(r) => Some(name_check(r, &f("request"), "request", &names.requests)?),
            None => None,
        };
        let Some(list) = raw.checks.as_ref().filter(|l| !l.get_ref().is_empty()) else {
            return Err(SpecError { at: Some(w.span().start), field: f("checks"), message: format!("window `{name}` has no checks: add checks = [\"p99 < 100ms\", ...]") });
        };
        plan.windows.push(Window { name, range, request: request.clone() });
        cx.list(Some(list), &f("checks"), Scope::Window(i), request.is_some(), &mut checks)?;
    }
    for (i, f) in src.faults.iter().enumerate() {
        let Some(list) = f.expect.filter(|l| !l.get_ref().is_empty()) else { continue };
        let idx = plan.windows.len();
        plan.windows.push(Window { name: fault_window_name(&f.name), range: WindowRange::Time { from: f.from, to: Some(f.to) }, request: None });
        cx.list(Some(list), &format!("faults[{i}].expect"), Scope::Window(idx), false, &mut checks)?;
    }
    for (i, f) in src.faults.iter().enumerate() {
        let Some(list) = f.recovered_when else { continue };
        if list.get_ref().is_empty() {
            return Err(at(list, format!("faults[{i}].recovered_when"), "an empty list would make every second count as recovered: name the checks (e.g. [\"ratio(fallback) < 1%\", \"p99 < 200ms\"]) or remove recovered_when for the default"));
        }
        let mut when = Vec::new();
        cx.list(Some(list), &format!("faults[{i}].recovered_when"), Scope::Run, false, &mut when)?;
        if let Some((c, s, message)) = when.iter().zip(list.get_ref()).find_map(|(c, s)| Some((c, s, per_second_outcome(&c.expr.metric, false)?))) {
            return Err(cx.located(s, &format!("faults[{i}].recovered_when"), ParseError { at: c.expr.arg_at, message }));
        }
        plan.recovered_when.push((f.name.clone(), when));
    }
    plan.checks = checks;
    if let Some(c) = src.capacity {
        plan.capacity = capacity(c.get_ref(), &mut cx)?;
    }
    Ok(Resolved { plan, split_headers: cx.split_headers })
}

fn capacity(raw: &RawCapacity, cx: &mut Ctx) -> Result<CapacitySettings, SpecError> {
    let mut c = CapacitySettings::default();
    let positive = |v: &Spanned<f64>, field: &str, what: &str| -> Result<f64, SpecError> {
        let x = *v.get_ref();
        if !(x.is_finite() && x > 0.0) {
            return Err(at(v, format!("capacity.{field}"), format!("{x} is not allowed: {what}, a number > 0")));
        }
        crate::scenario::bounds::capacity(field, x).map(|_| x).map_err(|m| at(v, format!("capacity.{field}"), m))
    };
    if let Some(v) = &raw.start {
        c.start = positive(v, "start", "the first step's rate in requests per second")?;
    }
    match (&raw.step, &raw.factor) {
        (Some(s), Some(_)) => return Err(at(s, "capacity.step", "give one of step (add this many rps each step) or factor (multiply), not both")),
        (Some(s), None) => c.growth = Growth::Step(positive(s, "step", "rps added at each step")?),
        (None, Some(f)) => {
            let x = positive(f, "factor", "the rate multiplier per step")?;
            if x <= 1.0 {
                return Err(at(f, "capacity.factor", format!("{x} is not allowed: the rate must grow, so the factor is > 1 (e.g. 1.5)")));
            }
            c.growth = Growth::Factor(x);
        }
        (None, None) => {}
    }
    if let Some(v) = &raw.max {
        c.max = positive(v, "max", "the highest rate to try")?;
    }
    for (v, slot, field) in [(&raw.hold, &mut c.hold, "hold"), (&raw.bisect_hold, &mut c.bisect_hold, "bisect_hold"), (&raw.confirm_hold, &mut c.confirm_hold, "confirm_hold"), (&raw.window, &mut c.window, "window")] {
        if let Some(d) = v {
            if d.get_ref().get() < Duration::from_secs(1) {
                return Err(at(d, format!("capacity.{field}"), format!("{} is too short: a step is judged on whole seconds, give at least 1s", d.get_ref())));
            }
            crate::scenario::bounds::capacity(field, d.get_ref().get().as_secs_f64()).map_err(|m| at(d, format!("capacity.{field}"), m))?;
            *slot = d.get_ref().get();
        }
    }
    if let Some(d) = &raw.cooldown {
        crate::scenario::bounds::capacity("cooldown", d.get_ref().get().as_secs_f64()).map_err(|m| at(d, "capacity.cooldown", m))?;
        c.cooldown = d.get_ref().get();
    }
    if let Some(p) = &raw.precision {
        let x = *p.get_ref();
        if !(x > 0.0 && x < 1.0) {
            return Err(at(p, "capacity.precision", format!("{x} is not allowed: the bisection's precision as a fraction, e.g. 0.05 for 5%")));
        }
        c.precision = x;
    }
    if let Some(p) = &raw.pods {
        c.pods = Some(usize::try_from(*p.get_ref()).ok().filter(|n| *n >= 1 && *n as f64 <= crate::scenario::bounds::MAX_PODS).ok_or_else(|| at(p, "capacity.pods", format!("{} is not allowed: the number of pods, from 1 to {}", p.get_ref(), crate::scenario::bounds::MAX_PODS)))?);
    }
    if let Some(v) = &raw.peak_qps {
        c.peak_qps = Some(positive(v, "peak_qps", "the peak requests per second to plan for")?);
    }
    if let Some(v) = &raw.headroom {
        let x = positive(v, "headroom", "the headroom factor")?;
        if x < 1.0 {
            return Err(at(v, "capacity.headroom", format!("{x} is not allowed: headroom multiplies the peak, so it is >= 1 (e.g. 1.3 for 30% spare)")));
        }
        c.headroom = x;
    }
    if let Some(p) = &raw.consistency {
        let x = *p.get_ref();
        if !(x > 0.0 && x <= 1.0) {
            return Err(at(p, "capacity.consistency", format!("{x} is not allowed: the share of a step's sub-windows that must keep the SLO, > 0 and <= 1 (1 = every one)")));
        }
        c.consistency = x;
    }
    for (v, slot, field, max) in [(&raw.retests, &mut c.retests, "retests", crate::scenario::bounds::MAX_RETESTS), (&raw.confirm, &mut c.confirm, "confirm", crate::scenario::bounds::MAX_CONFIRM)] {
        if let Some(n) = v {
            *slot = u32::try_from(*n.get_ref()).ok().filter(|x| *x <= max).ok_or_else(|| at(n, format!("capacity.{field}"), format!("{} is not allowed: a count from 0 to {max}", n.get_ref())))?;
        }
    }
    for (i, s) in raw.targets.as_ref().map(|l| l.get_ref().as_slice()).unwrap_or_default().iter().enumerate() {
        let field = format!("capacity.targets[{i}]");
        let e = expr::parse(s.get_ref()).map_err(|e| cx.located(s, &field, e))?;
        if !matches!(e.metric, Metric::CapacityRps | Metric::KneeRps | Metric::PodQpsMin) {
            return Err(cx.located(s, &field, ParseError { at: e.arg_at, message: format!("`{}` is not a capacity result; targets use capacity_rps, per_pod_qps (capacity per pod) or knee_rps", e.metric) }));
        }
        c.targets.push((s.get_ref().trim().to_string(), e));
    }
    Ok(c)
}
