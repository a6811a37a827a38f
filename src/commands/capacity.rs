//! `skyload capacity FILE`: the search driver. Each step is the scenario with one constant stage at
//! the step's rate, run by the ordinary runner into its own Results directory and judged by the
//! scenario's checks as the SLO (`verify::capacity` decides the next rate and the verdict). Writes
//! `capacity.json` with every step, the knee and the plan; exits 1 when a `[capacity] targets`
//! entry is missed, 3 when the target cannot be reached.

use super::compare::{emit, GateInfo};
use crate::cli::CapacityArgs;
use super::error::{CliError, CliResult};
use crate::exit;
use crate::load::runner::{self, RunSettings, Silent, StopHandle};
use crate::scenario::{self, Overrides, Plan, Stage, StageShape};
use crate::units::parse_duration;
use crate::verify::capacity::report::{CapacityReport, StepReport};
use crate::verify::capacity::{self as cap, Phase, Search, Stop, StepVerdict};
use crate::verify::window::Span;
use crate::verify::spec::{CapacitySettings, Growth, Scope};
use crate::verify::verdict;
use crate::verify::window::SavedRun;
use crate::verify::{CheckResult, Verdict};
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;

/// Settings from the scenario, overridden by flags.
fn settings(plan: &Plan, a: &CapacityArgs) -> Result<CapacitySettings, String> {
    let mut s = plan.verify.capacity.clone();
    // Upper bounds as for the scenario's `[capacity]` (same field names), so a flag cannot ask
    // for what the file may not.
    let bound = |v: f64, flag: &str| crate::scenario::bounds::capacity(&flag.trim_start_matches("--").replace('-', "_"), v).map_err(|m| format!("{flag}: {m}"));
    let pos = |v: f64, flag: &str| if v.is_finite() && v > 0.0 { bound(v, flag).map(|_| v) } else { Err(format!("{flag}: {v} is not allowed: a number > 0")) };
    if let Some(v) = a.start {
        s.start = pos(v, "--start")?;
    }
    if let Some(v) = a.step {
        s.growth = Growth::Step(pos(v, "--step")?);
    }
    if let Some(v) = a.factor {
        if v <= 1.0 {
            return Err(format!("--factor: {v} is not allowed: the rate must grow, so > 1 (e.g. 1.5)"));
        }
        bound(v, "--factor")?;
        s.growth = Growth::Factor(v);
    }
    if let Some(v) = a.max {
        s.max = pos(v, "--max")?;
    }
    for (v, slot, flag) in [(&a.hold, &mut s.hold, "--hold"), (&a.bisect_hold, &mut s.bisect_hold, "--bisect-hold"), (&a.confirm_hold, &mut s.confirm_hold, "--confirm-hold"), (&a.window, &mut s.window, "--window")] {
        if let Some(v) = v {
            let d = parse_duration(v).map_err(|e| format!("{flag}: {e}"))?;
            if d.as_secs_f64() < 1.0 {
                return Err(format!("{flag}: `{v}` is too short: give at least 1s"));
            }
            // Said with the value as typed (`25h`), not the seconds it comes to.
            let name = flag.trim_start_matches("--").replace('-', "_");
            if let Some((max, allowed)) = crate::scenario::bounds::capacity_limit(&name).filter(|(max, _)| d.as_secs_f64() > *max) {
                return Err(format!("{flag}: `{v}` is not allowed: {allowed} ({max:.0}s)"));
            }
            *slot = d;
        }
    }
    if let Some(v) = a.precision {
        if !(v > 0.0 && v < 1.0) {
            return Err(format!("--precision: {v} is not allowed: a fraction such as 0.05"));
        }
        s.precision = v;
    }
    if let Some(v) = a.consistency {
        if !(v > 0.0 && v <= 1.0) {
            return Err(format!("--consistency: {v} is not allowed: a share > 0 and <= 1 (1 = every sub-window)"));
        }
        s.consistency = v;
    }
    // Their range is checked by the flags' parser (cli::values::count).
    for (v, slot) in [(a.confirm, &mut s.confirm), (a.retests, &mut s.retests)] {
        if let Some(v) = v {
            *slot = v;
        }
    }
    if let Some(v) = a.pods {
        bound(v as f64, "--pods")?;
        s.pods = Some(v.max(1));
    }
    if let Some(v) = a.peak_qps {
        s.peak_qps = Some(pos(v, "--peak-qps")?);
    }
    if let Some(v) = a.headroom {
        if v < 1.0 {
            return Err(format!("--headroom: {v} is not allowed: >= 1 (e.g. 1.3)"));
        }
        bound(v, "--headroom")?;
        s.headroom = v;
    }
    Ok(s)
}

