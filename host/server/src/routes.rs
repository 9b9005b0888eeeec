//! Which app a request's Host names.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use wharf_registry::{AppLimits, AppName, PreviewAccess, RoutedDeployment, RoutingTable};
use wharf_runtime::{
    AppContext, DeploymentFacts, KeyValueLimits, KeyValueStore, OriginRule, OutboundPolicy,
    RequestLimits,
};
use wharf_store::BlobKey;

use crate::lasting_apps::LastingApps;
use crate::observe::AppTelemetry;

/// Separates the app from the digest prefix in a preview hostname:
/// `<app>--<first 12 hex digits of the digest>.<domain>`.
pub const PREVIEW_SEPARATOR: &str = "--";
/// How many hex digits of the digest a preview hostname carries.
pub const PREVIEW_DIGITS: usize = 12;

/// What a Host header resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The app's live deployment.
    Live(AppName),
    /// One deployment of an app, by digest prefix.
    Preview {
        /// The app.
        app: AppName,
        /// Lowercase hex digits the digest starts with.
        digest_prefix: String,
    },
    /// The name under the domain is not a valid app name.
    Invalid(String),
    /// Nothing is routed for this host.
    Unrouted(String),
}

/// A deployment ready to serve: its blob, and the context its instances
/// get, built once per routing table rather than per request.
#[derive(Clone)]
pub struct Route {
    /// The component's blob.
    pub key: BlobKey,
    /// What its instances may reach.
    pub app: Arc<AppContext>,
    /// Where its app's numbers and guest output go.
    pub telemetry: Arc<AppTelemetry>,
}

/// The server-wide settings every app's context starts from.
#[derive(Clone)]
pub struct AppDefaults {
    /// The server's outbound policy; an app's own origins are added to it.
    pub outbound: Arc<OutboundPolicy>,
    /// Where apps' key-value data lives.
    pub keyvalue: Arc<dyn KeyValueStore>,
    /// Key-value limits; an app's own quota replaces the default one.
    pub keyvalue_limits: KeyValueLimits,
    /// What each app keeps across rebuilds: its share of the instance pool
    /// and its telemetry.
    pub lasting: Arc<LastingApps>,
    /// The server's limits on one request: an app's own may only be lower.
    pub request_limits: RequestLimits,
    /// The most instances one app may be given.
    pub max_instances_per_app: u32,
}

/// The in-memory routing table a server answers from, rebuilt whenever the
/// registry's change feed moves.
pub struct Routes {
    /// The change-feed position this reflects.
    pub seq: i64,
    apps: HashMap<AppName, Option<Route>>,
    hostnames: HashMap<String, AppName>,
    /// Every deployment by app and the first [`PREVIEW_DIGITS`] hex digits
    /// of its digest.
    previews: HashMap<(AppName, String), Route>,
    /// Each app's configuration, shared with every request's instance.
    config: HashMap<AppName, Arc<BTreeMap<String, String>>>,
    /// Outbound policies of apps with their own allow-lists.
    outbound: HashMap<AppName, Arc<OutboundPolicy>>,
    /// The server's policy, for every other app.
    default_outbound: Arc<OutboundPolicy>,
    /// Key-value quotas of apps with their own.
    kv_quotas: HashMap<AppName, u64>,
    /// Who may open each app's previews, for apps with settings.
    preview_access: HashMap<AppName, PreviewAccess>,
    /// Each app's own limits, for apps with settings.
    limits: HashMap<AppName, AppLimits>,
    /// Disabled deployments, by app and preview digits.
    disabled: HashSet<(AppName, String)>,
}

