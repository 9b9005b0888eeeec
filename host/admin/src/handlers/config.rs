//! An app's configuration: list, set and unset keys. A value is never
//! logged, and a secret's value is never answered.

use crate::access::AuditNote;
use crate::api::{ConfigList, ConfigSetRequest};
use crate::error::ApiError;
use crate::extract::{AppParam, JsonBody, KeyParam};
use crate::state::Admin;
use crate::views;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use wharf_registry::AppName;

/// `GET /v1/apps/{app}/config`.
pub(crate) async fn list(
    State(admin): State<Arc<Admin>>,
    AppParam(app): AppParam,
) -> Result<Json<ConfigList>, ApiError> {
    config_list(&admin, &app).await
}

/// `PUT /v1/apps/{app}/config/{key}`: `{"value": ..., "secret": bool}`.
pub(crate) async fn set(
    State(admin): State<Arc<Admin>>,
    AppParam(app): AppParam,
    KeyParam(key): KeyParam,
    JsonBody(body): JsonBody<ConfigSetRequest>,
) -> Result<Response, ApiError> {
    // The body is read (by the extractor) before the change takes the
    // registry's lock.
    let mut change = admin.registry.begin().await?;
    change
        .set_config(&app, &key, &body.value, body.secret)
        .await?;
    change.commit().await?;
    tracing::info!(%app, key, secret = body.secret, "config set");
    let kind = if body.secret { "secret" } else { "key" };
    noted(config_list(&admin, &app).await?, format!("{kind} `{key}`"))
}

/// `DELETE /v1/apps/{app}/config/{key}`.
pub(crate) async fn unset(
    State(admin): State<Arc<Admin>>,
    AppParam(app): AppParam,
    KeyParam(key): KeyParam,
) -> Result<Response, ApiError> {
    let mut change = admin.registry.begin().await?;
    change.unset_config(&app, &key).await?;
    change.commit().await?;
    tracing::info!(%app, key, "config unset");
    noted(config_list(&admin, &app).await?, format!("key `{key}`"))
}

/// `answer`, noting for the audit trail which key changed (never a value).
fn noted(answer: Json<ConfigList>, note: String) -> Result<Response, ApiError> {
    let mut response = answer.into_response();
    response.extensions_mut().insert(AuditNote(note));
    Ok(response)
}

/// `app`'s configuration, secrets without their values.
async fn config_list(admin: &Admin, app: &AppName) -> Result<Json<ConfigList>, ApiError> {
    let entries = admin.registry.config(app).await?;
    Ok(Json(ConfigList {
        app: app.to_string(),
        config: entries.into_iter().map(views::config_entry).collect(),
    }))
}
