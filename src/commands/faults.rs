//! `skyload faults list|clear`: the faults that runs which never finished left on servers without
//! leases (stock Toxiproxy, or an older skyload), and their exec faults (reported, never run:
//! only a person can say a stop command is still right), from the journal in the state directory.
//! An entry its run never saw confirmed is reported and left alone (`journal::cleanup`).

use crate::cli::{FaultsAction, FaultsArgs};
use super::error::{CliError, CliResult};
use crate::fault::backend::Endpoints;
use crate::fault::journal;

pub fn run(args: &FaultsArgs) -> CliResult {
    match &args.action {
        FaultsAction::List => {
            let found = journal::list();
            if found.is_empty() {
                crate::outln!("no fault journals in {}", where_());
            }
            for f in found {
                let state = if f.running { "running" } else { "not running: leftovers" };
                crate::outln!("run pid {} ({state}), {}:", f.pid, f.file.display());
                for e in f.faults {
                    let l = &e.fault;
                    // A dead run's entry says what `faults clear` will do with it.
                    match journal::cleanup(l, e.state) {
                        _ if f.running => crate::outln!("  {l} ({})", e.state.as_str()),
                        journal::Cleanup::Undo => crate::outln!("  {l} ({})", e.state.as_str()),
                        journal::Cleanup::Report => crate::outln!("  {l}: {}", journal::EXEC_LEFT),
                        journal::Cleanup::LeaveAlone(why) => crate::outln!("  {l}: {why}"),
                    }
                }
            }
            Ok(())
        }
        FaultsAction::Clear { control_token } => {
            let ep = Endpoints { embedded: None, control_token: control_token.clone(), tls: None };
            let lines = journal::clear_blocking(&ep, true);
            if lines.is_empty() {
                crate::outln!("no leftover faults (journals in {})", where_());
            }
            let failed = lines.iter().any(|l| !l.starts_with("removed "));
            for l in lines {
                crate::outln!("{l}");
            }
            if failed {
                Err(CliError::ChecksFailed)
            } else {
                Ok(())
            }
        }
    }
}

fn where_() -> String {
    journal::state_dir().map_or("(no state directory: neither XDG_STATE_HOME nor HOME is set)".into(), |d| d.join("faults").display().to_string())
}
