//! The gateway's own `--config` file: a bare gateway config or a scenario file's `[gateway]`
//! table, parsed into the scenario's `[gateway]` types (`scenario::gateway_config`) and validated.

use super::GatewayError;
pub use crate::scenario::gateway_config::{
    AuthConfig, Balance, ColdStartConfig, Dist, FallbackConfig, FunctionConfig, GatewayConfig, PodSpec, RateLimitConfig,
    ResponseConfig, ServiceTimeConfig, VersionConfig,
};
use serde::Deserialize;
use std::path::Path;

/// Only the `[gateway]` table of a scenario file; every other table is the scenario's business.
#[derive(Deserialize)]
struct ScenarioShim {
    gateway: Option<toml::Value>,
}

/// The `[gateway]` table read again with its spans (a `toml::Value` has none), for errors that
/// point at the line.
#[derive(Deserialize)]
struct InScenario {
    gateway: GatewayConfig,
}

/// Why a config text was refused, before it is told with or without its file.
enum Refused {
    /// TOML syntax, an unknown field or a wrong type; `in_gateway`: inside a scenario's `[gateway]`.
    Toml { error: toml::de::Error, in_gateway: bool },
    /// A value out of its range (field path with the `gateway.` prefix when in a scenario).
    Config(GatewayError),
}

fn parse(text: &str) -> Result<GatewayConfig, Refused> {
    let shim: ScenarioShim = toml::from_str(text).map_err(|error| Refused::Toml { error, in_gateway: false })?;
    let (cfg, prefix) = match shim.gateway {
        Some(_) => (toml::from_str::<InScenario>(text).map_err(|error| Refused::Toml { error, in_gateway: true })?.gateway, "gateway."),
        None => (toml::from_str(text).map_err(|error| Refused::Toml { error, in_gateway: false })?, ""),
    };
    cfg.validate().map_err(|e| Refused::Config(GatewayError::from(e).with_prefix(prefix)))?;
    Ok(cfg)
}

impl GatewayConfig {
    /// Parses a bare gateway config, or a scenario file's `[gateway]` table, then validates it.
    pub fn from_toml_str(text: &str) -> Result<GatewayConfig, GatewayError> {
        parse(text).map_err(|r| match r {
            Refused::Toml { error, in_gateway: false } => GatewayError::Parse(error.to_string()),
            Refused::Toml { error, in_gateway: true } => GatewayError::Parse(format!("in [gateway]: {error}")),
            Refused::Config(e) => e,
        })
    }

