//! Writing to the registry: one serialized transaction per change.

use crate::RegistryError;
use crate::error::malformed;
use crate::feed::{self, LocalFeed};
use crate::model::{Action, AppSettings, DEFAULT_KEEP, Deployment, NewDeployment, Release};
use crate::names::{AppName, Hostname};
use crate::rows::{
    DEPLOYMENT_COLUMNS, deployment_from_row, from_millis, now_millis, parse_app, parse_key,
    settings_of,
};
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

    /// Points `app` at `deployment` and appends the move to its history.
    pub async fn go_live(
        &mut self,
        deployment: &Deployment,
        action: Action,
        token_name: &str,
    ) -> Result<Release, RegistryError> {
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
        refuse_if_disabled(&target)?;
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
        refuse_if_disabled(&target)?;
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

    /// Replaces the custom hostnames of `app`.
    pub async fn set_hostnames(
        &mut self,
        app: &AppName,
        hostnames: &[Hostname],
    ) -> Result<(), RegistryError> {
        self.current(app).await?;
        for hostname in hostnames {
            let owner = sqlx::query("SELECT app FROM hostnames WHERE hostname = $1")
                .bind(hostname.as_str())
                .fetch_optional(&mut *self.tx)
                .await?;
            if let Some(owner) = owner {
                let owner: String = owner.try_get("app")?;
                if owner != app.as_str() {
                    return Err(RegistryError::HostnameTaken {
                        hostname: hostname.to_string(),
                        app: owner,
                    });
                }
            }
        }
        sqlx::query("DELETE FROM hostnames WHERE app = $1")
            .bind(app.as_str())
            .execute(&mut *self.tx)
            .await?;
        for hostname in hostnames {
            sqlx::query("INSERT INTO hostnames (hostname, app) VALUES ($1, $2)")
                .bind(hostname.as_str())
                .bind(app.as_str())
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
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

    /// Sets `app`'s configuration `key` to `value`, as a secret or not.
    /// Every server serves it from the next request after the change is
    /// committed and seen.
    pub async fn set_config(
        &mut self,
        app: &AppName,
        key: &str,
        value: &str,
        secret: bool,
    ) -> Result<(), RegistryError> {
        crate::keyvalue::check_config(key, value)?;
        self.current(app).await?;
        sqlx::query(
            "INSERT INTO app_config (app, key, value, secret, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (app, key) DO UPDATE SET value = excluded.value, secret = excluded.secret, \
             updated_at = excluded.updated_at",
        )
        .bind(app.as_str())
        .bind(key)
        .bind(value)
        .bind(i64::from(secret))
        .bind(now_millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Removes `app`'s configuration `key`.
    pub async fn unset_config(&mut self, app: &AppName, key: &str) -> Result<(), RegistryError> {
        self.current(app).await?;
        let removed = sqlx::query("DELETE FROM app_config WHERE app = $1 AND key = $2")
            .bind(app.as_str())
            .bind(key)
            .execute(&mut *self.tx)
            .await?
            .rows_affected();
        if removed == 0 {
            return Err(RegistryError::UnknownConfigKey {
                app: app.to_string(),
                key: key.to_owned(),
            });
        }
        Ok(())
    }

    /// Replaces `app`'s settings.
    pub async fn set_settings(
        &mut self,
        app: &AppName,
        settings: &AppSettings,
    ) -> Result<(), RegistryError> {
        self.current(app).await?;
        let quota = settings
            .kv_quota
            .map(|quota| i64::try_from(quota).unwrap_or(i64::MAX));
        let limits = &settings.limits;
        let millis = |d: Option<std::time::Duration>| {
            d.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        };
        let bytes = |n: Option<u64>| n.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        sqlx::query(
            "INSERT INTO app_settings (app, outbound, kv_quota, preview_access, deadline_ms, \
             cpu_time_ms, memory_bytes, max_body_bytes, max_instances, keep_deployments) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (app) DO UPDATE SET \
             outbound = excluded.outbound, kv_quota = excluded.kv_quota, \
             preview_access = excluded.preview_access, deadline_ms = excluded.deadline_ms, \
             cpu_time_ms = excluded.cpu_time_ms, memory_bytes = excluded.memory_bytes, \
             max_body_bytes = excluded.max_body_bytes, max_instances = excluded.max_instances, \
             keep_deployments = excluded.keep_deployments",
        )
        .bind(app.as_str())
        .bind(settings.outbound.join("\n"))
        .bind(quota)
        .bind(settings.previews.as_str())
        .bind(millis(limits.deadline))
        .bind(millis(limits.cpu_time))
        .bind(bytes(limits.memory_bytes))
        .bind(bytes(limits.max_body_bytes))
        .bind(limits.max_instances.map(i64::from))
        .bind(settings.keep.map(i64::from))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// `app`'s settings as this change sees them.
    pub async fn settings(&mut self, app: &AppName) -> Result<AppSettings, RegistryError> {
        settings_of(&mut *self.tx, app).await
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