impl Routes {
    /// Builds the table from a registry snapshot, with a context for every
    /// deployment. Each app's outbound policy is the server's with the
    /// app's own origins added.
    pub fn new(table: RoutingTable, defaults: &AppDefaults) -> Self {
        let server = &defaults.outbound;
        let mut config: HashMap<AppName, BTreeMap<String, String>> = HashMap::new();
        for (app, key, value) in table.config {
            config.entry(app).or_default().insert(key, value);
        }
        let mut outbound = HashMap::new();
        let mut kv_quotas = HashMap::new();
        let mut preview_access = HashMap::new();
        let mut limits = HashMap::new();
        for (app, settings) in table.settings {
            preview_access.insert(app.clone(), settings.previews);
            limits.insert(app.clone(), settings.limits);
            if let Some(quota) = settings.kv_quota {
                kv_quotas.insert(app.clone(), quota);
            }
            if settings.outbound.is_empty() {
                continue;
            }
            let mut policy = OutboundPolicy::clone(server);
            for origin in &settings.outbound {
                // The admin API checks origins before storing them.
                match origin.parse::<OriginRule>() {
                    Ok(rule) => policy.rules.push(rule),
                    Err(e) => tracing::warn!(%app, "skipping a stored outbound origin: {e}"),
                }
            }
            outbound.insert(app, Arc::new(policy));
        }
        let mut routes = Self {
            outbound,
            default_outbound: server.clone(),
            kv_quotas,
            preview_access,
            limits,
            disabled: HashSet::new(),
            config: config
                .into_iter()
                .map(|(app, entries)| (app, Arc::new(entries)))
                .collect(),
            seq: table.seq,
            apps: HashMap::new(),
            hostnames: table
                .hostnames
                .into_iter()
                .map(|(host, app)| (host.as_str().to_owned(), app))
                .collect(),
            previews: HashMap::new(),
        };
        for (app, live) in table.apps {
            let route = live.map(|deployment| routes.route(&app, deployment, false, defaults));
            routes.apps.insert(app, route);
        }
        // Oldest first, so the newest wins a (vanishingly unlikely) prefix
        // collision within one app.
        for (app, deployment) in table.deployments {
            let route = routes.route(&app, deployment, true, defaults);
            let digits = preview_digits(&deployment.key);
            if deployment.disabled {
                routes.disabled.insert((app.clone(), digits.clone()));
            }
            routes.previews.insert((app, digits), route);
        }
        routes
    }

    /// `deployment` of `app` with the context its instances get.
    fn route(
        &self,
        app: &AppName,
        deployment: RoutedDeployment,
        preview: bool,
        defaults: &AppDefaults,
    ) -> Route {
        let own = self.limits.get(app).copied().unwrap_or_default();
        let lasting = defaults.lasting.get(
            app,
            instances_for_app(defaults.max_instances_per_app, own.max_instances),
        );
        let context = AppContext {
            facts: DeploymentFacts::new(
                app.to_string(),
                deployment.key.digest,
                deployment.created_at,
                preview,
            ),
            config: self.config(app),
            outbound: self.outbound(app),
            keyvalue: defaults.keyvalue.clone(),
            keyvalue_limits: KeyValueLimits {
                quota_bytes: self
                    .kv_quota(app)
                    .unwrap_or(defaults.keyvalue_limits.quota_bytes),
                ..defaults.keyvalue_limits
            },
            instance_share: lasting.share,
            limits: limits_for_app(&defaults.request_limits, &own),
            guest_log: Some(lasting.telemetry.clone()),
        };
        Route {
            key: deployment.key,
            app: Arc::new(context),
            telemetry: lasting.telemetry,
        }
    }

    /// The deployment of `app` a preview hostname names, if any.
    pub fn preview(&self, app: &AppName, digits: &str) -> Option<Route> {
        self.previews
            .get(&(app.clone(), digits.to_owned()))
            .cloned()
    }

    /// Who may open `app`'s previews.
    pub fn preview_access(&self, app: &AppName) -> PreviewAccess {
        self.preview_access.get(app).copied().unwrap_or_default()
    }

    /// Whether the deployment of `app` whose digest starts with `digits`
    /// is disabled.
    pub fn is_disabled(&self, app: &AppName, digits: &str) -> bool {
        self.disabled.contains(&(app.clone(), digits.to_owned()))
    }

    /// Every app, live or not.
    pub fn apps(&self) -> impl Iterator<Item = &AppName> {
        self.apps.keys()
    }

