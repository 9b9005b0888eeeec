//! wharf's registry: which apps exist, every deployment of each, which one
//! each app serves, and custom hostnames.
//!
//! - [`Registry::open`] takes a database URL: a SQLite file on one machine
//!   (the default), Postgres for several. Migrations run on open.
//! - Deployments and releases (pointer moves) are append-only; only deleting
//!   a whole app removes rows.
//! - Every change is a [`Change`]: one transaction that first bumps the
//!   change feed's counter. That serializes writers across processes, keeps
//!   the counter in commit order, and lets servers notice changes by polling
//!   [`Registry::feed_position`]. On Postgres each commit also notifies
//!   ([`Registry::notifications`]), so other servers hear of it at once.

mod change;
mod error;
mod keyvalue;
mod model;
mod names;
mod registry;

pub use change::Change;
pub use error::RegistryError;
pub use keyvalue::{KV_ENTRY_OVERHEAD, MAX_CONFIG_VALUE_BYTES, check_config_key};
pub use model::{
    Action, App, AppSettings, ConfigEntry, Deployment, NewDeployment, Release, RoutedDeployment,
    RoutingTable,
};
pub use names::{AppName, Hostname, NameError};
pub use registry::{Backend, ChangeNotifications, Registry};
