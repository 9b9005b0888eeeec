//! Errors the admin API answers with, and their status codes.

use http::StatusCode;
use wharf_registry::{NameError, RegistryError};
use wharf_runtime::LoadError;
use wharf_server::FetchError;
use wharf_store::StoreError;

/// An error answer: a status code and a message saying what to do.
#[derive(Debug)]
pub struct ApiError {
    /// The status code.
    pub status: StatusCode,
    /// The message, sent as `{"error": ...}`.
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
            | RegistryError::UnknownConfigKey { .. } => StatusCode::NOT_FOUND,
            RegistryError::NothingToRollBackTo { .. }
            | RegistryError::AlreadyLive { .. }
            | RegistryError::HostnameTaken { .. } => StatusCode::CONFLICT,
            // Another change (a long garbage collection, say) holds the lock.
            RegistryError::Database(db) if db.to_string().contains("database is locked") => {
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
            StoreError::Backend { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}
