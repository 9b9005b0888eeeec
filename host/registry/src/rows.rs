//! Reading rows: the decoding and the reads that the registry and a change
//! in progress share.

use crate::RegistryError;
use crate::error::malformed;
use crate::model::{AppLimits, AppSettings, Deployment, PreviewAccess};
use crate::names::AppName;
use sqlx::any::AnyRow;
use sqlx::{Any, Row};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wharf_store::BlobKey;

/// The columns of a deployment row, aliased `d`.
pub(crate) const DEPLOYMENT_COLUMNS: &str = "d.id, d.app, d.digest, d.size, d.created_at, \
     d.token_name, d.message, d.imports, d.exports, d.adapted, \
     CAST(CASE WHEN EXISTS (SELECT 1 FROM disabled_deployments x \
     WHERE x.app = d.app AND x.digest = d.digest) THEN 1 ELSE 0 END AS BIGINT) AS disabled, \
     CAST(CASE WHEN EXISTS (SELECT 1 FROM pinned_deployments x \
     WHERE x.app = d.app AND x.digest = d.digest) THEN 1 ELSE 0 END AS BIGINT) AS pinned, \
     CAST(CASE WHEN EXISTS (SELECT 1 FROM pruned_deployments x \
     WHERE x.deployment = d.id) THEN 1 ELSE 0 END AS BIGINT) AS pruned";

pub(crate) fn deployment_from_row(row: &AnyRow) -> Result<Deployment, RegistryError> {
    let digest: String = row.try_get("digest")?;
    let lines = |s: String| -> Vec<String> { s.lines().map(str::to_owned).collect() };
    Ok(Deployment {
        id: row.try_get("id")?,
        app: parse_app(row.try_get("app")?)?,
        key: parse_key(&digest, row.try_get("size")?)?,
        created_at: from_millis(row.try_get("created_at")?),
        token_name: row.try_get("token_name")?,
        message: row.try_get("message")?,
        imports: lines(row.try_get("imports")?),
        exports: lines(row.try_get("exports")?),
        adapted: row.try_get::<i64, _>("adapted")? != 0,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        pinned: row.try_get::<i64, _>("pinned")? != 0,
        pruned: row.try_get::<i64, _>("pruned")? != 0,
    })
}

pub(crate) fn parse_app(name: String) -> Result<AppName, RegistryError> {
    name.parse()
        .map_err(|e: crate::NameError| malformed("app name", e))
}

pub(crate) fn parse_key(digest: &str, size: i64) -> Result<BlobKey, RegistryError> {
    let digest = digest
        .parse()
        .map_err(|e: wharf_store::ParseDigestError| malformed("digest", e))?;
    let size = u64::try_from(size).map_err(|e| malformed(format!("blob size {size}"), e))?;
    Ok(BlobKey { digest, size })
}

/// Milliseconds since the Unix epoch, as stored.
pub(crate) fn now_millis() -> i64 {
    to_millis(SystemTime::now())
}

/// `time` in milliseconds since the Unix epoch, as stored.
pub(crate) fn to_millis(time: SystemTime) -> i64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// `app`'s settings row, read through `db` (a pool or a transaction); the
/// defaults when it has none.
pub(crate) async fn settings_of<'e>(
    db: impl sqlx::Executor<'e, Database = Any>,
    app: &AppName,
) -> Result<AppSettings, RegistryError> {
    let row = sqlx::query(&format!(
        "SELECT {SETTINGS_COLUMNS} FROM app_settings WHERE app = $1"
    ))
    .bind(app.as_str())
    .fetch_optional(db)
    .await?;
    row.as_ref()
        .map_or(Ok(AppSettings::default()), settings_from_row)
}

/// The `app_settings` columns [`settings_from_row`] reads.
pub(crate) const SETTINGS_COLUMNS: &str = "outbound, kv_quota, preview_access, deadline_ms, \
     cpu_time_ms, memory_bytes, max_body_bytes, max_instances, keep_deployments";

/// Settings from an `app_settings` row.
pub(crate) fn settings_from_row(row: &AnyRow) -> Result<AppSettings, RegistryError> {
    let outbound: String = row.try_get("outbound")?;
    let quota: Option<i64> = row.try_get("kv_quota")?;
    let previews: Option<String> = row.try_get("preview_access")?;
    let previews = match previews {
        None => PreviewAccess::default(),
        Some(text) => text
            .parse()
            .map_err(|e| malformed(format!("preview access `{text}`"), e))?,
    };
    let number = |column: &str| -> Result<Option<u64>, RegistryError> {
        let value: Option<i64> = row.try_get(column)?;
        Ok(value.map(|n| u64::try_from(n).unwrap_or(0)))
    };
    let limits = AppLimits {
        deadline: number("deadline_ms")?.map(Duration::from_millis),
        cpu_time: number("cpu_time_ms")?.map(Duration::from_millis),
        memory_bytes: number("memory_bytes")?,
        max_body_bytes: number("max_body_bytes")?,
        max_instances: number("max_instances")?.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
    };
    Ok(AppSettings {
        keep: number("keep_deployments")?.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        limits,
        previews,
        outbound: outbound
            .lines()
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect(),
        kv_quota: quota.map(|quota| u64::try_from(quota).unwrap_or(0)),
    })
}
