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
