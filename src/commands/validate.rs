//! `skyload validate FILE...`: builds each scenario's Plan without sending anything, so a CI job or
//! an editor can check files cheaply. One line per file; exit 0 when all are fine, 2 otherwise.
//! A file that fails as a scenario but is clearly something else (a gateway config, or a TOML with
//! none of a scenario's tables) is named for what it is, since its scenario errors would not help.

use crate::cli::ValidateArgs;
use super::error::{CliError, CliResult};
use crate::gateway::GatewayConfig;
use crate::scenario::{self, Plan};
use crate::units::HumanDuration;
use std::io::Write;
use std::time::Duration;

pub fn run(args: &ValidateArgs) -> CliResult {
    let mut ok = true;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for file in &args.files {
        match scenario::load_file(file) {
            Ok(plan) => match scenario::bounds::check(&plan, scenario::bounds::raise_fd_limit()) {
                Ok(()) => writeln!(out, "ok  {}  ({})", file.display(), summary(&plan))?,
                Err(msg) => {
                    ok = false;
                    // The message starts with the file and line of the field.
                    crate::errln!("error: {msg}");
                }
            },
            Err(e) => match std::fs::read_to_string(file).ok().and_then(|t| kind_of(&t)) {
                Some(Kind::Gateway) => match GatewayConfig::from_file(file) {
                    Ok(cfg) => writeln!(
                        out,
                        "ok  {}  (a gateway config, not a scenario: {}; serve it with `skyload gateway --config {}`)",
                        file.display(),
                        count(cfg.functions.len(), "function"),
                        file.display()
                    )?,
                    Err(g) => {
                        ok = false;
                        out.flush()?;
                        crate::errln!(
                            "error: {g}\n  ({} is a gateway config, not a scenario, and was checked as one: `skyload gateway --config {}` serves it; docs/gateway.md)",
                            file.display(),
                            file.display()
                        );
                    }
                },
                Some(Kind::Other(keys)) => {
                    ok = false;
                    out.flush()?;
                    crate::errln!(
                        "error: {} is not a skyload scenario: none of its top-level keys ({}) is a scenario's; a scenario has [target], [[stages]] and [[requests]] (docs/scenarios.md)",
                        file.display(),
                        shorten(&keys)
                    );
                }
                None => {
                    ok = false;
                    out.flush()?;
                    crate::errln!("error: {e}");
                }
            },
        }
    }
    if ok {
        Ok(())
    } else {
        Err(CliError::UsageReported)
    }
}

/// What a file that is not a valid scenario is, when it is clearly not meant as one.
#[derive(Debug, PartialEq)]
enum Kind {
    /// `[functions.*]` and none of a scenario's own tables: a `skyload gateway --config` file.
    Gateway,
    /// TOML none of whose top-level keys is a scenario field (Cargo.toml, a Helm values file...).
    Other(Vec<String>),
}

/// Tables only a scenario has; a gateway config has none of them.
const SCENARIO_ONLY: [&str; 10] = ["target", "stages", "requests", "gateway", "faults", "feeders", "outcomes", "checks", "windows", "capacity"];

/// None when the text is not TOML, or may well be a scenario with mistakes (its errors say more).
fn kind_of(text: &str) -> Option<Kind> {
    let table: toml::Table = toml::from_str(text).ok()?;
    let keys: Vec<String> = table.keys().cloned().collect();
    if keys.is_empty() {
        return None;
    }
    if table.contains_key("functions") && !keys.iter().any(|k| SCENARIO_ONLY.contains(&k.as_str())) {
        return Some(Kind::Gateway);
    }
    if !keys.iter().any(|k| scenario::TOP_LEVEL_FIELDS.contains(&k.as_str())) {
        return Some(Kind::Other(keys));
    }
    None
}

/// `package, dependencies, dev-dependencies, ...` (at most five names).
fn shorten(keys: &[String]) -> String {
    let mut s = keys.iter().take(5).map(String::as_str).collect::<Vec<_>>().join(", ");
    if keys.len() > 5 {
        s.push_str(", ...");
    }
    s
}

/// `1 function`, `3 functions`.
fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// `3 stages, 1m30s total, 27000 requests, peak 600 rps`.
pub fn summary(plan: &Plan) -> String {
    let n = plan.stages.len();
    let peak = plan.peak_rate();
    let peak = if peak.fract() == 0.0 { format!("{peak:.0}") } else { format!("{peak:.1}") };
    let requests = plan.expected_requests().round();
    format!(
        "{n} stage{}, {} total, {requests:.0} request{}, peak {peak} rps",
        if n == 1 { "" } else { "s" },
        total(plan.total_duration()),
        if requests == 1.0 { "" } else { "s" }
    )
}

/// A schedule length as people write it: `45s`, `1m30s`, `2h05m`, `1500ms`.
fn total(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_nanos() != 0 || s < 60 {
        HumanDuration(d).to_string()
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_files_that_are_not_scenarios() {
        assert_eq!(kind_of("seed = 1\n[functions.hello]\npods = 2\n"), Some(Kind::Gateway));
        // A gateway config's mistakes still make it one.
        assert_eq!(kind_of("control_token = 1\n[functions.hello]\npodz = 2\n"), Some(Kind::Gateway));
        assert_eq!(
            kind_of("[package]\nname = \"x\"\n[dependencies]\n"),
            Some(Kind::Other(vec!["dependencies".into(), "package".into()]))
        );
        // A scenario with mistakes, a scenario with an embedded gateway, and not TOML at all.
        for text in ["[target]\nembedded = true\n[functions.hello]\n", "[gateway.functions.a]\npods = 1\n", "name = \"x\"\nbogus = 1\n", "not [ toml", ""] {
            assert_eq!(kind_of(text), None, "{text}");
        }
    }

    #[test]
    fn totals() {
        for (secs, want) in [(45.0, "45s"), (90.0, "1m30s"), (1.5, "1500ms"), (7505.0, "2h05m05s")] {
            assert_eq!(total(Duration::from_secs_f64(secs)), want);
        }
    }
}
