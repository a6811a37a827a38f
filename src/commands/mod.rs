//! (being built)
pub mod gateway;
