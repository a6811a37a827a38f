//! `pacer = "sleep" | "precise"`: how a generator thread waits for each arrival's intended
//! instant. The names say what the user trades, not the mechanism (a timerfd on Linux):
//!
//! - `sleep` sleeps in the kernel until the instant. Costs no CPU while waiting; its lag is the
//!   operating system's wake-up lateness (tens of µs on bare metal, 50–110 µs typical and up to
//!   milliseconds at the tail on a virtual machine with haltpoll idle).
//! - `precise` wakes early by a high quantile of the lateness the thread has seen and spins
//!   (yielding to its own workers) for the rest: microsecond lag, paid in CPU for every arrival.
//!
//! The enum lives here (scenario) because the plan carries it; `load::pacer` implements both.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PacerKind {
    /// Sleep until the instant: no CPU while waiting, the OS's wake-up lateness as lag.
    Sleep,
    /// Wake early, spin the rest: microsecond lag at the cost of CPU per arrival.
    #[default]
    Precise,
}

/// The values `pacer` accepts, for messages and the CLI.
pub const PACER_NAMES: [&str; 2] = ["sleep", "precise"];

impl PacerKind {
    pub fn name(self) -> &'static str {
        match self {
            PacerKind::Sleep => "sleep",
            PacerKind::Precise => "precise",
        }
    }

    pub fn parse(s: &str) -> Option<PacerKind> {
        match s {
            "sleep" => Some(PacerKind::Sleep),
            "precise" => Some(PacerKind::Precise),
            _ => None,
        }
    }

    /// Why a value was refused: what is allowed and what each one costs.
    pub fn allowed() -> String {
        format!(
            "allowed: {} (sleep: no CPU while waiting, lag is the OS's wake-up lateness; precise: wakes early and spins, µs lag for CPU per arrival)",
            PACER_NAMES.map(|n| format!("\"{n}\"")).join(", ")
        )
    }
}

impl fmt::Display for PacerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{load_str, Overrides};
    use std::path::Path;

    const REST: &str = "[target]\nurl = \"http://127.0.0.1:9\"\n[[stages]]\nrate = 1\nduration = \"1s\"\n[[requests]]\nname = \"a\"\npath = \"/\"\n";

    #[test]
    fn names_round_trip() {
        for n in PACER_NAMES {
            assert_eq!(PacerKind::parse(n).unwrap().name(), n);
        }
        assert_eq!(PacerKind::parse("Sleep"), None);
        assert_eq!(PacerKind::parse("timerfd"), None);
    }

    #[test]
    fn the_scenario_picks_the_pacer_and_precise_is_the_default() {
        let p = load_str(REST, Path::new("s.toml")).unwrap();
        assert_eq!(p.pacer, PacerKind::Precise);
        for (text, kind) in [("pacer = \"precise\"\n", PacerKind::Precise), ("pacer = \"sleep\"\n", PacerKind::Sleep)] {
            assert_eq!(load_str(&format!("{text}{REST}"), Path::new("s.toml")).unwrap().pacer, kind);
        }
    }

    /// A bad value names the file, line, column, field and the allowed values.
    #[test]
    fn a_bad_value_says_where_and_what_is_allowed() {
        let e = load_str(&format!("threads = 1\npacer = \"fast\"\n{REST}"), Path::new("bad.toml")).unwrap_err().to_string();
        assert!(e.starts_with("bad.toml:2:9: pacer: \"fast\" is not allowed; allowed: \"sleep\", \"precise\" ("), "{e}");
        let e = load_str(&format!("pacer = 1\n{REST}"), Path::new("bad.toml")).unwrap_err().to_string();
        assert!(e.starts_with("bad.toml:1:9: pacer: "), "{e}");
        // Under a table by mistake: the hint says it belongs at the top level.
        let e = load_str(&REST.replace("[[stages]]", "pacer = \"sleep\"\n[[stages]]"), Path::new("bad.toml")).unwrap_err().to_string();
        assert!(e.contains("`pacer` is a top-level field"), "{e}");
    }

    #[test]
    fn the_flag_overrides_the_file_and_is_checked() {
        let mut p = load_str(&format!("pacer = \"sleep\"\n{REST}"), Path::new("s.toml")).unwrap();
        Overrides { pacer: Some("precise".into()), ..Default::default() }.apply(&mut p).unwrap();
        assert_eq!(p.pacer, PacerKind::Precise);
        assert!(p.source_text.ends_with("--pacer precise\n"), "{}", p.source_text);

        let quick = Overrides { url: Some("http://127.0.0.1:9/".into()), rate: Some(5.0), duration: Some(std::time::Duration::from_secs(1)), pacer: Some("precise".into()), ..Default::default() };
        let p = quick.to_plan().unwrap();
        assert_eq!(p.pacer, PacerKind::Precise);
        // The generated scenario says it too, so the saved Results rerun the same way.
        assert_eq!(load_str(&p.source_text, Path::new("again.toml")).unwrap().pacer, PacerKind::Precise);

        let bad = Overrides { pacer: Some("spin".into()), ..quick };
        let e = bad.to_plan().unwrap_err().to_string();
        assert!(e.starts_with("--pacer: \"spin\" is not allowed; allowed: \"sleep\", \"precise\""), "{e}");
        let e = bad.apply(&mut load_str(REST, Path::new("s.toml")).unwrap()).unwrap_err().to_string();
        assert!(e.starts_with("--pacer: "), "{e}");
    }
}
