//! `skyload report DIR...`: the HTML report made again from saved Results, or with several
//! directories a comparison with the first as the baseline drawn under the last.

use crate::cli::ReportArgs;
use crate::exit;
use crate::report::html::{self, ReportError};

pub fn run(args: &ReportArgs) -> anyhow::Result<i32> {
    let path = args.out.clone().unwrap_or_else(|| html::default_path(&args.dirs));
    match html::write_file(&args.dirs, &path) {
        Ok(()) => {
            crate::outln!("{}", path.display());
            Ok(exit::OK)
        }
        Err(e @ ReportError::Summary { .. }) => {
            crate::errln!("error: {e}: give the directory a run wrote (it holds summary.json)");
            Ok(exit::USAGE)
        }
        Err(e) => Err(e.into()),
    }
}
