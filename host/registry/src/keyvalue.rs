//! Apps' key-value data (`wasi:keyvalue`) and the limits on configuration.
//!
//! Every write to an app's data first updates its `kv_usage` row. That row
//! lock (the database lock, on SQLite) serializes the app's writes across
//! every server sharing the database, so an increment's read and write
//! cannot interleave with another's, and the quota check sees the true
//! total.

use crate::registry::Registry;
use crate::{AppName, RegistryError};
use sqlx::Row;

/// Longest configuration value, in bytes.
pub const MAX_CONFIG_VALUE_BYTES: usize = 64 * 1024;

/// Checks a configuration key and value against their limits.
pub(crate) fn check_config(key: &str, value: &str) -> Result<(), RegistryError> {
    check_config_key(key)?;
    if value.contains('\0') {
        return Err(RegistryError::BadConfig(
            "configuration values cannot contain NUL characters".to_owned(),
        ));
    }
    if value.len() > MAX_CONFIG_VALUE_BYTES {
        return Err(RegistryError::BadConfig(format!(
            "configuration values are at most {MAX_CONFIG_VALUE_BYTES} bytes; this one is {}",
            value.len()
        )));
    }
    Ok(())
}

/// Checks a configuration key: 1 to 128 letters, digits, `_`, `-` or `.`,
/// starting with a letter or digit (so never `.` or `..`, which would be
/// path segments in the admin API).
pub fn check_config_key(key: &str) -> Result<(), RegistryError> {
    let valid = (1..=128).contains(&key.len())
        && key.as_bytes()[0].is_ascii_alphanumeric()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(RegistryError::BadConfig(format!(
            "configuration keys are 1 to 128 letters, digits, `_`, `-` or `.`, starting with a \
             letter or digit; `{key}` is not one"
        )))
    }
}

/// Bytes an entry counts against the quota, as the database stores them.
fn entry_size(bucket: &str, key: &str, value: &[u8]) -> i64 {
    i64::try_from(wharf_store::kv_entry_bytes(bucket, key, value)).unwrap_or(i64::MAX)
}

