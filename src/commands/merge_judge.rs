//! The whole-run verdict of `skyload merge`: the scenario's checks judged on the merged Results,
//! as `run` judges one machine's. Each shard judged its 1/N share (`verify::shard_share`); only
//! the merge sees the run a sharded CI gate is about.
//!
//! The plan is rebuilt from the Results' scenario copy plus the schedule flags the shards ran with
//! (`scenario::overrides_record`): `--rate` and `--duration` replace or cut the stages, and a
//! stage's checks are judged over the stage as it ran. Shards run with other flags never get here:
//! the copy, flags included, is fingerprinted and `record::merge` refuses a mismatch.

use super::compare::{emit, GateInfo};
use super::error::CliError;
use crate::cli::GateArgs;
use crate::exit;
use crate::record::read::Results;
use crate::record::results::SCENARIO_COPY;
use crate::record::summary::RunStatus;
use crate::scenario::overrides_record::{self, Recorded};
use crate::scenario::Plan;
use crate::verify::window::SavedRun;
use crate::verify::{verdict, CheckResult, Verdict, VERDICT_FILE};
use crate::fault::timeline::FaultRecord;
use crate::record::results::{write_faults, FAULTS};
use crate::verify::faults::FaultReport;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Judges the merged Results written to `out`; prints the table, writes verdict.json and the
/// gate files, and returns the exit code (0 pass, 1 a check failed, 3 a shard did not run as
/// planned, or is missing and `allow_missing` was not given).
pub fn judge(merged: &Results, out: &Path, gate: &GateArgs, own_guards: &[Option<String>], faults: &[FaultRecord], allow_missing: bool, w: &mut dyn Write) -> Result<i32, CliError> {
    let summary = merged.summary();
    let plan = match rebuild(merged, out) {
        Ok(p) => Some(p),
        Err(why) if has_checks(&merged.scenario_text) => {
            return Err(CliError::Usage(format!(
                "the merged Results are in {}, but their checks cannot be judged: {why}",
                out.display()
            )));
        }
        // Nothing to judge: a plan that does not rebuild loses no verdict (the faults are kept
        // as their shard recorded them, for the report).
        Err(_) => {
            if !faults.is_empty() {
                write_faults(out, faults).map_err(|e| CliError::Internal(e.into()))?;
            }
            None
        }
    };
    let mut v = Verdict::default();
    if let Some(plan) = plan.as_ref().filter(|p| !p.verify.checks.is_empty() || !faults.is_empty()) {
        let shards = merged.shards();
        let (vp, scaled) = share(plan, shards.indices.len() as u32, shards.count);
        let saved = SavedRun::load(out).map_err(|e| CliError::Internal(e.into()))?;
        if !plan.verify.checks.is_empty() {
            v = verdict::evaluate(&vp, &plan.stages, &saved).map_err(|e| CliError::Internal(e.into()))?;
            note_partial(&mut v.results, &scaled, shards.indices.len(), shards.count);
            shards_guard(&mut v.results, own_guards, vp.guard == crate::verify::spec::GuardMode::Warn);
            v.generator_notes = own_guards.iter().flatten().cloned().collect();
            // A killed shard's rebuilt Results never pass a gate (without checks there is no gate).
            v.results.extend(super::incomplete::gate_results(&[(out, &summary)]));
        }
        // The drill, judged as `run` judges it but on the whole run: the shard that drove the
        // faults judged recovery on its share only, and a merge that left them out passed a
        // drill whose recovery had failed.
        if !faults.is_empty() {
            let (reports, results) = crate::verify::faults::assess(&vp, faults, &saved).map_err(|e| CliError::Internal(e.into()))?;
            crate::report::terminal::render_faults(&reports, w)?;
            write_faults(out, &reports).map_err(|e| CliError::Internal(e.into()))?;
            v.results.extend(results);
        }
    }
    // Every request failed: said always, a failing built-in check when nothing else judges the run (as `run`).
    if let Some(what) = crate::verify::all_failed::describe(&summary.totals) {
        writeln!(w, "\nWARNING {what}")?;
        let unjudged = plan.as_ref().is_none_or(|p| p.verify.checks.is_empty());
        v.results.extend(unjudged.then(|| crate::verify::all_failed::check(&summary.totals)).flatten());
    }
    verdict::render_for(&v, summary.status, w)?;
    if !v.results.is_empty() {
        crate::record::results::write_json(out, VERDICT_FILE, &v).map_err(|e| CliError::Internal(e.into()))?;
    }
    let mut code = if v.passed() { exit::OK } else { exit::CHECK_FAILED };
    let mut reason = summary.abort_reason.clone().or_else(|| summary.failure.clone());
    if summary.status != RunStatus::Completed {
        let status = summary.status.name();
        crate::errln!(
            "the merged run is {status}{}: a shard did not run as planned, so this is not the planned run (exit code {})",
            reason.as_ref().map_or(String::new(), |r| format!(" ({r})")),
            exit::RUN_FAILED
        );
        code = exit::RUN_FAILED;
    }
    if let Some(missing) = missing_shards(&merged.shards()).filter(|_| !allow_missing) {
        crate::errln!("{missing}: this is not the planned run, whatever its checks say (exit code {})", exit::RUN_FAILED);
        reason.get_or_insert(missing);
        code = exit::RUN_FAILED;
    }
    let info = GateInfo {
        command: "merge",
        scenario: summary.scenario.clone(),
        results_dir: Some(out.display().to_string()),
        seconds: summary.duration_s,
        status: Some(summary.status),
        abort_reason: reason,
    };
    emit(gate, &v, &info, code)?;
    Ok(code)
}

