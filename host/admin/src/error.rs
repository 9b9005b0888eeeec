//! The one error type of the admin API, and its one JSON shape:
//!
//! ```json
//! {"error": {"code": "not_found", "message": "there is no app named `shop`; ..."}}
//! ```
//!
//! `code` is the status in words ([`ApiError::code`]); `message` says what
//! to do.

use crate::access::AuditNote;
use crate::api::{ErrorBody, ErrorDetail};
use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use wharf_registry::{NameError, RegistryError};
use wharf_runtime::LoadError;
use wharf_server::FetchError;
use wharf_store::StoreError;

/// An error answer: a status code and a message saying what to do.
#[derive(Debug)]
pub struct ApiError {
    /// The status code.
    pub status: StatusCode,
    /// The message, sent as `{"error": {"message": ...}}`.
    pub message: String,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401, with the header that names the scheme.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "missing, wrong, expired or revoked admin token: send `Authorization: Bearer \
             <token>` (the server's WHARF_ADMIN_TOKEN, the token file it printed at start, or a \
             token from `wharf tokens create`)",
        )
    }

    /// The status in words, for programs: `bad_request`, `unauthorized`,
    /// `forbidden` (the token's role or apps do not allow it), `not_found`, `method_not_allowed`, `conflict`, `too_large`,
    /// `not_servable` (the upload is no component wharf can serve),
    /// `unavailable` (try again) or `internal`.
    pub fn code(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::CONFLICT => "conflict",
            StatusCode::REQUEST_TIMEOUT => "timeout",
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::UNPROCESSABLE_ENTITY => "not_servable",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            _ => "internal",
        }
    }

    /// 500: a task the request waited on panicked or was cancelled.
    pub fn task_stopped(e: tokio::task::JoinError) -> Self {
        tracing::error!("a task of an admin request stopped: {e}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        let status = match &e {
            RegistryError::BadConfig(_) => StatusCode::BAD_REQUEST,
            RegistryError::UnknownApp(_)
            | RegistryError::UnknownDeployment { .. }
            | RegistryError::UnknownConfigKey { .. }
            | RegistryError::UnknownToken(_) => StatusCode::NOT_FOUND,
            RegistryError::TokenExists(_) => StatusCode::CONFLICT,
            RegistryError::Disabled { .. }
            | RegistryError::DisablingLive { .. }
            | RegistryError::Pruned { .. } => StatusCode::CONFLICT,
            RegistryError::NothingToRollBackTo { .. }
            | RegistryError::AlreadyLive { .. }
            | RegistryError::HostnameTaken { .. } => StatusCode::CONFLICT,
            e if e.is_unavailable() => {
                tracing::warn!("the registry's database is unavailable: {e}");
                return Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the registry's database is unavailable ({e}); try again shortly"),
                );
            }
            // Another change (a long garbage collection, say) holds the lock.
            e if e.is_busy() => {
                return Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the registry is busy with another change; try again shortly",
                );
            }
            _ => {
                tracing::error!("registry failure: {e}");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        Self::new(status, e.to_string())
    }
}

impl From<NameError> for ApiError {
    fn from(e: NameError) -> Self {
        Self::bad_request(e.to_string())
    }
}

impl From<LoadError> for ApiError {
    fn from(e: LoadError) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
    }
}

impl From<FetchError> for ApiError {
    fn from(e: FetchError) -> Self {
        match e {
            FetchError::Load(e) => e.into(),
            FetchError::Store(e) => e.into(),
            FetchError::TaskStopped(e) => Self::task_stopped(e),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!("store failure: {e}");
        let status = match e {
            StoreError::ObjectStore { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let note = AuditNote(self.message.clone());
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        response.extensions_mut().insert(note);
        let headers = response.headers_mut();
        match self.status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}
