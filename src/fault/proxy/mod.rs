//! `skyload proxy`: a TCP fault proxy placed between a gateway and its upstream, driven through
//! Toxiproxy's REST API so Toxiproxy's own clients (and skyload's `fault::toxiproxy`) work with it.
//!
//! Each proxy listens on its own port (loopback unless the server allows remote listeners) and pipes
//! bytes both ways through a chain of toxics per direction: `upstream` is client → server,
//! `downstream` server → client. Toxiproxy's toxics are here with its semantics (latency,
//! bandwidth, slow_close, timeout, reset_peer, limit_data; toxicity decided once per connection),
//! plus two skyload extensions that understand HTTP/1.1 request boundaries and so act per request,
//! like Envoy's fault filter: `http_abort` answers a share of requests with a status itself and
//! `http_delay` holds a share of requests back. A keep-alive gateway would otherwise see a
//! connection-level fault as all-or-nothing.
//!
//! Layout: `toxic` (types and attributes), `http1` (request boundaries), `link` (one proxied
//! connection), `registry` (proxies and their toxics), `api` (the REST routes), `server`.

pub(crate) mod api;
mod http1;
mod link;
mod registry;
mod server;
mod toxic;

pub use server::{serve, ProxyHandle};

use serde::Serialize;

/// Server-wide settings.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Let proxies listen on addresses other than loopback. Off by default: a proxy forwards to its
    /// upstream for anyone who can reach its port.
    pub allow_remote: bool,
    /// When set, every API call must carry `Authorization: Bearer <token>` (401 otherwise). Off by
    /// default, as in Toxiproxy, whose stock clients send no token.
    pub control_token: Option<String>,
}

/// An API error as Toxiproxy sends it (`ApiError` in `api.go`): `{"error": "...", "status": 404}`.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{error} (HTTP {status})")]
pub struct ApiError {
    pub error: String,
    pub status: u16,
}

impl ApiError {
    pub fn new(status: u16, error: impl Into<String>) -> ApiError {
        ApiError { error: error.into(), status }
    }
    /// Toxiproxy's `joinError`: `"<wrapper>: <detail>"`.
    fn join(status: u16, wrapper: &str, detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(status, format!("{wrapper}: {detail}"))
    }
    fn bad_body(detail: impl std::fmt::Display) -> ApiError {
        ApiError::join(400, "bad request body", detail)
    }
    fn missing(field: impl std::fmt::Display) -> ApiError {
        ApiError::join(400, "missing required field", field)
    }
    fn proxy_not_found() -> ApiError {
        ApiError::new(404, "proxy not found")
    }
    fn proxy_exists() -> ApiError {
        ApiError::new(409, "proxy already exists")
    }
    fn toxic_not_found() -> ApiError {
        ApiError::new(404, "toxic not found")
    }
    fn toxic_exists() -> ApiError {
        ApiError::new(409, "toxic already exists")
    }
}

/// What can stop the proxy server itself (the API listener).
#[derive(thiserror::Error, Debug)]
pub enum ProxyError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("populate: {0}")]
    Populate(ApiError),
    #[error("proxy server I/O: {0}")]
    Io(#[from] std::io::Error),
}
