//! `[target] tls = { ... }` and the TLS/connection flags (`--cacert`, `--insecure`, `--cert`,
//! `--key`, `--servername`, `--http1.1`, `--resolve`). Files are read and checked here, at load
//! time, so a bad PEM or a key that does not match its certificate is reported at the line that
//! names it, before any connection is attempted.

use toml::Spanned;
use super::error::{Reporter, ScenarioError};
use super::model::{RawTarget};
use super::plan::{Plan, ResolveOverride, Target, TlsSettings};
use serde::Deserialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cacert: Option<Spanned<String>>,
    pub insecure: Option<Spanned<bool>>,
    pub cert: Option<Spanned<String>>,
    pub key: Option<Spanned<String>>,
    pub server_name: Option<Spanned<String>>,
}

/// Resolves `[target] tls`; paths are relative to the scenario's directory.
pub fn resolve(
    target: Option<&Spanned<RawTarget>>,
    resolved: &Target,
    rep: &Reporter,
    base_dir: &Path,
) -> Result<TlsSettings, ScenarioError> {
    let Some(raw) = target.and_then(|t| t.get_ref().tls.as_ref()) else {
        return Ok(TlsSettings::default());
    };
    let https = is_https(resolved);
    if !https {
        return Err(rep.span(raw.span(), "target.tls", "tls settings apply to an https:// target; this target is not one (write url = \"https://...\", or [gateway] tls = true for the embedded gateway, or remove tls)"));
    }
    let r = raw.get_ref();
    let path = |p: &Option<Spanned<String>>| p.as_ref().map(|p| base_dir.join(p.get_ref()));
    let settings = TlsSettings {
        cacert: path(&r.cacert),
        insecure: r.insecure.as_ref().is_some_and(|i| *i.get_ref()),
        cert: path(&r.cert),
        key: path(&r.key),
        server_name: r.server_name.as_ref().map(|s| s.get_ref().clone()),
    };
    check(&settings).map_err(|e| {
        let (field, span) = match e.field {
            Field::Cacert => ("target.tls.cacert", r.cacert.as_ref().map(|s| s.span())),
            Field::Cert => ("target.tls.cert", r.cert.as_ref().map(|s| s.span())),
            Field::Key => ("target.tls.key", r.key.as_ref().map(|s| s.span())),
            Field::ServerName => ("target.tls.server_name", r.server_name.as_ref().map(|s| s.span())),
        };
        rep.span(span.unwrap_or_else(|| raw.span()), field, e.message)
    })?;
    Ok(settings)
}

/// An `https://` URL, or the embedded gateway serving TLS (`[gateway] tls`).
pub fn is_https(target: &Target) -> bool {
    match target {
        Target::Url(u) => u.scheme == "https",
        Target::Embedded(cfg) => cfg.tls.as_ref().is_some_and(|t| t.enabled()),
    }
}

/// Which setting a check refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Cacert,
    Cert,
    Key,
    ServerName,
}

#[derive(Debug)]
pub struct CheckError {
    pub field: Field,
    pub message: String,
}

/// Reads every file the settings name and builds the client configuration once, so what would
/// fail at the first connection fails here with the setting's name.
pub fn check(s: &TlsSettings) -> Result<(), CheckError> {
    crate::load::tls::check_settings(s)
}

/// The TLS and connection flags shared by `run` and `invoke` (clap-free, see `cli::TlsArgs`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectFlags {
    pub cacert: Option<PathBuf>,
    pub insecure: bool,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub servername: Option<String>,
    pub http1: bool,
    pub resolve: Vec<String>,
}

impl ConnectFlags {
    pub fn is_empty(&self) -> bool {
        *self == ConnectFlags::default()
    }

