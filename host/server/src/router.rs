//! Serving many apps: the Host header picks the app, the registry says which
//! deployment it serves, and the component cache has it compiled.

use crate::Dispatch;
use crate::app_data::RegistryKeyValue;
use crate::components::{ComponentCache, FetchError};
use crate::dispatch::{answer_request, serve_component};
use crate::error_response::text_response;
use crate::lasting_apps::LastingApps;
use crate::listener::RequestBody;
use crate::observe::metrics::{
    CACHE_BYTES, CACHE_ENTRIES, FEED_POSITION, INSTANCE_SLOTS, INSTANCES_IN_USE, READY, Refusal,
    SINCE_REGISTRY_CHECKED,
};
use crate::observe::{AppTelemetry, Health, Metrics, ServedBy};
use crate::previews::{
    PREVIEW_LINK_PATH, PREVIEW_TOKEN_HEADER, PreviewKeys, Refused, grant_hash,
    strip_preview_credentials,
};
use crate::routes::{AppDefaults, PREVIEW_SEPARATOR, Route, Routes, Target};
use arc_swap::ArcSwap;
use http::{HeaderValue, Request, Response, StatusCode, header};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wharf_registry::{AppName, PreviewAccess, Registry, RegistryError};
use wharf_runtime::authority::request_host;
use wharf_runtime::trace_context::{in_span, load_span, record_deployment};
use wharf_runtime::{GuestBody, KeyValueLimits, RequestId, RequestLimits, Runtime};
use wharf_store::StoreError;

/// How the router is set up.
#[derive(Clone, Debug)]
pub struct RouterConfig {
    /// Apps answer at `<app>.<domain>`.
    pub domain: String,
    /// The app for a Host that matches nothing else.
    pub default_app: Option<AppName>,
    /// Size limits and the quota on each app's key-value data.
    pub keyvalue_limits: KeyValueLimits,
    /// What opens previews of apps whose previews need a token.
    pub previews: PreviewKeys,
}

/// The dispatch of `wharf serve`.
pub struct AppRouter {
    runtime: Arc<Runtime>,
    registry: Registry,
    components: ComponentCache,
    config: RouterConfig,
    /// Read lock-free by every request, replaced whole on a reload.
    routes: ArcSwap<Routes>,
    /// Reloads take turns, so a slower one cannot replace a newer table.
    reloading: Mutex<()>,
    /// What every app's context starts from when the routes are rebuilt.
    defaults: AppDefaults,
    health: Arc<Health>,
}

/// Why a request found no component to run.
enum Unroutable {
    NoRoute(String),
    BadName(String),
    UnknownApp(AppName),
    NotLive(AppName),
    UnknownPreview(AppName, String),
    PreviewsOff(AppName),
    Disabled(AppName, String),
    PreviewRefused(AppName, Refused),
    Fetch(String, Arc<FetchError>),
}

/// What a resolved route still needs before it serves.
enum Gate {
    /// Nothing: a live deployment.
    Open,
    /// Nothing but losing wharf's preview credentials: a public preview.
    PublicPreview,
    /// A token or a preview cookie for `label` (`app--hex`).
    PreviewToken { app: AppName, label: String },
}

impl AppRouter {
    /// A router over `registry`, with its routes loaded.
    pub async fn new(
        runtime: Arc<Runtime>,
        components: ComponentCache,
        registry: Registry,
        config: RouterConfig,
        health: Arc<Health>,
    ) -> Result<Self, RegistryError> {
        let defaults = AppDefaults {
            outbound: runtime.config().outbound.clone(),
            keyvalue: Arc::new(RegistryKeyValue(registry.clone())),
            keyvalue_limits: config.keyvalue_limits,
            lasting: Arc::new(LastingApps::new(runtime.config().max_instances_per_app)),
            request_limits: RequestLimits::of(runtime.config()),
            max_instances_per_app: runtime.config().max_instances_per_app,
        };
        let routes = Routes::new(registry.routing_table().await?, &defaults);
        Ok(Self {
            runtime,
            registry,
            components,
            config,
            routes: ArcSwap::from_pointee(routes),
            reloading: Mutex::new(()),
            defaults,
            health,
        })
    }

    /// The compiled-component cache.
    pub fn components(&self) -> &ComponentCache {
        &self.components
    }

    /// The router's configuration.
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// The server's health.
    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// The runtime requests run on.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Requests this server answered per second over the last minute.
    pub fn requests_per_second(&self) -> f64 {
        self.defaults.lasting.requests_per_second()
    }

    /// `app`'s telemetry on this server, if the app exists.
    pub fn telemetry(&self, app: &AppName) -> Option<Arc<AppTelemetry>> {
        self.defaults.lasting.telemetry(app)
    }

