//! The admin API: authentication, routing and the small endpoints.

use crate::api::{
    AppList, AppSettingsBody, ConfigList, ConfigSetRequest, ErrorBody, GcRequest, History,
    HostnamesRequest, PromoteRequest, RollbackRequest,
};
use crate::error::ApiError;
use crate::gc::DEFAULT_GRACE;
use crate::token::AdminToken;
use crate::views::{self, PublicUrls};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use wharf_registry::{AppName, AppSettings, Hostname, Registry};
use wharf_runtime::GuestBody;
use wharf_server::{AppRouter, Dispatch, json_response};
use wharf_store::{BlobStore, Digest};

/// The largest JSON request body accepted.
const MAX_JSON_BODY: usize = 64 * 1024;

/// How the admin API is set up.
pub struct AdminConfig {
    /// The bearer token every request must carry.
    pub token: AdminToken,
    /// How public URLs are written in answers.
    pub urls: PublicUrls,
    /// The largest upload a deploy accepts.
    pub max_deploy_bytes: u64,
}

/// The admin API, served on its own listener.
pub struct Admin {
    pub(crate) token: AdminToken,
    pub(crate) registry: Registry,
    pub(crate) store: Arc<BlobStore>,
    pub(crate) router: Arc<AppRouter>,
    pub(crate) urls: PublicUrls,
    pub(crate) max_deploy_bytes: u64,
}

impl Admin {
    /// The admin API over these parts.
    pub fn new(
        config: AdminConfig,
        registry: Registry,
        store: Arc<BlobStore>,
        router: Arc<AppRouter>,
    ) -> Self {
        Self {
            token: config.token,
            registry,
            store,
            router,
            urls: config.urls,
            max_deploy_bytes: config.max_deploy_bytes,
        }
    }

    fn authorized<B>(&self, request: &Request<B>) -> bool {
        request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .is_some_and(|(_, presented)| self.token.verify(presented.trim()))
    }

