//! Every path of the admin API, written once: the server routes by these
//! templates and the `wharf` CLI fills them in ([`Endpoint::path`]).

/// One path of the admin API, with `{name}` for each parameter, and the
/// methods it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    template: &'static str,
    methods: &'static [&'static str],
}

/// An endpoint at `template` taking `methods`.
const fn endpoint(template: &'static str, methods: &'static [&'static str]) -> Endpoint {
    Endpoint { template, methods }
}

/// `GET`: every app.
pub const APPS: Endpoint = endpoint("/v1/apps", &["GET"]);
/// `GET`, `DELETE`: one app.
pub const APP: Endpoint = endpoint("/v1/apps/{app}", &["GET", "DELETE"]);
/// `POST`: deploy the body.
pub const DEPLOYMENTS: Endpoint = endpoint("/v1/apps/{app}/deployments", &["POST"]);
/// `GET`: releases and deployments, newest first.
pub const HISTORY: Endpoint = endpoint("/v1/apps/{app}/history", &["GET"]);
/// `POST`: make the previous (or a named) deployment live.
pub const ROLLBACK: Endpoint = endpoint("/v1/apps/{app}/rollback", &["POST"]);
/// `POST`: make a preview deployment live.
pub const PROMOTE: Endpoint = endpoint("/v1/apps/{app}/promote", &["POST"]);
/// `PUT`: the app's custom hostnames.
pub const HOSTNAMES: Endpoint = endpoint("/v1/apps/{app}/hostnames", &["PUT"]);
/// `GET`, `PUT`: the app's settings.
pub const SETTINGS: Endpoint = endpoint("/v1/apps/{app}/settings", &["GET", "PUT"]);
/// `GET`: the app's configuration, secrets without their values.
pub const CONFIG: Endpoint = endpoint("/v1/apps/{app}/config", &["GET"]);
/// `PUT`, `DELETE`: one configuration key.
pub const CONFIG_KEY: Endpoint = endpoint("/v1/apps/{app}/config/{key}", &["PUT", "DELETE"]);
/// `GET`: the app's recent guest output, as NDJSON; `?follow=true` streams
/// new lines, `?since=5m` starts later.
pub const LOGS: Endpoint = endpoint("/v1/apps/{app}/logs", &["GET"]);
/// `GET`: the app's request rate, error rate and latency on this server.
pub const STATS: Endpoint = endpoint("/v1/apps/{app}/stats", &["GET"]);
/// `GET`: the servers sharing the registry.
pub const NODES: Endpoint = endpoint("/v1/nodes", &["GET"]);
/// `POST`: remove blobs no deployment refers to.
pub const GC: Endpoint = endpoint("/v1/gc", &["POST"]);

/// Every endpoint, for the router and its tests.
pub const ALL: &[Endpoint] = &[
    APPS,
    APP,
    DEPLOYMENTS,
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
];

impl Endpoint {
    /// The template, as the router matches it.
    pub const fn template(self) -> &'static str {
        self.template
    }

    /// The methods it takes.
    pub const fn methods(self) -> &'static [&'static str] {
        self.methods
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