impl Registry {
    /// The value of `key` in `app`'s `bucket`.
    pub async fn kv_get(
        &self,
        app: &str,
        bucket: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let row =
            sqlx::query("SELECT value FROM kv_entries WHERE app = $1 AND bucket = $2 AND key = $3")
                .bind(app)
                .bind(bucket)
                .bind(key)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|row| row.try_get("value")).transpose()?)
    }

    /// Up to `limit` keys of `app`'s `bucket` in order, after the first
    /// `offset`.
    pub async fn kv_list_keys(
        &self,
        app: &str,
        bucket: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<String>, RegistryError> {
        let rows = sqlx::query(
            "SELECT key FROM kv_entries WHERE app = $1 AND bucket = $2 ORDER BY key LIMIT $3 OFFSET $4",
        )
        .bind(app)
        .bind(bucket)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|row| Ok(row.try_get("key")?)).collect()
    }

    /// Sets `key` in `app`'s `bucket`, unless the app's data would then
    /// exceed `quota` bytes.
    pub async fn kv_set(
        &self,
        app: &str,
        bucket: &str,
        key: &str,
        value: &[u8],
        quota: u64,
    ) -> Result<(), RegistryError> {
        let mut tx = self.pool().begin().await?;
        let usage = lock_usage(&mut tx, app).await?;
        let old = stored_size(&mut tx, app, bucket, key).await?.unwrap_or(0);
        write_entry(&mut tx, app, bucket, key, value, usage, old, quota).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes `key` from `app`'s `bucket`, if it is there.
    pub async fn kv_delete(&self, app: &str, bucket: &str, key: &str) -> Result<(), RegistryError> {
        let mut tx = self.pool().begin().await?;
        let usage = lock_usage(&mut tx, app).await?;
        if let Some(size) = stored_size(&mut tx, app, bucket, key).await? {
            sqlx::query("DELETE FROM kv_entries WHERE app = $1 AND bucket = $2 AND key = $3")
                .bind(app)
                .bind(bucket)
                .bind(key)
                .execute(&mut *tx)
                .await?;
            set_usage(&mut tx, app, usage - size).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds `delta` to the decimal counter at `key` (missing counts as 0)
    /// and returns the new value. Atomic across servers.
    pub async fn kv_increment(
        &self,
        app: &str,
        bucket: &str,
        key: &str,
        delta: u64,
        quota: u64,
    ) -> Result<u64, RegistryError> {
        let mut tx = self.pool().begin().await?;
        let usage = lock_usage(&mut tx, app).await?;
        let (current, old) = match stored_entry(&mut tx, app, bucket, key).await? {
            Some((bytes, size)) => {
                let counter = std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|text| text.parse::<u64>().ok())
                    .ok_or_else(|| RegistryError::NotACounter(key.to_owned()))?;
                (counter, size)
            }
            None => (0, 0),
        };
        let next = current
            .checked_add(delta)
            .ok_or_else(|| RegistryError::CounterOverflow(key.to_owned()))?;
        let value = next.to_string().into_bytes();
        write_entry(&mut tx, app, bucket, key, &value, usage, old, quota).await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Bytes (keys plus values) `app` keeps.
    pub async fn kv_usage(&self, app: &AppName) -> Result<u64, RegistryError> {
        let row = sqlx::query("SELECT bytes FROM kv_usage WHERE app = $1")
            .bind(app.as_str())
            .fetch_optional(self.pool())
            .await?;
        let bytes: i64 = row
            .map(|row| row.try_get("bytes"))
            .transpose()?
            .unwrap_or(0);
        Ok(u64::try_from(bytes).unwrap_or(0))
    }
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Takes `app`'s usage row for the rest of the transaction (creating it at
/// 0), and returns its bytes. A write, so it takes the lock at once.
async fn lock_usage(tx: &mut Tx, app: &str) -> Result<i64, RegistryError> {
    let row = sqlx::query(
        "INSERT INTO kv_usage (app, bytes) VALUES ($1, 0) \
         ON CONFLICT (app) DO UPDATE SET bytes = kv_usage.bytes RETURNING bytes",
    )
    .bind(app)
    .fetch_one(&mut **tx)
    .await
    .map_err(|error| match &error {
        // The foreign key: no such app.
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            RegistryError::UnknownApp(app.to_owned())
        }
        _ => RegistryError::Database(error),
    })?;
    Ok(row.try_get("bytes")?)
}

async fn set_usage(tx: &mut Tx, app: &str, bytes: i64) -> Result<(), RegistryError> {
    sqlx::query("UPDATE kv_usage SET bytes = $2 WHERE app = $1")
        .bind(app)
        .bind(bytes)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// What an entry counts against the quota, if it exists.
async fn stored_size(
    tx: &mut Tx,
    app: &str,
    bucket: &str,
    key: &str,
) -> Result<Option<i64>, RegistryError> {
    let row =
        sqlx::query("SELECT size FROM kv_entries WHERE app = $1 AND bucket = $2 AND key = $3")
            .bind(app)
            .bind(bucket)
            .bind(key)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(match row {
        Some(row) => Some(row.try_get("size")?),
        None => None,
    })
}

/// The value of an entry and what it counts against the quota, if it
/// exists.
async fn stored_entry(
    tx: &mut Tx,
    app: &str,
    bucket: &str,
    key: &str,
) -> Result<Option<(Vec<u8>, i64)>, RegistryError> {
    let row = sqlx::query(
        "SELECT value, size FROM kv_entries WHERE app = $1 AND bucket = $2 AND key = $3",
    )
    .bind(app)
    .bind(bucket)
    .bind(key)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(match row {
        Some(row) => Some((row.try_get("value")?, row.try_get("size")?)),
        None => None,
    })
}

/// Replaces an entry that counted `old` bytes (0 if new) in an app whose
/// data counts `usage` bytes, and records the new usage. Growth past
/// `quota` is refused; shrinking is always allowed.
#[expect(
    clippy::too_many_arguments,
    reason = "an entry's address, value and accounting"
)]
async fn write_entry(
    tx: &mut Tx,
    app: &str,
    bucket: &str,
    key: &str,
    value: &[u8],
    usage: i64,
    old: i64,
    quota: u64,
) -> Result<(), RegistryError> {
    let size = entry_size(bucket, key, value);
    let new_usage = usage - old + size;
    let would_be = u64::try_from(new_usage).unwrap_or(0);
    if size > old && would_be > quota {
        return Err(RegistryError::QuotaExceeded { would_be, quota });
    }
    sqlx::query(
        "INSERT INTO kv_entries (app, bucket, key, value, size) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (app, bucket, key) DO UPDATE SET value = excluded.value, size = excluded.size",
    )
    .bind(app)
    .bind(bucket)
    .bind(key)
    .bind(value)
    .bind(size)
    .execute(&mut **tx)
    .await?;
    set_usage(tx, app, new_usage).await
}
