//! wharf's registry: which apps exist, every deployment of each, which one
//! each app serves, and custom hostnames.
//!
//! - [`Registry::open`] takes a database URL: a SQLite file on one machine
//!   (the default), Postgres for several. Migrations run on open.
//! - Deployments and releases (pointer moves) are append-only; only deleting
//!   a whole app removes rows.
//! - Every change is a [`Change`]: one transaction that first takes the
//!   change feed's next position (`feed.rs`). That serializes writers across
//!   processes and keeps positions in commit order. Servers follow the feed
//!   with a [`FeedFollower`]: notifications on Postgres, a poll of
//!   [`Registry::feed_position`], and an in-process signal for commits made
//!   by the same process.
//! - The servers sharing a registry write their own rows ([`NodeRecord`],
//!   `nodes.rs`) on every heartbeat, outside the change feed.
//! - Scoped admin tokens ([`TokenRecord`], `tokens.rs`) and the audit trail
//!   ([`AuditEntry`], `audit.rs`, append-only) are outside it too.

mod audit;
mod change;
mod error;
mod feed;
mod keyvalue;
mod model;
mod names;
mod nodes;
mod preview_grants;
#[cfg(test)]
mod properties;
mod registry;
mod rows;
mod tokens;

pub use audit::{AuditEntry, AuditQuery};
pub use change::Change;
pub use error::RegistryError;
pub use feed::{FeedFollower, LOCAL_APPLY_WAIT};
pub use keyvalue::{MAX_CONFIG_VALUE_BYTES, check_config_key};
pub use model::{
    Action, App, AppLimits, AppSettings, ConfigEntry, DEFAULT_KEEP, Deployment, NewDeployment,
    PreviewAccess, Release, RoutedDeployment, RoutingTable, UnknownAction, UnknownPreviewAccess,
};
pub use names::{AppName, Hostname, NameError, TokenName};
pub use nodes::NodeRecord;
pub use registry::{Database, Registry};
pub use tokens::{Role, TokenRecord, UnknownRole};