    /// Every app's live deployment, by app.
    pub fn live(&self) -> impl Iterator<Item = (&AppName, &BlobKey)> {
        self.apps
            .iter()
            .filter_map(|(app, route)| Some((app, &route.as_ref()?.key)))
    }

    /// The blob `app`'s live deployment serves, if it has one.
    pub fn live_key(&self, app: &AppName) -> Option<&BlobKey> {
        self.apps.get(app)?.as_ref().map(|route| &route.key)
    }

    /// Whether `app` exists, and what it serves if it has a live deployment.
    pub fn app(&self, app: &AppName) -> Option<Option<Route>> {
        self.apps.get(app).cloned()
    }

    /// Where `app` may send outbound requests.
    pub fn outbound(&self, app: &AppName) -> Arc<OutboundPolicy> {
        self.outbound
            .get(app)
            .unwrap_or(&self.default_outbound)
            .clone()
    }

    /// `app`'s own key-value quota, if it has one.
    pub fn kv_quota(&self, app: &AppName) -> Option<u64> {
        self.kv_quotas.get(app).copied()
    }

    /// `app`'s configuration (empty if it has none).
    pub fn config(&self, app: &AppName) -> Arc<BTreeMap<String, String>> {
        self.config.get(app).cloned().unwrap_or_default()
    }

    /// Resolves a Host header value (port and case ignored):
    ///
    /// 1. a custom hostname goes to its app;
    /// 2. `<app>.<domain>` goes to the app, `<app>--<hex>.<domain>` to a preview;
    /// 3. anything else goes to the default app, if there is one.
    pub fn resolve(&self, host: &str, domain: &str, default_app: Option<&AppName>) -> Target {
        let host = wharf_runtime::authority::strip_port(host).trim_end_matches('.');
        let host: Cow<'_, str> = if host.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(host.to_ascii_lowercase())
        } else {
            Cow::Borrowed(host)
        };
        if let Some(app) = self.hostnames.get(&*host) {
            return Target::Live(app.clone());
        }
        let label = host
            .strip_suffix(domain)
            .and_then(|rest| rest.strip_suffix('.'))
            .filter(|label| !label.is_empty() && !label.contains('.'));
        let Some(label) = label else {
            return match default_app {
                Some(app) => Target::Live(app.clone()),
                None => Target::Unrouted(host.into_owned()),
            };
        };
        let (name, digest_prefix) = match label.split_once(PREVIEW_SEPARATOR) {
            Some((name, digits)) => (name, Some(digits)),
            None => (label, None),
        };
        let Ok(app) = name.parse::<AppName>() else {
            return Target::Invalid(label.to_owned());
        };
        match digest_prefix {
            Some(digits) => Target::Preview {
                app,
                digest_prefix: digits.to_owned(),
            },
            None => Target::Live(app),
        }
    }
}

/// The limits a request of an app with `own` limits gets: each the app's,
/// where it names one below the server's, else the server's.
pub fn limits_for_app(server: &RequestLimits, own: &AppLimits) -> RequestLimits {
    let lower = |server: u64, own: Option<u64>| own.map_or(server, |own| own.min(server));
    RequestLimits {
        deadline: own
            .deadline
            .map_or(server.deadline, |d| d.min(server.deadline)),
        max_memory_bytes: lower(server.max_memory_bytes, own.memory_bytes),
        max_request_body_bytes: lower(server.max_request_body_bytes, own.max_body_bytes),
        cpu_time: match (server.cpu_time, own.cpu_time) {
            (Some(server), Some(own)) => Some(own.min(server)),
            (server, own) => own.or(server),
        },
    }
}

/// The instances an app whose own limit is `own` may hold at once, with
/// `server` the most the server gives any one app.
pub fn instances_for_app(server: u32, own: Option<u32>) -> u32 {
    own.map_or(server, |own| own.clamp(1, server))
}

/// The hostname label of a deployment's preview: `<app>--<12 hex digits>`.
pub fn preview_label(app: &AppName, key: &BlobKey) -> String {
    format!("{app}{PREVIEW_SEPARATOR}{}", preview_digits(key))
}

