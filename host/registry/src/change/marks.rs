//! What operators mark on deployments: disabled (out of reach), pinned
//! (never pruned), pruned (beyond what the app keeps).

use super::Change;
use crate::RegistryError;
use crate::model::{DEFAULT_KEEP, Deployment};
use crate::names::AppName;
use crate::rows::{DEPLOYMENT_COLUMNS, deployment_from_row, now_millis, parse_app};
use sqlx::Row;
use wharf_store::Digest;

impl Change {
    /// Disables `app`'s deployment `digest`: its preview answers 410 and it
    /// cannot go live until [enabled](Self::enable_deployment) again. The
    /// live deployment cannot be disabled.
    pub async fn disable_deployment(
        &mut self,
        app: &AppName,
        digest: &Digest,
        token_name: &str,
    ) -> Result<Deployment, RegistryError> {
        let target = self.deployment_by_digest(app, digest).await?;
        if let Some(current) = self.current(app).await?
            && current.key == target.key
        {
            return Err(RegistryError::DisablingLive {
                app: app.to_string(),
                digest: *digest,
            });
        }
        sqlx::query(
            "INSERT INTO disabled_deployments (app, digest, disabled_at, disabled_by) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (app, digest) DO NOTHING",
        )
        .bind(app.as_str())
        .bind(digest.to_string())
        .bind(now_millis())
        .bind(token_name)
        .execute(&mut *self.tx)
        .await?;
        self.deployment_by_digest(app, digest).await
    }

    /// Enables `app`'s deployment `digest` again.
    pub async fn enable_deployment(
        &mut self,
        app: &AppName,
        digest: &Digest,
    ) -> Result<Deployment, RegistryError> {
        self.deployment_by_digest(app, digest).await?;
        sqlx::query("DELETE FROM disabled_deployments WHERE app = $1 AND digest = $2")
            .bind(app.as_str())
            .bind(digest.to_string())
            .execute(&mut *self.tx)
            .await?;
        self.deployment_by_digest(app, digest).await
    }

    /// Pins or unpins `app`'s deployment `digest`: a pinned deployment is
    /// never pruned.
    pub async fn pin_deployment(
        &mut self,
        app: &AppName,
        digest: &Digest,
        pinned: bool,
        token_name: &str,
    ) -> Result<Deployment, RegistryError> {
        self.deployment_by_digest(app, digest).await?;
        let query = if pinned {
            sqlx::query(
                "INSERT INTO pinned_deployments (app, digest, pinned_at, pinned_by) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (app, digest) DO NOTHING",
            )
            .bind(app.as_str())
            .bind(digest.to_string())
            .bind(now_millis())
            .bind(token_name)
        } else {
            sqlx::query("DELETE FROM pinned_deployments WHERE app = $1 AND digest = $2")
                .bind(app.as_str())
                .bind(digest.to_string())
        };
        query.execute(&mut *self.tx).await?;
        self.deployment_by_digest(app, digest).await
    }

    /// Marks as pruned `app`'s deployments beyond its newest `keep` that
    /// are not live, disabled or pinned, and returns them. With `dry_run`,
    /// only says which it would prune.
    pub async fn prune(
        &mut self,
        app: &AppName,
        keep: u32,
        dry_run: bool,
    ) -> Result<Vec<Deployment>, RegistryError> {
        let live = self.current(app).await?.map(|d| d.id);
        let rows = sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments d WHERE d.app = $1 ORDER BY d.id DESC"
        ))
        .bind(app.as_str())
        .fetch_all(&mut *self.tx)
        .await?;
        let mut pruned = Vec::new();
        for row in rows
            .iter()
            .skip(usize::try_from(keep).unwrap_or(usize::MAX))
        {
            let deployment = deployment_from_row(row)?;
            if deployment.pruned
                || deployment.disabled
                || deployment.pinned
                || Some(deployment.id) == live
            {
                continue;
            }
            if !dry_run {
                sqlx::query(
                    "INSERT INTO pruned_deployments (deployment, app, pruned_at) \
                     VALUES ($1, $2, $3)",
                )
                .bind(deployment.id)
                .bind(app.as_str())
                .bind(now_millis())
                .execute(&mut *self.tx)
                .await?;
            }
            pruned.push(deployment);
        }
        Ok(pruned)
    }

    /// Every app's name and how many deployments it keeps.
    pub async fn retention(&mut self) -> Result<Vec<(AppName, u32)>, RegistryError> {
        let rows = sqlx::query(
            "SELECT a.name, s.keep_deployments FROM apps a \
             LEFT JOIN app_settings s ON s.app = a.name ORDER BY a.name",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|row| {
                let keep: Option<i64> = row.try_get("keep_deployments")?;
                Ok((
                    parse_app(row.try_get("name")?)?,
                    keep.map_or(DEFAULT_KEEP, |n| u32::try_from(n).unwrap_or(u32::MAX)),
                ))
            })
            .collect()
    }
}
