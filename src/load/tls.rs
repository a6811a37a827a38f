//! The TLS client configuration (rustls with the `ring` provider: it builds with a C compiler alone,
//! while `aws-lc-rs` needs cmake and takes minutes more on two cores) and the one-sentence causes of
//! handshake failures. One `ClientConfig` is shared by every connection of a run, so its session
//! cache makes replaced connections (churn) resume instead of doing a full handshake.

use crate::scenario::tls::{client_auth_error, client_cert_paths, read_certs, read_key, read_roots, CheckError, Field};
use crate::scenario::TlsSettings;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// Which application protocols are offered in ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    /// `h2` and `http/1.1`: the server picks.
    Negotiate,
    H2,
    Http1,
}

impl Alpn {
    pub fn protocols(self) -> Vec<Vec<u8>> {
        match self {
            Alpn::Negotiate => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            Alpn::H2 => vec![b"h2".to_vec()],
            Alpn::Http1 => vec![b"http/1.1".to_vec()],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{message}")]
    Settings { field: Field, message: String },
    #[error("`{0}` is not a valid TLS server name (a DNS name or an IP address)")]
    ServerName(String),
}

impl From<CheckError> for TlsError {
    fn from(e: CheckError) -> Self {
        TlsError::Settings { field: e.field, message: e.message }
    }
}

/// A client ready to connect to one server name.
#[derive(Debug, Clone)]
pub struct TlsClient {
    pub config: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
    /// The name as the user knows it, for messages.
    pub name: String,
    pub insecure: bool,
    pub alpn: Alpn,
}

impl TlsClient {
    /// `host` is the URL's host; `settings.server_name` replaces it for SNI and verification.
    pub fn new(settings: &TlsSettings, host: &str, alpn: Alpn) -> Result<TlsClient, TlsError> {
        let mut config = client_config(settings)?;
        config.alpn_protocols = alpn.protocols();
        let name = settings.server_name.clone().unwrap_or_else(|| host.to_string());
        let server_name = ServerName::try_from(name.clone()).map_err(|_| TlsError::ServerName(name.clone()))?;
        Ok(TlsClient { config: Arc::new(config), server_name, name, insecure: settings.insecure, alpn })
    }

    /// The same client offering other protocols (keeps roots and client certificate).
    pub fn with_alpn(&self, alpn: Alpn) -> TlsClient {
        let mut config = (*self.config).clone();
        config.alpn_protocols = alpn.protocols();
        TlsClient { config: Arc::new(config), alpn, ..self.clone() }
    }
}

/// The generated CA of an embedded TLS gateway, written into the Results directory: where the
/// user finds it to call the gateway themselves, next to the run it served.
pub use crate::record::results::GATEWAY_CA;

/// Writes the embedded gateway's CA to `out_dir/gateway-ca.pem` (a new file, never over one) and
/// returns the plan trusting it — unless the plan names its own trust (`--cacert`, `--insecure`).
pub fn trust_embedded(plan: &crate::scenario::Plan, ca_pem: &str, out_dir: &Path) -> std::io::Result<crate::scenario::Plan> {
    use std::io::Write;
    std::fs::create_dir_all(out_dir)?;
    let path = out_dir.join(GATEWAY_CA);
    std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?.write_all(ca_pem.as_bytes())?;
    let mut plan = plan.clone();
    let tls = &mut plan.connections.tls;
    if tls.cacert.is_none() && !tls.insecure {
        tls.cacert = Some(path);
    }
    Ok(plan)
}

/// The system's trust store, read once per process (it is a few hundred files).
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::debug!("system trust store: {e}");
            }
            let (added, ignored) = store.add_parsable_certificates(found.certs);
            tracing::debug!("system trust store: {added} roots ({ignored} unusable)");
            Arc::new(store)
        })
        .clone()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn client_config(s: &TlsSettings) -> Result<ClientConfig, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions");
    let builder = if s.insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider())))
    } else {
        let roots = match &s.cacert {
            Some(path) => Arc::new(read_roots(path)?),
            None => system_roots(),
        };
        builder.with_root_certificates(roots)
    };
    let config = match client_cert_paths(s)? {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = read_certs(cert, Field::Cert)?;
            let k = read_key(key)?;
            builder.with_client_auth_cert(chain, k).map_err(|e| client_auth_error(e, cert, key))?
        }
    };
    Ok(config)
}

