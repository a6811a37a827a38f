//! Placeholder until the embedded gateway lands (built on the `gateway` branch).
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct GatewayConfig {
    #[serde(flatten)]
    pub raw: toml::Table,
}

/// Placeholder handle (the real gateway replaces this module).
pub struct GatewayHandle {
    pub addr: std::net::SocketAddr,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("the embedded gateway is not built yet")]
    Missing,
}

impl GatewayHandle {
    pub async fn start(_c: GatewayConfig, _l: std::net::SocketAddr) -> Result<GatewayHandle, GatewayError> {
        Err(GatewayError::Missing)
    }
    pub async fn shutdown(self) {}
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
