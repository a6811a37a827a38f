//! Placeholder until the embedded gateway lands (built on the `gateway` branch).
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct GatewayConfig {
    #[serde(flatten)]
    pub raw: toml::Table,
}
