//! The raw `[checks]`, `[[windows]]` and `[capacity]` tables of a scenario: serde structs that only
//! parse, like the rest of `model`. They are part of the file format, so they live here;
//! `check_lang::spec` resolves them (parsing the check language) into a `VerifyPlan`.

use crate::units::HumanDuration;
use serde::Deserialize;
use toml::Spanned;

/// `[checks]`: the whole run's checks and the rules that apply to the run as a whole.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChecks {
    pub run: Option<Spanned<Vec<Spanned<String>>>>,
    pub abort_when: Option<Spanned<Vec<Spanned<String>>>>,
    pub tolerances: Option<Spanned<Vec<Spanned<String>>>>,
    pub generator_guard: Option<Spanned<String>>,
}

/// `[[windows]]`: a named stretch of the run with its own checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    pub name: Option<Spanned<String>>,
    pub from: Option<Spanned<HumanDuration>>,
    pub to: Option<Spanned<HumanDuration>>,
    pub stage: Option<Spanned<String>>,
    pub request: Option<Spanned<String>>,
    pub checks: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `[capacity]`: how `skyload capacity` steps the rate, and the plan it reports.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapacity {
    pub start: Option<Spanned<f64>>,
    pub step: Option<Spanned<f64>>,
    pub factor: Option<Spanned<f64>>,
    pub max: Option<Spanned<f64>>,
    pub hold: Option<Spanned<HumanDuration>>,
    pub bisect_hold: Option<Spanned<HumanDuration>>,
    pub cooldown: Option<Spanned<HumanDuration>>,
    pub precision: Option<Spanned<f64>>,
    pub pods: Option<Spanned<i64>>,
    pub peak_qps: Option<Spanned<f64>>,
    pub headroom: Option<Spanned<f64>>,
    pub targets: Option<Spanned<Vec<Spanned<String>>>>,
    pub window: Option<Spanned<HumanDuration>>,
    pub consistency: Option<Spanned<f64>>,
    pub retests: Option<Spanned<i64>>,
    pub confirm: Option<Spanned<i64>>,
    pub confirm_hold: Option<Spanned<HumanDuration>>,
}

/// A scenario's text split into what sets the load and what only judges the run: `[checks] run`
/// and `tolerances`, `[[windows]]`, `[capacity]` and each stage's and request's `checks` (`[checks]
/// abort_when` and `generator_guard` can end a run early, so they count as load). `compare` says
/// two runs ran the same load when their load parts are equal. The judging part is flattened
/// (`checks.run`, `stages[0].checks`, …) with each value as shown to a user. None: not TOML.
pub fn split_judging(text: &str) -> Option<(toml::Table, std::collections::BTreeMap<String, String>)> {
    let mut load: toml::Table = text.parse().ok()?;
    let mut judging = std::collections::BTreeMap::new();
    let show = |v: &toml::Value| match v {
        toml::Value::Array(a) if a.iter().all(|x| x.is_str()) => a.iter().filter_map(|x| x.as_str()).map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    };
    if let Some(toml::Value::Table(checks)) = load.get_mut("checks") {
        for key in ["run", "tolerances"] {
            if let Some(v) = checks.remove(key) {
                judging.insert(format!("checks.{key}"), show(&v));
            }
        }
        if checks.is_empty() {
            load.remove("checks");
        }
    }
    for key in ["windows", "capacity"] {
        if let Some(v) = load.remove(key) {
            judging.insert(key.to_string(), show(&v));
        }
    }
    for list in ["stages", "requests"] {
        if let Some(toml::Value::Array(items)) = load.get_mut(list) {
            for (i, item) in items.iter_mut().enumerate() {
                if let Some(v) = item.as_table_mut().and_then(|t| t.remove("checks")) {
                    judging.insert(format!("{list}[{i}].checks"), show(&v));
                }
            }
        }
    }
    Some((load, judging))
}

#[cfg(test)]
mod split_tests {
    use super::split_judging;

    #[test]
    fn checks_windows_and_capacity_judge_abort_when_is_load() {
        let a = "# Generated from: skyload run --check \"p99 < 50ms\"\nname = \"x\"\n[[stages]]\nrate = 5.0\nduration = \"2s\"\nchecks = [\"p50 < 9ms\"]\n[checks]\nrun = [\"p99 < 50ms\"]\n";
        let b = "name = \"x\"\n[[stages]]\nrate = 5.0\nduration = \"2s\"\n[checks]\nrun = [\"p99 < 100ms\", \"error_rate < 1%\"]\n[capacity]\nstart = 10\n";
        let (la, ja) = split_judging(a).unwrap();
        let (lb, jb) = split_judging(b).unwrap();
        assert_eq!(la, lb, "comments and judging parts aside, the same load");
        assert_eq!(ja["checks.run"], "`p99 < 50ms`");
        assert_eq!(ja["stages[0].checks"], "`p50 < 9ms`");
        assert_eq!(jb["checks.run"], "`p99 < 100ms`, `error_rate < 1%`");
        assert!(jb.contains_key("capacity"));
        // abort_when can stop a run: a different one is a different load.
        let c = b.replace("[checks]\n", "[checks]\nabort_when = [\"error_rate > 50%\"]\n");
        assert_ne!(split_judging(&c).unwrap().0, lb);
        let d = "name = \"x\"\n[[stages]]\nrate = 6.0\nduration = \"2s\"\n";
        assert_ne!(split_judging(d).unwrap().0, lb);
        assert!(split_judging("not [ toml").is_none());
    }
}
