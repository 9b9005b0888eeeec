//! The audit trail, read back.

use crate::access::Caller;
use crate::api::{AuditEntryInfo, AuditTrail};
use crate::error::ApiError;
use crate::state::Admin;
use crate::views::rfc3339;
use axum::extract::{RawQuery, State};
use axum::{Extension, Json};
use std::sync::Arc;
use wharf_registry::{AppName, AuditQuery, Role};

/// The most entries one answer holds.
pub const MAX_AUDIT_ENTRIES: u32 = 1000;

/// `GET /v1/audit?app=&before=&limit=`: newest first. The whole trail needs
/// an admin token that covers every app; one app's needs `read` on it.
pub(crate) async fn list(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Result<Json<AuditTrail>, ApiError> {
    let query = parse(query.as_deref())?;
    match &query.app {
        Some(app) => caller.require(Role::Read, Some(app))?,
        None => caller.require(Role::Admin, None)?,
    }
    let entries = admin.registry.audit(&query).await?;
    Ok(Json(AuditTrail {
        entries: entries
            .into_iter()
            .map(|entry| AuditEntryInfo {
                id: entry.id,
                at: rfc3339(entry.at),
                actor: entry.actor,
                client: entry.client,
                action: entry.action,
                app: entry.app,
                status: entry.status,
                detail: entry.detail,
            })
            .collect(),
    }))
}

fn parse(query: Option<&str>) -> Result<AuditQuery, ApiError> {
    let mut parsed = AuditQuery {
        app: None,
        before: None,
        limit: 100,
    };
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let number = || {
            value.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("{name}=`{value}` is not a whole number"))
            })
        };
        match &*name {
            "app" => parsed.app = Some(value.parse::<AppName>()?),
            "before" => parsed.before = Some(i64::try_from(number()?).unwrap_or(i64::MAX)),
            "limit" => {
                let limit = number()?;
                if !(1..=u64::from(MAX_AUDIT_ENTRIES)).contains(&limit) {
                    return Err(ApiError::bad_request(format!(
                        "limit must be 1 to {MAX_AUDIT_ENTRIES}"
                    )));
                }
                parsed.limit = u32::try_from(limit).unwrap_or(MAX_AUDIT_ENTRIES);
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter `{other}`; this endpoint takes `app`, `before` and `limit`"
                )));
            }
        }
    }
    Ok(parsed)
}