pub fn run(a: &CapacityArgs) -> CliResult {
    let mut plan = match scenario::load_file(&a.scenario) {
        Ok(p) => p,
        Err(e) => {
            return Err(CliError::Usage(e.to_string()));
        }
    };
    if let Err(e) = (Overrides { url: a.url.clone(), checks: a.checks.clone(), ..Default::default() }).apply(&mut plan) {
        return Err(CliError::Usage(e.to_string()));
    }
    let s = match settings(&plan, a) {
        Ok(s) => s,
        Err(msg) => {
            return Err(CliError::Usage(msg.to_string()));
        }
    };
    // The same bounds as `run`: connections, threads and in-flight limits hold for every step.
    if let Err(msg) = scenario::bounds::check(&plan, scenario::bounds::raise_fd_limit()) {
        return Err(CliError::Usage(msg));
    }
    if !plan.verify.checks.iter().any(|c| matches!(c.scope, Scope::Run | Scope::Request(_))) {
        return Err(CliError::Usage(format!("{}: capacity needs an SLO to judge each step by: give it with --check 'p99 < 100ms' --check 'error_rate < 1%', or add to the file e.g.\n  [checks]\n  run = [\"p99 < 100ms\", \"error_rate < 1%\"]", a.scenario.display())));
    }
    let out = a.out.clone().unwrap_or_else(|| {
        let d = runner::default_out_dir(&plan);
        d.with_file_name(format!("{}-capacity-{}", plan.name, d.file_name().map(|f| f.to_string_lossy().rsplit('-').next().unwrap_or_default().to_string()).unwrap_or_default()))
    });
    if let Err(msg) = super::outfile::check_gate(&a.gate) {
        return Err(CliError::Usage(msg));
    }
    // Never mix a new search into an earlier one's directory, nor write over the user's files.
    if let Err(e) = crate::record::outdir::prepare(&out, a.force) {
        return Err(CliError::Usage(e.to_string()));
    }
    // A reader that went away (`| head`) must not stop a search whose results are being written.
    let mut stdout = crate::out::Lenient::new(std::io::stdout().lock());
    let (report, code) = search(&plan, s, &out, &mut stdout)?;
    std::fs::create_dir_all(&out)?;
    crate::record::results::write_json(&out, crate::record::results::CAPACITY, &report)?;
    render(&report, &mut stdout)?;
    writeln!(stdout, "results: {}", out.display())?;
    // The report is drawn over the highest step that kept the SLO (else the last one), with the
    // whole search beside it.
    let shown = report.steps.iter().filter(|s| s.verdict == StepVerdict::Pass).max_by(|a, b| a.rate.total_cmp(&b.rate)).or(report.steps.last());
    if let Some(step) = shown {
        let dir = PathBuf::from(&step.dir);
        let html = out.join(crate::report::html::REPORT_FILE);
        match crate::record::results::write_json(&dir, crate::record::results::CAPACITY, &report).map_err(|e| e.to_string()).and_then(|_| crate::report::html::write_file(&[dir], &html).map_err(|e| e.to_string())) {
            Ok(()) => writeln!(stdout, "report:  {}", html.display())?,
            Err(e) => crate::errln!("warning: the HTML report could not be written: {e}"),
        }
    }
    let verdict = Verdict { results: report.targets.clone(), generator_notes: report.notes.clone() };
    emit(&a.gate, &verdict, &GateInfo { command: "capacity", scenario: plan.name.clone(), results_dir: Some(out.display().to_string()), seconds: report.seconds, status: None, abort_reason: None }, code)?;
    CliError::from_status(code)
}

