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
