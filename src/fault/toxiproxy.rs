//! A small async client for Toxiproxy's REST API, and the API's JSON shapes (`Proxy`, `Toxic`).
//!
//! One client drives either `skyload proxy` or a real Toxiproxy server, so a fault timeline written
//! for one runs against the other. The shapes are Toxiproxy 2.x's (`api.go`, `proxy.go`,
//! `toxics/toxic.go` in Shopify/toxiproxy); the server in `fault::proxy` serializes the same types,
//! so the wire format is defined once. Each call opens its own HTTP/1.1 connection: the API is
//! called a few times per drill, never on a hot path.

use super::http::{call_with, HttpError};
use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long one API call may take before the client gives up.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A proxy as the API shows it (Toxiproxy's `proxyToxics`: the proxy's fields plus its toxics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proxy {
    pub name: String,
    pub listen: String,
    pub upstream: String,
    pub enabled: bool,
    /// Upstream toxics first, then downstream, each in the order they were added.
    #[serde(default)]
    pub toxics: Vec<Toxic>,
}

/// A proxy to create (`POST /proxies`, `POST /populate`): `listen` empty means any free loopback port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewProxy {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub listen: String,
    #[serde(default)]
    pub upstream: String,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// Which way a toxic works: `upstream` is client → server, `downstream` server → client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Upstream,
    Downstream,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
        }
    }
}

/// A toxic as the API shows it (Toxiproxy's `ToxicWrapper`; field order as Go marshals it).
/// `attributes` stay JSON because each type has its own (and a real Toxiproxy may have more types).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Toxic {
    pub attributes: Value,
    /// Empty when creating means `<type>_<stream>`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub stream: Stream,
    /// Probability that the toxic applies to a given connection (decided once per connection).
    pub toxicity: f32,
}

impl Toxic {
    fn new(kind: &str, stream: Stream, attributes: Value) -> Toxic {
        Toxic { attributes, name: String::new(), kind: kind.to_string(), stream, toxicity: 1.0 }
    }
    /// Delays data by `latency_ms` ± `jitter_ms`.
    pub fn latency(stream: Stream, latency_ms: u64, jitter_ms: u64) -> Toxic {
        Toxic::new("latency", stream, json!({ "latency": latency_ms, "jitter": jitter_ms }))
    }
    /// Limits throughput to `rate_kb_s` kilobytes per second.
    pub fn bandwidth(stream: Stream, rate_kb_s: u64) -> Toxic {
        Toxic::new("bandwidth", stream, json!({ "rate": rate_kb_s }))
    }
    /// Delays the close of a connection by `delay_ms`.
    pub fn slow_close(stream: Stream, delay_ms: u64) -> Toxic {
        Toxic::new("slow_close", stream, json!({ "delay": delay_ms }))
    }
    /// Drops all data, and closes the connection after `timeout_ms` (0: never).
    pub fn timeout(stream: Stream, timeout_ms: u64) -> Toxic {
        Toxic::new("timeout", stream, json!({ "timeout": timeout_ms }))
    }
    /// Resets the connection (TCP RST) `timeout_ms` after data arrives.
    pub fn reset_peer(stream: Stream, timeout_ms: u64) -> Toxic {
        Toxic::new("reset_peer", stream, json!({ "timeout": timeout_ms }))
    }
    /// Closes the connection after `bytes` bytes have passed.
    pub fn limit_data(stream: Stream, bytes: u64) -> Toxic {
        Toxic::new("limit_data", stream, json!({ "bytes": bytes }))
    }
    /// skyload extension: answers `percentage`% of HTTP/1.1 requests with `status` itself.
    pub fn http_abort(status: u16, percentage: f64) -> Toxic {
        Toxic::new("http_abort", Stream::Upstream, json!({ "status": status, "percentage": percentage }))
    }
    /// skyload extension: holds `percentage`% of HTTP/1.1 requests for `delay_ms` before forwarding.
    pub fn http_delay(delay_ms: u64, percentage: f64) -> Toxic {
        Toxic::new("http_delay", Stream::Upstream, json!({ "delay": delay_ms, "percentage": percentage }))
    }
    pub fn named(mut self, name: &str) -> Toxic {
        self.name = name.to_string();
        self
    }
    pub fn with_toxicity(mut self, toxicity: f32) -> Toxic {
        self.toxicity = toxicity;
        self
    }
}

