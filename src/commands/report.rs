//! `skyload report DIR...`: the HTML report made again from saved Results, or with several
//! directories a comparison with the first as the baseline drawn under the last.

use crate::cli::ReportArgs;
use super::error::{CliError, CliResult};
use crate::report::html::{self, ReportError};

pub fn run(args: &ReportArgs) -> CliResult {
    let path = args.out.clone().unwrap_or_else(|| html::default_path(&args.dirs));
    // The report may replace an earlier report, never a file the Results are made of.
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let is_results_file = crate::record::results::KNOWN.contains(&name.as_str()) && name != html::REPORT_FILE && name != html::COMPARE_FILE;
    if args.dirs.iter().any(|d| crate::record::outdir::same(d, &path) || (is_results_file && crate::record::outdir::same(d, parent))) {
        return Err(CliError::Usage(format!("-o {}: that is part of the Results being reported on; write the report to a new .html file", path.display())));
    }
    let flag = if args.out.is_some() { "-o" } else { "the report" };
    if let Err(msg) = super::outfile::check(flag, &path, super::outfile::Kind::Report) {
        // The default path was refused: name the flag that gives another one.
        let msg = if args.out.is_none() { format!("{msg} (-o FILE writes the report elsewhere)") } else { msg };
        return Err(CliError::Usage(msg));
    }
    for d in &args.dirs {
        if let Ok(s) = crate::record::results::read_summary(d) {
            super::incomplete::warn(d, &s);
        }
    }
    match html::write_file(&args.dirs, &path) {
        Ok(()) => {
            crate::outln!("{}", path.display());
            Ok(())
        }
        Err(e @ ReportError::Summary { .. }) => {
            Err(CliError::Usage(format!("{e}: give the directory a run wrote (it holds summary.json)")))
        }
        Err(e) => Err(anyhow::Error::from(e).into()),
    }
}

/// `report.html` of the Results in `dir` (a run's, a merge's), written after the verdict and the
/// faults are judged so it shows them. Failing to write it does not change what was measured, so
/// it is a warning, not an exit code.
pub fn write_into(dir: &std::path::Path, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let report = dir.join(html::REPORT_FILE);
    match html::write_file(&[dir.to_path_buf()], &report) {
        Ok(()) => writeln!(out, "report:  {}", report.display()),
        Err(e) => {
            crate::errln!("warning: the HTML report could not be written: {e}");
            Ok(())
        }
    }
}
