//! The HTML report: the document a team attaches to a launch review. Made from Results alone
//! (`summary.json`, `timeseries.csv`, `scenario.toml` and the optional `status.csv`, `verdict.json`,
//! `faults.json`, `capacity.json`), so the run writes it at its end and `skyload report` makes it
//! again, or compares several runs, later.
//!
//! Results dirs → `load` (files as read) → `view` (the view model, pure) → `charts` (SVG) and
//! `page` (HTML written to any `Write`).

pub mod charts;
pub mod input;
pub mod page;
pub mod slow;
pub mod status;
pub mod tls;
pub mod view;
pub mod verify_views;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The file a run writes into its results directory.
pub const REPORT_FILE: &str = crate::record::results::REPORT_HTML;
/// The file `skyload report BASE CUR` writes into the current run's directory.
pub const COMPARE_FILE: &str = crate::record::results::COMPARE_HTML;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{} is not a results directory (summary.json could not be read: {source})", dir.display())]
    Summary { dir: PathBuf, source: io::Error },
    #[error(transparent)]
    Chart(#[from] charts::ChartError),
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Reads the results directories (the first is the baseline, the last the current run) into the
/// view model.
pub fn build(dirs: &[PathBuf]) -> Result<view::Report, ReportError> {
    assert!(!dirs.is_empty(), "at least one results directory");
    let runs = dirs.iter().map(|d| input::read(d)).collect::<Result<Vec<_>, _>>()?;
    Ok(view::build(runs, hostname(), now_rfc3339()))
}

/// Draws the charts and writes the page.
pub fn render(r: &view::Report, out: &mut dyn Write) -> Result<(), ReportError> {
    let v = &r.current;
    let base = r.baseline();
    let has_series = !v.series.is_empty();
    let page_charts = page::Charts {
        rate: has_series.then(|| charts::rate(v, base)).transpose()?,
        latency: has_series.then(|| charts::latency(v, base)).transpose()?,
        status: match &v.status {
            status::StatusCodes::Drawn(s) => Some(charts::status(v, s)?),
            _ => None,
        },
        percentiles: (!v.hdr_latency.is_empty()).then(|| charts::percentiles(v, base)).transpose()?,
        pods: (!v.pods.is_empty()).then(|| charts::pods(v)).transpose()?,
        capacity: v.capacity.as_ref().filter(|c| !c.steps.is_empty()).map(charts::capacity).transpose()?,
    };
    page::write(r, &page_charts, out).map_err(|source| ReportError::Write { path: PathBuf::from("(output)"), source })
}

/// Where a report of these directories goes by default: `DIR/report.html` for one run,
/// `CURRENT/compare.html` for a comparison.
pub fn default_path(dirs: &[PathBuf]) -> PathBuf {
    match dirs {
        [one] => one.join(REPORT_FILE),
        [.., last] => last.join(COMPARE_FILE),
        [] => PathBuf::from(REPORT_FILE),
    }
}

/// Builds, renders and writes the report to `path` atomically (a temporary file renamed), so a
/// reader never opens half a report.
pub fn write_file(dirs: &[PathBuf], path: &Path) -> Result<(), ReportError> {
    let report = build(dirs)?;
    let mut buf = Vec::with_capacity(256 * 1024);
    render(&report, &mut buf)?;
    let werr = |source| ReportError::Write { path: path.to_path_buf(), source };
    let tmp = path.with_extension("html.tmp");
    std::fs::write(&tmp, &buf).map_err(werr)?;
    std::fs::rename(&tmp, path).map_err(werr)
}

/// This machine's name, for the environment section.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let name = if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        std::fs::read_to_string("/etc/hostname").unwrap_or_default().trim().to_string()
    };
    if name.is_empty() {
        "unknown".into()
    } else {
        name
    }
}

fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
