//! One deployment: disabling and enabling it, pinning it against pruning,
//! and one-time links that open its preview in a browser.

use crate::access::{AuditNote, Caller};
use crate::api::{DeploymentInfo, PreviewLink};
use crate::error::ApiError;
use crate::extract::{AppParam, parse_digest};
use crate::state::Admin;
use crate::views::rfc3339;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use std::sync::Arc;
use std::time::SystemTime;
use wharf_registry::{AppName, Deployment};
use wharf_server::{PREVIEW_LINK_LIFETIME, PREVIEW_LINK_PATH, grant_hash};

/// `PUT /v1/apps/{app}/deployments/{digest}/disabled`: its preview answers
/// 410 and it cannot go live until enabled.
pub(crate) async fn disable(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    AppParam(app): AppParam,
    Path((_, digest)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let digest = parse_digest(&digest)?;
    let mut change = admin.registry.begin().await?;
    let deployment = change
        .disable_deployment(&app, &digest, &caller.name)
        .await?;
    change.commit().await?;
    tracing::info!(%app, %digest, "deployment disabled");
    Ok(answered(&admin, &deployment, format!("disabled {digest}")))
}

/// `DELETE /v1/apps/{app}/deployments/{digest}/disabled`: enables it again.
pub(crate) async fn enable(
    State(admin): State<Arc<Admin>>,
    AppParam(app): AppParam,
    Path((_, digest)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let digest = parse_digest(&digest)?;
    let mut change = admin.registry.begin().await?;
    let deployment = change.enable_deployment(&app, &digest).await?;
    change.commit().await?;
    tracing::info!(%app, %digest, "deployment enabled");
    Ok(answered(&admin, &deployment, format!("enabled {digest}")))
}

/// `PUT /v1/apps/{app}/deployments/{digest}/pinned`: never pruned.
pub(crate) async fn pin(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    AppParam(app): AppParam,
    Path((_, digest)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    set_pinned(&admin, &caller, &app, &digest, true).await
}

/// `DELETE /v1/apps/{app}/deployments/{digest}/pinned`: pruned again when
/// it falls beyond what its app keeps.
pub(crate) async fn unpin(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    AppParam(app): AppParam,
    Path((_, digest)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    set_pinned(&admin, &caller, &app, &digest, false).await
}

async fn set_pinned(
    admin: &Admin,
    caller: &Caller,
    app: &AppName,
    digest: &str,
    pinned: bool,
) -> Result<Response, ApiError> {
    let digest = parse_digest(digest)?;
    let mut change = admin.registry.begin().await?;
    let deployment = change
        .pin_deployment(app, &digest, pinned, &caller.name)
        .await?;
    change.commit().await?;
    let what = if pinned { "pinned" } else { "unpinned" };
    tracing::info!(%app, %digest, "deployment {what}");
    Ok(answered(admin, &deployment, format!("{what} {digest}")))
}

/// `POST /v1/apps/{app}/deployments/{digest}/link`: a one-time link to
/// the deployment's preview.
pub(crate) async fn link(
    State(admin): State<Arc<Admin>>,
    AppParam(app): AppParam,
    Path((_, digest)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let digest = parse_digest(&digest)?;
    let deployment = admin
        .registry
        .deployments(&app)
        .await?
        .into_iter()
        .find(|d| d.key.digest == digest)
        .ok_or_else(|| wharf_registry::RegistryError::UnknownDeployment {
            app: app.to_string(),
            digest: digest.to_string(),
        })?;
    let link = admin.preview_link(&app, &deployment).await?;
    let mut response = Json(link).into_response();
    response
        .extensions_mut()
        .insert(AuditNote(format!("preview link for {digest}")));
    Ok(response)
}

impl Admin {
    /// A new one-time link that opens `deployment`'s preview in a browser
    /// within [`PREVIEW_LINK_LIFETIME`].
    pub(crate) async fn preview_link(
        &self,
        app: &AppName,
        deployment: &Deployment,
    ) -> Result<PreviewLink, ApiError> {
        let secret = hex::encode(rand::random::<[u8; 32]>());
        self.registry
            .create_preview_grant(
                app,
                &deployment.key.digest,
                &grant_hash(&secret),
                PREVIEW_LINK_LIFETIME,
            )
            .await?;
        let preview_url = self.urls.preview(deployment);
        let base = preview_url.trim_end_matches('/');
        Ok(PreviewLink {
            link: format!("{base}{PREVIEW_LINK_PATH}?grant={secret}"),
            preview_url,
            expires_at: rfc3339(SystemTime::now() + PREVIEW_LINK_LIFETIME),
        })
    }
}

/// `deployment` as answered, noting `note` for the audit trail.
fn answered(admin: &Admin, deployment: &Deployment, note: String) -> Response {
    let info: DeploymentInfo = admin.urls.deployment(deployment, false);
    let mut response = Json(info).into_response();
    response.extensions_mut().insert(AuditNote(note));
    response
}