/// `--insecure`: accepts any certificate, but still checks the handshake signatures so the
/// connection is a real TLS connection with a real cipher (only who is at the other end is unknown).
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Why a handshake failed, as one sentence that says what to do. `name` is the server name checked.
pub fn describe(e: &std::io::Error, name: &str) -> String {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    let Some(r) = inner else {
        return match e.kind() {
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => {
                format!("the server at {name} closed the connection during the TLS handshake (does it speak TLS on this port, and does it want a client certificate? see --cert/--key)")
            }
            _ => format!("the TLS handshake with {name} failed: {e}"),
        };
    };
    use rustls::Error as E;
    match r {
        E::InvalidCertificate(c) => certificate_refused(c, name),
        E::NoApplicationProtocol | E::AlertReceived(AlertDescription::NoApplicationProtocol) => {
            format!("protocol mismatch: the server at {name} speaks none of the protocols offered in ALPN; if you gave --http2 or --http1.1, try the other; if not, the servers behind this name disagree on the protocol (a run offers only the one its first connection agreed on)")
        }
        E::AlertReceived(AlertDescription::CertificateRequired) => format!("the server at {name} requires a client certificate; pass --cert FILE and --key FILE"),
        E::AlertReceived(a @ (AlertDescription::BadCertificate | AlertDescription::UnknownCA | AlertDescription::AccessDenied)) => {
            format!("the server at {name} refused our client certificate (alert {a:?}); check --cert/--key against the CA it trusts")
        }
        E::AlertReceived(AlertDescription::ProtocolVersion) => format!("protocol mismatch: the server at {name} speaks no TLS version we offer (TLS 1.2, 1.3)"),
        E::AlertReceived(a) => format!("the server at {name} ended the TLS handshake with alert {a:?}"),
        E::InvalidMessage(_) | E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
            format!("the server at {name} did not answer in TLS (is it plain http://?)")
        }
        other => format!("the TLS handshake with {name} failed: {other}"),
    }
}

/// Why the server's certificate was refused, and what to do. The names a certificate carries and
/// the dates it is valid between are said when rustls gives them: "expired" alone leaves the user
/// to fetch the certificate and read it.
fn certificate_refused(c: &CertificateError, name: &str) -> String {
    match c {
        CertificateError::UnknownIssuer => format!("certificate for {name} is signed by an unknown issuer; pass --cacert FILE (the CA's PEM) or, to skip verification, --insecure"),
        CertificateError::NotValidForNameContext { presented, .. } => {
            let carries = match presented.as_slice() {
                [] => "it names no host (no subjectAltName)".to_string(),
                names => format!("it is for {}", names.iter().map(|n| san_name(n)).collect::<Vec<_>>().join(", ")),
            };
            format!("certificate is not valid for the name {name} (name mismatch: {carries}); connect by a name it carries or pass --servername NAME")
        }
        CertificateError::NotValidForName => format!("certificate is not valid for the name {name} (name mismatch); connect by a name it carries or pass --servername NAME"),
        CertificateError::ExpiredContext { not_after, .. } => {
            format!("certificate for {name} has expired (valid until {}); renew it on the server or pass --insecure to test anyway", utc(not_after))
        }
        CertificateError::Expired => format!("certificate for {name} has expired; renew it on the server or pass --insecure to test anyway"),
        CertificateError::NotValidYetContext { not_before, .. } => {
            format!("certificate for {name} is not valid yet (valid from {}; check the clocks); or pass --insecure", utc(not_before))
        }
        CertificateError::NotValidYet => format!("certificate for {name} is not valid yet (check the clocks); or pass --insecure"),
        CertificateError::Revoked => format!("certificate for {name} has been revoked"),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => format!(
            "certificate for {name} is not a server certificate (its extended key usage does not allow TLS server authentication); the server must present one that does, or pass --insecure"
        ),
        CertificateError::BadSignature => format!(
            "certificate for {name} names a trusted CA as its issuer but that CA's key did not sign it (a CA made again under the same name?); \
             pass --cacert FILE with the CA that signed it, or --insecure"
        ),
        CertificateError::BadEncoding => format!("certificate for {name} is malformed (not valid DER); or pass --insecure"),
        CertificateError::Other(o) if matches!(o.0.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity)) => format!(
            "certificate for {name} is a CA certificate (basicConstraints CA:TRUE) served as the server's own, which is refused even when --cacert names it; \
             `openssl req -x509` makes such certificates unless given `-addext basicConstraints=critical,CA:FALSE`: give the server a certificate without CA:TRUE \
             (or one signed by that CA), or pass --insecure"
        ),
        other => format!("certificate for {name} was refused ({other}); pass --cacert FILE or --insecure"),
    }
}