    /// Sets the gauges of the state the router sees (instance slots, the
    /// component cache, the registry feed, readiness) at each scrape of
    /// `metrics`.
    pub fn report_at_scrape(self: &Arc<Self>, metrics: &Metrics) {
        let router = Arc::downgrade(self);
        metrics.at_scrape(move || {
            let Some(router) = router.upgrade() else {
                return;
            };
            let runtime = &router.runtime;
            metrics::gauge!(INSTANCES_IN_USE).set(runtime.instances_in_use());
            metrics::gauge!(INSTANCE_SLOTS).set(runtime.config().max_instances);
            let (entries, bytes) = router.components.usage();
            metrics::gauge!(CACHE_ENTRIES).set(entries as f64);
            metrics::gauge!(CACHE_BYTES).set(bytes as f64);
            metrics::gauge!(FEED_POSITION).set(router.routes.load().seq as f64);
            if let Some(since) = router.health.since_registry_checked() {
                metrics::gauge!(SINCE_REGISTRY_CHECKED).set(since.as_secs_f64());
            }
            metrics::gauge!(READY).set(if router.health.ready().is_ok() {
                1.0
            } else {
                0.0
            });
        });
    }

    /// Reloads the routes if the registry's change feed has moved past them.
    /// Returns the feed position the routes in use are at.
    async fn refresh(&self) -> Result<i64, RegistryError> {
        let seen = self.routes.load().seq;
        if self.registry.feed_position().await? == seen {
            return Ok(seen);
        }
        let routes = Routes::new(self.registry.routing_table().await?, &self.defaults);
        let _turn = self.reloading.lock().expect("reload lock");
        // A slower concurrent reload must not replace a newer table.
        if routes.seq > self.routes.load().seq {
            tracing::info!(seq = routes.seq, "routes reloaded");
            let routes = Arc::new(routes);
            let previous = self.routes.swap(routes.clone());
            // Deleted apps' shares and telemetry go with the table that no
            // longer has them.
            self.defaults.lasting.keep_only(routes.apps());
            self.prepare_redeploys(&previous, &routes);
        }
        Ok(self.routes.load().seq)
    }

    /// Starts loading the new live deployment of each app whose previous
    /// one this server has in memory, so that after a deploy (or rollback)
    /// taken by any server, the app's next request here is warm too. Apps
    /// this server has not served are left to load on first request.
    fn prepare_redeploys(&self, previous: &Routes, current: &Routes) {
        for (app, key) in current.live() {
            if let Some(old) = previous.live_key(app)
                && old != key
                && self.components.is_loaded(old)
            {
                self.components.prefetch(*key);
            }
        }
    }

    /// Follows the registry's change feed (`wharf_registry::FeedFollower`):
    /// reloads on every commit in this process, on every notification
    /// (Postgres), and checks every `interval` in any case, so changes made
    /// by other processes sharing the registry are served at once, or at
    /// worst within one interval.
    pub fn follow_changes(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let router = Arc::downgrade(self);
        let mut feed = self.registry.follow(interval);
        tokio::spawn(async move {
            loop {
                feed.changed().await;
                let Some(router) = router.upgrade() else {
                    return;
                };
                match router.refresh().await {
                    Ok(seq) => {
                        router.health.registry_checked();
                        feed.applied(seq);
                    }
                    Err(e) => {
                        tracing::warn!("cannot read the registry's change feed: {e}");
                        feed.cannot_apply();
                    }
                }
            }
        })
    }

    /// The deployment that answers `host`, from the in-memory routes, with
    /// the context its instance gets.
    fn resolve(&self, host: &str) -> Result<(Route, Gate), Unroutable> {
        let routes = self.routes.load();
        let target = routes.resolve(host, &self.config.domain, self.config.default_app.as_ref());
        match target {
            Target::Unrouted(host) => Err(Unroutable::NoRoute(host)),
            Target::Invalid(label) => Err(Unroutable::BadName(label)),
            Target::Live(app) => match routes.app(&app) {
                None => Err(Unroutable::UnknownApp(app)),
                Some(None) => Err(Unroutable::NotLive(app)),
                Some(Some(route)) => Ok((route, Gate::Open)),
            },
            Target::Preview { app, digest_prefix } => {
                if routes.app(&app).is_none() {
                    return Err(Unroutable::UnknownApp(app));
                }
                let access = routes.preview_access(&app);
                if access == PreviewAccess::Off {
                    return Err(Unroutable::PreviewsOff(app));
                }
                let Some(route) = routes.preview(&app, &digest_prefix) else {
                    return Err(Unroutable::UnknownPreview(app, digest_prefix));
                };
                if routes.is_disabled(&app, &digest_prefix) {
                    return Err(Unroutable::Disabled(app, digest_prefix));
                }
                let gate = match access {
                    PreviewAccess::Token => Gate::PreviewToken {
                        label: format!("{app}{PREVIEW_SEPARATOR}{digest_prefix}"),
                        app,
                    },
                    PreviewAccess::Public | PreviewAccess::Off => Gate::PublicPreview,
                };
                Ok((route, gate))
            }
        }
    }

