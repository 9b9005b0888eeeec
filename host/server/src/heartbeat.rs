//! This server's row among the servers sharing its registry: written on
//! every heartbeat with what it is and how busy it is, removed when it
//! stops. Each heartbeat also forgets servers silent for
//! [`NODE_FORGOTTEN_AFTER`].

use crate::AppRouter;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use wharf_registry::{NodeRecord, Registry};

/// How long a server may be silent before the others forget it.
pub const NODE_FORGOTTEN_AFTER: Duration = Duration::from_secs(3600);

/// The file in the data directory that keeps this server's node id.
const NODE_ID_FILE: &str = "node-id";

/// What this server says about itself.
#[derive(Clone, Debug)]
pub struct NodeIdentity {
    /// Stable across restarts on one data directory.
    pub id: String,
    /// Where it serves apps.
    pub public_url: String,
    /// Where its admin API answers other servers and clients.
    pub admin_url: String,
    /// When it started.
    pub started_at: SystemTime,
}

/// This server's node id: kept in `DATA_DIR/node-id`, made on first start
/// from the host name and 8 random hex digits.
pub fn node_id(data_dir: &Path) -> std::io::Result<String> {
    let file = data_dir.join(NODE_ID_FILE);
    match std::fs::read_to_string(&file) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let host = hostname().unwrap_or_else(|| "wharf".to_owned());
    let id = format!("{host}-{:08x}", rand::random::<u32>());
    std::fs::write(&file, format!("{id}\n"))?;
    Ok(id)
}

/// The machine's host name, if it has a usable one.
fn hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name: String = name
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Writes this server's row every `interval` until the task is stopped.
pub fn start_heartbeat(
    registry: Registry,
    identity: NodeIdentity,
    router: &Arc<AppRouter>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    let router = Arc::downgrade(router);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(router) = router.upgrade() else {
                return;
            };
            let runtime = router.runtime();
            let record = NodeRecord {
                id: identity.id.clone(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                engine_tag: runtime.engine_tag().to_owned(),
                public_url: identity.public_url.clone(),
                admin_url: identity.admin_url.clone(),
                started_at: identity.started_at,
                // The registry stamps these with its own clock.
                last_seen: SystemTime::UNIX_EPOCH,
                silent_for: Duration::ZERO,
                requests_per_second: router.requests_per_second(),
                instances_in_use: runtime.instances_in_use(),
                instance_slots: runtime.config().max_instances,
            };
            drop(router);
            if let Err(e) = registry.heartbeat(&record).await {
                tracing::warn!("cannot write this server's heartbeat to the registry: {e}");
                continue;
            }
            match registry.forget_nodes_silent_for(NODE_FORGOTTEN_AFTER).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!("forgot {n} servers silent for over {NODE_FORGOTTEN_AFTER:?}")
                }
                Err(e) => tracing::warn!("cannot forget silent servers: {e}"),
            }
        }
    })
}