/// What can go wrong talking to the API. `Api` carries the server's own `{"error"}` text.
#[derive(thiserror::Error, Debug)]
pub enum ClientError {
    #[error("`{0}` is not a Toxiproxy address such as 127.0.0.1:8474 or http://127.0.0.1:8474")]
    BadEndpoint(String),
    #[error("Toxiproxy API: {0}")]
    Transport(#[from] HttpError),
    #[error("{method} {path}: {message} (HTTP {status})")]
    Api { method: Method, path: String, status: u16, message: String },
    #[error("{method} {path}: unexpected answer: {detail}")]
    Decode { method: Method, path: String, detail: String },
}

impl ClientError {
    /// The HTTP status the server answered with, for an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A Toxiproxy API endpoint (ours or a real Toxiproxy).
#[derive(Debug, Clone)]
pub struct Client {
    /// `host:port`
    authority: String,
    /// Sent with every call (`LEASE_HEADER`): toxics added or updated undo themselves on a
    /// skyload proxy unless renewed in time. Stock Toxiproxy ignores it.
    lease: Option<Duration>,
    /// `Authorization: Bearer` for a `skyload proxy --control-token` (stock Toxiproxy ignores it).
    token: Option<String>,
    /// `https://` API (`skyload proxy --tls`), verified with `tls`.
    https: bool,
    tls: Option<super::http::ControlTls>,
}

impl Client {
    /// `127.0.0.1:8474` or `http://127.0.0.1:8474` (Toxiproxy's clients accept both), or
    /// `https://...` for a `skyload proxy --tls` API.
    pub fn new(endpoint: &str) -> Result<Client, ClientError> {
        let https = endpoint.starts_with("https://");
        let authority = endpoint.strip_prefix("https://").or_else(|| endpoint.strip_prefix("http://")).unwrap_or(endpoint).trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') || !authority.contains(':') {
            return Err(ClientError::BadEndpoint(endpoint.to_string()));
        }
        Ok(Client { authority: authority.to_string(), lease: None, token: None, https, tls: None })
    }

    /// The same client, verifying an `https://` API with `tls`.
    pub fn with_tls(mut self, tls: Option<super::http::ControlTls>) -> Client {
        self.tls = tls;
        self
    }

    /// The same client, asking for a lease on what it adds or updates.
    pub fn with_lease(mut self, lease: Duration) -> Client {
        self.lease = Some(lease);
        self
    }

    /// The same client, presenting `token` (if any) on every call.
    pub fn with_token(mut self, token: Option<String>) -> Client {
        self.token = token;
        self
    }

    /// `http://host:port` (`https://` for a TLS API)
    pub fn base_url(&self) -> String {
        format!("{}://{}", if self.https { "https" } else { "http" }, self.authority)
    }

    /// `GET /version`: the server's version string.
    pub async fn version(&self) -> Result<String, ClientError> {
        let body = self.call(Method::GET, "/version", None, StatusCode::OK).await?;
        // Toxiproxy 2.x answers {"version": "..."}; 1.x answered the bare text.
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => Ok(v["version"].as_str().unwrap_or_default().to_string()),
            Err(_) => Ok(String::from_utf8_lossy(&body).trim().to_string()),
        }
    }

    /// `GET /proxies`: every proxy, keyed by name.
    pub async fn proxies(&self) -> Result<BTreeMap<String, Proxy>, ClientError> {
        self.json(Method::GET, "/proxies", None, StatusCode::OK).await
    }

    /// `GET /proxies/{name}`
    pub async fn proxy(&self, name: &str) -> Result<Proxy, ClientError> {
        self.json(Method::GET, &format!("/proxies/{name}"), None, StatusCode::OK).await
    }

    /// `POST /proxies`: creates and starts a proxy (201). `listen` "" or `127.0.0.1:0` picks a free
    /// port; the answer says which.
    pub async fn create_proxy(&self, name: &str, listen: &str, upstream: &str) -> Result<Proxy, ClientError> {
        let body = json!({ "name": name, "listen": listen, "upstream": upstream, "enabled": true });
        self.json(Method::POST, "/proxies", Some(body), StatusCode::CREATED).await
    }

    /// `POST /populate`: creates the proxies, replacing same-named ones that differ (201).
    pub async fn populate(&self, proxies: &[NewProxy]) -> Result<Vec<Proxy>, ClientError> {
        #[derive(Deserialize)]
        struct Populated {
            proxies: Vec<Proxy>,
        }
        let body = serde_json::to_value(proxies).expect("proxies serialize");
        let p: Populated = self.json(Method::POST, "/populate", Some(body), StatusCode::CREATED).await?;
        Ok(p.proxies)
    }

