//! The servers sharing a registry: each writes its own row on every
//! heartbeat ([`Registry::heartbeat`]); whoever lists them judges which
//! are gone by how long ago they last wrote.

use crate::{Registry, RegistryError};
use sqlx::Row;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// When it last wrote this row.
    pub last_seen: SystemTime,
    /// Requests it answered per second over the last minute.
    pub requests_per_second: f64,
    /// Instance slots its requests held at the heartbeat.
    pub instances_in_use: u32,
    /// Its instance pool's size.
    pub instance_slots: u32,
}

fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    })
}

fn time_of(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

impl Registry {
    /// Writes `node`'s row, adding it if it is new.
    pub async fn heartbeat(&self, node: &NodeRecord) -> Result<(), RegistryError> {
        sqlx::query(
            "INSERT INTO nodes (id, version, engine_tag, public_url, admin_url, started_at, \
             last_seen, requests_per_second, instances_in_use, instance_slots) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (id) DO UPDATE SET version = $2, engine_tag = $3, public_url = $4, \
             admin_url = $5, started_at = $6, last_seen = $7, requests_per_second = $8, \
             instances_in_use = $9, instance_slots = $10",
        )
        .bind(&node.id)
        .bind(&node.version)
        .bind(&node.engine_tag)
        .bind(&node.public_url)
        .bind(&node.admin_url)
        .bind(millis(node.started_at))
        .bind(millis(node.last_seen))
        .bind(node.requests_per_second)
        .bind(i64::from(node.instances_in_use))
        .bind(i64::from(node.instance_slots))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every server's row, by id.
    pub async fn nodes(&self) -> Result<Vec<NodeRecord>, RegistryError> {
        let rows = sqlx::query(
            "SELECT id, version, engine_tag, public_url, admin_url, started_at, last_seen, \
             requests_per_second, instances_in_use, instance_slots FROM nodes ORDER BY id",
        )
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
                    started_at: time_of(row.try_get("started_at")?),
                    last_seen: time_of(row.try_get("last_seen")?),
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

    /// Removes the rows of servers silent since before `before`, and says
    /// how many.
    pub async fn forget_nodes_silent_since(
        &self,
        before: SystemTime,
    ) -> Result<u64, RegistryError> {
        let done = sqlx::query("DELETE FROM nodes WHERE last_seen < $1")
            .bind(millis(before))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
