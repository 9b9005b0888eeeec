//! The admin API's handlers, by what they work on. Deploys are in
//! `deploy.rs` and garbage collection in `gc.rs`.

pub(crate) mod apps;
pub(crate) mod config;
pub(crate) mod releases;
