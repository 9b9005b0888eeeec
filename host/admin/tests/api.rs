//! The admin API called in process through its axum router (`oneshot`),
//! over an in-memory registry (SQLite) and blob store, with a real runtime
//! and the `hello` guest. The end-to-end suite calls it over sockets.

use axum::body::Body;
use http::{Request, Response, StatusCode, header};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;
use wharf_admin::api::{AppList, AppSettingsBody, DeployResult, ErrorBody, History};
use wharf_admin::endpoints::{self, Endpoint};
use wharf_admin::{
    AdminApi, AdminConfig, AdminToken, ClusterConfig, DEFAULT_NODE_TIMEOUT, PublicUrls,
};
use wharf_registry::Registry;
use wharf_runtime::{KeyValueLimits, Runtime, RuntimeConfig};
use wharf_server::observe::Health;
use wharf_server::{AppRouter, CacheLimits, ComponentCache, RouterConfig};
use wharf_store::{BlobStore, StoreOptions};

const TOKEN: &str = "an-admin-token-for-tests";

/// The admin API over fresh, empty state.
async fn api() -> axum::Router {
    let registry = Registry::open("sqlite::memory:").await.expect("registry");
    let store = Arc::new(BlobStore::open("memory://", &StoreOptions::default()).expect("store"));
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).expect("runtime"));
    let components = ComponentCache::new(
        runtime.clone(),
        store.clone(),
        None,
        None,
        CacheLimits::default(),
    );
    let config = RouterConfig {
        domain: "localhost".into(),
        default_app: None,
        keyvalue_limits: KeyValueLimits::default(),
        previews: AdminToken::new(TOKEN, "admin").preview_keys(),
    };
    let health = Arc::new(Health::with_registry(Duration::from_millis(500)));
    let router = AppRouter::new(runtime, components, registry.clone(), config, health)
        .await
        .expect("router");
    let admin = AdminApi::new(
        AdminConfig {
            token: AdminToken::new(TOKEN, "admin"),
            urls: PublicUrls {
                scheme: "http".into(),
                domain: "localhost".into(),
                port: Some(8080),
            },
            max_deploy_bytes: 64 << 20,
            cluster: ClusterConfig {
                node_id: "test-node".into(),
                node_timeout: DEFAULT_NODE_TIMEOUT,
            },
        },
        registry,
        store,
        Arc::new(router),
    );
    admin.router()
}

/// A request to `endpoint` with `params`, carrying the token.
fn request(method: &str, endpoint: Endpoint, params: &[&str], body: Body) -> Request<Body> {
    let path = format!("/{}", endpoint.segments(params).expect("params").join("/"));
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(body)
        .expect("request")
}

/// Sends `request` to the API in process.
async fn send(api: &axum::Router, request: Request<Body>) -> Response<Body> {
    api.clone().oneshot(request).await.expect("answer")
}

async fn json<T: serde::de::DeserializeOwned>(response: Response<Body>) -> T {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    serde_json::from_slice(&bytes).expect("JSON")
}

