//! (being built)

pub mod validate;