    /// Lets `request` through `gate`: a token-only preview needs a token
    /// that may read the app, or the cookie a preview link set. The
    /// preview token header is wharf's alone, on whichever host it
    /// arrives, and so is the cookie on a preview: no guest sees them.
    async fn pass(&self, gate: Gate, request: &mut Request<RequestBody>) -> Result<(), Unroutable> {
        match gate {
            Gate::Open => {
                request.headers_mut().remove(PREVIEW_TOKEN_HEADER);
                Ok(())
            }
            Gate::PublicPreview => {
                strip_preview_credentials(request.headers_mut());
                Ok(())
            }
            Gate::PreviewToken { app, label } => {
                let admitted = self
                    .config
                    .previews
                    .admits(request.headers(), &self.registry, &app, &label)
                    .await;
                strip_preview_credentials(request.headers_mut());
                admitted.map_err(|refused| Unroutable::PreviewRefused(app, refused))
            }
        }
    }

    /// Opens a token-only preview for the browser that follows a one-time
    /// preview link: the grant in the query is used up, and the answer
    /// sets the preview's cookie and sends the browser to `/`.
    /// Whether `request`'s host names a preview.
    fn is_preview_host(&self, request: &Request<RequestBody>) -> bool {
        let host = request_host(request.headers(), request.uri()).unwrap_or_default();
        let target =
            self.routes
                .load()
                .resolve(host, &self.config.domain, self.config.default_app.as_ref());
        matches!(target, Target::Preview { .. })
    }