    async fn route(&self, request: Request<Incoming>) -> Result<Response<GuestBody>, ApiError> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match segments.as_slice() {
            ["v1", "apps"] => {
                allow(&method, &[Method::GET])?;
                let apps = self.registry.apps().await?;
                let apps = apps.iter().map(|a| self.urls.app_info(a)).collect();
                ok(StatusCode::OK, &AppList { apps })
            }
            ["v1", "apps", name] => {
                let app: AppName = name.parse()?;
                allow(&method, &[Method::GET, Method::DELETE])?;
                if method == Method::DELETE {
                    let mut change = self.registry.begin().await?;
                    change.delete_app(&app).await?;
                    change.commit().await?;
                    tracing::info!(%app, "app deleted");
                    return Ok(json_response(StatusCode::NO_CONTENT, Vec::new()));
                }
                ok(
                    StatusCode::OK,
                    &self.urls.app_info(&self.registry.app(&app).await?),
                )
            }
            ["v1", "apps", name, "deployments"] => {
                let app: AppName = name.parse()?;
                allow(&method, &[Method::POST])?;
                let query = request.uri().query().map(str::to_owned);
                let declared = request
                    .headers()
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse().ok());
                let result = self
                    .deploy(app, query.as_deref(), declared, request.into_body())
                    .await?;
                ok(StatusCode::CREATED, &result)
            }
            ["v1", "apps", name, "history"] => {
                let app: AppName = name.parse()?;
                allow(&method, &[Method::GET])?;
                let live = self.registry.app(&app).await?.current.map(|d| d.id);
                let releases = self.registry.releases(&app).await?;
                let deployments = self.registry.deployments(&app).await?;
                ok(
                    StatusCode::OK,
                    &History {
                        app: app.to_string(),
                        releases: releases
                            .iter()
                            .map(|r| self.urls.release(r, live))
                            .collect(),
                        deployments: deployments
                            .iter()
                            .map(|d| self.urls.deployment(d, live == Some(d.id)))
                            .collect(),
                    },
                )
            }
            ["v1", "apps", name, "rollback"] => {
                let app: AppName = name.parse()?;
                allow(&method, &[Method::POST])?;
                let body: RollbackRequest = read_json(request.into_body()).await?;
                let to = body.to.as_deref().map(parse_digest).transpose()?;
                let mut change = self.registry.begin().await?;
                let release = change
                    .rollback(&app, to.as_ref(), self.token.name())
                    .await?;
                change.commit().await?;
                tracing::info!(%app, digest = %release.deployment.key.digest, "rolled back");
                ok(
                    StatusCode::OK,
                    &self.urls.release(&release, Some(release.deployment.id)),
                )
            }
            ["v1", "apps", name, "promote"] => {
                let app: AppName = name.parse()?;
                allow(&method, &[Method::POST])?;
                let body: PromoteRequest = read_json(request.into_body()).await?;
                let digest = parse_digest(&body.digest)?;
                let mut change = self.registry.begin().await?;
                let release = change.promote(&app, &digest, self.token.name()).await?;
                change.commit().await?;
                tracing::info!(%app, %digest, "promoted");
                ok(
                    StatusCode::OK,
                    &self.urls.release(&release, Some(release.deployment.id)),
                )
            }
            ["v1", "apps", name, "hostnames"] => {
                let app: AppName = name.parse()?;
                allow(&method, &[Method::PUT])?;
                let body: HostnamesRequest = read_json(request.into_body()).await?;
                let hostnames = self.parse_hostnames(&body.hostnames)?;
                let mut change = self.registry.begin().await?;
                change.set_hostnames(&app, &hostnames).await?;
                change.commit().await?;
                tracing::info!(%app, ?hostnames, "hostnames set");
                ok(
                    StatusCode::OK,
                    &self.urls.app_info(&self.registry.app(&app).await?),
                )
            }
            ["v1", "apps", name, "settings"] => {
                let app: AppName = name.parse()?;
                allow(&method, &[Method::GET, Method::PUT])?;
                if method == Method::PUT {
                    let body: AppSettingsBody = read_json(request.into_body()).await?;
                    for origin in &body.outbound {
                        crate::deploy::check_origin(origin)?;
                    }
                    let settings = AppSettings {
                        outbound: body.outbound,
                        kv_quota: body.kv_quota,
                    };
                    let mut change = self.registry.begin().await?;
                    change.set_settings(&app, &settings).await?;
                    change.commit().await?;
                    tracing::info!(%app, outbound = ?settings.outbound, kv_quota = ?settings.kv_quota, "settings set");
                }
                let settings = self.registry.settings(&app).await?;
                ok(
                    StatusCode::OK,
                    &AppSettingsBody {
                        outbound: settings.outbound,
                        kv_quota: settings.kv_quota,
                        kv_usage: self.registry.kv_usage(&app).await?,
                    },
                )
            }
            ["v1", "apps", name, "config"] => {
                let app: AppName = name.parse()?;
                allow(&method, &[Method::GET])?;
                self.config_list(&app).await
            }
            ["v1", "apps", name, "config", key] => {
                let app: AppName = name.parse()?;
                allow(&method, &[Method::PUT, Method::DELETE])?;
                if method == Method::DELETE {
                    let mut change = self.registry.begin().await?;
                    change.unset_config(&app, key).await?;
                    change.commit().await?;
                    tracing::info!(%app, key, "config unset");
                } else {
                    // Read the body before the change takes the registry's lock.
                    let body: ConfigSetRequest = read_json(request.into_body()).await?;
                    let mut change = self.registry.begin().await?;
                    change
                        .set_config(&app, key, &body.value, body.secret)
                        .await?;
                    change.commit().await?;
                    // The value is never logged, secret or not.
                    tracing::info!(%app, key, secret = body.secret, "config set");
                }
                self.config_list(&app).await
            }
            ["v1", "gc"] => {
                allow(&method, &[Method::POST])?;
                let body: GcRequest = read_json(request.into_body()).await?;
                let grace = body
                    .grace_seconds
                    .map_or(DEFAULT_GRACE, Duration::from_secs);
                ok(StatusCode::OK, &self.collect_garbage(grace).await?)
            }
            _ => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no admin endpoint at {path}; endpoints live under /v1/apps and /v1/gc"),
            )),
        }
    }

    /// `app`'s configuration, secrets without their values.
    async fn config_list(&self, app: &AppName) -> Result<Response<GuestBody>, ApiError> {
        let entries = self.registry.config(app).await?;
        let config = entries.into_iter().map(views::config_entry).collect();
        ok(
            StatusCode::OK,
            &ConfigList {
                app: app.to_string(),
                config,
            },
        )
    }

    /// Checks custom hostnames: valid, and not under the apps' own domain.
    fn parse_hostnames(&self, raw: &[String]) -> Result<Vec<Hostname>, ApiError> {
        let domain = &self.urls.domain;
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
}

impl Dispatch for Admin {
    async fn dispatch(&self, request: Request<Incoming>) -> Response<GuestBody> {
        if !self.authorized(&request) {
            let mut response = error(&ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing or wrong admin token: send `Authorization: Bearer <token>` \
                 (the server's WHARF_ADMIN_TOKEN, or the token file it printed at start)",
            ));
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
        match self.route(request).await {
            Ok(response) => response,
            Err(e) => error(&e),
        }
    }
}

fn allow(method: &Method, allowed: &[Method]) -> Result<(), ApiError> {
    if allowed.contains(method) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    Err(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("use {} here", names.join(" or ")),
    ))
}

fn parse_digest(text: &str) -> Result<Digest, ApiError> {
    text.parse()
        .map_err(|e: wharf_store::ParseDigestError| ApiError::bad_request(e.to_string()))
}

/// Reads a JSON body; an empty body reads as `{}`.
async fn read_json<T: DeserializeOwned>(body: Incoming) -> Result<T, ApiError> {
    let bytes = Limited::new(body, MAX_JSON_BODY)
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?
        .to_bytes();
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &bytes
    };
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("the request body is not the expected JSON: {e}"))
    })
}

fn ok<T: Serialize>(status: StatusCode, body: &T) -> Result<Response<GuestBody>, ApiError> {
    let json = serde_json::to_vec_pretty(body)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(json_response(status, json))
}

fn error(e: &ApiError) -> Response<GuestBody> {
    let body = ErrorBody {
        error: e.message.clone(),
    };
    json_response(e.status, serde_json::to_vec(&body).unwrap_or_default())
}
