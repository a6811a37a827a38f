//! The scenario file format: TOML in, a validated `Plan` out, or an error that names the file,
//! line, column and field and says what is allowed.
//!
//! Two stages, as ripgrep does with its arguments: `model` parses (serde structs with spans and no
//! opinions), `resolve` (with `stages`, `requests`, `template`, `feeder`) decides and applies
//! defaults. `syntax` turns TOML/serde errors into located ones; `overrides` applies the
//! `skyload run` flags. The format is documented in docs/scenarios.md.

pub mod bounds;
pub mod check_lang;
pub mod checks;
mod error;
mod faults;
mod feeder;
pub mod locate;
pub mod gateway_config;
pub mod metrics;
mod model;
pub mod outcomes;
mod overrides;
pub mod overrides_record;
pub mod pacing;
pub mod plan;
mod requests;
mod resolve;
pub mod secrets;
mod stages;
mod syntax;
pub use syntax::{explain as explain_toml_error, TOP_LEVEL_FIELDS};
pub mod template;
pub mod tls;

pub use faults::{exec_stops, ExecStop};
pub use error::{did_you_mean, line_col, Located, ScenarioError};
pub use overrides::{duration_flag, Overrides};
pub use pacing::PacerKind;
pub use plan::*;
pub use resolve::{parse_target_url, url_port};
pub use stages::set_total_duration;

use std::path::Path;

/// Reads a scenario file and its feeders (feeder paths are relative to the file's directory).
pub fn load_file(path: &Path) -> Result<Plan, ScenarioError> {
    let bytes = bounds::read_bounded(path, bounds::MAX_SCENARIO_BYTES, "scenario file")
        .map_err(|err| ScenarioError::Read { path: path.to_path_buf(), err })?;
    let text = String::from_utf8(bytes).map_err(|_| ScenarioError::Read {
        path: path.to_path_buf(),
        err: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
    })?;
    load_str(&text, path)
}

/// Builds a Plan from scenario text; `path` names the file in messages and anchors feeder paths.
pub fn load_str(text: &str, path: &Path) -> Result<Plan, ScenarioError> {
    let rep = error::Reporter { file: path, text };
    let raw: model::RawScenario = toml::from_str(text).map_err(|e| syntax::translate(&rep, &e))?;
    let base_dir = path.parent().unwrap_or(Path::new(""));
    resolve::resolve(raw, &rep, base_dir)
}
