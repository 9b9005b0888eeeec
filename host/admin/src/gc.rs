//! Garbage collection: pruning each app's deployments beyond what it
//! keeps, then removing what no remaining deployment refers to: blobs,
//! compiled code on this server's disk, and sealed code in the shared
//! store.

use crate::access::AuditNote;
use crate::api::{GcRequest, GcResult, PrunedDeployment};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::Admin;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use wharf_store::{ArtifactError, Digest};

/// The grace period when none is given.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

/// `POST /v1/gc`: `{"grace_seconds": n?, "dry_run": bool?}`.
pub(crate) async fn collect(
    State(admin): State<Arc<Admin>>,
    JsonBody(body): JsonBody<GcRequest>,
) -> Result<Response, ApiError> {
    let grace = body
        .grace_seconds
        .map_or(DEFAULT_GRACE, Duration::from_secs);
    let result = admin.collect_garbage(grace, body.dry_run).await?;
    let note = AuditNote(format!(
        "{}pruned {} deployments; deleted {} blobs ({} bytes), {} compiled files ({} bytes), \
         {} sealed ({} bytes)",
        if result.dry_run { "dry run: " } else { "" },
        result.pruned.len(),
        result.deleted.len(),
        result.deleted_bytes,
        result.compiled_deleted.len(),
        result.compiled_bytes,
        result.sealed_deleted.len(),
        result.sealed_bytes,
    ));
    let mut response = Json(result).into_response();
    response.extensions_mut().insert(note);
    Ok(response)
}

impl Admin {
    /// Prunes every app's deployments beyond its `keep` (not live, disabled
    /// or pinned), then deletes what no remaining deployment refers to and
    /// was stored more than `grace` ago: blobs, this server's compiled code
    /// (and code of other engines), and sealed code in the shared store
    /// (and sealed code of engine tags no server sharing the registry
    /// announces). The grace period spares uploads whose deploy has not
    /// been recorded yet. With `dry_run`, nothing changes: the answer says
    /// what would have.
    ///
    /// Blobs are deleted inside a registry change, which holds the lock
    /// every deploy takes before recording: a deploy either committed
    /// before (and its blob is referenced) or checks for its blob after
    /// (and re-uploads it).
    pub(crate) async fn collect_garbage(
        &self,
        grace: Duration,
        dry_run: bool,
    ) -> Result<GcResult, ApiError> {
        // Pruning is one change; a dry run takes it back.
        let mut change = self.registry.begin().await?;
        let mut pruned = Vec::new();
        for (app, keep) in change.retention().await? {
            pruned.extend(change.prune(&app, keep, false).await?);
        }
        let mut referenced = change.referenced_blobs().await?;
        if dry_run || pruned.is_empty() {
            drop(change);
        } else {
            change.commit().await?;
        }
        for deployment in &pruned {
            tracing::info!(app = %deployment.app, digest = %deployment.key.digest, dry_run, "pruned");
        }

        // Listing can take long on a big store, so it happens before the
        // lock; blobs stored after it are simply not considered this time.
        let stored = self.store.list().await?;
        let change = if dry_run {
            None
        } else {
            let mut change = self.registry.begin().await?;
            referenced = change.referenced_blobs().await?;
            Some(change)
        };
        let now = SystemTime::now();
        let age = |at: SystemTime| now.duration_since(at).unwrap_or_default();
        let mut result = GcResult {
            dry_run,
            pruned: pruned
                .iter()
                .map(|d| PrunedDeployment {
                    app: d.app.to_string(),
                    digest: d.key.digest.to_string(),
                })
                .collect(),
            deleted: Vec::new(),
            deleted_bytes: 0,
            referenced: 0,
            too_young: 0,
            compiled_deleted: Vec::new(),
            compiled_bytes: 0,
            sealed_deleted: Vec::new(),
            sealed_bytes: 0,
        };
        for blob in stored {
            if referenced.contains(&blob.key) {
                result.referenced += 1;
                continue;
            }
            if age(blob.last_modified) < grace {
                result.too_young += 1;
                continue;
            }
            if !dry_run {
                self.store.delete(&blob.key).await?;
                tracing::info!(key = %blob.key, "garbage-collected");
            }
            result.deleted_bytes += blob.key.size;
            result.deleted.push(blob.key.to_string());
        }
        // Nothing in the registry changed; release the lock without a feed move.
        drop(change);

        let keep: HashSet<Digest> = referenced.iter().map(|key| key.digest).collect();
        let components = self.router.components();
        let swept = {
            let (components, keep) = (components.clone(), keep.clone());
            tokio::task::spawn_blocking(move || components.sweep_disk(&keep, grace, dry_run))
                .await
                .map_err(ApiError::task_stopped)?
                .map_err(|e| {
                    ApiError::new(
                        http::StatusCode::INTERNAL_SERVER_ERROR,
                        format!("cannot clear compiled code on this server's disk: {e}"),
                    )
                })?
        };
        for (name, bytes) in swept {
            result.compiled_bytes += bytes;
            result.compiled_deleted.push(name);
        }
        if let Some(shared) = components.shared() {
            let mut tags: HashSet<String> = self
                .registry
                .nodes()
                .await?
                .into_iter()
                .map(|node| node.engine_tag)
                .collect();
            tags.insert(self.router.runtime().engine_tag().to_owned());
            for artifact in shared.list().await.map_err(artifact_error)? {
                let wanted = keep.contains(&artifact.digest) && tags.contains(&artifact.engine_tag);
                if wanted || age(artifact.last_modified) < grace {
                    continue;
                }
                if !dry_run {
                    shared
                        .delete(&artifact.location)
                        .await
                        .map_err(artifact_error)?;
                }
                result.sealed_bytes += artifact.size;
                result.sealed_deleted.push(artifact.location.to_string());
            }
        }
        Ok(result)
    }
}

fn artifact_error(e: ArtifactError) -> ApiError {
    match e {
        ArtifactError::Store(e) => e.into(),
        other => ApiError::new(http::StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}
