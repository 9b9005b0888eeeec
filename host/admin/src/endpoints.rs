//! Every path of the admin API, written once: the server routes by these
//! templates and the `wharf` CLI fills them in ([`Endpoint::path`]).

use wharf_registry::Role;

/// One path of the admin API, with `{name}` for each parameter, and the
/// methods it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    template: &'static str,
    methods: &'static [Method],
}

/// One method of an endpoint: the role a token needs for it, and the
/// action the audit trail records it as. A role is needed for the app in
/// the path when the path has one, and for every app otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Method {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub name: &'static str,
    /// The least role that may call it.
    pub needs: Role,
    /// What the audit trail calls it.
    pub action: &'static str,
}

/// An endpoint at `template` taking `methods`.
const fn endpoint(template: &'static str, methods: &'static [Method]) -> Endpoint {
    Endpoint { template, methods }
}

/// `name`, open to tokens with the role `needs`, recorded as `action`.
const fn method(name: &'static str, needs: Role, action: &'static str) -> Method {
    Method {
        name,
        needs,
        action,
    }
}

use Role::{Admin, Deploy, Read};

/// `GET`: every app (the ones a scoped token covers).
pub const APPS: Endpoint = endpoint("/v1/apps", &[method("GET", Read, "list apps")]);
/// `GET`, `DELETE`: one app.
pub const APP: Endpoint = endpoint(
    "/v1/apps/{app}",
    &[
        method("GET", Read, "show app"),
        method("DELETE", Admin, "delete app"),
    ],
);
/// `POST`: deploy the body.
pub const DEPLOYMENTS: Endpoint = endpoint(
    "/v1/apps/{app}/deployments",
    &[method("POST", Deploy, "deploy")],
);
/// `PUT`: disable a deployment (its preview answers 410, it cannot go
/// live); `DELETE`: enable it again.
pub const DEPLOYMENT_DISABLED: Endpoint = endpoint(
    "/v1/apps/{app}/deployments/{digest}/disabled",
    &[
        method("PUT", Deploy, "disable deployment"),
        method("DELETE", Deploy, "enable deployment"),
    ],
);
/// `PUT`: pin a deployment, so that it is never pruned; `DELETE`: unpin it.
pub const DEPLOYMENT_PINNED: Endpoint = endpoint(
    "/v1/apps/{app}/deployments/{digest}/pinned",
    &[
        method("PUT", Deploy, "pin deployment"),
        method("DELETE", Deploy, "unpin deployment"),
    ],
);
/// `POST`: a one-time link that opens a deployment's preview in a browser.
pub const DEPLOYMENT_LINK: Endpoint = endpoint(
    "/v1/apps/{app}/deployments/{digest}/link",
    &[method("POST", Read, "make preview link")],
);
/// `GET`: releases and deployments, newest first.
pub const HISTORY: Endpoint = endpoint(
    "/v1/apps/{app}/history",
    &[method("GET", Read, "show history")],
);
/// `POST`: make the previous (or a named) deployment live.
pub const ROLLBACK: Endpoint = endpoint(
    "/v1/apps/{app}/rollback",
    &[method("POST", Deploy, "rollback")],
);
/// `POST`: make a preview deployment live.
pub const PROMOTE: Endpoint = endpoint(
    "/v1/apps/{app}/promote",
    &[method("POST", Deploy, "promote")],
);
/// `PUT`: the app's custom hostnames.
pub const HOSTNAMES: Endpoint = endpoint(
    "/v1/apps/{app}/hostnames",
    &[method("PUT", Admin, "set hostnames")],
);
/// `GET`, `PUT`: the app's settings.
pub const SETTINGS: Endpoint = endpoint(
    "/v1/apps/{app}/settings",
    &[
        method("GET", Read, "show settings"),
        method("PUT", Admin, "change settings"),
    ],
);
/// `GET`: the app's configuration, secrets without their values.
pub const CONFIG: Endpoint = endpoint(
    "/v1/apps/{app}/config",
    &[method("GET", Read, "list config")],
);
/// `PUT`, `DELETE`: one configuration key.
pub const CONFIG_KEY: Endpoint = endpoint(
    "/v1/apps/{app}/config/{key}",
    &[
        method("PUT", Deploy, "set config"),
        method("DELETE", Deploy, "unset config"),
    ],
);
/// `GET`: the app's recent guest output, as NDJSON; `?follow=true` streams
/// new lines, `?since=5m` starts later.
pub const LOGS: Endpoint = endpoint("/v1/apps/{app}/logs", &[method("GET", Read, "read logs")]);
/// `GET`: the app's request rate, error rate and latency on this server.
pub const STATS: Endpoint = endpoint("/v1/apps/{app}/stats", &[method("GET", Read, "show stats")]);
/// `GET`: the servers sharing the registry.
pub const NODES: Endpoint = endpoint("/v1/nodes", &[method("GET", Read, "list nodes")]);
/// `POST`: remove blobs no deployment refers to.
pub const GC: Endpoint = endpoint("/v1/gc", &[method("POST", Admin, "gc")]);
/// `GET`: the scoped tokens; `POST`: make one.
pub const TOKENS: Endpoint = endpoint(
    "/v1/tokens",
    &[
        method("GET", Admin, "list tokens"),
        method("POST", Admin, "create token"),
    ],
);
/// `DELETE`: revoke a token.
pub const TOKEN: Endpoint = endpoint(
    "/v1/tokens/{token}",
    &[method("DELETE", Admin, "revoke token")],
);
/// `GET`: the audit trail, newest first; `?app=` limits it to one app
/// (which needs only `read` on it), `?before=` pages back, `?limit=`.
pub const AUDIT: Endpoint = endpoint("/v1/audit", &[method("GET", Read, "read audit")]);