/// Runs the steps and builds the report; the exit code follows the targets (1 when one is missed),
/// or is `exit::UNSTABLE` when the search's tries disagreed.
pub fn search(plan: &Plan, s: CapacitySettings, out: &std::path::Path, log: &mut dyn Write) -> anyhow::Result<(CapacityReport, i32)> {
    let started = std::time::Instant::now();
    let mut vp = plan.verify.clone();
    let skipped = vp.checks.iter().filter(|c| !matches!(c.scope, Scope::Run | Scope::Request(_))).count();
    vp.checks.retain(|c| matches!(c.scope, Scope::Run | Scope::Request(_)));
    let mut notes = Vec::new();
    if skipped > 0 {
        notes.push(format!("{skipped} stage/window checks do not apply to capacity steps and were left out"));
    }
    let arrivals = plan.stages.first().map(|s| s.arrivals).unwrap_or_default();
    let mut search = Search::new(s.clone());
    let mut steps: Vec<StepReport> = Vec::new();
    writeln!(log, "capacity search on `{}`: SLO {}", plan.name, vp.checks.iter().map(|c| c.source.as_str()).collect::<Vec<_>>().join(", "))?;
    writeln!(
        log,
        "  each step judged as a whole and over {}s sub-windows ({:.0}% must keep the SLO); boundary retested up to {}x; answer confirmed by {} hold(s) of {}s",
        s.window.as_secs_f64(),
        s.consistency * 100.0,
        s.retests,
        s.confirm,
        s.confirm_hold.as_secs_f64()
    )?;
    while let Some((rate, hold, phase)) = search.next() {
        let mut p = plan.clone();
        p.stages = vec![Stage { name: format!("capacity-{rate}"), duration: hold, shape: StageShape::Constant { rate }, arrivals }];
        let dir: PathBuf = out.join(format!("step-{:02}-{rate}rps", steps.len() + 1));
        let r = crate::session::run(&p, RunSettings { out_dir: dir.clone(), stop: StopHandle::new() }, &mut Silent).context("a capacity step could not be run")?;
        if r.target_unreachable {
            anyhow::bail!("the target {} accepted no connection at {rate} rps (every connect was refused or timed out) (results in {})", r.summary.target, dir.display());
        }
        let saved = SavedRun::load(&dir)?;
        let v = verdict::evaluate(&vp, &p.stages, &saved)?;
        let whole_ok = v.results.iter().filter(|c| c.scope != "generator").all(|c| c.passed);
        let subs = sub_windows(&vp, &saved, hold, s.window)?;
        let windows: Vec<bool> = subs.iter().map(|w| w.failed.is_none()).collect();
        let consistent = cap::consistent(&windows, s.consistency);
        let (sv, mut step_notes) = cap::judge_step(whole_ok && consistent, &r.summary);
        let t = &r.summary.totals;
        let mut failed_checks: Vec<String> = v.results.iter().filter(|c| !c.passed && c.scope != "generator").map(|c| format!("{} `{}`: measured {}", c.scope, c.check, c.measured)).collect();
        if whole_ok && !consistent {
            failed_checks.push(format!("only {} of {} sub-windows kept the SLO (needed {:.0}%)", windows.iter().filter(|w| **w).count(), windows.len(), s.consistency * 100.0));
        }
        let broke_first = (sv == StepVerdict::Fail).then(|| cap::diagnose(&subs, &r.summary));
        if let Some(b) = &broke_first {
            step_notes.push(format!("broke first: {b}"));
        }
        let step = StepReport {
            rate,
            hold_s: hold.as_secs_f64(),
            phase,
            verdict: sv,
            achieved_rps: t.achieved_rps,
            p50_us: t.latency.p50_us,
            p99_us: t.latency.p99_us,
            error_rate: t.error_rate,
            dropped: t.dropped,
            pods: r.summary.pods.len(),
            failed_checks,
            notes: step_notes,
            dir: dir.display().to_string(),
            windows_passed: windows.iter().filter(|w| **w).count(),
            windows: windows.len(),
            broke_first,
        };
        writeln!(
            log,
            "  step {:>2} {:<7}  {:>8.1} rps for {:.0}s  achieved {:>8.1}/s  p50 {:>8}  p99 {:>8}  {}/{} windows  {}{}",
            steps.len() + 1,
            format!("{phase:?}").to_lowercase(),
            rate,
            step.hold_s,
            step.achieved_rps,
            crate::units::format_us(step.p50_us),
            crate::units::format_us(step.p99_us),
            step.windows_passed,
            step.windows,
            match sv { StepVerdict::Pass => "PASS", StepVerdict::Fail => "FAIL", StepVerdict::Inconclusive => "INCONCLUSIVE (generator-limited)" },
            match &step.broke_first { Some(b) => format!("  [broke first: {b}]"), None => String::new() }
        )?;
        search.record(rate, sv);
        steps.push(step);
        if search.next().is_some() {
            std::thread::sleep(s.cooldown);
        }
    }
    let answer = search.answer();
    let good = answer.sustainable;
    // Pods: declared, else those seen in the steps at the answer.
    let best = steps.iter().filter(|x| x.verdict == StepVerdict::Pass && Some(x.rate) == good).max_by(|a, b| a.rate.total_cmp(&b.rate));
    let (pods, pods_from) = match (s.pods, best.map(|b| b.pods).filter(|n| *n > 0)) {
        (Some(n), _) => (n, "declared".to_string()),
        (None, Some(n)) => (n, "pod_header".to_string()),
        (None, None) => (1, "none (pods unknown: counted as 1; set pod_header or [capacity] pods)".to_string()),
    };
    let judged: Vec<(f64, f64)> = steps.iter().filter(|x| x.verdict != StepVerdict::Inconclusive).map(|x| (x.rate, x.p99_us as f64)).collect();
    let knee = cap::knee(&judged);
    let cplan = good.map(|g| cap::plan(g, pods, s.peak_qps, s.headroom));
    match search.stop {
        Some(Stop::GeneratorLimited) => notes.push(format!("the generator, not the target, may have been the limit: the capacity is at least {:.1} rps, the true maximum was not reached", search.bracket().0.unwrap_or(0.0))),
        Some(Stop::ReachedMax) => notes.push(format!("every step up to the maximum {:.1} rps passed: the capacity is at least that", s.max)),
        Some(Stop::NothingSustainable) => notes.push("no rate tried kept the SLO".into()),
        Some(Stop::Unstable) => notes.push(cap::describe_unstable(&answer)),
        _ => {}
    }
    if !answer.noisy_below.is_empty() {
        notes.push(format!(
            "noisy: {} failed once below the answer and passed when run again",
            answer.noisy_below.iter().map(|r| format!("{r:.1} rps")).collect::<Vec<_>>().join(", ")
        ));
    }
    let resolution = resolution(&vp, &steps, good, search.stop);
    if let Some(r) = resolution.as_ref().filter(|r| r.unseen_overload > s.precision) {
        notes.push(format!(
            "holds of {:.0}s cannot see an overload under {:.1}% (`{}` lets {} of queueing pass): the true capacity may be as low as {:.1} rps; a --confirm-hold of {:.0}s sees the {:.1}% precision",
            r.hold_s,
            r.unseen_overload * 100.0,
            r.check,
            crate::units::format_us(r.slack_us as u64),
            r.capacity_at_least_rps,
            cap::hold_to_see(r.slack_us, s.precision).ceil(),
            s.precision * 100.0
        ));
    }
    let mut targets = Vec::new();
    for (src, e) in &s.targets {
        let value = match e.metric {
            crate::verify::expr::Metric::CapacityRps => good,
            crate::verify::expr::Metric::KneeRps => knee,
            _ => cplan.as_ref().map(|p| p.per_pod_rps),
        };
        let mut r = CheckResult { scope: "capacity".into(), check: src.clone(), expected: e.expected(), measured: "no data".into(), passed: false, note: Some("no data: no rate was confirmed to keep the SLO".into()) };
        if let Some(v) = value {
            r.measured = crate::verify::expr::format_value(e.metric.kind(), v);
            r.passed = e.op.holds(v, e.value);
            r.note = None;
        }
        match search.stop {
            Some(Stop::GeneratorLimited) => r.note = Some("a lower bound: the generator may have been the limit".into()),
            Some(Stop::ReachedMax) => r.note = Some(format!("a lower bound: every step up to --max {:.1} rps passed; raise --max to find the limit", s.max)),
            _ => {}
        }
        targets.push(r);
    }
    let code = if search.stop == Some(Stop::Unstable) {
        exit::UNSTABLE
    } else if targets.iter().all(|t| t.passed) && good.is_some() {
        exit::OK
    } else {
        exit::CHECK_FAILED
    };
    let report = CapacityReport {
        scenario: plan.name.clone(),
        slo: vp.checks.iter().map(|c| c.source.clone()).collect(),
        steps,
        stop: search.stop,
        max_sustainable_rps: good,
        first_failing_rps: answer.fails_from,
        unstable_band: answer.unstable,
        pods,
        pods_from,
        per_pod_rps: cplan.as_ref().map(|p| p.per_pod_rps),
        knee_rps: knee,
        plan: cplan,
        targets,
        notes,
        seconds: started.elapsed().as_secs_f64(),
        resolution,
    };
    Ok((report, code))
}