    /// Applies the flags on top of whatever the scenario said; each flag replaces what it names.
    pub fn apply(&self, plan: &mut Plan) -> Result<(), ScenarioError> {
        if self.is_empty() {
            return Ok(());
        }
        let https = is_https(&plan.target);
        let tls_flag = self.cacert.is_some() || self.insecure || self.cert.is_some() || self.key.is_some() || self.servername.is_some();
        if tls_flag && !https {
            return Err(ScenarioError::flag(self.first_tls_flag(), "applies to an https:// target only (or the embedded gateway with [gateway] tls); this target is not one"));
        }
        let c = &mut plan.connections;
        if self.cacert.is_some() {
            c.tls.cacert = self.cacert.clone();
        }
        c.tls.insecure |= self.insecure;
        if self.cert.is_some() || self.key.is_some() {
            c.tls.cert = self.cert.clone();
            c.tls.key = self.key.clone();
        }
        if self.servername.is_some() {
            c.tls.server_name = self.servername.clone();
        }
        if self.http1 {
            if c.http2 {
                return Err(ScenarioError::flag("--http1.1", "and --http2 (or [connections] http2 = true) ask for different protocols; give one"));
            }
            c.http1 = true;
        }
        for r in &self.resolve {
            c.resolve.push(parse_resolve(r).map_err(|m| ScenarioError::flag("--resolve", m))?);
        }
        check(&c.tls).map_err(|e| {
            let flag = match e.field {
                Field::Cacert => "--cacert",
                Field::Cert => "--cert",
                Field::Key => "--key",
                Field::ServerName => "--servername",
            };
            ScenarioError::flag(flag, e.message)
        })?;
        plan.source_text = format!("{}\n# TLS/connection flags: {}\n", plan.source_text.trim_end(), self.describe().join(" "));
        Ok(())
    }

    fn first_tls_flag(&self) -> &'static str {
        if self.cacert.is_some() {
            "--cacert"
        } else if self.insecure {
            "--insecure"
        } else if self.cert.is_some() {
            "--cert"
        } else if self.key.is_some() {
            "--key"
        } else {
            "--servername"
        }
    }

    /// The flags as typed, for the saved scenario (file paths only; nothing secret is in a path).
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        let p = |f: &str, v: &Option<PathBuf>, out: &mut Vec<String>| {
            if let Some(v) = v {
                out.push(format!("{f} {}", v.display()));
            }
        };
        p("--cacert", &self.cacert, &mut out);
        if self.insecure {
            out.push("--insecure".into());
        }
        p("--cert", &self.cert, &mut out);
        p("--key", &self.key, &mut out);
        if let Some(s) = &self.servername {
            out.push(format!("--servername {s}"));
        }
        if self.http1 {
            out.push("--http1.1".into());
        }
        for r in &self.resolve {
            out.push(format!("--resolve {r}"));
        }
        out
    }
}

/// `host:port:addr[,addr...]` as curl takes it; IPv6 addresses may be bracketed.
pub fn parse_resolve(s: &str) -> Result<ResolveOverride, String> {
    let form = "give host:port:addr, e.g. api.example:443:127.0.0.1 or localhost:8443:[::1]";
    let mut it = s.splitn(3, ':');
    let (Some(host), Some(port), Some(addrs)) = (it.next(), it.next(), it.next()) else {
        return Err(format!("`{s}`: {form}"));
    };
    if host.is_empty() {
        return Err(format!("`{s}` has no host; {form}"));
    }
    let port: u16 = port.parse().map_err(|_| format!("`{s}`: `{port}` is not a port (1-65535); {form}"))?;
    let mut out = Vec::new();
    for a in addrs.split(',') {
        let a = a.trim().trim_start_matches('[').trim_end_matches(']');
        out.push(a.parse::<IpAddr>().map_err(|_| format!("`{s}`: `{a}` is not an IP address; {form}"))?);
    }
    Ok(ResolveOverride { host: host.to_ascii_lowercase(), port, addrs: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_flags() {
        let r = parse_resolve("Api.example:443:127.0.0.1,[::1]").unwrap();
        assert_eq!((r.host.as_str(), r.port, r.addrs.len()), ("api.example", 443, 2));
        assert_eq!(r.addrs[1], "::1".parse::<IpAddr>().unwrap());
        for (bad, needle) in [("a:443", "host:port:addr"), ("a:x:1.2.3.4", "not a port"), ("a:1:nope", "not an IP"), (":1:1.2.3.4", "no host")] {
            let e = parse_resolve(bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }
}