/// Every endpoint, for the router and its tests.
pub const ALL: &[Endpoint] = &[
    APPS,
    APP,
    DEPLOYMENTS,
    DEPLOYMENT_DISABLED,
    DEPLOYMENT_PINNED,
    DEPLOYMENT_LINK,
    HISTORY,
    ROLLBACK,
    PROMOTE,
    HOSTNAMES,
    SETTINGS,
    CONFIG,
    CONFIG_KEY,
    LOGS,
    STATS,
    NODES,
    GC,
    TOKENS,
    TOKEN,
    AUDIT,
];

impl Endpoint {
    /// The template, as the router matches it.
    pub const fn template(self) -> &'static str {
        self.template
    }

    /// The methods it takes.
    pub const fn methods(self) -> &'static [Method] {
        self.methods
    }

    /// The method named `name`, if the endpoint takes it.
    pub fn method(self, name: &str) -> Option<Method> {
        self.methods.iter().copied().find(|m| m.name == name)
    }

    /// Whether the path's first parameter names an app.
    pub fn names_app(self) -> bool {
        self.template.starts_with("/v1/apps/{app}")
    }

    /// The endpoint whose template is `template`.
    pub fn find(template: &str) -> Option<Endpoint> {
        ALL.iter().copied().find(|e| e.template == template)
    }

    /// The path's segments with `params` in place of the `{name}`s, in
    /// order, unencoded: a client pushes them onto its base URL, which
    /// percent-encodes each. `None` when the count does not match, or a
    /// parameter is empty, `.` or `..` (which a URL cannot carry as a
    /// segment).
    pub fn segments(self, params: &[&str]) -> Option<Vec<String>> {
        let mut params = params.iter();
        let segments = self
            .template
            .trim_start_matches('/')
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    params
                        .next()
                        .filter(|p| !matches!(**p, "" | "." | ".."))
                        .map(|p| (*p).to_owned())
                } else {
                    Some(segment.to_owned())
                }
            })
            .collect::<Option<Vec<_>>>()?;
        params.next().is_none().then_some(segments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_fill_the_template_in_order() {
        assert_eq!(
            CONFIG_KEY.segments(&["shop", "API_KEY"]),
            Some(vec![
                "v1".into(),
                "apps".into(),
                "shop".into(),
                "config".into(),
                "API_KEY".into()
            ])
        );
        assert_eq!(GC.segments(&[]), Some(vec!["v1".into(), "gc".into()]));
        assert_eq!(NODES.segments(&[]), Some(vec!["v1".into(), "nodes".into()]));
        assert_eq!(APP.segments(&[]), None, "too few");
        assert_eq!(APPS.segments(&["x"]), None, "too many");
        assert_eq!(CONFIG_KEY.segments(&["shop", ".."]), None);
        assert_eq!(APP.segments(&[""]), None);
    }

    #[test]
    fn every_template_is_under_v1_and_distinct() {
        for (i, endpoint) in ALL.iter().enumerate() {
            assert!(endpoint.template().starts_with("/v1/"), "{endpoint:?}");
            assert!(!ALL[..i].contains(endpoint), "{endpoint:?} twice");
        }
    }
}
