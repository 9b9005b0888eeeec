//! Removing blobs no deployment refers to.

use crate::access::AuditNote;
use crate::api::{GcRequest, GcResult};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::Admin;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The grace period when none is given.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

/// `POST /v1/gc`: `{"grace_seconds": n?}`.
pub(crate) async fn collect(
    State(admin): State<Arc<Admin>>,
    JsonBody(body): JsonBody<GcRequest>,
) -> Result<Response, ApiError> {
    let grace = body
        .grace_seconds
        .map_or(DEFAULT_GRACE, Duration::from_secs);
    let result = admin.collect_garbage(grace).await?;
    let note = AuditNote(format!("deleted {} blobs", result.deleted.len()));
    let mut response = Json(result).into_response();
    response.extensions_mut().insert(note);
    Ok(response)
}

impl Admin {
    /// Deletes every blob that no deployment of any app refers to and that
    /// was stored more than `grace` ago. The grace period spares uploads
    /// whose deploy has not been recorded yet.
    ///
    /// It runs inside a registry change, which holds the lock every deploy
    /// takes before recording: a deploy either committed before (and its
    /// blob is referenced) or checks for its blob after (and re-uploads it).
    pub(crate) async fn collect_garbage(&self, grace: Duration) -> Result<GcResult, ApiError> {
        // Listing can take long on a big store, so it happens before the
        // lock; blobs stored after it are simply not considered this time.
        let stored = self.store.list().await?;
        let mut change = self.registry.begin().await?;
        let referenced = change.referenced_blobs().await?;
        let now = SystemTime::now();
        let mut result = GcResult {
            deleted: Vec::new(),
            referenced: 0,
            too_young: 0,
        };
        for blob in stored {
            if referenced.contains(&blob.key) {
                result.referenced += 1;
                continue;
            }
            let age = now.duration_since(blob.last_modified).unwrap_or_default();
            if age < grace {
                result.too_young += 1;
                continue;
            }
            self.store.delete(&blob.key).await?;
            tracing::info!(key = %blob.key, "garbage-collected");
            result.deleted.push(blob.key.to_string());
        }
        // Nothing in the registry changed; release the lock without a feed move.
        drop(change);
        Ok(result)
    }
}