/// The fault records of the shard that drove the drill (only one shard applies faults; the others
/// write no `faults.json`), read back from its reports so the merge can judge them again.
pub fn fault_records(dirs: &[PathBuf]) -> Result<Vec<FaultRecord>, CliError> {
    for d in dirs {
        let path = d.join(FAULTS);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(CliError::Usage(format!("cannot read {}: {e}", path.display()))),
        };
        // The timeline writes its records first and the judged reports over them: both read as reports.
        let reports: Vec<FaultReport> = serde_json::from_str(&text).map_err(|e| CliError::Usage(format!("{}: not a skyload {FAULTS}: {e}", path.display())))?;
        return Ok(reports.into_iter().map(|r| r.fault).collect());
    }
    Ok(Vec::new())
}

/// "2 of 4 shards merged: shards 1, 3 missing" when some never finished (a killed pod leaves no
/// summary.json and the Kubernetes merge waits for the others only until its deadline): their
/// share of the load was never sent, so the merge is never a pass.
fn missing_shards(s: &crate::record::summary::Shards) -> Option<String> {
    let missing: Vec<String> = (0..s.count).filter(|i| !s.indices.contains(i)).map(|i| i.to_string()).collect();
    (!missing.is_empty()).then(|| format!("{} of {} shards merged: shard{} {} missing", s.indices.len(), s.count, if missing.len() == 1 { "" } else { "s" }, missing.join(", ")))
}

#[cfg(test)]
mod missing_tests {
    use super::missing_shards;
    use crate::record::summary::Shards;

    #[test]
    fn names_the_shards_that_never_finished() {
        assert_eq!(missing_shards(&Shards { count: 4, indices: vec![0, 1, 2, 3] }), None);
        assert_eq!(missing_shards(&Shards { count: 1, indices: vec![0] }), None);
        assert_eq!(missing_shards(&Shards { count: 4, indices: vec![0, 2] }).as_deref(), Some("2 of 4 shards merged: shards 1, 3 missing"));
        assert_eq!(missing_shards(&Shards { count: 2, indices: vec![1] }).as_deref(), Some("1 of 2 shards merged: shard 0 missing"));
    }
}

/// A shard's own generator guard: None when it offered its share of the load, else what held
/// it back, named by its share ("shard 2/4: the pacer sent late …").
pub fn own_guard(r: &Results) -> Option<String> {
    let s = r.measured_summary();
    let sh = r.shards();
    let share = sh.indices.iter().map(u32::to_string).collect::<Vec<_>>().join("+");
    s.generator.limited(s.duration_s).then(|| format!("shard {share}/{}: {}", sh.count, s.generator.notes.join("; ")))
}

/// The generator line is the shards' own guards, not the merged seconds': each shard's pacer,
/// CPU and connections are one machine's, and a second merged from four machines has a lag
/// distribution none of them had (two shards a little late in the same second made the union's
/// median late on a run every shard had passed). The merged send ratio and drops stay the
/// measured figure; the line passes when every shard's own guard did (a `warn` guard always).
fn shards_guard(results: &mut [CheckResult], own_guards: &[Option<String>], warn_only: bool) {
    let Some(r) = results.iter_mut().find(|r| r.scope == "generator") else { return };
    let limited: Vec<&str> = own_guards.iter().flatten().map(String::as_str).collect();
    r.passed = limited.is_empty() || warn_only;
    r.note = (!limited.is_empty()).then(|| format!("the generator, not the target, may have been the limit: {}", limited.join("; ")));
}

