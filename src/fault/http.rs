//! A tiny JSON-over-HTTP/1.1 client for control APIs (the gateway's `/_control/`, Toxiproxy's
//! REST API): one connection per call, bounded by a timeout. Control calls are rare; simplicity
//! and clear errors matter more here than speed. `https://` control URLs are verified with the
//! trust the run was given for its target (`ControlTls`, built by whoever starts the driver), so a
//! drill against a TLS gateway needs no second set of flags.

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::time::Duration;

/// How `https://` control URLs are verified: the run's client configuration (its CA file,
/// `--insecure`, client certificate), offering only http/1.1.
#[derive(Debug, Clone)]
pub struct ControlTls {
    pub config: std::sync::Arc<rustls::ClientConfig>,
    /// `--servername`: (host, name) — calls to `host` check the certificate for `name` instead.
    pub rename: Option<(String, String)>,
}

/// Trust for `https://` control APIs (the gateway's `/_control/`, a `skyload proxy --tls` API):
/// the run's settings for its target, offering http/1.1 only (the control client speaks nothing
/// else). `--servername` applies to calls to the target's own host.
///
/// `SKYLOAD_CONTROL_CACERT=FILE` trusts that PEM bundle for control calls instead (a `skyload
/// proxy --tls` with its own CA; concatenate CAs when the gateway's is needed too).
pub fn control_tls(settings: &crate::scenario::TlsSettings, target_host: &str) -> Result<ControlTls, crate::load::tls::TlsError> {
    let own;
    let settings = match std::env::var_os("SKYLOAD_CONTROL_CACERT") {
        Some(ca) => {
            own = crate::scenario::TlsSettings { cacert: Some(ca.into()), insecure: false, ..settings.clone() };
            &own
        }
        None => settings,
    };
    let mut config = crate::load::tls::client_config(settings)?;
    config.alpn_protocols = crate::load::tls::Alpn::Http1.protocols();
    Ok(ControlTls {
        config: std::sync::Arc::new(config),
        rename: settings.server_name.clone().map(|n| (target_host.to_string(), n)),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("`{0}` is not an http:// or https:// URL")]
    Url(String),
    #[error("{0}: an https:// control URL needs the run's TLS settings (a CA file or --insecure), and none were given here")]
    NoTls(String),
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("{method} {url}: {reason}")]
    Exchange { method: Method, url: String, reason: String },
    #[error("{method} {url}: no answer within {timeout:?}")]
    Timeout { method: Method, url: String, timeout: Duration },
}

/// `http://host:port/base` → (`host:port`, `/base`, https?).
fn split(url: &str) -> Result<(String, String, bool), HttpError> {
    let (rest, https) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(r), _) => (r, false),
        (_, Some(r)) => (r, true),
        _ => return Err(HttpError::Url(url.to_string())),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(HttpError::Url(url.to_string()));
    }
    let port = if https { 443 } else { 80 };
    let authority = if authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) && !authority.ends_with(']') {
        authority.to_string()
    } else {
        format!("{authority}:{port}")
    };
    Ok((authority, path.trim_end_matches('/').to_string(), https))
}

/// The host part of `host:port` / `[::1]:port`, as a TLS server name.
fn host_of(authority: &str) -> &str {
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// An HTTP/1.1 connection over `io`, driven by its own task.
async fn handshake<I>(io: I) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, hyper::Error>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(send)
}

/// Sends `method base/path` with an optional JSON body and bearer token; returns status and body.
pub async fn call(
    base: &str,
    method: Method,
    path: &str,
    body: Option<&serde_json::Value>,
    token: Option<&str>,
    timeout: Duration,
) -> Result<(u16, String), HttpError> {
    call_with(base, method, path, body, token, None, None, timeout).await
}

/// Header asking a skyload gateway or proxy to undo the fault on its own unless renewed within
/// this many milliseconds; stock servers ignore it.
pub const LEASE_HEADER: &str = "x-skyload-lease-ms";

/// `call`, with an optional fault lease (`LEASE_HEADER`) and TLS trust for `https://` bases.
#[allow(clippy::too_many_arguments)]
pub async fn call_with(
    base: &str,
    method: Method,
    path: &str,
    body: Option<&serde_json::Value>,
    token: Option<&str>,
    lease: Option<Duration>,
    tls: Option<&ControlTls>,
    timeout: Duration,
) -> Result<(u16, String), HttpError> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let work = async {
        let (authority, base_path, https) = split(base)?;
        let stream = tokio::net::TcpStream::connect(&authority)
            .await
            .map_err(|e| HttpError::Connect { addr: authority.clone(), reason: e.to_string() })?;
        let _ = stream.set_nodelay(true);
        let exchange = |reason: String| HttpError::Exchange { method: method.clone(), url: url.clone(), reason };
        let mut send = if https {
            let t = tls.ok_or_else(|| HttpError::NoTls(url.clone()))?;
            let host = host_of(&authority);
            let name = match &t.rename {
                Some((h, n)) if h == host => n.as_str(),
                _ => host,
            };
            let server_name = rustls::pki_types::ServerName::try_from(name.to_string()).map_err(|_| exchange(format!("`{name}` is not a TLS server name")))?;
            let s = tokio_rustls::TlsConnector::from(t.config.clone())
                .connect(server_name, stream)
                .await
                .map_err(|e| HttpError::Connect { addr: authority.clone(), reason: format!("TLS handshake: {e}") })?;
            handshake(s).await
        } else {
            handshake(stream).await
        }
        .map_err(|e| exchange(e.to_string()))?;
        let bytes = body.map_or(Bytes::new(), |b| Bytes::from(b.to_string()));
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("{base_path}{path}"))
            .header(http::header::HOST, authority.as_str());
        // Always JSON, even without a body: the gateway refuses changes without it (or a token),
        // which is what keeps web pages from driving it.
        req = req.header(http::header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(l) = lease {
            req = req.header(LEASE_HEADER, l.as_millis().to_string());
        }
        let req = req.body(Full::new(bytes)).map_err(|e| exchange(e.to_string()))?;
        let resp = send.send_request(req).await.map_err(|e| exchange(e.to_string()))?;
        let status = resp.status().as_u16();
        let text = resp.into_body().collect().await.map_err(|e| exchange(e.to_string()))?.to_bytes();
        Ok((status, String::from_utf8_lossy(&text).into_owned()))
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(HttpError::Timeout { method, url, timeout }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        assert_eq!(split("http://127.0.0.1:8474").unwrap(), ("127.0.0.1:8474".into(), "".into(), false));
        assert_eq!(split("http://gw.local/api/").unwrap(), ("gw.local:80".into(), "/api".into(), false));
        assert_eq!(split("https://gw.local/api/").unwrap(), ("gw.local:443".into(), "/api".into(), true));
        assert_eq!(split("https://[::1]:8443").unwrap(), ("[::1]:8443".into(), "".into(), true));
        assert_eq!(split("https://[::1]").unwrap(), ("[::1]:443".into(), "".into(), true));
        assert_eq!(host_of("[::1]:8443"), "::1");
        assert_eq!(host_of("gw.local:443"), "gw.local");
        assert!(split("ftp://x").is_err());
        assert!(split("http:///x").is_err());
    }
}
