//! The two layers in front of every admin handler.

use super::audit::{self, AuditNote};
use super::caller::Caller;
use crate::endpoints::Endpoint;
use crate::error::ApiError;
use crate::state::Admin;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header;
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use wharf_registry::{AppName, AuditEntry};

/// Resolves the bearer token to a [`Caller`] (the server's own token, the
/// peer credential on the one request it opens, or a scoped token that
/// has not expired), or answers 401 before routing. A refusal is logged
/// and counted, never with the token.
pub(crate) async fn authenticate(
    State(admin): State<Arc<Admin>>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, presented)| presented.trim().to_owned());
    let caller = match presented {
        None => None,
        Some(presented) if admin.token.verify(&presented) => Some(Caller::server()),
        Some(presented) if is_peer_request(&request) && admin.token.verify_peer(&presented) => {
            Some(Caller::peer())
        }
        Some(presented) => {
            let hash = hex::encode(Sha256::digest(presented.as_bytes()));
            match admin.registry.token_by_secret(&hash).await {
                Ok(found) => found.map(Caller::from),
                Err(e) => return ApiError::from(e).into_response(),
            }
        }
    };
    let Some(caller) = caller else {
        crate::metrics::sign_in_failed();
        tracing::warn!(
            client = audit::client_of(request.headers()),
            method = %request.method(),
            path = request.uri().path(),
            "refused an admin request without a valid token"
        );
        return ApiError::unauthorized().into_response();
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// Checks the caller's role against what the matched endpoint's method
/// needs (for the app in the path, or every app), answering 403 naming
/// what is missing; then records every change, and every refusal, in the
/// audit trail.
pub(crate) async fn authorize(
    State(admin): State<Arc<Admin>>,
    path: MatchedPath,
    request: Request,
    next: Next,
) -> Response {
    // HEAD is answered by the GET handler, so it needs what GET needs.
    let name = match request.method() {
        &http::Method::HEAD => "GET",
        other => other.as_str(),
    };
    let method =
        Endpoint::find(path.as_str()).and_then(|endpoint| Some((endpoint, endpoint.method(name)?)));
    let Some((endpoint, method)) = method else {
        // A method the endpoint does not take: the 405 fallback answers.
        return next.run(request).await;
    };
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .expect("authenticate runs first");
    // The app the handler will act on. A valid app name needs no
    // percent-encoding, so a segment that is not one as written (say
    // `sh%6Fp`, which the handler would decode to `shop`) is refused
    // here, before any permission is judged against the wrong name.
    let app = match endpoint.names_app() {
        false => None,
        true => {
            let segment = request.uri().path().split('/').nth(3).unwrap_or_default();
            match segment.parse::<AppName>() {
                Ok(app) => Some(app),
                Err(e) => return ApiError::from(e).into_response(),
            }
        }
    };
    let client = audit::client_of(request.headers());
    let entry = |status: http::StatusCode, detail: String| AuditEntry {
        id: 0,
        at: std::time::UNIX_EPOCH,
        actor: caller.name.clone(),
        client: client.clone(),
        action: method.action.to_owned(),
        app: app.as_ref().map(ToString::to_string),
        status: status.as_u16(),
        detail,
    };
    if let Err(refusal) = caller.require(method.needs, app.as_ref()) {
        tracing::warn!(
            actor = caller.name,
            client,
            action = method.action,
            "refused an admin request: {}",
            refusal.message
        );
        audit::record(
            &admin.registry,
            entry(refusal.status, refusal.message.clone()),
        )
        .await;
        return refusal.into_response();
    }
    if method.name == "GET" {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    let detail = response
        .extensions()
        .get::<AuditNote>()
        .map(|note| note.0.clone())
        .unwrap_or_default();
    audit::record(&admin.registry, entry(response.status(), detail)).await;
    response
}

/// Whether `request` is what one server asks another: `GET
/// /v1/apps/{app}/logs` with `local=true`.
fn is_peer_request(request: &Request) -> bool {
    let segments: Vec<&str> = request.uri().path().split('/').collect();
    let local = request.uri().query().is_some_and(|query| {
        url::form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "local" && v == "true")
    });
    request.method() == http::Method::GET
        && matches!(segments.as_slice(), ["", "v1", "apps", _, "logs"])
        && local
}
