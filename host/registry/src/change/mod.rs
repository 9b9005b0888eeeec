//! Writing to the registry: one serialized transaction per change.
//!
//! - `mod.rs`: the change itself, recording deployments, reading inside it,
//!   the blobs it refers to, deleting an app;
//! - `releases.rs`: pointer moves (go live, roll back, promote);
//! - `marks.rs`: disabled, pinned and pruned deployments;
//! - `app_data.rs`: hostnames, configuration and settings.

mod app_data;
mod marks;
mod releases;

use crate::RegistryError;
use crate::error::malformed;
use crate::feed::{self, LocalFeed};
use crate::model::{Deployment, NewDeployment};
use crate::names::AppName;
use crate::rows::{DEPLOYMENT_COLUMNS, deployment_from_row, now_millis, parse_key};
use sqlx::{Any, Row, Transaction};
use std::collections::HashSet;
use std::sync::Arc;
use wharf_store::BlobKey;
use wharf_store::Digest;

/// One atomic change to the registry. It starts by taking the change feed's
/// counter, which serializes changes across every process sharing the
/// database; the feed position it takes is its [`seq`](Self::seq). Nothing
/// is visible to others until [`commit`](Self::commit); dropping a change
/// rolls it back.
pub struct Change {
    tx: Transaction<'static, Any>,
    seq: i64,
    feed: Arc<LocalFeed>,
}

impl Change {
    /// Starts a change in `tx` by taking the next feed position.
    pub(crate) async fn begin(
        mut tx: Transaction<'static, Any>,
        feed: Arc<LocalFeed>,
    ) -> Result<Self, RegistryError> {
        let seq = feed::advance(&mut tx).await?;
        Ok(Self { tx, seq, feed })
    }

    /// The feed position this change will have once committed.
    pub fn seq(&self) -> i64 {
        self.seq
    }

    /// Makes the change visible, and known through the feed. Returns its
    /// feed position once this process's followers serve it.
    pub async fn commit(self) -> Result<i64, RegistryError> {
        feed::commit(self.tx, self.seq, &self.feed).await?;
        Ok(self.seq)
    }

    /// Appends a deployment, creating its app if needed. It does not go
    /// live; see [`go_live`](Self::go_live).
    pub async fn record_deployment(
        &mut self,
        new: &NewDeployment,
    ) -> Result<Deployment, RegistryError> {
        let now = now_millis();
        sqlx::query(
            "INSERT INTO apps (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(new.app.as_str())
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        let size = i64::try_from(new.key.size)
            .map_err(|e| malformed(format!("blob size {}", new.key.size), e))?;
        let row = sqlx::query(
            "INSERT INTO deployments \
             (app, digest, size, created_at, token_name, message, imports, exports, adapted) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(new.app.as_str())
        .bind(new.key.digest.to_string())
        .bind(size)
        .bind(now)
        .bind(new.token_name.as_str())
        .bind(new.message.as_str())
        .bind(new.imports.join("\n"))
        .bind(new.exports.join("\n"))
        .bind(i64::from(new.adapted))
        .fetch_one(&mut *self.tx)
        .await?;
        self.deployment(row.try_get("id")?).await
    }

    async fn deployment(&mut self, id: i64) -> Result<Deployment, RegistryError> {
        let row = sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments d WHERE d.id = $1"
        ))
        .bind(id)
        .fetch_one(&mut *self.tx)
        .await?;
        deployment_from_row(&row)
    }

    /// The deployment `app` serves now, if any.
    pub async fn current(&mut self, app: &AppName) -> Result<Option<Deployment>, RegistryError> {
        let row = sqlx::query("SELECT current_deployment FROM apps WHERE name = $1")
            .bind(app.as_str())
            .fetch_optional(&mut *self.tx)
            .await?
            .ok_or_else(|| RegistryError::UnknownApp(app.to_string()))?;
        match row.try_get::<Option<i64>, _>("current_deployment")? {
            Some(id) => Ok(Some(self.deployment(id).await?)),
            None => Ok(None),
        }
    }

    /// The newest deployment of `app` with `digest`.
    pub async fn deployment_by_digest(
        &mut self,
        app: &AppName,
        digest: &Digest,
    ) -> Result<Deployment, RegistryError> {
        self.current(app).await?;
        let row = sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments d \
             WHERE d.app = $1 AND d.digest = $2 ORDER BY d.id DESC LIMIT 1"
        ))
        .bind(app.as_str())
        .bind(digest.to_string())
        .fetch_optional(&mut *self.tx)
        .await?
        .ok_or_else(|| RegistryError::UnknownDeployment {
            app: app.to_string(),
            digest: digest.to_string(),
        })?;
        deployment_from_row(&row)
    }

    /// Every blob some deployment refers to, read inside this change: while
    /// it is open no deployment can be recorded, so garbage collection can
    /// delete what this does not name.
    pub async fn referenced_blobs(&mut self) -> Result<HashSet<BlobKey>, RegistryError> {
        let rows = sqlx::query(
            "SELECT DISTINCT digest, size FROM deployments d WHERE NOT EXISTS \
             (SELECT 1 FROM pruned_deployments p WHERE p.deployment = d.id)",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|row| parse_key(&row.try_get::<String, _>("digest")?, row.try_get("size")?))
            .collect()
    }

    /// Removes `app` with its history and hostnames. Its blobs stay in the
    /// store until garbage collection finds them unreferenced.
    pub async fn delete_app(&mut self, app: &AppName) -> Result<(), RegistryError> {
        self.current(app).await?;
        for statement in [
            "UPDATE apps SET current_deployment = NULL WHERE name = $1",
            "DELETE FROM releases WHERE app = $1",
            "DELETE FROM hostnames WHERE app = $1",
            "DELETE FROM app_config WHERE app = $1",
            "DELETE FROM app_settings WHERE app = $1",
            "DELETE FROM disabled_deployments WHERE app = $1",
            "DELETE FROM pinned_deployments WHERE app = $1",
            "DELETE FROM pruned_deployments WHERE app = $1",
            "DELETE FROM preview_grants WHERE app = $1",
            // The usage row first: key-value writers take it before they
            // touch entries, so once it is gone they wait on this change
            // and then fail on the missing app instead of racing it.
            "DELETE FROM kv_usage WHERE app = $1",
            "DELETE FROM kv_entries WHERE app = $1",
            "DELETE FROM deployments WHERE app = $1",
            "DELETE FROM apps WHERE name = $1",
        ] {
            sqlx::query(statement)
                .bind(app.as_str())
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }
}
