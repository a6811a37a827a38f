//! Reading one Results directory for the report: `summary.json` (required), the per-second
//! aggregate rows of `timeseries.csv`, `scenario.toml`, and the optional `status.csv`, `verdict.json`,
//! `faults.json` and `capacity.json`. Only the summary is required: anything else that is missing
//! or unreadable becomes a warning shown in the report, so an old or partial directory still
//! gives a report of what it holds.

use super::verify_views::{self, CapacityData, FaultWindow, ReportVerdict};
use super::ReportError;
use crate::record::results::{self, ALL_REQUESTS, SCENARIO_COPY, STATUS, TIMESERIES};
use crate::record::summary::Summary;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Everything the report uses from one Results directory, as read.
#[derive(Debug, Clone)]
pub struct RunData {
    pub dir: PathBuf,
    pub summary: Summary,
    /// Outcome column names of `timeseries.csv`, in column order.
    pub outcome_columns: Vec<String>,
    /// The `*` rows: every request together, one per second.
    pub seconds: Vec<SecondRow>,
    /// `status.csv`: completions by status code per second (None: no such file, or unreadable).
    pub status: Option<BTreeMap<u64, BTreeMap<u16, u64>>>,
    pub scenario_text: Option<String>,
    pub verdict: Option<ReportVerdict>,
    pub faults: Vec<FaultWindow>,
    pub capacity: Option<CapacityData>,
    /// A ramp run's saturation point, read from its per-second data (None: not a ramp).
    pub saturation: Option<crate::report::saturation::Saturation>,
    /// Files that were missing or could not be read, said in the report.
    pub warnings: Vec<String>,
}

/// One second of the whole run (the `*` rows of `timeseries.csv`), as `record::read` parses it:
/// one row type for every reader, so a column added to the file reaches the report unchanged.
pub type SecondRow = crate::record::read::TimeseriesRow;

pub fn read(dir: &Path) -> Result<RunData, ReportError> {
    let summary = results::read_summary(dir).map_err(|source| ReportError::Summary { dir: dir.to_path_buf(), source })?;
    let mut warnings = Vec::new();
    // Whether a saturation point may be found is judged on the rows before they are narrowed.
    let mut rises = false;
    let (outcome_columns, seconds) = match crate::record::read::timeseries(dir) {
        Ok(ts) => {
            rises = crate::report::saturation::rises(&ts);
            aggregate_rows(ts)
        }
        Err(e @ crate::record::read::LoadError::Io { .. }) => {
            warnings.push(format!("{TIMESERIES} could not be opened ({e}): charts over time are missing"));
            (Vec::new(), Vec::new())
        }
        Err(e) => {
            warnings.push(format!("{TIMESERIES} could not be read ({e}): charts over time are missing"));
            (Vec::new(), Vec::new())
        }
    };
    let status = crate::record::read::status_counts(dir).unwrap_or_else(|e| {
        warnings.push(format!("{STATUS} could not be read ({e}): the status code chart is missing"));
        None
    });
    let scenario_text = std::fs::read_to_string(dir.join(SCENARIO_COPY)).ok();
    // The files verify, the fault timeline and `skyload capacity` write, turned into the report's
    // own view of them.
    let verdict = optional::<crate::verify::Verdict>(dir, verify_views::VERDICT, &mut warnings).map(|v| verify_views::verdict_view(&v, summary.status));
    let faults = optional::<Vec<crate::verify::faults::FaultReport>>(dir, verify_views::FAULTS, &mut warnings)
        .map(|f| f.iter().map(verify_views::fault_view).collect())
        .unwrap_or_default();
    let capacity = optional::<crate::verify::capacity::report::CapacityReport>(dir, verify_views::CAPACITY, &mut warnings).map(|c| verify_views::capacity_view(&c));
    // The same answer the terminal printed after the run, from the same data and SLO.
    let saturation = if capacity.is_some() || !rises {
        None
    } else {
        let plan = scenario_text.as_deref().and_then(|t| {
            let mut plan = crate::scenario::load_str(t, &dir.join(SCENARIO_COPY)).ok()?;
            // The run's --check flags are recorded in the copy: the same SLO as the terminal's.
            if let crate::scenario::overrides_record::Recorded::Flags(o) = crate::scenario::overrides_record::read(t) {
                o.apply(&mut plan).ok()?;
            }
            Some(plan)
        });
        let slo = plan.as_ref().and_then(crate::report::saturation::slo_p99);
        let slo_checks = plan.as_ref().is_some_and(crate::report::saturation::has_slo_checks);
        crate::record::read::results(dir).ok().and_then(|r| crate::report::saturation::find(&r, slo)).map(|s| crate::report::saturation::Saturation { slo_checks, ..s })
    };
    Ok(RunData { dir: dir.to_path_buf(), summary, outcome_columns, seconds, status, scenario_text, verdict, faults, capacity, saturation, warnings })
}

/// An optional JSON file: absent is normal, unreadable is a warning.
fn optional<T: DeserializeOwned>(dir: &Path, name: &str, warnings: &mut Vec<String>) -> Option<T> {
    let text = match std::fs::read_to_string(dir.join(name)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            warnings.push(format!("{name} could not be read: {e}"));
            return None;
        }
    };
    match serde_json::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            warnings.push(format!("{name} is not in the expected shape and was left out: {e}"));
            None
        }
    }
}

/// The aggregate (`*`) rows of a `timeseries.csv` as read by `record::read` (the one reader of
/// the file), with its outcome column names.
pub fn aggregate_rows(ts: crate::record::read::Timeseries) -> (Vec<String>, Vec<SecondRow>) {
    let rows = ts.rows.into_iter().filter(|r| r.request == ALL_REQUESTS).collect();
    (ts.outcome_columns, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_aggregate_rows_by_column_name() {
        let csv = "second,request,target_rps,scheduled,sent,completed,dropped,ok,error,fallback,p50_ms,p90_ms,p99_ms,max_ms,bytes_in,lag_p99_ms,in_flight,generator_cpu_pct\n\
                   0,a,50.0,50,50,48,0,40,0,8,1.000,2.000,3.000,4.000,10,,,\n\
                   0,*,100.0,100,100,97,1,80,2,15,1.100,2.200,3.300,4.400,20,0.1,3,5.0\n\
                   1,*,100.0,100,100,0,0,0,0,0,,,,,0,0.1,0,1.0\n";
        let (cols, rows) = aggregate_rows(crate::record::read::parse_timeseries(csv.as_bytes()).unwrap());
        assert_eq!(cols, ["ok", "error", "fallback"]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].outcomes, [80, 2, 15]);
        assert_eq!(rows[0].dropped, 1);
        assert_eq!(rows[0].p99_ms, Some(3.3));
        assert_eq!(rows[1].p50_ms, None);
    }
}