    /// `PATCH /proxies/{name}` with `enabled`: false closes its connections and stops listening.
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<Proxy, ClientError> {
        let path = format!("/proxies/{name}");
        self.json(Method::PATCH, &path, Some(json!({ "enabled": enabled })), StatusCode::OK).await
    }

    /// `DELETE /proxies/{name}` (204).
    pub async fn delete_proxy(&self, name: &str) -> Result<(), ClientError> {
        let path = format!("/proxies/{name}");
        self.call(Method::DELETE, &path, None, StatusCode::NO_CONTENT).await.map(drop)
    }

    /// `GET /proxies/{proxy}/toxics`
    pub async fn toxics(&self, proxy: &str) -> Result<Vec<Toxic>, ClientError> {
        self.json(Method::GET, &format!("/proxies/{proxy}/toxics"), None, StatusCode::OK).await
    }

    /// `POST /proxies/{proxy}/toxics`: adds a toxic (200) and returns it with its name.
    pub async fn add_toxic(&self, proxy: &str, toxic: &Toxic) -> Result<Toxic, ClientError> {
        let body = serde_json::to_value(toxic).expect("toxic serializes");
        self.json(Method::POST, &format!("/proxies/{proxy}/toxics"), Some(body), StatusCode::OK).await
    }

    /// `PATCH /proxies/{proxy}/toxics/{name}`: attributes given replace those of the toxic; the
    /// rest, and toxicity when `None`, are kept.
    pub async fn update_toxic(
        &self,
        proxy: &str,
        name: &str,
        toxicity: Option<f32>,
        attributes: Value,
    ) -> Result<Toxic, ClientError> {
        let mut body = json!({ "attributes": attributes });
        if let Some(t) = toxicity {
            body["toxicity"] = json!(t);
        }
        let path = format!("/proxies/{proxy}/toxics/{name}");
        self.json(Method::PATCH, &path, Some(body), StatusCode::OK).await
    }

    /// `DELETE /proxies/{proxy}/toxics/{name}` (204).
    pub async fn remove_toxic(&self, proxy: &str, name: &str) -> Result<(), ClientError> {
        let path = format!("/proxies/{proxy}/toxics/{name}");
        self.call(Method::DELETE, &path, None, StatusCode::NO_CONTENT).await.map(drop)
    }

    /// `POST /reset` (204): enables every proxy and removes every toxic.
    pub async fn reset(&self) -> Result<(), ClientError> {
        self.call(Method::POST, "/reset", None, StatusCode::NO_CONTENT).await.map(drop)
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        want: StatusCode,
    ) -> Result<T, ClientError> {
        let bytes = self.call(method.clone(), path, body, want).await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            method,
            path: path.to_string(),
            detail: format!("{e} in {}", String::from_utf8_lossy(&bytes)),
        })
    }

    /// One request on its own connection; any status other than `want` becomes an error (with the
    /// server's `{"error": ...}` text when it sent one).
    async fn call(&self, method: Method, path: &str, body: Option<Value>, want: StatusCode) -> Result<Bytes, ClientError> {
        let lease = self.lease;
        let (status, text) = call_with(&self.base_url(), method.clone(), path, body.as_ref(), self.token.as_deref(), lease, self.tls.as_ref(), CALL_TIMEOUT).await?;
        let bytes = Bytes::from(text);
        if status == want.as_u16() {
            return Ok(bytes);
        }
        let message = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).trim().to_string());
        Err(ClientError::Api { method, path: path.to_string(), status, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_with_and_without_scheme() {
        assert_eq!(Client::new("127.0.0.1:8474").unwrap().base_url(), "http://127.0.0.1:8474");
        assert_eq!(Client::new("http://localhost:8474/").unwrap().base_url(), "http://localhost:8474");
        assert!(Client::new("localhost").is_err());
        assert!(Client::new("http://h:1/api").is_err());
    }

    #[test]
    fn toxic_json_matches_toxiproxy() {
        let t = Toxic::latency(Stream::Downstream, 100, 10).named("slow");
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(
            v,
            json!({"attributes": {"latency": 100, "jitter": 10}, "name": "slow", "type": "latency", "stream": "downstream", "toxicity": 1.0})
        );
        // Unnamed toxics leave the name to the server (`<type>_<stream>`).
        assert!(serde_json::to_value(Toxic::timeout(Stream::Upstream, 0)).unwrap().get("name").is_none());
    }
}
