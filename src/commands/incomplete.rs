//! What the commands that read saved Results do with a killed run's rebuilt summary
//! (`record::rebuild`): say so loudly, and never let it pass a gate.

use crate::record::rebuild;
use crate::record::summary::{RunStatus, Summary};
use crate::verify::CheckResult;
use std::path::Path;

/// One loud line for a reader of a rebuilt summary (stderr).
pub fn warn(dir: &Path, s: &Summary) {
    if s.status == RunStatus::Incomplete {
        crate::errln!(
            "skyload: WARNING: {}: INCOMPLETE run: no summary.json (the run was killed?); rebuilt from {:.0} second(s) of per-second files; it never passes a check or a comparison",
            dir.display(),
            s.duration_s
        );
    }
}

/// One failed check per incomplete run, for every gate that reads saved Results (`compare`,
/// `run --baseline`): such a run never passes.
pub fn gate_results(runs: &[(&Path, &Summary)]) -> Vec<CheckResult> {
    runs.iter()
        .filter(|(_, s)| s.status == RunStatus::Incomplete)
        .map(|(dir, s)| CheckResult {
            scope: "run".into(),
            check: format!("{} is a whole run", dir.display()),
            expected: "a run that wrote summary.json".into(),
            measured: format!("incomplete ({:.0} s rebuilt from per-second files)", s.duration_s),
            passed: false,
            note: Some(rebuild::REBUILT.into()),
        })
        .collect()
}

/// The gate of a comparison (`compare`, `run --baseline`): a run that did not complete is not a
/// measurement of the build. An interrupted or aborted run covers part of the schedule, a `failed`
/// one's figures come from a broken generator and a `drill_failed` one ran without its fault, so
/// their rates and percentiles are not comparable and the comparison fails with the status and
/// reason (`compare --help` promises exit 1 "for a run that did not complete"). A rebuilt run
/// gets `gate_results`'s line.
pub fn unfinished_results(runs: &[(&Path, &Summary)]) -> Vec<CheckResult> {
    let mut out = gate_results(runs);
    out.extend(runs.iter().filter(|(_, s)| !matches!(s.status, RunStatus::Completed | RunStatus::Incomplete)).map(|(dir, s)| {
        let why = s.abort_reason.as_ref().or(s.failure.as_ref()).map_or(String::new(), |r| format!(": {r}"));
        CheckResult {
            scope: "run".into(),
            check: format!("{} is a whole run", dir.display()),
            expected: "a run that completed".into(),
            measured: format!("{} after {:.0} s{why}", s.status.name(), s.duration_s),
            passed: false,
            note: None,
        }
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(status: RunStatus) -> Summary {
        crate::record::summary::test_summary("s", "", status)
    }

    /// A rebuilt (incomplete) run fails the gate with the reason; a whole run adds nothing.
    #[test]
    fn an_incomplete_run_never_passes_a_gate() {
        let (bad, good) = (summary(RunStatus::Incomplete), summary(RunStatus::Completed));
        let got = gate_results(&[(Path::new("a"), &bad), (Path::new("b"), &good)]);
        assert_eq!(got.len(), 1);
        assert!(!got[0].passed && got[0].check.starts_with("a "), "{got:?}");
        assert_eq!(got[0].note.as_deref(), Some(rebuild::REBUILT));
    }

    /// Every status but `completed` fails a comparison, each saying what it was.
    #[test]
    fn a_run_that_did_not_complete_never_passes_a_comparison() {
        let good = summary(RunStatus::Completed);
        for status in [RunStatus::Interrupted, RunStatus::Aborted, RunStatus::Failed, RunStatus::DrillFailed, RunStatus::Incomplete] {
            let mut bad = summary(status);
            bad.abort_reason = (status == RunStatus::Aborted).then(|| "abort_when `error_rate > 50% for 5s` held".to_string());
            let got = unfinished_results(&[(Path::new("base"), &good), (Path::new("cur"), &bad)]);
            assert_eq!(got.len(), 1, "{status:?}: {got:?}");
            assert!(!got[0].passed && got[0].check.starts_with("cur "), "{got:?}");
            if status != RunStatus::Incomplete {
                assert!(got[0].measured.starts_with(status.name()), "{got:?}");
            }
            if status == RunStatus::Aborted {
                assert!(got[0].measured.contains("error_rate > 50%"), "{got:?}");
            }
        }
        assert!(unfinished_results(&[(Path::new("a"), &good), (Path::new("b"), &good)]).is_empty());
    }
}
