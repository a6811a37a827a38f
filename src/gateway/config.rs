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

impl GatewayConfig {
    /// Parses a bare gateway config, or a scenario file's `[gateway]` table, then validates it.
    pub fn from_toml_str(text: &str) -> Result<GatewayConfig, GatewayError> {
        let shim: ScenarioShim =
            toml::from_str(text).map_err(|e| GatewayError::Parse(e.to_string()))?;
        let (cfg, prefix) = match shim.gateway {
            Some(v) => (
                GatewayConfig::deserialize(v)
                    .map_err(|e| GatewayError::Parse(format!("in [gateway]: {e}")))?,
                "gateway.",
            ),
            None => (
                toml::from_str(text).map_err(|e| GatewayError::Parse(e.to_string()))?,
                "",
            ),
        };
        cfg.validate().map_err(|e| GatewayError::from(e).with_prefix(prefix))?;
        Ok(cfg)
    }

    pub fn from_file(path: &Path) -> Result<GatewayConfig, GatewayError> {
        let text = std::fs::read_to_string(path).map_err(|source| GatewayError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text)
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
