//! The admin API's router: one handler per endpoint of [`endpoints`], the
//! bearer token checked in front of them all, and JSON errors for paths
//! and methods that do not exist.
//!
//! [`endpoints`]: crate::endpoints

use crate::access::{AdminToken, check};
use crate::cluster::{Cluster, ClusterConfig};
use crate::endpoints::{
    APP, APPS, AUDIT, CONFIG, CONFIG_KEY, DEPLOYMENT_DISABLED, DEPLOYMENT_LINK, DEPLOYMENT_PINNED,
    DEPLOYMENTS, Endpoint, GC, HISTORY, HOSTNAMES, LOGS, NODES, PROMOTE, ROLLBACK, SETTINGS, STATS,
    TOKEN, TOKENS,
};
use crate::error::ApiError;
use crate::handlers::{apps, audit, config, deployments, observe, releases, tokens};
use crate::state::Admin;
use crate::views::PublicUrls;
use axum::extract::{MatchedPath, Request};
use axum::middleware;
use axum::routing::{delete, get, post, put};
use http::StatusCode;
use std::sync::Arc;
use tower::ServiceExt;
use wharf_registry::Registry;
use wharf_runtime::{GuestBody, host_body};
use wharf_server::{AppRouter, Dispatch, RequestBody};
use wharf_store::BlobStore;

/// How the admin API is set up.
pub struct AdminConfig {
    /// The server's own token, which may do everything; scoped tokens
    /// are kept in the registry.
    pub token: AdminToken,
    /// How public URLs are written in answers.
    pub urls: PublicUrls,
    /// The largest upload a deploy accepts.
    pub max_deploy_bytes: u64,
    /// This server among the servers sharing its registry.
    pub cluster: ClusterConfig,
}

/// The admin API, served on its own listener ([`Dispatch`]) or called in
/// process ([`AdminApi::router`]).
pub struct AdminApi {
    router: axum::Router,
}

impl AdminApi {
    /// The admin API over these parts.
    pub fn new(
        config: AdminConfig,
        registry: Registry,
        store: Arc<BlobStore>,
        router: Arc<AppRouter>,
    ) -> Self {
        crate::metrics::describe();
        let admin = Arc::new(Admin {
            token: config.token,
            registry,
            store,
            router,
            urls: config.urls,
            max_deploy_bytes: config.max_deploy_bytes,
            cluster: Cluster::new(config.cluster),
        });
        Self {
            router: routes(admin),
        }
    }

    /// The axum router itself, for calling the API in process.
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }
}

/// Every endpoint and its handler, behind the token check.
fn routes(admin: Arc<Admin>) -> axum::Router {
    axum::Router::new()
        .route(APPS.template(), get(apps::list))
        .route(APP.template(), get(apps::show).delete(apps::delete))
        .route(DEPLOYMENTS.template(), post(crate::deploy::deploy))
        .route(
            DEPLOYMENT_DISABLED.template(),
            put(deployments::disable).delete(deployments::enable),
        )
        .route(
            DEPLOYMENT_PINNED.template(),
            put(deployments::pin).delete(deployments::unpin),
        )
        .route(DEPLOYMENT_LINK.template(), post(deployments::link))
        .route(HISTORY.template(), get(releases::history))
        .route(ROLLBACK.template(), post(releases::rollback))
        .route(PROMOTE.template(), post(releases::promote))
        .route(HOSTNAMES.template(), put(apps::set_hostnames))
        .route(
            SETTINGS.template(),
            get(apps::settings).put(apps::set_settings),
        )
        .route(CONFIG.template(), get(config::list))
        .route(
            CONFIG_KEY.template(),
            put(config::set).delete(config::unset),
        )
        .route(LOGS.template(), get(observe::logs))
        .route(STATS.template(), get(observe::stats))
        .route(NODES.template(), get(observe::nodes))
        .route(GC.template(), post(crate::gc::collect))
        .route(TOKENS.template(), get(tokens::list).post(tokens::create))
        .route(TOKEN.template(), delete(tokens::revoke))
        .route(AUDIT.template(), get(audit::list))
        .route_layer(middleware::from_fn_with_state(
            admin.clone(),
            check::authorize,
        ))
        .fallback(no_endpoint)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            admin.clone(),
            check::authenticate,
        ))
        .with_state(admin)
}

/// 404 for a path that is no endpoint.
async fn no_endpoint(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no admin endpoint at {}; endpoints live under /v1/apps, /v1/nodes, /v1/tokens, \
             /v1/audit and /v1/gc",
            request.uri().path()
        ),
    )
}

/// 405 in the JSON error shape, naming the methods the endpoint takes.
async fn method_not_allowed(path: Option<MatchedPath>) -> ApiError {
    let methods = path
        .and_then(|path| Endpoint::find(path.as_str()))
        .map(|endpoint| {
            let names: Vec<&str> = endpoint.methods().iter().map(|m| m.name).collect();
            names.join(" or ")
        })
        .unwrap_or_default();
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("use {methods} here"),
    )
}

impl Dispatch for AdminApi {
    async fn dispatch(&self, request: http::Request<RequestBody>) -> http::Response<GuestBody> {
        let request = request.map(axum::body::Body::new);
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        // Answers stream: a followed log never ends.
        response.map(host_body)
    }
}