    async fn open_preview_link(&self, request: &Request<RequestBody>) -> Response<GuestBody> {
        let host = request_host(request.headers(), request.uri()).unwrap_or_default();
        let routes = self.routes.load();
        let target = routes.resolve(host, &self.config.domain, self.config.default_app.as_ref());
        let Target::Preview { app, digest_prefix } = target else {
            return text_response(
                StatusCode::NOT_FOUND,
                "preview links open on preview hosts, <app>--<12 hex digits>.<domain>\n".to_owned(),
            );
        };
        let grant = request.uri().query().and_then(|query| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("grant="))
        });
        let Some(grant) = grant.filter(|g| !g.is_empty()) else {
            return text_response(
                StatusCode::BAD_REQUEST,
                "a preview link carries ?grant=; open the whole link `wharf deploy --preview` \
                 printed\n"
                    .to_owned(),
            );
        };
        let used = self
            .registry
            .use_preview_grant(&grant_hash(grant), &app, &digest_prefix)
            .await;
        let opens_this = match used {
            Ok(used) => used,
            Err(e) => {
                tracing::warn!("cannot check a preview link: {e}");
                return text_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the registry is unavailable; try the link again shortly\n".to_owned(),
                );
            }
        };
        if !opens_this {
            return text_response(
                StatusCode::FORBIDDEN,
                format!(
                    "this preview link was used already, has expired, or is for another \
                     preview; make a new one with `wharf deployments link {app} DIGEST`\n"
                ),
            );
        }
        let label = format!("{app}{PREVIEW_SEPARATOR}{digest_prefix}");
        let cookie = self
            .config
            .previews
            .cookie_for(&label, std::time::SystemTime::now());
        let mut response = text_response(StatusCode::SEE_OTHER, "opening the preview\n".to_owned());
        let headers = response.headers_mut();
        headers.insert(header::LOCATION, HeaderValue::from_static("/"));
        headers.insert(header::SET_COOKIE, cookie);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        response
    }

    fn unroutable_response(&self, why: Unroutable, request_id: RequestId) -> Response<GuestBody> {
        let domain = &self.config.domain;
        match why {
            Unroutable::Fetch(..) => Refusal::Unavailable.count(),
            _ => Refusal::NoSuchApp.count(),
        }
        let (status, message) = match why {
            // End users read these: what is missing, not what an operator
            // would run. The log says that.
            Unroutable::NoRoute(host) => {
                tracing::info!(
                    %request_id,
                    host,
                    "no route: apps answer at <app>.{domain} or at hostnames set with \
                     `wharf hostnames`"
                );
                (StatusCode::NOT_FOUND, format!("no app answers at `{host}`"))
            }
            Unroutable::BadName(label) => (
                StatusCode::NOT_FOUND,
                format!("no app answers at `{label}.{domain}`"),
            ),
            Unroutable::UnknownApp(app) => {
                tracing::info!(%request_id, %app, "no such app; `wharf deploy FILE --app {app}` makes it");
                (
                    StatusCode::NOT_FOUND,
                    format!("no app named `{app}` is deployed here"),
                )
            }
            Unroutable::NotLive(app) => {
                tracing::info!(%request_id, %app, "nothing live; `wharf promote {app} DIGEST` puts a preview live");
                (
                    StatusCode::NOT_FOUND,
                    format!("app `{app}` has nothing live yet"),
                )
            }
            Unroutable::UnknownPreview(app, prefix) => {
                tracing::info!(%request_id, %app, prefix, "no such preview; `wharf history {app}` lists them");
                (
                    StatusCode::NOT_FOUND,
                    format!("app `{app}` has no deployment whose digest starts with `{prefix}`"),
                )
            }
            Unroutable::PreviewsOff(app) => (
                StatusCode::NOT_FOUND,
                format!(
                    "app `{app}` has previews turned off; `wharf settings {app} --previews token` \
                     turns them on"
                ),
            ),
            Unroutable::Disabled(app, prefix) => (
                StatusCode::GONE,
                format!(
                    "app `{app}`'s deployment {prefix}... is disabled; `wharf deployments enable \
                     {app} DIGEST` enables it again"
                ),
            ),
            Unroutable::PreviewRefused(app, Refused::NoCredential) => (
                StatusCode::UNAUTHORIZED,
                format!(
                    "this preview of app `{app}` needs a token: open the preview link `wharf \
                     deploy --preview` printed (or `wharf deployments link {app} DIGEST` makes), \
                     or send a token that may read the app in the {PREVIEW_TOKEN_HEADER} header"
                ),
            ),
            Unroutable::PreviewRefused(app, Refused::WrongToken) => (
                StatusCode::UNAUTHORIZED,
                format!(
                    "the {PREVIEW_TOKEN_HEADER} header holds no token that may read app `{app}` \
                     (wrong, expired, revoked, or for other apps)"
                ),
            ),
            Unroutable::PreviewRefused(app, Refused::Registry(e)) => {
                tracing::warn!(%request_id, %app, "cannot check a preview token: {e}");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the registry is unavailable, so the preview token cannot be checked; try \
                     again shortly"
                        .to_owned(),
                )
            }
            Unroutable::Fetch(app, e) => {
                tracing::error!(%request_id, %app, "cannot load the app's component: {e}");
                let status = match *e {
                    FetchError::Store(StoreError::ObjectStore { .. }) => {
                        StatusCode::SERVICE_UNAVAILABLE
                    }
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                let detail = match *e {
                    FetchError::Store(StoreError::Corrupt { .. }) => {
                        "its stored component failed verification and was not run"
                    }
                    FetchError::Store(StoreError::NotFound { .. }) => {
                        "its stored component is missing"
                    }
                    FetchError::Store(_) => "the component store is unavailable",
                    FetchError::Load(_) | FetchError::TaskStopped(_) => {
                        "its component does not load"
                    }
                };
                (status, format!("app `{app}` is unavailable: {detail}"))
            }
        };
        text_response(status, format!("{message} (request id {request_id})\n"))
    }
}

impl Dispatch for AppRouter {
    async fn dispatch(&self, request: Request<RequestBody>) -> Response<GuestBody> {
        // A preview link, on its preview's host; elsewhere the path is
        // reserved like the rest of /.well-known/wharf/.
        if request.uri().path() == PREVIEW_LINK_PATH && self.is_preview_host(&request) {
            return self.open_preview_link(&request).await;
        }
        answer_request(
            &self.health,
            request,
            |mut request, request_id| async move {
                let host = request_host(request.headers(), request.uri()).unwrap_or_default();
                let resolved = match self.resolve(host) {
                    Ok((route, gate)) => match self.pass(gate, &mut request).await {
                        Err(why) => Err(why),
                        Ok(()) => {
                            record_deployment(&route.app.facts.app, route.app.facts.short_digest());
                            match in_span(self.components.get(&route.key), load_span()).await {
                                Ok(component) => Ok((component, route)),
                                Err(e) => Err(Unroutable::Fetch(route.app.facts.app.clone(), e)),
                            }
                        }
                    },
                    Err(why) => Err(why),
                };
                match resolved {
                    Err(why) => self.unroutable_response(why, request_id),
                    Ok((component, route)) => {
                        let served = ServedBy {
                            app: route.app,
                            telemetry: route.telemetry,
                        };
                        serve_component(&self.runtime, &component, served, request, request_id)
                            .await
                    }
                }
            },
        )
        .await
    }
}
