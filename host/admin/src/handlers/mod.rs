//! The admin API's handlers, by what they work on (`observe.rs`: an app's
//! recent guest output and numbers). Deploys are in
//! `deploy.rs` and garbage collection in `gc.rs`.

pub(crate) mod apps;
pub(crate) mod config;
pub(crate) mod observe;
pub(crate) mod releases;