/// A subjectAltName as webpki's Debug gives it (`DnsName("api.example")`, `IpAddress(10.0.0.1)`),
/// as the name alone.
fn san_name(presented: &str) -> String {
    let inner = |prefix: &str, suffix: &str| presented.strip_prefix(prefix).and_then(|r| r.strip_suffix(suffix));
    if let Some(ip) = inner("IpAddress(", ")") {
        // rustls writes an IPv6 address group by group (`0::1`): as people write it, `::1`.
        return ip.parse::<std::net::IpAddr>().map_or_else(|_| ip.to_string(), |a| a.to_string());
    }
    inner("DnsName(\"", "\")").unwrap_or(presented).to_string()
}

/// A certificate's date as a person reads it.
fn utc(t: &UnixTime) -> String {
    let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(d) => d.format(&time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC")).unwrap_or_else(|_| secs.to_string()),
        Err(_) => format!("unix time {secs}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_refusals_say_what_the_certificate_holds() {
        let ca = CertificateError::Other(rustls::OtherError(Arc::new(webpki::Error::CaUsedAsEndEntity)));
        let m = certificate_refused(&ca, "127.0.0.1");
        assert!(m.contains("is a CA certificate") && m.contains("--insecure") && !m.contains("OtherError"), "{m}");

        let expired = CertificateError::ExpiredContext { time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)), not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_580_515_200)) };
        let m = certificate_refused(&expired, "localhost");
        assert!(m.contains("has expired (valid until 2020-02-01 00:00:00 UTC)"), "{m}");

        let name = CertificateError::NotValidForNameContext { expected: ServerName::try_from("127.0.0.1").unwrap(), presented: vec!["DnsName(\"api.example\")".into()] };
        let m = certificate_refused(&name, "127.0.0.1");
        assert!(m.contains("(name mismatch: it is for api.example);") && m.contains("--servername"), "{m}");
        assert_eq!(san_name("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert_eq!(san_name("IpAddress(0::1)"), "::1");
        assert_eq!(san_name("DirectoryName"), "DirectoryName");
        let none = CertificateError::NotValidForNameContext { expected: ServerName::try_from("127.0.0.1").unwrap(), presented: vec![] };
        assert!(certificate_refused(&none, "x").contains("it names no host"));

        let forged = certificate_refused(&CertificateError::BadSignature, "h");
        assert!(forged.contains("that CA's key did not sign it") && forged.contains("--cacert FILE"), "{forged}");

        let purpose = certificate_refused(&CertificateError::InvalidPurpose, "h");
        assert!(purpose.contains("not a server certificate"), "{purpose}");
    }
}
