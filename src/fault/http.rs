//! A tiny JSON-over-HTTP/1.1 client for control APIs (the gateway's `/_control/`, Toxiproxy's
//! REST API): one connection per call, bounded by a timeout. Control calls are rare; simplicity
//! and clear errors matter more here than speed.

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("`{0}` is not an http:// URL")]
    Url(String),
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("{method} {url}: {reason}")]
    Exchange { method: Method, url: String, reason: String },
    #[error("{method} {url}: no answer within {timeout:?}")]
    Timeout { method: Method, url: String, timeout: Duration },
}

/// `http://host:port/base` → (`host:port`, `/base`).
fn split(url: &str) -> Result<(String, String), HttpError> {
    let rest = url.strip_prefix("http://").ok_or_else(|| HttpError::Url(url.to_string()))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(HttpError::Url(url.to_string()));
    }
    let authority = if authority.contains(':') && !authority.ends_with(']') { authority.to_string() } else { format!("{authority}:80") };
    Ok((authority, path.trim_end_matches('/').to_string()))
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
    call_with(base, method, path, body, token, None, timeout).await
}

/// Header asking a skyload gateway or proxy to undo the fault on its own unless renewed within
/// this many milliseconds; stock servers ignore it.
pub const LEASE_HEADER: &str = "x-skyload-lease-ms";

/// `call`, with an optional fault lease (`LEASE_HEADER`).
pub async fn call_with(
    base: &str,
    method: Method,
    path: &str,
    body: Option<&serde_json::Value>,
    token: Option<&str>,
    lease: Option<Duration>,
    timeout: Duration,
) -> Result<(u16, String), HttpError> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let work = async {
        let (authority, base_path) = split(base)?;
        let stream = tokio::net::TcpStream::connect(&authority)
            .await
            .map_err(|e| HttpError::Connect { addr: authority.clone(), reason: e.to_string() })?;
        let exchange = |reason: String| HttpError::Exchange { method: method.clone(), url: url.clone(), reason };
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| exchange(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
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
        assert_eq!(split("http://127.0.0.1:8474").unwrap(), ("127.0.0.1:8474".into(), "".into()));
        assert_eq!(split("http://gw.local/api/").unwrap(), ("gw.local:80".into(), "/api".into()));
        assert!(split("https://x").is_err());
        assert!(split("http:///x").is_err());
    }
}