fn preview_digits(key: &BlobKey) -> String {
    key.digest.hex()[..PREVIEW_DIGITS].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str) -> AppName {
        name.parse().expect("valid")
    }

    fn routes() -> Routes {
        let deployment = RoutedDeployment {
            key: BlobKey::of(b"x"),
            created_at: std::time::SystemTime::UNIX_EPOCH,
            disabled: false,
        };
        Routes::new(
            RoutingTable {
                seq: 1,
                apps: vec![(app("hello"), Some(deployment))],
                hostnames: vec![("shop.example.com".parse().expect("valid"), app("hello"))],
                deployments: vec![(app("hello"), deployment)],
                config: vec![(app("hello"), "greeting".into(), "hi".into())],
                settings: vec![(
                    app("hello"),
                    wharf_registry::AppSettings {
                        outbound: vec!["https://api.example.com".into()],
                        kv_quota: Some(10),
                        ..Default::default()
                    },
                )],
            },
            &AppDefaults {
                outbound: Arc::new(OutboundPolicy::default()),
                keyvalue: Arc::new(wharf_runtime::MemoryKeyValue::default()),
                keyvalue_limits: KeyValueLimits::default(),
                lasting: Arc::new(LastingApps::default()),
                request_limits: RequestLimits::of(&wharf_runtime::RuntimeConfig::default()),
                max_instances_per_app: 4,
            },
        )
    }

    #[test]
    fn config_and_settings_are_per_app() {
        let r = routes();
        assert_eq!(
            r.config(&app("hello")).get("greeting").map(String::as_str),
            Some("hi")
        );
        assert!(r.config(&app("other")).is_empty());
        assert_eq!(r.outbound(&app("hello")).rules.len(), 1);
        assert!(r.outbound(&app("other")).rules.is_empty());
        assert_eq!(r.kv_quota(&app("hello")), Some(10));
        assert_eq!(r.kv_quota(&app("other")), None);
    }

    #[test]
    fn hosts_resolve() {
        let r = routes();
        let default = app("fallback");
        assert_eq!(
            r.resolve("hello.localhost:8080", "localhost", None),
            Target::Live(app("hello"))
        );
        assert_eq!(
            r.resolve("HELLO.localhost.", "localhost", None),
            Target::Live(app("hello"))
        );
        assert_eq!(
            r.resolve("Shop.Example.com", "localhost", None),
            Target::Live(app("hello"))
        );
        assert_eq!(
            r.resolve("hello--0123456789ab.localhost", "localhost", None),
            Target::Preview {
                app: app("hello"),
                digest_prefix: "0123456789ab".into()
            }
        );
        assert_eq!(
            r.resolve("127.0.0.1:8080", "localhost", None),
            Target::Unrouted("127.0.0.1".into())
        );
        assert_eq!(
            r.resolve("127.0.0.1:8080", "localhost", Some(&default)),
            Target::Live(default.clone())
        );
        assert_eq!(
            r.resolve("[::1]:8080", "localhost", None),
            Target::Unrouted("[::1]".into())
        );
        assert_eq!(
            r.resolve("a.b.localhost", "localhost", None),
            Target::Unrouted("a.b.localhost".into())
        );
        assert_eq!(
            r.resolve("Bad_Name.localhost", "localhost", None),
            Target::Invalid("bad_name".into())
        );
        // A name that merely ends with the domain is not under it.
        assert_eq!(
            r.resolve("hellolocalhost", "localhost", None),
            Target::Unrouted("hellolocalhost".into())
        );
    }

    #[test]
    fn preview_labels_round_trip() {
        let key = BlobKey::of(b"x");
        let label = preview_label(&app("hello"), &key);
        assert_eq!(label.len(), "hello--".len() + PREVIEW_DIGITS);
        match routes().resolve(&format!("{label}.localhost"), "localhost", None) {
            Target::Preview {
                app: a,
                digest_prefix,
            } => {
                assert_eq!(a, app("hello"));
                assert!(key.digest.hex().starts_with(&digest_prefix));
            }
            other => panic!("{other:?}"),
        }
    }
}
