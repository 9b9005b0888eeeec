//! Releases: an app's history, and the pointer moves of rollback and
//! promote.

use crate::access::{AuditNote, Caller};
use crate::api::{History, PromoteRequest, RollbackRequest};
use crate::error::ApiError;
use crate::extract::{AppParam, JsonBody, parse_digest};
use crate::state::Admin;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use std::sync::Arc;
use wharf_registry::Release;

/// `GET /v1/apps/{app}/history`: releases and deployments, newest first.
pub(crate) async fn history(
    State(admin): State<Arc<Admin>>,
    AppParam(app): AppParam,
) -> Result<Json<History>, ApiError> {
    let live = admin.registry.app(&app).await?.current.map(|d| d.id);
    let releases = admin.registry.releases(&app).await?;
    let deployments = admin.registry.deployments(&app).await?;
    Ok(Json(History {
        app: app.to_string(),
        releases: releases
            .iter()
            .map(|r| admin.urls.release(r, live))
            .collect(),
        deployments: deployments
            .iter()
            .map(|d| admin.urls.deployment(d, live == Some(d.id)))
            .collect(),
    }))
}

/// `POST /v1/apps/{app}/rollback`: `{"to": digest?}`.
pub(crate) async fn rollback(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    AppParam(app): AppParam,
    JsonBody(body): JsonBody<RollbackRequest>,
) -> Result<Response, ApiError> {
    let to = body.to.as_deref().map(parse_digest).transpose()?;
    let mut change = admin.registry.begin().await?;
    let release = change.rollback(&app, to.as_ref(), &caller.name).await?;
    change.commit().await?;
    tracing::info!(%app, digest = %release.deployment.key.digest, "rolled back");
    Ok(live_now(&admin, &release))
}

/// `POST /v1/apps/{app}/promote`: `{"digest": ...}`.
pub(crate) async fn promote(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    AppParam(app): AppParam,
    JsonBody(body): JsonBody<PromoteRequest>,
) -> Result<Response, ApiError> {
    let digest = parse_digest(&body.digest)?;
    let mut change = admin.registry.begin().await?;
    let release = change.promote(&app, &digest, &caller.name).await?;
    change.commit().await?;
    tracing::info!(%app, %digest, "promoted");
    Ok(live_now(&admin, &release))
}

/// The answer to a pointer move, noting for the audit trail what went live.
fn live_now(admin: &Admin, release: &Release) -> Response {
    let note = AuditNote(format!("live: {}", release.deployment.key.digest));
    let mut response =
        Json(admin.urls.release(release, Some(release.deployment.id))).into_response();
    response.extensions_mut().insert(note);
    response
}
