//! The servers sharing a registry: each writes its own row on every
//! heartbeat ([`Registry::heartbeat`]); whoever lists them judges which
//! are gone by how long ago they last wrote. Heartbeats are stamped, and
//! silences measured, by the database's clock, so servers whose clocks
//! disagree still agree on who is silent.

use crate::rows::{from_millis, to_millis};
use crate::{Registry, RegistryError};
use sqlx::Row;
use std::time::{Duration, SystemTime};

/// What a server says about itself on each heartbeat.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeRecord {
    /// Its id, stable across restarts of one data directory.
    pub id: String,
    /// The wharf version it runs.
    pub version: String,
    /// Its engine tag: servers with one tag share compiled code.
    pub engine_tag: String,
    /// Where it serves apps.
    pub public_url: String,
    /// Where its admin API answers, for other servers and clients.
    pub admin_url: String,
    /// When it started.
    pub started_at: SystemTime,
    /// When it last wrote this row, by the database's clock (ignored when
    /// writing).
    pub last_seen: SystemTime,
    /// How long ago that was, by the database's clock (ignored when
    /// writing).
    pub silent_for: Duration,
    /// Requests it answered per second over the last minute.
    pub requests_per_second: f64,
    /// Instance slots its requests held at the heartbeat.
    pub instances_in_use: u32,
    /// Its instance pool's size.
    pub instance_slots: u32,
}

impl Registry {
    /// Writes `node`'s row, adding it if it is new, stamped now.
    pub async fn heartbeat(&self, node: &NodeRecord) -> Result<(), RegistryError> {
        let now = self.now_ms();
        sqlx::query(&format!(
            "INSERT INTO nodes (id, version, engine_tag, public_url, admin_url, started_at, \
             last_seen, requests_per_second, instances_in_use, instance_slots) \
             VALUES ($1, $2, $3, $4, $5, $6, {now}, $7, $8, $9) \
             ON CONFLICT (id) DO UPDATE SET version = $2, engine_tag = $3, public_url = $4, \
             admin_url = $5, started_at = $6, last_seen = {now}, requests_per_second = $7, \
             instances_in_use = $8, instance_slots = $9"
        ))
        .bind(&node.id)
        .bind(&node.version)
        .bind(&node.engine_tag)
        .bind(&node.public_url)
        .bind(&node.admin_url)
        .bind(to_millis(node.started_at))
        .bind(node.requests_per_second)
        .bind(i64::from(node.instances_in_use))
        .bind(i64::from(node.instance_slots))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every server's row, by id.
    pub async fn nodes(&self) -> Result<Vec<NodeRecord>, RegistryError> {
        let rows = sqlx::query(&format!(
            "SELECT id, version, engine_tag, public_url, admin_url, started_at, last_seen, \
             {} - last_seen AS silent_ms, requests_per_second, instances_in_use, \
             instance_slots FROM nodes ORDER BY id",
            self.now_ms()
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let count = |name: &str| -> Result<u32, RegistryError> {
                    let n: i64 = row.try_get(name)?;
                    Ok(u32::try_from(n).unwrap_or(u32::MAX))
                };
                Ok(NodeRecord {
                    id: row.try_get("id")?,
                    version: row.try_get("version")?,
                    engine_tag: row.try_get("engine_tag")?,
                    public_url: row.try_get("public_url")?,
                    admin_url: row.try_get("admin_url")?,
                    started_at: from_millis(row.try_get("started_at")?),
                    last_seen: from_millis(row.try_get("last_seen")?),
                    silent_for: Duration::from_millis(
                        u64::try_from(row.try_get::<i64, _>("silent_ms")?).unwrap_or(0),
                    ),
                    requests_per_second: row.try_get("requests_per_second")?,
                    instances_in_use: count("instances_in_use")?,
                    instance_slots: count("instance_slots")?,
                })
            })
            .collect()
    }

    /// Removes `id`'s row: the server is stopping.
    pub async fn remove_node(&self, id: &str) -> Result<(), RegistryError> {
        sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Removes the rows of servers silent for longer than `silence`, and
    /// says how many.
    pub async fn forget_nodes_silent_for(&self, silence: Duration) -> Result<u64, RegistryError> {
        let silence_ms = i64::try_from(silence.as_millis()).unwrap_or(i64::MAX);
        let done = sqlx::query(&format!(
            "DELETE FROM nodes WHERE last_seen < {} - $1",
            self.now_ms()
        ))
        .bind(silence_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}
