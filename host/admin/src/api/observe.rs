//! The servers sharing the registry, and an app's numbers.

use super::AppStats;
use serde::{Deserialize, Serialize};

/// One server sharing the registry, as `GET /v1/nodes` lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Its node id.
    pub id: String,
    /// The wharf version it runs.
    pub version: String,
    /// Its engine tag.
    pub engine_tag: String,
    /// Where it serves apps.
    pub public_url: String,
    /// Where its admin API answers.
    pub admin_url: String,
    /// RFC 3339 time it started.
    pub started_at: String,
    /// RFC 3339 time of its last heartbeat.
    pub last_seen: String,
    /// Seconds since its last heartbeat, by the registry database's clock.
    pub seconds_since_seen: f64,
    /// `live`, or `gone` when silent past the node timeout.
    pub state: String,
    /// Requests per second over the minute before its last heartbeat.
    pub requests_per_second: f64,
    /// Instance slots in use at its last heartbeat.
    pub instances_in_use: u32,
    /// Its instance pool's size.
    pub instance_slots: u32,
    /// Whether it is the server that answered.
    pub this_server: bool,
}

/// The answer to `GET /v1/nodes`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeList {
    /// By id.
    pub nodes: Vec<NodeInfo>,
    /// How long a server may be silent before it is shown as gone.
    pub node_timeout_seconds: f64,
}

/// The answer to `GET /v1/apps/{app}/stats`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AppStatsBody {
    /// The app.
    pub app: String,
    /// Its numbers on the server that answered.
    pub stats: AppStats,
}
