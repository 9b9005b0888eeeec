//! The admin API's handlers, by what they work on (`observe.rs`: an app's
//! recent guest output and numbers; `tokens.rs`: scoped tokens;
//! `audit.rs`: the audit trail). Deploys are in `deploy.rs` and garbage
//! collection in `gc.rs`.

pub(crate) mod apps;
pub(crate) mod audit;
pub(crate) mod config;
pub(crate) mod deployments;
pub(crate) mod observe;
pub(crate) mod releases;
pub(crate) mod tokens;
