//! `[gateway] tls` as scenario data, and the checks of its PEM files: `tls = { cert, key }` is
//! read and its key matched against the certificate while the scenario is validated, so a bad
//! file is reported before anything binds. The gateway builds its server from the same readers.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `tls = true` or `tls = { cert = "srv.pem", key = "srv.key" }` (paths relative to the working
/// directory, as `access_log`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GatewayTls {
    Generate(bool),
    Files { cert: PathBuf, key: PathBuf },
}

impl GatewayTls {
    pub fn enabled(&self) -> bool {
        !matches!(self, GatewayTls::Generate(false))
    }
}

/// A setting that cannot be served with; `field` is `tls`, `tls.cert` or `tls.key` (the proxy
/// maps them to its `--tls`, `--cert`, `--key` flags).
#[derive(Debug, thiserror::Error)]
#[error("`{field}` {message}")]
pub struct ServerTlsError {
    pub field: &'static str,
    pub message: String,
}

pub fn bad(field: &'static str, message: String) -> ServerTlsError {
    ServerTlsError { field, message }
}

/// Checks the files of `tls = { cert, key }` at validation, so a bad path fails before binding:
/// both are read and the key must belong to the certificate (what the server config demands).
pub fn check(tls: &GatewayTls) -> Result<(), ServerTlsError> {
    match tls {
        GatewayTls::Files { cert, key } => {
            let (chain, key) = (read_chain(cert)?, read_key(key)?);
            let provider = rustls::crypto::ring::default_provider();
            rustls::sign::CertifiedKey::from_der(chain, key, &provider).map(drop).map_err(certified_key_error)
        }
        GatewayTls::Generate(_) => Ok(()),
    }
}

/// The message for a certificate and key that cannot serve together.
pub fn certified_key_error(e: rustls::Error) -> ServerTlsError {
    match e {
        rustls::Error::InconsistentKeys(_) => bad("tls.key", "does not match the certificate in tls.cert".into()),
        other => bad("tls", format!("the certificate and key cannot be used: {other}")),
    }
}

pub fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServerTlsError> {
    let chain: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad("tls.cert", format!("cannot read {}: {e}", path.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("tls.cert", format!("{} is not a readable PEM file: {e}", path.display())))?;
    if chain.is_empty() {
        return Err(bad("tls.cert", format!("{} holds no certificate (expected `-----BEGIN CERTIFICATE-----` blocks)", path.display())));
    }
    Ok(chain)
}

pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ServerTlsError> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| bad("tls.key", format!("{} holds no readable private key (PEM PKCS#8, PKCS#1 or SEC1): {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_and_refuses_others() {
        #[derive(Deserialize)]
        struct T {
            tls: GatewayTls,
        }
        assert_eq!(toml::from_str::<T>("tls = true").unwrap().tls, GatewayTls::Generate(true));
        let f = toml::from_str::<T>("tls = { cert = \"a.pem\", key = \"a.key\" }").unwrap().tls;
        assert_eq!(f, GatewayTls::Files { cert: "a.pem".into(), key: "a.key".into() });
        assert!(toml::from_str::<T>("tls = { cert = \"a.pem\" }").is_err());
        assert!(toml::from_str::<T>("tls = \"yes\"").is_err());
    }

    #[test]
    fn missing_files_are_named_by_field() {
        let e = check(&GatewayTls::Files { cert: "/nonexistent/c.pem".into(), key: "/nonexistent/k.pem".into() }).unwrap_err();
        assert_eq!(e.field, "tls.cert", "{e}");
    }
}