/// The plan the shards ran: the scenario copy, its feeders found beside the original scenario
/// file (else beside the copy), and the recorded schedule flags on top.
fn rebuild(merged: &Results, out: &Path) -> Result<Plan, String> {
    let text = &merged.scenario_text;
    let flags = match overrides_record::read(text) {
        Recorded::Nothing => None,
        Recorded::Flags(o) => Some(o),
        Recorded::Unknown(why) => return Err(format!("{SCENARIO_COPY}: {why}; run the shards again with this skyload")),
    };
    let copy = out.join(SCENARIO_COPY);
    let anchors: Vec<&Path> = merged.info.scenario_file.as_deref().map(Path::new).into_iter().chain([copy.as_path()]).collect();
    let mut first_err = None;
    for anchor in anchors {
        match crate::scenario::load_str(text, anchor) {
            Ok(mut plan) => {
                if let Some(o) = &flags {
                    o.apply(&mut plan).map_err(|e| format!("the recorded schedule flags do not apply: {e}"))?;
                }
                return Ok(plan);
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(format!("the scenario copy does not load: {}", first_err.map(|e| e.to_string()).unwrap_or_default()))
}

/// Whether a scenario text declares checks anywhere (`[checks]`, a stage's or a request's
/// `checks`), read as plain TOML so that a copy that no longer loads can still be asked.
fn has_checks(text: &str) -> bool {
    fn any(v: &toml::Value) -> bool {
        match v {
            toml::Value::Table(t) => t.iter().any(|(k, v)| k == "checks" || any(v)),
            toml::Value::Array(a) => a.iter().any(any),
            _ => false,
        }
    }
    // A copy that is not even TOML is assumed to have had checks: refusing beats a silent pass.
    text.parse::<toml::Value>().map_or(true, |v| any(&v))
}

/// The checks at the share of the run these shards hold: absolute rates and counts at k/N when
/// only k of N shards are merged (a partial merge is judged as what it is), whole otherwise.
fn share(plan: &Plan, held: u32, count: u32) -> (crate::verify::VerifyPlan, Vec<usize>) {
    let count = count.max(1);
    if held >= count {
        return (plan.verify.clone(), Vec::new());
    }
    let (mut vp, scaled) = crate::verify::shard_share::share_of(&plan.verify, count);
    for &i in &scaled {
        vp.checks[i].expr.value *= f64::from(held);
    }
    (vp, scaled)
}

fn note_partial(results: &mut [CheckResult], scaled: &[usize], held: usize, count: u32) {
    let why = format!("{held} of {count} shards merged: they sent {held}/{count} of the run, so the threshold is {held}/{count} of the one written");
    crate::verify::shard_share::explain(results, scaled, &why);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_found_anywhere_in_the_copy() {
        assert!(has_checks("[checks]\nrun = [\"p99 < 1s\"]\n"));
        assert!(has_checks("[[stages]]\nrate = 1\nchecks = [\"rate >= 1\"]\n"));
        assert!(!has_checks("name = \"x\"\n[[stages]]\nrate = 1\n"));
        assert!(has_checks("not = = toml"));
    }

    #[test]
    fn a_partial_merge_is_judged_at_its_share() {
        let text = "name = \"s\"\n[target]\nurl = \"http://127.0.0.1:9\"\n[checks]\nrun = [\"rate >= 100\", \"p99 < 1s\"]\n[[stages]]\nrate = 10\nduration = \"3s\"\n[[requests]]\nname = \"a\"\npath = \"/\"\n";
        let plan = crate::scenario::load_str(text, Path::new("s.toml")).unwrap();
        let (vp, scaled) = share(&plan, 3, 4);
        assert_eq!(scaled, vec![0]);
        assert!((vp.checks[0].expr.value - 75.0).abs() < 1e-9);
        let (whole, none) = share(&plan, 4, 4);
        assert!(none.is_empty() && (whole.checks[0].expr.value - 100.0).abs() < 1e-9);
    }

    /// The generator line follows the shards' own guards, not the merged seconds'.
    #[test]
    fn the_generator_line_is_the_shards_own_guards() {
        let line = |passed: bool| CheckResult {
            scope: "generator".into(),
            check: "offered the planned load".into(),
            expected: ">= 99% sent, 0 dropped".into(),
            measured: "sent 100.0% of schedule, dropped 0".into(),
            passed,
            note: (!passed).then(|| "merged seconds late".into()),
        };
        // Merged seconds flagged, every shard fine on its own: passes, no note.
        let mut r = vec![line(false)];
        shards_guard(&mut r, &[None, None], false);
        assert!(r[0].passed && r[0].note.is_none(), "{r:?}");
        // A shard limited on its own machine: fails and names it, even if the merge looked fine.
        let mut r = vec![line(true)];
        shards_guard(&mut r, &[None, Some("shard 1/2: the pacer sent late".into())], false);
        assert!(!r[0].passed && r[0].note.as_deref().unwrap_or("").contains("shard 1/2"), "{r:?}");
        // A warn-only guard never fails.
        let mut r = vec![line(false)];
        shards_guard(&mut r, &[Some("shard 0/2: x".into())], true);
        assert!(r[0].passed, "{r:?}");
    }
}