//! Apps: list, show, delete, custom hostnames and settings.

use crate::access::Caller;
use crate::api::{AppInfo, AppList, AppSettingsBody, HostnamesRequest, SettingsUpdate};
use crate::deploy::check_origin;
use crate::error::ApiError;
use crate::extract::{AppParam, JsonBody};
use crate::state::Admin;
use axum::extract::State;
use axum::{Extension, Json};
use http::StatusCode;
use std::sync::Arc;
use wharf_registry::{AppName, AppSettings, Hostname, UnknownPreviewAccess};

/// `GET /v1/apps`: the apps the caller's token covers.
pub(crate) async fn list(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<AppList>, ApiError> {
    let apps = admin.registry.apps().await?;
    let apps = apps
        .iter()
        .filter(|app| caller.covers(&app.name))
        .map(|app| admin.app_info(app))
        .collect();
    Ok(Json(AppList { apps }))
}

/// `GET /v1/apps/{app}`.
pub(crate) async fn show(
    State(admin): State<Arc<Admin>>,
    AppParam(app): AppParam,
) -> Result<Json<AppInfo>, ApiError> {
    Ok(Json(admin.app_info(&admin.registry.app(&app).await?)))
}

/// `DELETE /v1/apps/{app}`: the app and its history; its blobs stay until
/// garbage collection.
pub(crate) async fn delete(
    State(admin): State<Arc<Admin>>,
    AppParam(app): AppParam,
) -> Result<StatusCode, ApiError> {
    let mut change = admin.registry.begin().await?;
    change.delete_app(&app).await?;
    change.commit().await?;
    tracing::info!(%app, "app deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /v1/apps/{app}/hostnames`.
pub(crate) async fn set_hostnames(
    State(admin): State<Arc<Admin>>,
    AppParam(app): AppParam,
    JsonBody(body): JsonBody<HostnamesRequest>,
) -> Result<Json<AppInfo>, ApiError> {
    let hostnames = parse_hostnames(&admin.urls.domain, &body.hostnames)?;
    let mut change = admin.registry.begin().await?;
    change.set_hostnames(&app, &hostnames).await?;
    change.commit().await?;
    tracing::info!(%app, ?hostnames, "hostnames set");
    Ok(Json(admin.urls.app_info(&admin.registry.app(&app).await?)))
}

/// `GET /v1/apps/{app}/settings`.
pub(crate) async fn settings(
    State(admin): State<Arc<Admin>>,
    AppParam(app): AppParam,
) -> Result<Json<AppSettingsBody>, ApiError> {
    settings_body(&admin, &app).await
}

/// `PUT /v1/apps/{app}/settings`: changes the fields the body names.
pub(crate) async fn set_settings(
    State(admin): State<Arc<Admin>>,
    AppParam(app): AppParam,
    JsonBody(update): JsonBody<SettingsUpdate>,
) -> Result<Json<AppSettingsBody>, ApiError> {
    for origin in update.outbound.iter().flatten() {
        check_origin(origin)?;
    }
    let mut change = admin.registry.begin().await?;
    let mut settings: AppSettings = change.settings(&app).await?;
    if let Some(outbound) = update.outbound {
        settings.outbound = outbound;
    }
    if let Some(kv_quota) = update.kv_quota {
        settings.kv_quota = kv_quota;
    }
    if let Some(previews) = &update.previews {
        settings.previews = previews
            .parse()
            .map_err(|e: UnknownPreviewAccess| ApiError::bad_request(e.to_string()))?;
    }
    change.set_settings(&app, &settings).await?;
    change.commit().await?;
    tracing::info!(
        %app,
        outbound = ?settings.outbound,
        kv_quota = ?settings.kv_quota,
        previews = %settings.previews,
        "settings set"
    );
    settings_body(&admin, &app).await
}

/// `app`'s settings with its key-value usage, as answered.
async fn settings_body(admin: &Admin, app: &AppName) -> Result<Json<AppSettingsBody>, ApiError> {
    let settings = admin.registry.settings(app).await?;
    Ok(Json(AppSettingsBody {
        outbound: settings.outbound,
        kv_quota: settings.kv_quota,
        kv_usage: admin.registry.kv_usage(app).await?,
        previews: settings.previews.to_string(),
    }))
}

/// Checks custom hostnames: valid, and not under the apps' own `domain`.
fn parse_hostnames(domain: &str, raw: &[String]) -> Result<Vec<Hostname>, ApiError> {
    let mut hostnames = Vec::with_capacity(raw.len());
    for name in raw {
        let hostname: Hostname = name.parse()?;
        let h = hostname.as_str();
        if h == domain || h.ends_with(&format!(".{domain}")) {
            return Err(ApiError::bad_request(format!(
                "`{h}` is under {domain}, where hostnames name apps and previews; \
                 custom hostnames must be outside it"
            )));
        }
        if !hostnames.contains(&hostname) {
            hostnames.push(hostname);
        }
    }
    Ok(hostnames)
}
