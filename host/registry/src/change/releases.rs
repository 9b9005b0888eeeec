//! Pointer moves: going live, rolling back, promoting.

use super::Change;
use crate::RegistryError;
use crate::model::{Action, Deployment, Release};
use crate::names::AppName;
use crate::rows::{DEPLOYMENT_COLUMNS, deployment_from_row, from_millis, now_millis};
use sqlx::Row;
use wharf_store::Digest;

impl Change {
    /// Points `app` at `deployment` and appends the move to its history:
    /// every way to go live passes here, so a disabled or pruned
    /// deployment is refused here.
    pub async fn go_live(
        &mut self,
        deployment: &Deployment,
        action: Action,
        token_name: &str,
    ) -> Result<Release, RegistryError> {
        refuse_if_disabled(deployment)?;
        let app = deployment.app.as_str();
        let now = now_millis();
        sqlx::query("UPDATE apps SET current_deployment = $1 WHERE name = $2")
            .bind(deployment.id)
            .bind(app)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "INSERT INTO releases (seq, app, deployment, action, token_name, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(self.seq)
        .bind(app)
        .bind(deployment.id)
        .bind(action.as_str())
        .bind(token_name)
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(Release {
            seq: self.seq,
            action,
            token_name: token_name.to_owned(),
            created_at: from_millis(now),
            deployment: deployment.clone(),
        })
    }

    /// Moves `app` back: to the newest deployment of `to` if given, else to
    /// the version that was live before the live one came in.
    ///
    /// "Came in" is the deploy or promotion that first made the live
    /// deployment live (or, for one only ever rolled back to, that rollback).
    /// The target is the newest deploy or promotion before it whose bytes
    /// differ from the live ones, so previews that never went live and
    /// redeploys of the same bytes are passed over, and repeated rollbacks
    /// walk further back instead of toggling.
    pub async fn rollback(
        &mut self,
        app: &AppName,
        to: Option<&Digest>,
        token_name: &str,
    ) -> Result<Release, RegistryError> {
        let current = self.current(app).await?;
        let target = match to {
            Some(digest) => self.deployment_by_digest(app, digest).await?,
            None => {
                let nothing = || RegistryError::NothingToRollBackTo {
                    app: app.to_string(),
                };
                let live = current.as_ref().ok_or_else(nothing)?;
                let row = sqlx::query(
                    "SELECT COALESCE(\
                       (SELECT MAX(seq) FROM releases WHERE deployment = $1 AND action <> 'rollback'), \
                       (SELECT MAX(seq) FROM releases WHERE deployment = $1)) AS came_in",
                )
                .bind(live.id)
                .fetch_one(&mut *self.tx)
                .await?;
                let came_in: Option<i64> = row.try_get("came_in")?;
                let came_in = came_in.ok_or_else(nothing)?;
                let row = sqlx::query(&format!(
                    "SELECT {DEPLOYMENT_COLUMNS} FROM releases r \
                     JOIN deployments d ON d.id = r.deployment \
                     WHERE r.app = $1 AND r.seq < $2 AND r.action <> 'rollback' \
                     AND d.digest <> $3 AND NOT EXISTS (SELECT 1 FROM disabled_deployments x \
                     WHERE x.app = d.app AND x.digest = d.digest) \
                     AND NOT EXISTS (SELECT 1 FROM pruned_deployments p \
                     WHERE p.deployment = d.id) \
                     ORDER BY r.seq DESC LIMIT 1"
                ))
                .bind(app.as_str())
                .bind(came_in)
                .bind(live.key.digest.to_string())
                .fetch_optional(&mut *self.tx)
                .await?
                .ok_or_else(nothing)?;
                deployment_from_row(&row)?
            }
        };
        self.refuse_if_live(current.as_ref(), &target)?;
        self.go_live(&target, Action::Rollback, token_name).await
    }

    /// Puts a deployment (typically a preview) live.
    pub async fn promote(
        &mut self,
        app: &AppName,
        digest: &Digest,
        token_name: &str,
    ) -> Result<Release, RegistryError> {
        let current = self.current(app).await?;
        let target = self.deployment_by_digest(app, digest).await?;
        self.refuse_if_live(current.as_ref(), &target)?;
        self.go_live(&target, Action::Promote, token_name).await
    }

    fn refuse_if_live(
        &self,
        current: Option<&Deployment>,
        target: &Deployment,
    ) -> Result<(), RegistryError> {
        match current {
            Some(current) if current.key == target.key => Err(RegistryError::AlreadyLive {
                app: target.app.to_string(),
                digest: target.key.digest,
            }),
            _ => Ok(()),
        }
    }
}

/// [`RegistryError::Disabled`] when `target` is disabled, and
/// [`RegistryError::Pruned`] when it was pruned.
fn refuse_if_disabled(target: &Deployment) -> Result<(), RegistryError> {
    let (app, digest) = (target.app.to_string(), target.key.digest);
    if target.disabled {
        return Err(RegistryError::Disabled { app, digest });
    }
    if target.pruned {
        return Err(RegistryError::Pruned { app, digest });
    }
    Ok(())
}
