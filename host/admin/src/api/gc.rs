//! Garbage collection.

use serde::{Deserialize, Serialize};

/// Body of a garbage collection.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcRequest {
    /// Only what was stored longer ago than this is removed. Default 3600.
    #[serde(default)]
    pub grace_seconds: Option<u64>,
    /// Only say what would be pruned and deleted.
    #[serde(default)]
    pub dry_run: bool,
}

/// What garbage collection did (or, with `dry_run`, would do).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GcResult {
    /// Whether this was a dry run: nothing was changed.
    #[serde(default)]
    pub dry_run: bool,
    /// Deployments pruned: beyond their app's `keep`, not live, disabled
    /// or pinned.
    #[serde(default)]
    pub pruned: Vec<PrunedDeployment>,
    /// Blob keys removed.
    pub deleted: Vec<String>,
    /// Their bytes.
    #[serde(default)]
    pub deleted_bytes: u64,
    /// Blobs still referenced by a deployment.
    pub referenced: usize,
    /// Unreferenced blobs kept because they are younger than the grace period.
    pub too_young: usize,
    /// Compiled-code files removed from this server's `compiled/`.
    #[serde(default)]
    pub compiled_deleted: Vec<String>,
    /// Their bytes.
    #[serde(default)]
    pub compiled_bytes: u64,
    /// Sealed code removed from the shared store.
    #[serde(default)]
    pub sealed_deleted: Vec<String>,
    /// Their bytes.
    #[serde(default)]
    pub sealed_bytes: u64,
}

/// A deployment garbage collection pruned.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PrunedDeployment {
    /// Its app.
    pub app: String,
    /// Its digest.
    pub digest: String,
}
