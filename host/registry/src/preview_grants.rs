//! One-time preview links: each opens one deployment's token-only preview
//! in a browser once, before it expires. Kept as the SHA-256 of the link's
//! secret.

use crate::rows::{parse_app, parse_key};
use crate::{AppName, Registry, RegistryError};
use sqlx::Row;
use std::time::Duration;
use wharf_store::Digest;

/// How long a used or expired grant is kept before it is cleared away.
const KEPT_AFTER_EXPIRY: Duration = Duration::from_secs(24 * 3600);

impl Registry {
    /// Keeps a grant to open `app`'s deployment `digest`, valid for `ttl`,
    /// under its secret's hash (hex); clears away grants long expired.
    pub async fn create_preview_grant(
        &self,
        app: &AppName,
        digest: &Digest,
        secret_sha256: &str,
        ttl: Duration,
    ) -> Result<(), RegistryError> {
        let now = self.now_ms();
        let kept = i64::try_from(KEPT_AFTER_EXPIRY.as_millis()).unwrap_or(i64::MAX);
        sqlx::query(&format!(
            "DELETE FROM preview_grants WHERE expires_at < {now} - $1"
        ))
        .bind(kept)
        .execute(self.pool())
        .await?;
        sqlx::query(&format!(
            "INSERT INTO preview_grants (secret_sha256, app, digest, expires_at) \
             VALUES ($1, $2, $3, {now} + $4)"
        ))
        .bind(secret_sha256)
        .bind(app.as_str())
        .bind(digest.to_string())
        .bind(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Uses the grant whose secret hashes to `secret_sha256`: the app and
    /// digest it opens, if it exists, has not expired and was not used
    /// before. A grant is used once, whichever server sees it first.
    pub async fn use_preview_grant(
        &self,
        secret_sha256: &str,
    ) -> Result<Option<(AppName, Digest)>, RegistryError> {
        let now = self.now_ms();
        let row = sqlx::query(&format!(
            "UPDATE preview_grants SET used_at = {now} \
             WHERE secret_sha256 = $1 AND used_at IS NULL AND expires_at > {now} \
             RETURNING app, digest"
        ))
        .bind(secret_sha256)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let app = parse_app(row.try_get("app")?)?;
        let digest = parse_key(&row.try_get::<String, _>("digest")?, 0)?.digest;
        Ok(Some((app, digest)))
    }
}
