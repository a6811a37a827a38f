//! `skyload faults list|clear`: the faults that runs which never finished left on servers without
//! leases (stock Toxiproxy, or an older skyload), and their exec faults with the processes their
//! commands left running, from the journal in the state directory. An entry its run never saw
//! confirmed is reported and left alone (`journal::cleanup`). An exec fault's stop command is run only here, shown first and on the
//! person's yes (`--yes`, or typed on a terminal): only a person can say it is still right to run.

use crate::cli::{FaultsAction, FaultsArgs};
use super::error::{CliError, CliResult};
use crate::fault::backend::Endpoints;
use crate::fault::{group, journal};
use std::io::{BufRead, IsTerminal};

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
                    // An exec fault's commands' processes, as they are now.
                    let procs: String = e.groups.iter().map(|g| format!("; {}", group::report(g))).collect();
                    // A dead run's entry says what `faults clear` will do with it.
                    match journal::cleanup(l, e.state, false) {
                        _ if f.running => crate::outln!("  {l} ({}){procs}", e.state.as_str()),
                        journal::Cleanup::Undo => crate::outln!("  {l} ({})", e.state.as_str()),
                        journal::Cleanup::Report => crate::outln!("  {l}: {}{procs}", journal::EXEC_LEFT),
                        journal::Cleanup::LeaveAlone(why) => crate::outln!("  {l}: {why}{procs}"),
                        journal::Cleanup::RunStop => crate::outln!("  {l}: {}{procs}", stop_needs(l)),
                        journal::Cleanup::EndOnly => crate::outln!("  {l}: `skyload faults clear` ends what is left of it{procs}"),
                        // Not decided by `cleanup` (only `clear` ends processes or dismisses).
                        journal::Cleanup::Dismiss | journal::Cleanup::ProcessesLeft => crate::outln!("  {l} ({}){procs}", e.state.as_str()),
                    }
                }
            }
            Ok(())
        }
        FaultsAction::Clear { control_token, yes, stop_unconfirmed, dismiss } => {
            let ep = Endpoints { embedded: None, control_token: control_token.clone(), tls: None };
            let ask_here = !*yes && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
            let mut confirm = |what: &str| if *yes { true } else { ask_here && ask(what) };
            let consent = journal::ExecConsent { stop_unconfirmed: *stop_unconfirmed, dismiss: *dismiss, confirm: &mut confirm };
            let lines = journal::clear_blocking(&ep, journal::ClearOptions { forget_reported: true, exec: Some(consent) });
            if lines.is_empty() {
                crate::outln!("no leftover faults (journals in {})", where_());
            }
            let failed = lines.iter().any(|l| l.left);
            for l in lines {
                crate::outln!("{}", l.text);
            }
            if failed {
                Err(CliError::ChecksFailed)
            } else {
                Ok(())
            }
        }
    }
}

/// Asks on the terminal whether to run `what` (a redacted stop command and where); only `y` or
/// `yes` is a yes, and a closed or unreadable terminal is a no.
fn ask(what: &str) -> bool {
    crate::errln!("skyload: a dead run left an exec fault in place; its {what}");
    crate::err!("run it now? [y/N] ");
    let mut answer = String::new();
    match std::io::stdin().lock().read_line(&mut answer) {
        Ok(_) => matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
        Err(_) => false,
    }
}

/// What `faults clear` needs to run a dead run's exec stop command, for `faults list`.
fn stop_needs(l: &journal::Leftover) -> String {
    let journal::Leftover::Exec { stop: Some(r), .. } = l else { return journal::EXEC_LEFT.to_string() };
    let env = if r.env.is_empty() { String::new() } else { format!("; it needs {} set", r.env.join(", ")) };
    format!("its start ran: `skyload faults clear` shows its stop command (from {}) and runs it with --yes, in {}{env}", r.scenario, r.cwd)
}

fn where_() -> String {
    journal::state_dir().map_or("(no state directory: neither XDG_STATE_HOME nor HOME is set)".into(), |d| d.join("faults").display().to_string())
}
