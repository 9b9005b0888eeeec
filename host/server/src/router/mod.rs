//! Serving many apps: the Host header picks the app, the registry says which
//! deployment it serves, and the component cache has it compiled.
//!
//! - `preview_gate.rs`: what a preview needs before it serves;
//! - `unroutable.rs`: the answers to requests that find nothing to run.

mod preview_gate;
mod unroutable;

use preview_gate::Gate;
use unroutable::Unroutable;

use crate::Dispatch;
use crate::app_data::RegistryKeyValue;
use crate::components::ComponentCache;
use crate::dispatch::{answer_request, serve_component};
use crate::lasting_apps::LastingApps;
use crate::listener::RequestBody;
use crate::observe::metrics::{
    CACHE_BYTES, CACHE_ENTRIES, FEED_POSITION, INSTANCE_SLOTS, INSTANCES_IN_USE, READY,
    SINCE_REGISTRY_CHECKED,
};
use crate::observe::{AppTelemetry, Health, Metrics, ServedBy};
use crate::previews::{PREVIEW_LINK_PATH, PreviewKeys};
use crate::routes::{AppDefaults, PREVIEW_SEPARATOR, Route, Routes, Target};
use arc_swap::ArcSwap;
use http::{Request, Response};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wharf_registry::{AppName, PreviewAccess, Registry, RegistryError};
use wharf_runtime::authority::request_host;
use wharf_runtime::trace_context::{in_span, load_span, record_deployment};
use wharf_runtime::{GuestBody, KeyValueLimits, RequestLimits, Runtime};

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
            lasting: Arc::new(LastingApps::default()),
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
