//! The raw `[checks]`, `[[windows]]` and `[capacity]` tables of a scenario: serde structs that only
//! parse, like the rest of `model`. They are part of the file format, so they live here; the check
//! language and the rules that judge these values stay in `verify::spec`, which reads them.

use crate::units::HumanDuration;
use serde::Deserialize;
use toml::Spanned as S;

/// `[checks]`: the whole run's checks and the rules that apply to the run as a whole.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChecks {
    pub run: Option<S<Vec<S<String>>>>,
    pub abort_when: Option<S<Vec<S<String>>>>,
    pub tolerances: Option<S<Vec<S<String>>>>,
    pub generator_guard: Option<S<String>>,
}

/// `[[windows]]`: a named stretch of the run with its own checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    pub name: Option<S<String>>,
    pub from: Option<S<HumanDuration>>,
    pub to: Option<S<HumanDuration>>,
    pub stage: Option<S<String>>,
    pub request: Option<S<String>>,
    pub checks: Option<S<Vec<S<String>>>>,
}

/// `[capacity]`: how `skyload capacity` steps the rate, and the plan it reports.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapacity {
    pub start: Option<S<f64>>,
    pub step: Option<S<f64>>,
    pub factor: Option<S<f64>>,
    pub max: Option<S<f64>>,
    pub hold: Option<S<HumanDuration>>,
    pub bisect_hold: Option<S<HumanDuration>>,
    pub cooldown: Option<S<HumanDuration>>,
    pub precision: Option<S<f64>>,
    pub pods: Option<S<i64>>,
    pub peak_qps: Option<S<f64>>,
    pub headroom: Option<S<f64>>,
    pub targets: Option<S<Vec<S<String>>>>,
    pub window: Option<S<HumanDuration>>,
    pub consistency: Option<S<f64>>,
    pub retests: Option<S<i64>>,
    pub confirm: Option<S<i64>>,
    pub confirm_hold: Option<S<HumanDuration>>,
}
