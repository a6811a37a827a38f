//! Config validation: what serde cannot check (counts, ranges, names, weights that point at real
//! versions), with every error naming the field so a user can find it. Separate from `config.rs`
//! because the rules grow while the format stays put.

use super::{ConfigError, Features, GatewayConfig, PodSpec, MAX_VERSIONS};

impl GatewayConfig {
    /// Checks what serde cannot: counts, ranges, names, and that weights point somewhere.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.functions.is_empty() {
            return Err(bad(
                "functions",
                "define at least one function, e.g. [functions.hello]",
            ));
        }
        if let Some(t) = &self.tls {
            super::tls::check(t).map_err(|e| bad(e.field, &e.message))?;
        }
        if self.max_body_bytes == 0 {
            return Err(bad("max_body_bytes", "must be at least 1"));
        }
        if let Some(t) = &self.control_token {
            if t.is_empty() {
                return Err(bad(
                    "control_token",
                    "must not be empty (leave it out for no token)",
                ));
            }
        }
        check_features("", &self.features())?;
        for (name, f) in &self.functions {
            let at = format!("functions.{name}");
            if !valid_name(name) {
                return Err(bad(
                    &at,
                    "function names use letters, digits, '-' and '_' only",
                ));
            }
            check_features(&format!("{at}."), &f.features())?;
            if !valid_name(&f.version) {
                return Err(bad(
                    &format!("{at}.version"),
                    "use letters, digits, '-' and '_' only",
                ));
            }
            let base = f.pod_spec();
            check_pods(&at, &base)?;
            if f.versions.len() >= MAX_VERSIONS {
                return Err(bad(
                    &format!("{at}.versions"),
                    "at most 15 canary versions per function",
                ));
            }
            for (vname, v) in &f.versions {
                let vat = format!("{at}.versions.{vname}");
                if !valid_name(vname) || *vname == f.version {
                    return Err(bad(
                        &vat,
                        "a canary version needs its own name (letters, digits, '-', '_'), not the stable version's",
                    ));
                }
                check_pods(&vat, &v.resolve(&base))?;
            }
            if let Some(w) = &f.weights {
                for k in w.keys() {
                    if *k != f.version && !f.versions.contains_key(k) {
                        return Err(bad(
                            &format!("{at}.weights.{k}"),
                            "names no version of this function",
                        ));
                    }
                }
                if w.values().all(|&x| x == 0) {
                    return Err(bad(
                        &format!("{at}.weights"),
                        "weights are all 0: no version would serve",
                    ));
                }
            }
        }
        Ok(())
    }
}

fn bad(field: &str, message: &str) -> ConfigError {
    ConfigError {
        field: field.to_string(),
        message: message.to_string(),
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One table's own settings (not the resolved ones: an error names the table that set the value).
fn check_features(at: &str, features: &Features) -> Result<(), ConfigError> {
    if let Some(a) = features.auth {
        if a.enabled && (a.tokens.is_empty() || a.tokens.iter().any(|t| t.is_empty())) {
            return Err(bad(
                &format!("{at}auth.tokens"),
                "list at least one non-empty token, or set enabled = false",
            ));
        }
    }
    if let Some(r) = features.rate_limit {
        if !(r.rate.is_finite() && r.rate > 0.0) {
            return Err(bad(
                &format!("{at}rate_limit.rate"),
                "must be a number of requests per second above 0",
            ));
        }
        if r.burst == 0 {
            return Err(bad(&format!("{at}rate_limit.burst"), "must be at least 1"));
        }
    }
    if let Some(t) = features.timeout {
        if t.get().is_zero() {
            return Err(bad(
                &format!("{at}timeout"),
                "must be above 0 (leave it out for no timeout)",
            ));
        }
    }
    if let Some(f) = features.fallback {
        if !(100..=599).contains(&f.status) {
            return Err(bad(
                &format!("{at}fallback.status"),
                "must be an HTTP status (100-599)",
            ));
        }
    }
    Ok(())
}

fn check_pods(at: &str, p: &PodSpec) -> Result<(), ConfigError> {
    if p.pods == 0 || p.pods > 1000 {
        return Err(bad(&format!("{at}.pods"), "must be between 1 and 1000"));
    }
    if p.concurrency == 0 {
        return Err(bad(&format!("{at}.concurrency"), "must be at least 1"));
    }
    if let Err(m) = super::dist::ServiceTime::from_config(&p.service_time) {
        return Err(bad(&format!("{at}.service_time"), &m));
    }
    if let Some(c) = &p.cold_start {
        if c.idle.is_some_and(|i| i.get().is_zero()) {
            return Err(bad(
                &format!("{at}.cold_start.idle"),
                "must be above 0 (leave it out to never cool down)",
            ));
        }
    }
    if !(100..=599).contains(&p.response.status) {
        return Err(bad(
            &format!("{at}.response.status"),
            "must be an HTTP status (100-599)",
        ));
    }
    Ok(())
}
