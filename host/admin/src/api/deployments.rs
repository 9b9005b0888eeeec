//! Deploys, deployments, and the releases that move an app's pointer.

use serde::{Deserialize, Serialize};

/// The answer to a deploy.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeployResult {
    /// The app deployed to.
    pub app: String,
    /// The stored component's digest, `sha256-<hex>`.
    pub digest: String,
    /// Its object-store key, `application/wasm/{size}b/sha256-{hex}.wasm`.
    pub key: String,
    /// The stored component's size in bytes.
    pub size: u64,
    /// `false` when the store already held these bytes and the upload was skipped.
    pub uploaded: bool,
    /// Whether the deployment went live (`false` for `--preview`).
    pub live: bool,
    /// Whether the upload was a core module that wharf adapted into a component.
    pub adapted: bool,
    /// The app's URL, serving whatever is live.
    pub url: String,
    /// This deployment's own URL, serving it whatever is live.
    pub preview_url: String,
    /// For a preview of an app whose previews need a token: a link that
    /// opens it in a browser once, within an hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_link: Option<String>,
    /// The deployment's id.
    pub deployment_id: i64,
    /// The interfaces the component imports.
    pub imports: Vec<String>,
    /// The interfaces the component exports.
    pub exports: Vec<String>,
    /// The imports that reach beyond the request (outbound HTTP, sockets,
    /// config, key-value data, deployment facts), without versions.
    pub capabilities: Vec<String>,
    /// Capabilities the app's previously live deployment did not import.
    pub added_capabilities: Vec<String>,
}

/// One deployment of an app.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeploymentInfo {
    /// Its id.
    pub id: i64,
    /// `sha256-<hex>`.
    pub digest: String,
    /// The object-store key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// RFC 3339 time it was recorded.
    pub created_at: String,
    /// The admin token that deployed it.
    pub token_name: String,
    /// The deployer's note.
    pub message: String,
    /// Whether it was adapted from a core module.
    pub adapted: bool,
    /// Its interfaces.
    pub imports: Vec<String>,
    /// Its exports.
    pub exports: Vec<String>,
    /// Its capabilities: the imports that reach beyond the request.
    pub capabilities: Vec<String>,
    /// Whether the app serves it now.
    pub live: bool,
    /// Whether it is disabled: its preview answers 410 and it cannot go
    /// live.
    #[serde(default)]
    pub disabled: bool,
    /// Whether it is pinned: never pruned.
    #[serde(default)]
    pub pinned: bool,
    /// Whether it was pruned: its component may be gone.
    #[serde(default)]
    pub pruned: bool,
    /// Its preview URL.
    pub preview_url: String,
}

/// The answer to making a preview link.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PreviewLink {
    /// The deployment's preview URL.
    pub preview_url: String,
    /// The link that opens it once in a browser.
    pub link: String,
    /// RFC 3339 time the link stops working if unused.
    pub expires_at: String,
}

/// One move of an app's live pointer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReleaseInfo {
    /// The app.
    pub app: String,
    /// Its position in the registry's change feed.
    pub seq: i64,
    /// `deploy`, `rollback` or `promote`.
    pub action: String,
    /// RFC 3339 time of the move.
    pub created_at: String,
    /// The admin token that made it.
    pub token_name: String,
    /// The app's URL.
    pub url: String,
    /// What went live.
    pub deployment: DeploymentInfo,
}

/// An app's history.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct History {
    /// The app.
    pub app: String,
    /// Pointer moves, newest first.
    pub releases: Vec<ReleaseInfo>,
    /// Every deployment, live or preview, newest first.
    pub deployments: Vec<DeploymentInfo>,
}

/// Body of a rollback.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The digest to go back to; without it, the previous live deployment.
    #[serde(default)]
    pub to: Option<String>,
}

/// Body of a promotion.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    /// The digest to put live.
    pub digest: String,
}
