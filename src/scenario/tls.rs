//! `[target] tls = { ... }` and the TLS/connection flags (`--cacert`, `--insecure`, `--cert`,
//! `--key`, `--servername`, `--http1.1`, `--resolve`). Files are read and checked here, at load
//! time, so a bad PEM or a key that does not match its certificate is reported at the line that
//! names it, before any connection is attempted.

use toml::Spanned;
use super::error::{Reporter, ScenarioError};
use super::model::{RawTarget};
use super::plan::{Plan, ResolveOverride, Target, TlsSettings};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::RootCertStore;
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

impl Field {
    /// The command-line flag that gives this setting, for messages about a flag's value.
    pub fn flag(self) -> &'static str {
        match self {
            Field::Cacert => "--cacert",
            Field::Cert => "--cert",
            Field::Key => "--key",
            Field::ServerName => "--servername",
        }
    }
}

#[derive(Debug)]
pub struct CheckError {
    pub field: Field,
    pub message: String,
}

/// Reads every file the settings name and checks what the client configuration will demand of
/// them (usable CA certificates, a key that belongs to its certificate, a valid server name), so
/// what would fail at the first connection fails here with the setting's name. The load generator
/// builds its client configuration from the same readers.
pub fn check(s: &TlsSettings) -> Result<(), CheckError> {
    if !s.insecure {
        if let Some(path) = &s.cacert {
            read_roots(path)?;
        }
    }
    if let Some((cert, key)) = client_cert_paths(s)? {
        let (chain, k) = (read_certs(cert, Field::Cert)?, read_key(key)?);
        let provider = rustls::crypto::ring::default_provider();
        rustls::sign::CertifiedKey::from_der(chain, k, &provider).map_err(|e| client_auth_error(e, cert, key))?;
    }
    if let Some(n) = &s.server_name {
        ServerName::try_from(n.clone()).map_err(|_| CheckError {
            field: Field::ServerName,
            message: format!("`{n}` is not a valid TLS server name (a DNS name or an IP address)"),
        })?;
    }
    Ok(())
}

fn err(field: Field, message: String) -> CheckError {
    CheckError { field, message }
}

/// The client certificate and key, which come as a pair or not at all. As in curl, a `cert` file
/// that holds the private key too needs no `key`: such combined PEM files are what many
/// certificate tools hand out.
pub fn client_cert_paths(s: &TlsSettings) -> Result<Option<(&Path, &Path)>, CheckError> {
    match (&s.cert, &s.key) {
        (None, None) => Ok(None),
        (Some(cert), None) if PrivateKeyDer::from_pem_file(cert).is_ok() => Ok(Some((cert, cert))),
        (Some(_), None) => Err(err(Field::Key, "a client certificate (--cert, tls.cert) needs its private key (--key, tls.key), unless its file holds the key too".into())),
        (None, Some(_)) => Err(err(Field::Cert, "a private key (--key, tls.key) needs its client certificate (--cert, tls.cert)".into())),
        (Some(cert), Some(key)) => Ok(Some((cert, key))),
    }
}

/// The PEM certificates in `path`; at least one.
pub fn read_certs(path: &Path, field: Field) -> Result<Vec<CertificateDer<'static>>, CheckError> {
    std::fs::metadata(path).map_err(|e| err(field, format!("cannot read {}: {e}", path.display())))?;
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(field, format!("cannot read {}: {e}", path.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(field, format!("{} is not a readable PEM file: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(err(field, format!("{} holds no certificate (expected PEM blocks `-----BEGIN CERTIFICATE-----`)", path.display())));
    }
    Ok(certs)
}

/// `cacert`: every certificate in the file must be usable as a trust anchor.
pub fn read_roots(path: &Path) -> Result<RootCertStore, CheckError> {
    let mut store = RootCertStore::empty();
    for c in read_certs(path, Field::Cacert)? {
        store.add(c).map_err(|e| err(Field::Cacert, format!("{}: a certificate in it cannot be used as a CA: {e}", path.display())))?;
    }
    Ok(store)
}

/// The client's private key (`key`).
pub fn read_key(key: &Path) -> Result<PrivateKeyDer<'static>, CheckError> {
    PrivateKeyDer::from_pem_file(key)
        .map_err(|e| err(Field::Key, format!("{} holds no readable private key (PEM PKCS#8, PKCS#1 or SEC1): {e}", key.display())))
}

/// Why a client certificate and key cannot be used together.
pub fn client_auth_error(e: rustls::Error, cert: &Path, key: &Path) -> CheckError {
    match e {
        rustls::Error::InconsistentKeys(_) => err(Field::Key, format!("the key in {} does not match the certificate in {}", key.display(), cert.display())),
        other => err(Field::Key, format!("{} cannot be used with {}: {other}", key.display(), cert.display())),
    }
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
        check(&c.tls).map_err(|e| ScenarioError::flag(e.field.flag(), e.message))?;
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
    fn a_cert_file_holding_its_key_needs_no_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["client.test".to_string()]).unwrap().self_signed(&key).unwrap();
        let (alone, both) = (dir.path().join("c.pem"), dir.path().join("both.pem"));
        std::fs::write(&alone, cert.pem()).unwrap();
        std::fs::write(&both, cert.pem() + &key.serialize_pem()).unwrap();
        let s = TlsSettings { cert: Some(both.clone()), ..TlsSettings::default() };
        assert_eq!(client_cert_paths(&s).unwrap(), Some((both.as_path(), both.as_path())));
        check(&s).unwrap();
        let e = client_cert_paths(&TlsSettings { cert: Some(alone), ..TlsSettings::default() }).unwrap_err();
        assert_eq!(e.field, Field::Key);
        assert!(e.message.contains("needs its private key"), "{}", e.message);
    }

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
