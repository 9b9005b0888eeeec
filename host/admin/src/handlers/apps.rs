//! Apps: list, show, delete, custom hostnames and settings.

use crate::access::Caller;
use crate::api::{AppInfo, AppList, AppSettingsBody, HostnamesRequest, LimitsBody, SettingsUpdate};
use crate::deploy::check_origin;
use crate::error::ApiError;
use crate::extract::{AppParam, JsonBody};
use crate::state::Admin;
use axum::extract::State;
use axum::{Extension, Json};
use http::StatusCode;
use std::sync::Arc;
use std::time::Duration;
use wharf_registry::{
    AppLimits, AppName, AppSettings, DEFAULT_KEEP, Hostname, UnknownPreviewAccess,
};
use wharf_runtime::RequestLimits;
use wharf_server::{instances_for_app, limits_for_app};

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
    apply_limits(&admin, &update, &mut settings.limits)?;
    if let Some(keep) = update.keep {
        if keep == Some(0) {
            return Err(ApiError::bad_request(
                "keep must be at least 1: the live deployment is always kept anyway",
            ));
        }
        settings.keep = keep;
    }
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
        limits: limits_body(&settings.limits),
        keep: settings.keep.unwrap_or(DEFAULT_KEEP),
        effective_limits: {
            let server = admin.router.runtime().config();
            let effective = limits_for_app(&RequestLimits::of(server), &settings.limits);
            LimitsBody {
                deadline_ms: Some(millis(effective.deadline)),
                cpu_time_ms: effective.cpu_time.map(millis),
                memory_bytes: Some(effective.max_memory_bytes),
                max_body_bytes: Some(effective.max_request_body_bytes),
                max_instances: Some(instances_for_app(
                    server.max_instances_per_app,
                    settings.limits.max_instances,
                )),
            }
        },
    }))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn limits_body(limits: &AppLimits) -> LimitsBody {
    LimitsBody {
        deadline_ms: limits.deadline.map(millis),
        cpu_time_ms: limits.cpu_time.map(millis),
        memory_bytes: limits.memory_bytes,
        max_body_bytes: limits.max_body_bytes,
        max_instances: limits.max_instances,
    }
}

/// Applies the limits `update` names to `limits`, each above zero and
/// within the server's own (which it says, if not).
fn apply_limits(
    admin: &Admin,
    update: &SettingsUpdate,
    limits: &mut AppLimits,
) -> Result<(), ApiError> {
    let server = admin.router.runtime().config();
    let check = |name: &str, value: u64, ceiling: u64, unit: &str, flag: &str| {
        if value == 0 {
            return Err(ApiError::bad_request(format!("{name} must be above 0")));
        }
        if value > ceiling {
            return Err(ApiError::bad_request(format!(
                "{name} {value}{unit} is above the server's {flag} ({ceiling}{unit}); an app may \
                 only lower it, so ask the operator to raise the server's"
            )));
        }
        Ok(())
    };
    let deadline = millis(server.request_deadline);
    if let Some(value) = update.deadline_ms {
        if let Some(ms) = value {
            check("deadline_ms", ms, deadline, " ms", "--deadline")?;
        }
        limits.deadline = value.map(Duration::from_millis);
    }
    if let Some(value) = update.cpu_time_ms {
        if let Some(ms) = value {
            let ceiling = server.cpu_time.map_or(deadline, millis);
            let flag = if server.cpu_time.is_some() {
                "--cpu-time"
            } else {
                "--deadline"
            };
            check("cpu_time_ms", ms, ceiling, " ms", flag)?;
        }
        limits.cpu_time = value.map(Duration::from_millis);
    }
    if let Some(value) = update.memory_bytes {
        if let Some(bytes) = value {
            check(
                "memory_bytes",
                bytes,
                server.max_memory_bytes,
                " bytes",
                "--max-memory",
            )?;
        }
        limits.memory_bytes = value;
    }
    if let Some(value) = update.max_body_bytes {
        if let Some(bytes) = value {
            check(
                "max_body_bytes",
                bytes,
                server.max_request_body_bytes,
                " bytes",
                "--max-request-body",
            )?;
        }
        limits.max_body_bytes = value;
    }
    if let Some(value) = update.max_instances {
        if let Some(n) = value {
            check(
                "max_instances",
                u64::from(n),
                u64::from(server.max_instances_per_app),
                "",
                "--max-instances-per-app",
            )?;
        }
        limits.max_instances = value;
    }
    Ok(())
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