#[tokio::test]
async fn without_the_token_every_path_is_401_in_the_error_shape() {
    let api = api().await;
    for path in ["/v1/apps", "/v1/nowhere"] {
        let response = send(
            &api,
            Request::get(path).body(Body::empty()).expect("request"),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let body: ErrorBody = json(response).await;
        assert_eq!(body.error.code, "unauthorized");
        assert!(body.error.message.contains("Authorization: Bearer"));
    }
}

/// The peer credential servers send each other opens a server's own logs
/// (`local=true`) and nothing else.
#[tokio::test]
async fn the_peer_credential_opens_only_local_logs() {
    let api = api().await;
    let credential = AdminToken::new(TOKEN, "admin").peer_credential().to_owned();
    let with_credential = |uri: &str| {
        Request::get(uri)
            .header(header::AUTHORIZATION, format!("Bearer {credential}"))
            .body(Body::empty())
            .expect("request")
    };
    // Past the token check, an unknown app is a 404.
    let local = send(&api, with_credential("/v1/apps/nobody/logs?local=true")).await;
    assert_eq!(local.status(), StatusCode::NOT_FOUND);
    for uri in [
        "/v1/apps/nobody/logs",
        "/v1/apps/nobody/logs?local=false",
        "/v1/apps",
        "/v1/nodes",
        "/v1/apps/nobody/stats?local=true",
    ] {
        let response = send(&api, with_credential(uri)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{uri}");
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_error_shape() {
    let api = api().await;
    let response = send(&api, request("GET", endpoints::GC, &[], Body::empty())).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: ErrorBody = json(response).await;
    assert_eq!(body.error.code, "method_not_allowed");
    assert_eq!(body.error.message, "use POST here");

    let mut missing = request("GET", endpoints::APPS, &[], Body::empty());
    *missing.uri_mut() = "/v2/apps".parse().expect("uri");
    let response = send(&api, missing).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: ErrorBody = json(response).await;
    assert!(body.error.message.contains("no admin endpoint at /v2/apps"));

    let response = send(
        &api,
        request("GET", endpoints::APP, &["Not_An_App"], Body::empty()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: ErrorBody = json(response).await;
    assert_eq!(body.error.code, "bad_request");
    assert!(body.error.message.contains("is not a valid app name"));
}

#[tokio::test]
async fn a_deploy_is_listed_and_in_the_history() {
    let api = api().await;
    let bytes = std::fs::read(wharf_test_artifacts::HELLO).expect("hello is built");
    let response = send(
        &api,
        request(
            "POST",
            endpoints::DEPLOYMENTS,
            &["hello"],
            Body::from(bytes.clone()),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let deployed: DeployResult = json(response).await;
    assert!(deployed.live && deployed.uploaded);
    assert_eq!(deployed.size, bytes.len() as u64);

    let response = send(&api, request("GET", endpoints::APPS, &[], Body::empty())).await;
    let list: AppList = json(response).await;
    assert_eq!(list.apps.len(), 1);
    let live = list.apps[0].live.as_ref().expect("live");
    assert_eq!(live.digest, deployed.digest);

    let response = send(
        &api,
        request("GET", endpoints::HISTORY, &["hello"], Body::empty()),
    )
    .await;
    let history: History = json(response).await;
    assert_eq!(history.releases.len(), 1);
    assert_eq!(history.releases[0].action, "deploy");

    // Rolling back with nothing earlier is a conflict.
    let response = send(
        &api,
        request("POST", endpoints::ROLLBACK, &["hello"], Body::empty()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body: ErrorBody = json(response).await;
    assert_eq!(body.error.code, "conflict");
}

/// `PUT` with `json` as the body.
fn put_json(endpoint: Endpoint, params: &[&str], json: serde_json::Value) -> Request<Body> {
    let mut request = request("PUT", endpoint, params, Body::from(json.to_string()));
    request.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/json".parse().expect("value"),
    );
    request
}

/// Deploys the `hello` guest as `app`.
async fn deploy_hello(api: &axum::Router, app: &str) {
    let bytes = std::fs::read(wharf_test_artifacts::HELLO).expect("hello is built");
    let response = send(
        api,
        request("POST", endpoints::DEPLOYMENTS, &[app], Body::from(bytes)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_settings_update_changes_only_the_fields_it_names() {
    let api = api().await;
    deploy_hello(&api, "shop").await;
    let origin = "https://api.example.com";
    let response = send(
        &api,
        put_json(
            endpoints::SETTINGS,
            &["shop"],
            serde_json::json!({ "outbound": [origin] }),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = send(
        &api,
        put_json(
            endpoints::SETTINGS,
            &["shop"],
            serde_json::json!({ "kv_quota": 4096 }),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let settings: AppSettingsBody = json(response).await;
    assert_eq!(settings.outbound, vec![origin.to_owned()], "kept");
    assert_eq!(settings.kv_quota, Some(4096));

    // `null` goes back to the server's quota; the origins stay.
    let response = send(
        &api,
        put_json(
            endpoints::SETTINGS,
            &["shop"],
            serde_json::json!({ "kv_quota": null }),
        ),
    )
    .await;
    let settings: AppSettingsBody = json(response).await;
    assert_eq!(settings.kv_quota, None);
    assert_eq!(settings.outbound, vec![origin.to_owned()]);
}

#[tokio::test]
async fn unknown_fields_are_refused_by_name() {
    let api = api().await;
    deploy_hello(&api, "shop").await;
    let response = send(
        &api,
        put_json(
            endpoints::SETTINGS,
            &["shop"],
            serde_json::json!({ "kv_quota": 4096, "outbund": ["https://x.example"] }),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: ErrorBody = json(response).await;
    assert!(
        body.error.message.contains("outbund"),
        "{}",
        body.error.message
    );

    let mut gc = request(
        "POST",
        endpoints::GC,
        &[],
        Body::from(r#"{"grace": "abc"}"#),
    );
    gc.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/json".parse().expect("value"),
    );
    let response = send(&api, gc).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: ErrorBody = json(response).await;
    assert!(
        body.error.message.contains("grace"),
        "{}",
        body.error.message
    );

    // Nothing was changed by the refused update.
    let response = send(
        &api,
        request("GET", endpoints::SETTINGS, &["shop"], Body::empty()),
    )
    .await;
    let settings: AppSettingsBody = json(response).await;
    assert_eq!(settings.kv_quota, None);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Any method, path and body from an authorized client: the API answers
    /// with a success or a client error in the error shape, never a 500, so
    /// bad input is always named as the caller's.
    #[test]
    fn no_request_is_a_server_error() {
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        let api = runtime.block_on(api());
        let segment = "[a-z0-9-]{1,12}|[\\PC&&[^/?#]]{0,12}|%[0-9A-Fa-f]{2}|\\.\\.?";
        let path = proptest::collection::vec(
            proptest::string::string_regex(segment).expect("regex"),
            0..5,
        )
        .prop_map(|segments| format!("/v1/{}", segments.join("/")));
        let known = "/v1/(apps|gc|apps/[a-z]{1,6}(/(deployments|settings|rollback|promote|config|hostnames|history)(/[a-z0-9=._-]{0,10})?)?)(\\?[a-z=&0-9]{0,20})?";
        let paths = prop_oneof![path, proptest::string::string_regex(known).expect("regex")];
        let methods = prop_oneof![
            Just("GET"),
            Just("POST"),
            Just("PUT"),
            Just("DELETE"),
            Just("PATCH")
        ];
        let bodies =
            "\\PC{0,40}|\\{\"[a-z_]{1,12}\": ?(\"[ -~]{0,12}\"|[0-9]{1,20}|true|null|\\[\\])\\}";
        // PROPTEST_CASES sets how many (256 by default).
        let config = proptest::test_runner::Config::default();
        let cases = config.cases;
        let answered = std::cell::Cell::new((0u32, 0u32));
        let mut runner = proptest::test_runner::TestRunner::new(config);
        runner
            .run(&(methods, paths, bodies), |(method, path, body)| {
                let Ok(request) = Request::builder()
                    .method(method)
                    .uri(&path)
                    .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.clone()))
                else {
                    return Ok(());
                };
                let (status, bytes) = runtime.block_on(async {
                    let response = send(&api, request).await;
                    let status = response.status();
                    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                        .await
                        .expect("body");
                    (status, bytes)
                });
                let (successes, refusals) = answered.get();
                answered.set(if status.is_success() {
                    (successes + 1, refusals)
                } else {
                    (successes, refusals + 1)
                });
                prop_assert!(
                    status.is_success() || status.is_client_error(),
                    "{method} {path} {body:?}: {status} {bytes:?}"
                );
                if status.is_client_error() {
                    prop_assert!(
                        serde_json::from_slice::<ErrorBody>(&bytes).is_ok(),
                        "{method} {path}: {status} not in the error shape: {bytes:?}"
                    );
                }
                Ok(())
            })
            .expect("every request answered as the caller's doing");
        // The generated requests reach the handlers, not only the URI parser.
        let (successes, refusals) = answered.get();
        assert!(successes > 0, "no request succeeded");
        assert!(
            successes + refusals > cases / 2,
            "only {} of {cases} requests were sent",
            successes + refusals
        );
    }
}

/// Sends `method path` with `body` (JSON when given) and `secret` as the
/// bearer token.
async fn call(
    api: &axum::Router,
    secret: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Response<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {secret}"));
    if body.is_some() {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(Body::empty, |json| Body::from(json.to_string()));
    send(api, builder.body(body).expect("request")).await
}

/// Makes a scoped token with the server's own token, and returns its
/// secret.
async fn make_token(api: &axum::Router, name: &str, role: &str, apps: &[&str]) -> String {
    let response = call(
        api,
        TOKEN,
        "POST",
        "/v1/tokens",
        Some(serde_json::json!({"name": name, "role": role, "apps": apps})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: wharf_admin::api::CreatedToken = json(response).await;
    assert_eq!(created.info.role, role);
    created.secret
}

/// Which apps a case is about, for judging who may call it.
#[derive(Clone, Copy, Debug)]
enum About {
    /// Nothing app-specific: any token may read it.
    Nothing,
    /// `shop`, which the scoped tokens cover.
    Shop,
    /// `blog`, which they do not.
    Blog,
    /// The whole server: only tokens that cover every app.
    Server,
}

/// Every method of every endpoint, called with each role, scoped to `shop`
/// and unscoped: the policy README states (read < deploy < admin; a scoped
/// token acts only on its apps; server-wide changes need an unscoped
/// admin) decides which must be refused with 403. Allowed calls are made
/// to fail after the check (bad bodies, unknown names) where they would
/// change something, so only the check itself is under test.
#[tokio::test]
async fn each_role_reaches_exactly_the_endpoints_it_should() {
    use serde_json::json;
    use wharf_registry::Role::{self, Admin, Deploy, Read};
    let api = api().await;
    deploy_hello(&api, "shop").await;
    deploy_hello(&api, "blog").await;
    let cases: &[(&str, &str, Option<serde_json::Value>, Role, About)] = &[
        ("GET", "/v1/apps", None, Read, About::Nothing),
        ("GET", "/v1/apps/shop", None, Read, About::Shop),
        ("GET", "/v1/apps/blog", None, Read, About::Blog),
        ("DELETE", "/v1/apps/nobody", None, Admin, About::Server),
        (
            "POST",
            "/v1/apps/shop/deployments",
            None,
            Deploy,
            About::Shop,
        ),
        (
            "POST",
            "/v1/apps/blog/deployments",
            None,
            Deploy,
            About::Blog,
        ),
        (
            "PUT",
            "/v1/apps/shop/deployments/x/disabled",
            None,
            Deploy,
            About::Shop,
        ),
        (
            "PUT",
            "/v1/apps/blog/deployments/x/disabled",
            None,
            Deploy,
            About::Blog,
        ),
        (
            "DELETE",
            "/v1/apps/shop/deployments/x/disabled",
            None,
            Deploy,
            About::Shop,
        ),
        (
            "PUT",
            "/v1/apps/shop/deployments/x/pinned",
            None,
            Deploy,
            About::Shop,
        ),
        (
            "DELETE",
            "/v1/apps/blog/deployments/x/pinned",
            None,
            Deploy,
            About::Blog,
        ),
        (
            "POST",
            "/v1/apps/shop/deployments/x/link",
            None,
            Read,
            About::Shop,
        ),
        (
            "POST",
            "/v1/apps/blog/deployments/x/link",
            None,
            Read,
            About::Blog,
        ),
        ("GET", "/v1/apps/shop/history", None, Read, About::Shop),
        (
            "POST",
            "/v1/apps/shop/rollback",
            Some(json!({"to": "x"})),
            Deploy,
            About::Shop,
        ),
        (
            "POST",
            "/v1/apps/blog/rollback",
            Some(json!({"to": "x"})),
            Deploy,
            About::Blog,
        ),
        (
            "POST",
            "/v1/apps/shop/promote",
            Some(json!({"digest": "x"})),
            Deploy,
            About::Shop,
        ),
        (
            "PUT",
            "/v1/apps/shop/hostnames",
            Some(json!({"hostnames": ["-"]})),
            Admin,
            About::Shop,
        ),
        ("GET", "/v1/apps/shop/settings", None, Read, About::Shop),
        (
            "PUT",
            "/v1/apps/shop/settings",
            Some(json!({"nope": 1})),
            Admin,
            About::Shop,
        ),
        ("GET", "/v1/apps/shop/config", None, Read, About::Shop),
        (
            "PUT",
            "/v1/apps/shop/config/KEY",
            Some(json!({})),
            Deploy,
            About::Shop,
        ),
        (
            "DELETE",
            "/v1/apps/shop/config/NOPE",
            None,
            Deploy,
            About::Shop,
        ),
        (
            "DELETE",
            "/v1/apps/blog/config/NOPE",
            None,
            Deploy,
            About::Blog,
        ),
        ("GET", "/v1/apps/shop/logs", None, Read, About::Shop),
        ("GET", "/v1/apps/blog/logs", None, Read, About::Blog),
        ("GET", "/v1/apps/shop/stats", None, Read, About::Shop),
        ("GET", "/v1/nodes", None, Read, About::Nothing),
        (
            "POST",
            "/v1/gc",
            Some(json!({"nope": 1})),
            Admin,
            About::Server,
        ),
        ("GET", "/v1/tokens", None, Admin, About::Server),
        ("POST", "/v1/tokens", Some(json!({})), Admin, About::Server),
        ("DELETE", "/v1/tokens/nobody", None, Admin, About::Server),
        ("GET", "/v1/audit", None, Admin, About::Server),
        ("GET", "/v1/audit?app=shop", None, Read, About::Shop),
        ("GET", "/v1/audit?app=blog", None, Read, About::Blog),
    ];
    // Every method of every endpoint is among the cases.
    for endpoint in endpoints::ALL {
        for method in endpoint.methods() {
            let covered = cases.iter().any(|(m, path, ..)| {
                let path = path.split('?').next().unwrap_or(path);
                let (ours, theirs): (Vec<&str>, Vec<&str>) = (
                    path.split('/').collect(),
                    endpoint.template().split('/').collect(),
                );
                *m == method.name
                    && ours.len() == theirs.len()
                    && ours
                        .iter()
                        .zip(&theirs)
                        .all(|(o, t)| o == t || t.starts_with('{'))
            });
            assert!(
                covered,
                "no case for {} {}",
                method.name,
                endpoint.template()
            );
        }
    }

    let tokens = [
        ("read-shop", Read, true),
        ("deploy-shop", Deploy, true),
        ("admin-shop", Admin, true),
        ("read-all", Read, false),
        ("deploy-all", Deploy, false),
        ("admin-all", Admin, false),
    ];
    for (name, role, scoped) in tokens {
        let apps: &[&str] = if scoped { &["shop"] } else { &[] };
        let secret = make_token(&api, name, &format!("{role}"), apps).await;
        for (method, path, body, needs, about) in cases {
            let in_scope = match about {
                About::Nothing => true,
                About::Shop => true,
                About::Blog | About::Server => !scoped,
            };
            let allowed = role >= *needs && in_scope;
            let response = call(&api, &secret, method, path, body.clone()).await;
            let status = response.status();
            if allowed {
                assert_ne!(status, StatusCode::FORBIDDEN, "{name}: {method} {path}");
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{name}: {method} {path}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {method} {path}");
                let refusal: ErrorBody = json(response).await;
                assert_eq!(refusal.error.code, "forbidden");
                assert!(
                    refusal.error.message.contains(&format!("`{needs}` role"))
                        && refusal.error.message.contains(&format!("token `{name}`")),
                    "{name}: {method} {path}: {}",
                    refusal.error.message
                );
            }
        }
    }

    // HEAD is held to what GET needs.
    let head = call(
        &api,
        &reader_for_head(&api).await,
        "HEAD",
        "/v1/tokens",
        None,
    )
    .await;
    assert_eq!(head.status(), StatusCode::FORBIDDEN);
    let head = call(&api, TOKEN, "HEAD", "/v1/tokens", None).await;
    assert_eq!(head.status(), StatusCode::OK);

    // An app name percent-encoded in the path is refused before any
    // permission is judged, so it cannot name another app past the check.
    let reader = make_token(&api, "encoded", "read", &["blog"]).await;
    let encoded = call(&api, &reader, "GET", "/v1/apps/sh%6Fp/history", None).await;
    assert_eq!(encoded.status(), StatusCode::BAD_REQUEST);

    // A scoped token lists only its apps.
    let reader = make_token(&api, "reader", "read", &["shop"]).await;
    let apps: AppList = json(call(&api, &reader, "GET", "/v1/apps", None).await).await;
    let names: Vec<&str> = apps.apps.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["shop"]);
}

/// A token stops working when it expires and when it is revoked; a
/// deploy token may not widen its app's outbound allow-list.
#[tokio::test]
async fn expired_and_revoked_tokens_are_refused() {
    use serde_json::json;
    let api = api().await;
    deploy_hello(&api, "shop").await;
    let response = call(
        &api,
        TOKEN,
        "POST",
        "/v1/tokens",
        Some(json!({"name": "brief", "role": "read", "expires_in_seconds": 1})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let brief: wharf_admin::api::CreatedToken = json(response).await;
    assert!(brief.info.expires_at.is_some());
    let ok = call(&api, &brief.secret, "GET", "/v1/apps", None).await;
    assert_eq!(ok.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = call(&api, &brief.secret, "GET", "/v1/apps", None).await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);

    let ci = make_token(&api, "ci", "deploy", &["shop"]).await;
    let ok = call(&api, &ci, "GET", "/v1/apps/shop", None).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let outbound = send(&api, {
        let bytes = std::fs::read(wharf_test_artifacts::HELLO).expect("hello is built");
        Request::post("/v1/apps/shop/deployments?allow_outbound=https://example.com")
            .header(header::AUTHORIZATION, format!("Bearer {ci}"))
            .body(Body::from(bytes))
            .expect("request")
    })
    .await;
    assert_eq!(outbound.status(), StatusCode::FORBIDDEN);
    let revoked = call(&api, TOKEN, "DELETE", "/v1/tokens/ci", None).await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let refused = call(&api, &ci, "GET", "/v1/apps/shop", None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let again = call(&api, TOKEN, "DELETE", "/v1/tokens/ci", None).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    let list: wharf_admin::api::TokenList =
        json(call(&api, TOKEN, "GET", "/v1/tokens", None).await).await;
    let names: Vec<(&str, bool)> = list
        .tokens
        .iter()
        .map(|t| (t.name.as_str(), t.expired))
        .collect();
    assert_eq!(names, [("brief", true)], "the revoked token is gone");
    let taken = call(
        &api,
        TOKEN,
        "POST",
        "/v1/tokens",
        Some(json!({"name": "brief", "role": "read"})),
    )
    .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    for bad in [
        json!({"name": "admin", "role": "read"}),
        json!({"name": "x", "role": "owner"}),
        json!({"name": "x", "role": "read", "apps": ["Not_An_App"]}),
        json!({"name": "x", "role": "read", "expires_in_seconds": 0}),
    ] {
        let response = call(&api, TOKEN, "POST", "/v1/tokens", Some(bad.clone())).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

/// The audit trail records changes with the token's name, refusals with
/// what was missing, and no reads.
#[tokio::test]
async fn the_audit_trail_records_changes_and_refusals() {
    use serde_json::json;
    let api = api().await;
    deploy_hello(&api, "shop").await;
    deploy_hello(&api, "blog").await;
    let ci = make_token(&api, "ci", "deploy", &["shop"]).await;
    let bytes = std::fs::read(wharf_test_artifacts::HELLO_V2).expect("hello-v2 is built");
    let deployed = send(&api, {
        Request::post("/v1/apps/shop/deployments")
            .header(header::AUTHORIZATION, format!("Bearer {ci}"))
            .body(Body::from(bytes))
            .expect("request")
    })
    .await;
    assert_eq!(deployed.status(), StatusCode::CREATED);
    let deployed: DeployResult = json(deployed).await;
    let rolled = call(&api, &ci, "POST", "/v1/apps/shop/rollback", Some(json!({}))).await;
    assert_eq!(rolled.status(), StatusCode::OK);
    let refused = call(&api, &ci, "POST", "/v1/apps/blog/rollback", Some(json!({}))).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let read = call(&api, &ci, "GET", "/v1/apps/shop/history", None).await;
    assert_eq!(read.status(), StatusCode::OK);

    let trail: wharf_admin::api::AuditTrail =
        json(call(&api, TOKEN, "GET", "/v1/audit", None).await).await;
    let seen: Vec<(&str, &str, Option<&str>, u16)> = trail
        .entries
        .iter()
        .map(|e| {
            (
                e.actor.as_str(),
                e.action.as_str(),
                e.app.as_deref(),
                e.status,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("ci", "rollback", Some("blog"), 403),
            ("ci", "rollback", Some("shop"), 200),
            ("ci", "deploy", Some("shop"), 201),
            ("admin", "create token", None, 201),
            ("admin", "deploy", Some("blog"), 201),
            ("admin", "deploy", Some("shop"), 201),
        ]
    );
    let entries = &trail.entries;
    assert!(
        entries[0].detail.contains("`deploy` role on app `blog`"),
        "{}",
        entries[0].detail
    );
    assert!(
        entries[2].detail.contains(&deployed.digest),
        "{}",
        entries[2].detail
    );
    assert!(
        entries[3].detail.contains("token `ci`"),
        "{}",
        entries[3].detail
    );
    assert!(
        !entries[3].detail.contains("wharf_t_"),
        "never the secret: {}",
        entries[3].detail
    );
    assert_eq!(entries[0].client, "unknown", "in process, no listener");

    // One app's trail needs only `read` on it.
    let shop: wharf_admin::api::AuditTrail =
        json(call(&api, &ci, "GET", "/v1/audit?app=shop&limit=2", None).await).await;
    let actions: Vec<&str> = shop.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["rollback", "deploy"]);
}

/// A read token for `shop`.
async fn reader_for_head(api: &axum::Router) -> String {
    make_token(api, "head-reader", "read", &["shop"]).await
}
