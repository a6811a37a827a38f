//! The schedule flags of a run (`--rate`, `--duration`) and its `--check` flags, written into the
//! scenario copy as one machine-readable comment line so that `skyload merge` can rebuild the stages
//! the shards ran and judge the same checks on the merged Results. The human comment beside it ("Run with these flags…")
//! quotes values the way a shell would, which is for reading, not parsing. Only the flags that
//! shape the schedule (and so the stage windows and the checks' meaning) or add checks are recorded: the others
//! (headers, body, URL) change nothing a check reads, and some of them carry secrets.
//!
//! The line is part of `scenario.toml`, so its fingerprint covers it: shards run with other
//! schedule flags are refused by `merge` before anything is judged.

use super::overrides::Overrides;
use std::time::Duration;

/// Starts the comment line; the JSON object follows on the same line.
pub const PREFIX: &str = "# schedule flags, read back by skyload merge: ";
/// The human comment an older skyload wrote alone (its flags cannot be read back reliably).
const HUMAN: &str = "# Run with these flags on top of this file";

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rate: Option<f64>,
    /// Nanoseconds: exact, where a decimal of seconds would not round-trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duration_ns: Option<u64>,
    /// `--check` flags: whole-run checks the merge must judge as the shards did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    checks: Vec<String>,
}

/// The comment line for these flags, or None when no schedule flag was given (the file's
/// schedule ran as written).
pub fn line(o: &Overrides) -> Option<String> {
    if o.rate.is_none() && o.duration.is_none() && o.checks.is_empty() {
        return None;
    }
    let r = Record { rate: o.rate, duration_ns: o.duration.map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)), checks: o.checks.clone() };
    Some(format!("{PREFIX}{}", serde_json::to_string(&r).expect("a record of numbers serializes")))
}

/// What a scenario copy says about the flags it ran with.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// No schedule flag: the copy's own stages ran.
    Nothing,
    /// These flags ran on top of the copy (only `rate`, `duration` and `checks` are set).
    Flags(Overrides),
    /// The stages that ran cannot be rebuilt: why.
    Unknown(String),
}

/// Reads the record back from a scenario copy.
pub fn read(text: &str) -> Recorded {
    if let Some(json) = text.lines().find_map(|l| l.strip_prefix(PREFIX)) {
        return match serde_json::from_str::<Record>(json.trim()) {
            Ok(r) if r.rate.is_some_and(|x| !x.is_finite() || x <= 0.0) => Recorded::Unknown(format!("the recorded rate {:?} is not a rate > 0", r.rate.unwrap_or_default())),
            Ok(r) if r.duration_ns == Some(0) => Recorded::Unknown("the recorded duration is 0".into()),
            Ok(r) => Recorded::Flags(Overrides { rate: r.rate, duration: r.duration_ns.map(Duration::from_nanos), checks: r.checks, ..Default::default() }),
            Err(e) => Recorded::Unknown(format!("its schedule-flags line does not read: {e}")),
        };
    }
    // An older skyload recorded the flags only as prose; whether they touched the schedule is
    // still visible, and when they did not, the copy's stages are the ones that ran.
    match text.lines().find(|l| l.starts_with(HUMAN)) {
        Some(l) if l.contains("--rate ") || l.contains("--duration ") => Recorded::Unknown(
            "it was written by an older skyload that recorded --rate/--duration only as a comment, so the stages that ran cannot be rebuilt".into(),
        ),
        _ => Recorded::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;
    use std::path::Path;

    const FILE: &str = "name = \"s\"\n[target]\nurl = \"http://127.0.0.1:9\"\n[checks]\nrun = [\"rate >= 5\"]\n[[stages]]\nname = \"hold\"\nrate = 10\nduration = \"30s\"\n[[requests]]\nname = \"a\"\npath = \"/\"\n";

    #[test]
    fn schedule_flags_round_trip_through_the_copy_and_rebuild_the_same_stages() {
        let mut plan = load_str(FILE, Path::new("s.toml")).unwrap();
        let ov = Overrides { rate: Some(7.25), duration: Some(Duration::from_millis(1500)), headers: vec!["x-api-key: SECRETQQ".into()], ..Default::default() };
        ov.apply(&mut plan).unwrap();
        let Recorded::Flags(back) = read(&plan.source_text) else { panic!("{}", plan.source_text) };
        assert_eq!((back.rate, back.duration), (Some(7.25), Some(Duration::from_millis(1500))));
        assert!(back.headers.is_empty(), "only the schedule flags are recorded");
        let mut again = load_str(&plan.source_text, Path::new("copy.toml")).unwrap();
        back.apply(&mut again).unwrap();
        let shape = |p: &crate::scenario::Plan| p.stages.iter().map(|s| (s.name.clone(), s.duration)).collect::<Vec<_>>();
        assert_eq!(shape(&again), shape(&plan));
        assert_eq!(again.total_duration(), Duration::from_millis(1500));
        // The secret of the header flag is not in the machine line.
        let l = plan.source_text.lines().find(|l| l.starts_with(PREFIX)).unwrap();
        assert!(!l.contains("SECRETQQ"), "{l}");
    }

    #[test]
    fn check_flags_round_trip_and_are_judged_again() {
        let mut plan = load_str(FILE, Path::new("s.toml")).unwrap();
        let ov = Overrides { checks: vec!["p99 < 50ms".into(), "ratio(ok) >= 99%".into()], ..Default::default() };
        ov.apply(&mut plan).unwrap();
        let sources = |p: &crate::scenario::Plan| p.verify.checks.iter().map(|c| c.source.clone()).collect::<Vec<_>>();
        assert_eq!(sources(&plan), ["rate >= 5", "p99 < 50ms", "ratio(ok) >= 99%"]);
        let Recorded::Flags(back) = read(&plan.source_text) else { panic!("{}", plan.source_text) };
        assert_eq!(back.checks, ov.checks);
        assert_eq!((back.rate, back.duration), (None, None), "only checks were given");
        let mut again = load_str(&plan.source_text, Path::new("copy.toml")).unwrap();
        back.apply(&mut again).unwrap();
        assert_eq!(sources(&again), sources(&plan), "applied again, no check twice");
        let bad = Overrides { checks: vec!["p99(nope) < 5ms".into()], ..Default::default() };
        let e = bad.apply(&mut load_str(FILE, Path::new("s.toml")).unwrap()).unwrap_err().to_string();
        assert!(e.contains("--check") && e.contains("no outcome is named `nope`"), "{e}");
    }

    #[test]
    fn no_flags_older_copies_and_bad_lines() {
        assert_eq!(read(FILE), Recorded::Nothing);
        let mut plan = load_str(FILE, Path::new("s.toml")).unwrap();
        Overrides { connections: Some(3), ..Default::default() }.apply(&mut plan).unwrap();
        assert_eq!(read(&plan.source_text), Recorded::Nothing, "{}", plan.source_text);
        let old = format!("{FILE}\n{HUMAN} (they replace what they name): --rate 7 --duration 5s\n");
        assert!(matches!(read(&old), Recorded::Unknown(w) if w.contains("older skyload")));
        let old_url_only = format!("{FILE}\n{HUMAN} (they replace what they name): --url http://x:1\n");
        assert_eq!(read(&old_url_only), Recorded::Nothing);
        for bad in ["{\"rate\":-1}", "{\"rate\":7,\"extra\":1}", "{\"duration_ns\":0}", "not json"] {
            assert!(matches!(read(&format!("{FILE}{PREFIX}{bad}\n")), Recorded::Unknown(_)), "{bad}");
        }
    }
}
