//! The audit trail: every admin action and every refused admin request,
//! append-only, newest first when read.

use crate::rows::from_millis;
use crate::{AppName, Registry, RegistryError};
use sqlx::Row;
use std::time::SystemTime;

/// One admin action, or one refused admin request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Its position in the trail (ignored when writing).
    pub id: i64,
    /// When, by the database's clock (ignored when writing).
    pub at: SystemTime,
    /// The name of the token used; empty when none was recognized.
    pub actor: String,
    /// The client's address, as the admin listener resolved it.
    pub client: String,
    /// What was asked: `deploy`, `rollback`, `create token ci`...
    pub action: String,
    /// The app it was about, if any.
    pub app: Option<String>,
    /// The HTTP status of the answer.
    pub status: u16,
    /// What came of it: the digest made live, or why it was refused.
    pub detail: String,
}

/// Which entries to read.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Only those about this app.
    pub app: Option<AppName>,
    /// Only those older than this position, to page back.
    pub before: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

impl Registry {
    /// Appends `entry` to the trail, stamped now.
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<(), RegistryError> {
        sqlx::query(&format!(
            "INSERT INTO audit (at, actor, client, action, app, status, detail) \
             VALUES ({}, $1, $2, $3, $4, $5, $6)",
            self.now_ms()
        ))
        .bind(&entry.actor)
        .bind(&entry.client)
        .bind(&entry.action)
        .bind(entry.app.as_deref())
        .bind(i32::from(entry.status))
        .bind(&entry.detail)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The entries `query` asks for, newest first.
    pub async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, RegistryError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, client, action, app, status, detail FROM audit \
             WHERE ($1 IS NULL OR app = $1) AND ($2 IS NULL OR id < $2) \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(query.app.as_ref().map(AppName::as_str))
        .bind(query.before)
        .bind(i64::from(query.limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let status: i32 = row.try_get("status")?;
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    at: from_millis(row.try_get("at")?),
                    actor: row.try_get("actor")?,
                    client: row.try_get("client")?,
                    action: row.try_get("action")?,
                    app: row.try_get("app")?,
                    status: u16::try_from(status).unwrap_or(0),
                    detail: row.try_get("detail")?,
                })
            })
            .collect()
    }
}
