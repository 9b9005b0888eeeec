//! Extractors for the admin API's handlers, refusing with [`ApiError`]s
//! that say what to send instead.

use crate::error::ApiError;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use http::request::Parts;
use serde::de::DeserializeOwned;
use wharf_registry::AppName;

/// The largest JSON request body accepted.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// The path parameter `name`, as the router decoded it; empty when the
/// route has none.
async fn path_param<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    name: &str,
) -> Result<String, ApiError> {
    let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?;
    Ok(params
        .into_iter()
        .find(|(param, _)| param == name)
        .map(|(_, value)| value)
        .unwrap_or_default())
}

/// The `{app}` of the path, checked as an app name.
pub struct AppParam(pub AppName);

impl<S: Send + Sync> FromRequestParts<S> for AppParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(Self(path_param(parts, state, "app").await?.parse()?))
    }
}

/// The `{key}` of the path, a configuration key.
pub struct KeyParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for KeyParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let key = path_param(parts, state, "key").await?;
        if key.is_empty() {
            return Err(ApiError::bad_request("the path names no configuration key"));
        }
        Ok(Self(key))
    }
}

/// A JSON body of at most [`MAX_JSON_BODY`] bytes; an empty body reads
/// as `{}`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::to_bytes(request.into_body(), MAX_JSON_BODY)
            .await
            .map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(bytes).map(Self).map_err(|e| {
            ApiError::bad_request(format!("the request body is not the expected JSON: {e}"))
        })
    }
}

/// A digest the client named, `sha256-<hex>`, or 400 saying what is wrong.
pub(crate) fn parse_digest(text: &str) -> Result<wharf_store::Digest, ApiError> {
    text.parse()
        .map_err(|e: wharf_store::ParseDigestError| ApiError::bad_request(e.to_string()))
}
