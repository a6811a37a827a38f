//! Placeholder until the gateway branch lands.
pub fn run(_args: &crate::cli::GatewayArgs) -> anyhow::Result<i32> {
    anyhow::bail!("the embedded gateway is not built yet")
}
