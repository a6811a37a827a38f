//! `skyload compare BASELINE CURRENT`: the diff table of two results directories and a regression
//! verdict under tolerances (flags, else the scenario's `[checks] tolerances`, else the defaults).
//! Also home of the CI outputs every gate command shares: `--junit` and `--summary-json`.

use crate::cli::{CompareArgs, GateArgs};
use super::error::{CliError, CliResult};
use crate::exit;
use crate::record::results::read_summary;
use crate::verify::compare::{self, parse_tolerance, Tolerance, DEFAULT_TOLERANCES};
use crate::verify::{junit, Verdict};
use anyhow::Context;
use serde::Serialize;

pub fn run(args: &CompareArgs) -> CliResult {
    let tolerances = match tolerances(&args.tolerances, args.scenario.as_deref()) {
        Ok(t) => t,
        Err(msg) => {
            return Err(CliError::Usage(msg.to_string()));
        }
    };
    if let Err(msg) = super::outfile::check_gate(&args.gate) {
        return Err(CliError::Usage(msg));
    }
    let mut sums = Vec::new();
    for dir in [&args.baseline, &args.current] {
        match read_summary(dir) {
            Ok(s) => {
                super::incomplete::warn(dir, &s);
                sums.push(s)
            }
            Err(e) => {
                return Err(CliError::Usage(format!("cannot read {}: {e} (is it a skyload results directory?)", dir.join(crate::record::results::SUMMARY).display())));
            }
        }
    }
    let texts: Vec<Option<String>> = [&args.baseline, &args.current].iter().map(|d| std::fs::read_to_string(d.join(crate::record::results::SCENARIO_COPY)).ok()).collect();
    let c = compare::compare(&sums[0], &sums[1], &tolerances, texts[0].as_deref().zip(texts[1].as_deref()));
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    writeln!(out, "compare {} → {}", args.baseline.display(), args.current.display())?;
    // A run that did not complete (killed, interrupted, aborted, failed) is evidence, not a
    // measurement to gate on; a current run with no success is never a pass, whatever the
    // tolerances bound (fast 404s would otherwise read as a faster build under `-t "p99 +10%"`).
    let mut gate = super::incomplete::unfinished_results(&[(args.baseline.as_path(), &sums[0]), (args.current.as_path(), &sums[1])]);
    gate.extend(all_failed(&args.current, &sums[1]));
    compare::render(&c, &gate, &mut out)?;
    let mut verdict = Verdict { results: c.results(), generator_notes: Vec::new() };
    verdict.results.extend(gate);
    let code = if c.regressions() > 0 || !verdict.passed() { exit::CHECK_FAILED } else { exit::OK };
    emit(&args.gate, &verdict, &GateInfo { command: "compare", scenario: sums[1].scenario.clone(), results_dir: Some(args.current.display().to_string()), seconds: sums[1].duration_s, status: None, abort_reason: None }, code)?;
    CliError::from_status(code)
}

/// A failed check when no request of the current run succeeded (see `verify::all_failed`).
fn all_failed(dir: &std::path::Path, s: &crate::record::summary::Summary) -> Option<crate::verify::CheckResult> {
    crate::verify::all_failed::describe(&s.totals).map(|what| crate::verify::CheckResult {
        scope: "run".into(),
        check: format!("{}: {}", dir.display(), crate::verify::all_failed::CHECK),
        expected: "some requests answered with success".into(),
        measured: what.trim_start_matches("every request failed: ").to_string(),
        passed: false,
        note: Some(what),
    })
}

/// Tolerances from flags, else from a scenario's `[checks] tolerances`, else the defaults.
pub fn tolerances(flags: &[String], scenario: Option<&std::path::Path>) -> Result<Vec<Tolerance>, String> {
    if !flags.is_empty() {
        return flags
            .iter()
            .map(|t| parse_tolerance(t).map_err(|e| format!("--tolerance `{t}`: {} (at column {})", e.message, e.at + 1)))
            .collect();
    }
    if let Some(path) = scenario {
        let plan = crate::scenario::load_file(path).map_err(|e| e.to_string())?;
        if !plan.verify.tolerances.is_empty() {
            return Ok(plan.verify.tolerances);
        }
    }
    Ok(DEFAULT_TOLERANCES.iter().map(|t| parse_tolerance(t).expect("default tolerances parse")).collect())
}

/// What the machine-readable verdict says besides the checks.
pub struct GateInfo {
    pub command: &'static str,
    pub scenario: String,
    pub results_dir: Option<String>,
    pub seconds: f64,
    pub status: Option<crate::record::summary::RunStatus>,
    pub abort_reason: Option<String>,
}

impl GateInfo {
    /// Why the command exits non-zero when its checks alone do not say so (exit 3, or 1 with
    /// every check passed): the run's status and reason, for the JUnit file.
    fn run_error(&self, v: &Verdict, exit_code: i32) -> Option<String> {
        if exit_code == exit::OK || (exit_code == exit::CHECK_FAILED && v.failed() > 0) {
            return None;
        }
        let status = self.status.map_or("not judged", crate::record::summary::RunStatus::name);
        let why = self.abort_reason.as_ref().map_or(String::new(), |r| format!(": {r}"));
        Some(format!("{} ended {status}{why} (exit code {exit_code})", self.command))
    }
}

#[derive(Serialize)]
struct GateJson<'a> {
    command: &'a str,
    scenario: &'a str,
    results_dir: Option<&'a str>,
    status: Option<crate::record::summary::RunStatus>,
    abort_reason: Option<&'a str>,
    exit_code: i32,
    passed: bool,
    checks: &'a [crate::verify::CheckResult],
    generator_notes: &'a [String],
}

/// Writes `--junit` and `--summary-json` when asked.
pub fn emit(gate: &GateArgs, v: &Verdict, info: &GateInfo, exit_code: i32) -> anyhow::Result<()> {
    if let Some(path) = &gate.junit {
        let run_error = info.run_error(v, exit_code);
        junit::write_file(v, &format!("skyload.{}", info.scenario), info.seconds, run_error.as_deref(), path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &gate.summary_json {
        let j = GateJson {
            command: info.command,
            scenario: &info.scenario,
            results_dir: info.results_dir.as_deref(),
            status: info.status,
            abort_reason: info.abort_reason.as_deref(),
            exit_code,
            passed: exit_code == exit::OK,
            checks: &v.results,
            generator_notes: &v.generator_notes,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(&j)? + "\n").with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
