//! One-time preview links: each opens one deployment's token-only preview
//! in a browser once, before it expires. Kept as the SHA-256 of the link's
//! secret.

use crate::{AppName, Registry, RegistryError};
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

    /// Uses the grant whose secret hashes to `secret_sha256`, if it opens
    /// `app`'s deployment whose digest's hex starts with `digits` (the
    /// preview's host), has not expired and was not used before. A grant
    /// is used once, whichever server sees it first; one presented at
    /// another preview's host stays unused.
    pub async fn use_preview_grant(
        &self,
        secret_sha256: &str,
        app: &AppName,
        digits: &str,
    ) -> Result<bool, RegistryError> {
        let now = self.now_ms();
        let done = sqlx::query(&format!(
            "UPDATE preview_grants SET used_at = {now} \
             WHERE secret_sha256 = $1 AND app = $2 AND substr(digest, 8, CAST($3 AS INTEGER)) = $4 \
             AND used_at IS NULL AND expires_at > {now}"
        ))
        .bind(secret_sha256)
        .bind(app.as_str())
        .bind(i64::try_from(digits.len()).unwrap_or(i64::MAX))
        .bind(digits)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
