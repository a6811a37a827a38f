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
}
