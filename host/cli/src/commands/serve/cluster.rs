//! This server among the servers sharing its registry: how it advertises
//! itself, and how often it says it is alive.

use anyhow::Context;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime};
use wharf_server::heartbeat::{NodeIdentity, node_id};

/// Heartbeats and the URL others reach this server at. Each flag also
/// reads an environment variable.
#[derive(clap::Args)]
pub struct ClusterArgs {
    /// The admin URL this server advertises to the other servers sharing
    /// its registry (they ask it for its logs) and in `wharf nodes`
    /// [default: http://ADMIN-LISTEN-ADDRESS].
    #[arg(long, env = "WHARF_ADVERTISE_ADMIN_URL", value_name = "URL")]
    advertise_admin_url: Option<url::Url>,

    /// How often this server writes its heartbeat to the registry.
    #[arg(long, env = "WHARF_HEARTBEAT_INTERVAL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub heartbeat_interval: Duration,

    /// How long a server may miss heartbeats before it is shown as gone
    /// (and its logs are no longer asked for). Servers silent for an hour
    /// are forgotten.
    #[arg(long, env = "WHARF_NODE_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub node_timeout: Duration,
}

impl ClusterArgs {
    /// Refuses timings that would show a live server as gone.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.heartbeat_interval.is_zero() && self.heartbeat_interval < self.node_timeout,
            "--heartbeat-interval must be longer than zero and shorter than --node-timeout"
        );
        Ok(())
    }

    /// What this server says about itself: its node id (kept in
    /// `data_dir`), and the URLs of its public and admin listeners.
    pub fn identity(
        &self,
        data_dir: &Path,
        public: SocketAddr,
        admin: SocketAddr,
    ) -> anyhow::Result<NodeIdentity> {
        Ok(NodeIdentity {
            id: node_id(data_dir).context("cannot read or write this server's node id")?,
            public_url: format!("http://{public}"),
            admin_url: self.admin_url(admin),
            started_at: SystemTime::now(),
        })
    }

    /// The admin URL to advertise: `--advertise-admin-url`, else the bound
    /// address (with a warning when that is no address others can reach).
    fn admin_url(&self, bound: SocketAddr) -> String {
        if let Some(url) = &self.advertise_admin_url {
            return url.as_str().trim_end_matches('/').to_owned();
        }
        if bound.ip().is_unspecified() {
            tracing::warn!(
                "the admin API listens on {bound}, which other servers cannot reach by that \
                 address; set --advertise-admin-url so that they can ask this one for its logs"
            );
        }
        format!("http://{bound}")
    }
}