/// How close the answer's holds get to the true capacity (`cap::resolution`), from the latency at
/// the lowest rate that passed and the longest hold the answer passed; None for a bound (the
/// search reached its maximum or the generator's) or no answer.
fn resolution(vp: &crate::verify::spec::VerifyPlan, steps: &[StepReport], answer: Option<f64>, stop: Option<Stop>) -> Option<cap::HoldResolution> {
    let answer = answer.filter(|_| !matches!(stop, Some(Stop::ReachedMax | Stop::GeneratorLimited)))?;
    let passed = || steps.iter().filter(|x| x.verdict == StepVerdict::Pass);
    let base = passed().min_by(|a, b| a.rate.total_cmp(&b.rate))?;
    let hold = passed().filter(|x| x.rate == answer).map(|x| x.hold_s).max_by(f64::total_cmp)?;
    let slo: Vec<(&str, &crate::verify::expr::Expr)> = vp.checks.iter().map(|c| (c.source.as_str(), &c.expr)).collect();
    cap::resolution(&slo, (base.p50_us, base.p99_us), answer, hold)
}

/// Judges the SLO over each `window`-long stretch of a step's `hold` (whole windows only).
fn sub_windows(vp: &crate::verify::spec::VerifyPlan, saved: &SavedRun, hold: std::time::Duration, window: std::time::Duration) -> anyhow::Result<Vec<cap::SubWindow>> {
    let w = window.as_secs_f64().max(1.0);
    let n = (hold.as_secs_f64() / w).floor() as usize;
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        // A judged span (`Span::judged`): judged by the requests scheduled in it (`intended.hlog`),
        // so a stall over a sub-window's last arrivals counts in it, not in the next; without
        // that file the sub-window that ends the step takes the answers after its schedule.
        let span = Span::judged(k as f64 * w, Some((k + 1) as f64 * w));
        let mut failed = None;
        for c in vp.checks.iter() {
            let request = match &c.scope {
                Scope::Request(r) => Some(r.as_str()),
                _ => None,
            };
            let data = saved.data(span, request);
            if let Some(o) = c.expr.metric.outcome() {
                // Latency of one outcome is kept per second for all requests together, without
                // service time: what a second does not hold is judged over the whole step only.
                let service = matches!(c.expr.metric, crate::verify::expr::Metric::Latency { service: true, .. });
                if service || (request.is_some() && saved.summary.requests.len() > 1) {
                    continue;
                }
                // A stretch in which no request ended as `o` has no such latency to judge (the
                // whole step still must have some).
                if data.as_ref().is_ok_and(|d| d.outcomes.get(o).copied().unwrap_or(0) == 0) {
                    continue;
                }
            }
            let scope = request.map_or("run".to_string(), |r| format!("request {r}"));
            let res = verdict::judge(&scope, &c.source, &c.expr, data.map_err(|e| e.to_string()));
            if !res.passed {
                failed = Some(format!("`{}` measured {}", res.check, res.measured));
                break;
            }
        }
        out.push(cap::SubWindow { from_s: span.from, failed });
    }
    Ok(out)
}

