//! An app's hostnames, configuration and settings.

use super::Change;
use crate::RegistryError;
use crate::model::AppSettings;
use crate::names::{AppName, Hostname};
use crate::rows::{now_millis, settings_of};
use sqlx::Row;

impl Change {
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