    /// `from_toml_str` for a file: a refused config names the file, line and column, and the
    /// field, as a scenario's errors do (`gw.toml:3:8: functions.hello.pods: …`).
    pub fn from_file(path: &Path) -> Result<GatewayConfig, GatewayError> {
        let text = std::fs::read_to_string(path).map_err(|source| GatewayError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        parse(&text).map_err(|r| {
            let (at, field, message) = match r {
                Refused::Toml { error, .. } => {
                    let (at, field, message) = crate::scenario::explain_toml_error(&text, &error, &[]);
                    (at, (!field.is_empty()).then_some(field), message)
                }
                Refused::Config(GatewayError::Config { field, message }) => (crate::scenario::locate::field(&text, &field), Some(field), message),
                Refused::Config(other) => return other,
            };
            let at = at.map(|a| crate::scenario::line_col(&text, a));
            GatewayError::At { path: path.to_path_buf(), at, field, message }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bare_and_scenario_forms() {
        let bare =
            "[functions.hello]\npods = 2\nconcurrency = 3\nservice_time = { mean = \"10ms\" }\n";
        let a = GatewayConfig::from_toml_str(bare).unwrap();
        assert_eq!(a.functions["hello"].pods, 2);
        let scen = format!(
            "[target]\nembedded = true\n[gateway]\nmetrics = true\n[gateway.{}",
            &bare[1..]
        );
        let b = GatewayConfig::from_toml_str(&scen).unwrap();
        assert!(b.metrics);
        assert_eq!(b.functions, a.functions);
    }

    #[test]
    fn refuses_unknown_fields_and_strategies() {
        for text in [
            "[functions.f]\nbalance = \"random\"\n",
            "[functions.f]\npodz = 1\n",
            "colour = 1\n[functions.f]\n",
            "[functions.f.cold_start]\ndelay = \"1s\"\nwarm = 1\n",
        ] {
            assert!(
                matches!(
                    GatewayConfig::from_toml_str(text),
                    Err(GatewayError::Parse(_))
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn versions_inherit_and_weights_default_to_stable() {
        let c = GatewayConfig::from_toml_str(
            "[functions.f]\npods = 2\nconcurrency = 3\n[functions.f.versions.v2]\npods = 1\n",
        )
        .unwrap();
        let f = &c.functions["f"];
        let v = f.resolved_versions();
        assert_eq!(v[1].0, "v2");
        assert_eq!((v[1].1.pods, v[1].1.concurrency), (1, 3));
        assert_eq!(f.resolved_weights(), vec![100, 0]);
    }

    #[test]
    fn round_trips_through_toml() {
        let c = GatewayConfig::from_toml_str(
            "metrics = true\ntimeout = \"500ms\"\n[functions.f]\nservice_time = { dist = \"normal\", mean = \"10ms\", p99 = \"20ms\" }\n",
        )
        .unwrap();
        let text = toml::to_string(&c).unwrap();
        assert_eq!(GatewayConfig::from_toml_str(&text).unwrap(), c);
    }

    fn err_field(text: &str) -> String {
        match GatewayConfig::from_toml_str(text) {
            Err(GatewayError::Config { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn a_file_error_names_file_line_column_and_field() {
        let dir = std::env::temp_dir().join(format!("skyload-gw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (text, want) in [
            // Unknown fields in the scenario's words: the table, what is allowed, a "did you mean".
            ("name = \"x\"\n[functions.hello]\n", "gw.toml:1:1: unknown field `name` in the top level; allowed: control_token,"),
            ("[functions.hello]\npodz = 2\n", "gw.toml:2:1: functions.hello: unknown field `podz` in [functions.hello]; allowed: version, pods,"),
            ("[functions.hello]\npods = \"two\"\n", "gw.toml:2:8: functions.hello.pods: "),
            ("[functions.hello]\nconcurrency = 2\npods = 0\n", "gw.toml:3:1: functions.hello.pods: must be between 1 and 1000"),
            ("seed = 1\n[rate_limit]\n  rate = 0.0\n[functions.f]\n", "gw.toml:3:3: rate_limit.rate: "),
            ("[target]\nembedded = true\n[gateway]\nmetrics = true\n[gateway.functions.f]\nconcurrency = 0\n", "gw.toml:6:1: gateway.functions.f.concurrency: "),
            ("[target]\nembedded = true\n[gateway]\nmetricz = true\n", "gw.toml:4:1: gateway: unknown field `metricz`"),
            // An inline table: the line of the key that holds it.
            ("functions = { f = { pods = 0 } }\n", "gw.toml:1:1: functions.f.pods: "),
        ] {
            let path = dir.join("gw.toml");
            std::fs::write(&path, text).unwrap();
            let e = GatewayConfig::from_file(&path).unwrap_err().to_string();
            let shown = e.replace(&format!("{}/", dir.display()), "");
            assert!(shown.starts_with(want), "{text:?}: {shown}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn names_the_bad_field() {
        assert_eq!(err_field("[functions.f]\npods = 0\n"), "functions.f.pods");
        assert_eq!(
            err_field("[functions.f]\nweights = { v1 = 0, v2 = 0 }\n[functions.f.versions.v2]\n"),
            "functions.f.weights"
        );
        assert_eq!(
            err_field("[functions.f]\nweights = { v9 = 1 }\n"),
            "functions.f.weights.v9"
        );
        assert_eq!(
            err_field("[gateway.functions.f]\nconcurrency = 0\n"),
            "gateway.functions.f.concurrency"
        );
        assert_eq!(
            err_field("[rate_limit]\nrate = 0.0\n[functions.f]\n"),
            "rate_limit.rate"
        );
        assert_eq!(
            err_field("[functions.f]\nservice_time = { dist = \"lognormal\", mean = \"10ms\" }\n"),
            "functions.f.service_time"
        );
        // A function's own override is checked where it is written, not as resolved.
        assert_eq!(err_field("timeout = \"1s\"\n[functions.f]\ntimeout = \"0s\"\n"), "functions.f.timeout");
        assert_eq!(err_field("[functions.f]\n[functions.f.auth]\ntokens = []\n"), "functions.f.auth.tokens");
        assert_eq!(err_field("[fallback]\nstatus = 99\nbody = \"\"\n[functions.f]\n"), "fallback.status");
    }

    #[test]
    fn a_function_setting_replaces_the_gateways_and_the_rest_is_inherited() {
        let c = GatewayConfig::from_toml_str(
            "timeout = \"500ms\"\nbalance = \"least_in_flight\"\n[auth]\ntokens = [\"t\"]\n\
             [functions.open]\nrate_limit = { rate = 5.0 }\n[functions.open.auth]\nenabled = false\n[functions.plain]\n",
        )
        .unwrap();
        let open = c.features_for(&c.functions["open"]);
        assert_eq!(open.auth.map(|a| (a.enabled, a.tokens.len())), Some((false, 0)), "the function's auth table, not merged");
        assert_eq!(open.rate_limit.map(|r| (r.rate, r.burst)), Some((5.0, 1)));
        assert_eq!(open.timeout.map(|t| t.get()), Some(std::time::Duration::from_millis(500)));
        assert_eq!(open.balance, Some(Balance::LeastInFlight));
        assert_eq!((open.fallback, open.detect_after), (None, None));
        assert_eq!(c.features_for(&c.functions["plain"]), c.features());
    }
}