pub fn render(r: &CapacityReport, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out)?;
    let confirm = r.steps.iter().filter(|s| s.phase == Phase::Confirm && s.verdict == StepVerdict::Pass && Some(s.rate) == r.max_sustainable_rps).count();
    let how = if confirm > 0 { format!(", confirmed by {confirm} hold(s)") } else { String::new() };
    match (r.stop, r.max_sustainable_rps) {
        (Some(Stop::Unstable), _) => {
            let a = cap::Answer { sustainable: r.max_sustainable_rps, fails_from: r.first_failing_rps, unstable: r.unstable_band, noisy_below: vec![] };
            writeln!(out, "capacity: {} (SLO: {}; exit {})", cap::describe_unstable(&a), r.slo.join(", "), exit::UNSTABLE)?;
        }
        // A search that stopped at its maximum, or at the generator's, never found the limit: the
        // figure and everything planned from it (per pod, pods needed) are floors, said so here
        // and not only in a warning below.
        (Some(Stop::ReachedMax | Stop::GeneratorLimited), Some(g)) => {
            writeln!(out, "capacity: at least {g:.1} rps sustainable{how}: the limit was not reached (SLO: {})", r.slo.join(", "))?
        }
        (_, Some(g)) => writeln!(out, "capacity: {g:.1} rps sustainable{how}{} (SLO: {})", r.first_failing_rps.map_or(String::new(), |b| format!("; fails from {b:.1} rps")), r.slo.join(", "))?,
        (_, None) => writeln!(out, "capacity: none (no rate was confirmed to keep the SLO: {})", r.slo.join(", "))?,
    }
    if let Some(p) = &r.plan {
        let floor = matches!(r.stop, Some(Stop::ReachedMax | Stop::GeneratorLimited));
        let at_least = if floor { "at least " } else { "" };
        writeln!(out, "per pod: {at_least}{:.1} rps over {} pods ({})", p.per_pod_rps, r.pods, r.pods_from)?;
        match r.knee_rps {
            Some(k) => writeln!(out, "knee: latency bends above {k:.1} rps (p99 more than {}x the p99 at the lowest rate)", cap::KNEE_FACTOR)?,
            None => writeln!(out, "knee: none (p99 stayed within {}x of the lowest rate's at every rate tried)", cap::KNEE_FACTOR)?,
        }
        if let (Some(peak), Some(n)) = (p.peak_qps, p.pods_needed) {
            let bound = if floor { "at most " } else { "" };
            writeln!(out, "plan: a peak of {peak:.0} qps with headroom {:.2} needs {bound}{n} pods", p.headroom)?;
        }
        writeln!(out, "daily volume at this capacity: {:.0} calls ({:.0} per pod)", p.daily_calls, p.daily_calls_per_pod)?;
    }
    if let Some(x) = &r.resolution {
        writeln!(
            out,
            "resolution: holds of {:.0}s cannot see an overload under {:.1}% (`{}` lets {} of queueing pass): the true capacity is at least {:.1} rps",
            x.hold_s,
            x.unseen_overload * 100.0,
            x.check,
            crate::units::format_us(x.slack_us as u64),
            x.capacity_at_least_rps
        )?;
    }
    for n in &r.notes {
        writeln!(out, "  WARNING {n}")?;
    }
    let v = Verdict { results: r.targets.clone(), generator_notes: vec![] };
    verdict::render(&v, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(stop: Stop) -> CapacityReport {
        CapacityReport {
            scenario: "s".into(),
            slo: vec!["p99 < 50ms".into()],
            steps: vec![],
            stop: Some(stop),
            max_sustainable_rps: Some(800.0),
            first_failing_rps: None,
            unstable_band: None,
            pods: 2,
            pods_from: "declared".into(),
            per_pod_rps: Some(400.0),
            knee_rps: None,
            plan: Some(cap::plan(800.0, 2, Some(4000.0), 1.3)),
            targets: vec![],
            notes: vec![],
            seconds: 1.0,
            resolution: None,
        }
    }

    fn rendered(r: &CapacityReport) -> String {
        let mut out = Vec::new();
        render(r, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// A search that passed every step up to its maximum never found the limit: the headline,
    /// the per-pod figure and the pods planned from it are bounds, not the capacity.
    #[test]
    fn a_search_that_reached_its_maximum_gives_bounds() {
        let t = rendered(&report(Stop::ReachedMax));
        assert!(t.contains("capacity: at least 800.0 rps sustainable") && t.contains("limit was not reached"), "{t}");
        assert!(t.contains("per pod: at least 400.0 rps"), "{t}");
        assert!(t.contains("needs at most 13 pods"), "{t}");
        let t = rendered(&report(Stop::Converged));
        assert!(t.contains("capacity: 800.0 rps sustainable") && !t.contains("at least") && !t.contains("at most"), "{t}");
    }

    /// The answer's holds say how close they get: a rate passed with 3 s holds against 90 ms of
    /// slack may be 3% over the true capacity, and the terminal says so under the answer.
    #[test]
    fn the_answer_says_what_its_holds_can_see() {
        let mut r = report(Stop::Converged);
        r.resolution = cap::resolution(&[("p99 < 100ms", &crate::verify::expr::parse("p99 < 100ms").unwrap())], (9_000, 10_000), 800.0, 3.0);
        let t = rendered(&r);
        assert!(t.contains("resolution: holds of 3s cannot see an overload under 3.0% (`p99 < 100ms` lets 90.0ms of queueing pass): the true capacity is at least 776.7 rps"), "{t}");
    }
}
