//! `[gateway] tls`: the embedded gateway over HTTPS, so demos and drills exercise the same TLS path a
//! production gateway has. `tls = true` makes a throwaway CA and a leaf for localhost / 127.0.0.1 /
//! ::1 at start (rcgen) and writes only the CA certificate to a new file, so clients can verify the
//! gateway the way they would a real one instead of switching verification off; the CA's key never
//! leaves memory. `tls = { cert, key }` serves given PEM files instead. ALPN offers h2 and http/1.1.

use super::GatewayError;
use crate::scenario::gateway_config::tls::{bad, certified_key_error, read_chain, read_key};
pub use crate::scenario::gateway_config::tls::{GatewayTls, ServerTlsError};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// What a TLS gateway serves with, and what its clients need to trust it.
pub struct ServerTls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// The generated CA certificate (PEM), `tls = true` only.
    pub ca_pem: Option<String>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").field("generated_ca", &self.ca_pem.is_some()).finish()
    }
}

impl From<ServerTlsError> for GatewayError {
    fn from(e: ServerTlsError) -> Self {
        GatewayError::Config { field: e.field.to_string(), message: e.message }
    }
}

/// The names the generated leaf carries: every way a local client reaches the gateway.
const LOCAL_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Builds the server side: generated material or the named files. Errors name `tls.cert`/`tls.key`.
pub fn server(tls: &GatewayTls) -> Result<Option<ServerTls>, ServerTlsError> {
    server_alpn(tls, &[b"h2", b"http/1.1"])
}

/// `server` offering other ALPN protocols (the fault proxy's API speaks only http/1.1).
pub fn server_alpn(tls: &GatewayTls, alpn: &[&[u8]]) -> Result<Option<ServerTls>, ServerTlsError> {
    let (chain, key, ca_pem) = match tls {
        GatewayTls::Generate(false) => return Ok(None),
        GatewayTls::Generate(true) => {
            let (chain, key, ca) = generate().map_err(|e| bad("tls", format!("cannot generate a certificate: {e}")))?;
            (chain, key, Some(ca))
        }
        GatewayTls::Files { cert, key } => (read_chain(cert)?, read_key(key)?, None),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("tls", e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(certified_key_error)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Some(ServerTls { acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)), ca_pem }))
}

/// A CA (its key dropped when this returns) and a leaf for the local names signed by it.
fn generate() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String), rcgen::Error> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name.push(DnType::CommonName, "skyload embedded gateway CA");
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(LOCAL_NAMES.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    leaf.distinguished_name.push(DnType::CommonName, "skyload embedded gateway");
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    Ok((vec![leaf_cert.der().clone(), ca_cert.der().clone()], key, ca_cert.pem()))
}

/// Writes the generated CA to a new file in the temporary directory (never over an existing one),
/// named after this process and the port so concurrent gateways never meet. The file goes when
/// the returned guard does (the server stopped): the CA is worth nothing after its process.
pub fn write_ca(pem: &str, port: u16) -> std::io::Result<CaFile> {
    let path = std::env::temp_dir().join(format!("skyload-ca-{}-{port}.pem", std::process::id()));
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
    let file = CaFile { path };
    f.write_all(pem.as_bytes())?;
    Ok(file)
}

/// A CA file written by [`write_ca`], removed on drop.
pub struct CaFile {
    pub path: PathBuf,
}

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    /// A stopped gateway leaves no CA file in the temporary directory, and never overwrites one.
    #[test]
    fn the_ca_file_goes_with_its_guard() {
        let port = 1 + (std::process::id() % 60_000) as u16;
        let f = write_ca("pem", port).unwrap();
        let path = f.path.clone();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "pem");
        assert!(write_ca("other", port).is_err(), "an existing file is not overwritten");
        drop(f);
        assert!(!path.exists());
    }

    #[test]
    fn generated_ca_verifies_the_leaf_for_local_names() {
        let tls = server(&GatewayTls::Generate(true)).unwrap().unwrap();
        let ca = tls.ca_pem.unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap()).unwrap();
        assert_eq!(roots.len(), 1);
        // Missing files are named by field.
        let e = server(&GatewayTls::Files { cert: "/nonexistent/c.pem".into(), key: "/nonexistent/k.pem".into() }).unwrap_err();
        assert!(e.to_string().contains("tls.cert"), "{e}");
    }
}
