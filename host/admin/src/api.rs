//! The admin API's JSON bodies, shared by the server and the `wharf` CLI.

use serde::{Deserialize, Serialize};

pub use wharf_server::observe::{AppStats, LogLine};

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

/// An app and what it serves.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AppInfo {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// RFC 3339 time of its first deployment.
    pub created_at: String,
    /// The live deployment, if any.
    pub live: Option<DeploymentInfo>,
    /// Custom hostnames routed to it.
    pub hostnames: Vec<String>,
    /// Its requests over the last five minutes on the server that answered.
    #[serde(default)]
    pub stats: Option<AppStats>,
}

/// One server sharing the registry, as `GET /v1/nodes` lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Its node id.
    pub id: String,
    /// The wharf version it runs.
    pub version: String,
    /// Its engine tag.
    pub engine_tag: String,
    /// Where it serves apps.
    pub public_url: String,
    /// Where its admin API answers.
    pub admin_url: String,
    /// RFC 3339 time it started.
    pub started_at: String,
    /// RFC 3339 time of its last heartbeat.
    pub last_seen: String,
    /// Seconds since its last heartbeat, by the registry database's clock.
    pub seconds_since_seen: f64,
    /// `live`, or `gone` when silent past the node timeout.
    pub state: String,
    /// Requests per second over the minute before its last heartbeat.
    pub requests_per_second: f64,
    /// Instance slots in use at its last heartbeat.
    pub instances_in_use: u32,
    /// Its instance pool's size.
    pub instance_slots: u32,
    /// Whether it is the server that answered.
    pub this_server: bool,
}

/// The answer to `GET /v1/nodes`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeList {
    /// By id.
    pub nodes: Vec<NodeInfo>,
    /// How long a server may be silent before it is shown as gone.
    pub node_timeout_seconds: f64,
}

/// The answer to `GET /v1/apps/{app}/stats`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AppStatsBody {
    /// The app.
    pub app: String,
    /// Its numbers on the server that answered.
    pub stats: AppStats,
}

/// Every app.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AppList {
    /// By name.
    pub apps: Vec<AppInfo>,
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

/// Body of a hostname change: the full new list.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostnamesRequest {
    /// Custom hostnames for the app; empty removes them all.
    pub hostnames: Vec<String>,
}

/// An app's settings, as answered.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AppSettingsBody {
    /// Origins the app may send outbound HTTP requests to, added to the
    /// server's `--allow-outbound` list.
    #[serde(default)]
    pub outbound: Vec<String>,
    /// Most key-value bytes the app may keep; absent for the server's
    /// `--kv-quota`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_quota: Option<u64>,
    /// Key-value bytes the app keeps now (answers only).
    #[serde(default)]
    pub kv_usage: u64,
    /// Who may open the app's preview URLs: `public`, `token` or `off`.
    #[serde(default)]
    pub previews: String,
    /// The app's own limits; absent ones are the server's.
    #[serde(default)]
    pub limits: LimitsBody,
    /// The limits its requests get: its own where it has them, else the
    /// server's (answers only).
    #[serde(default)]
    pub effective_limits: LimitsBody,
    /// How many of its newest deployments garbage collection keeps.
    #[serde(default)]
    pub keep: u32,
}

/// Limits on an app's requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsBody {
    /// Wall-clock budget per request, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// CPU time per request, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_time_ms: Option<u64>,
    /// Most linear memory per instance, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Largest request body, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<u64>,
    /// Instances the app may hold at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instances: Option<u32>,
}

/// Body of changing an app's settings: only the fields given change.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    /// The app's own outbound origins, replacing its list; absent leaves
    /// it as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<Vec<String>>,
    /// The app's key-value quota in bytes, or `null` for the server's
    /// `--kv-quota`; absent leaves it as it is.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub kv_quota: Option<Option<u64>>,
    /// Who may open the app's preview URLs: `public`, `token` or `off`;
    /// absent leaves it as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previews: Option<String>,
    /// The app's deadline in milliseconds, or `null` for the server's.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub deadline_ms: Option<Option<u64>>,
    /// The app's CPU time per request in milliseconds, or `null`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub cpu_time_ms: Option<Option<u64>>,
    /// The app's memory limit in bytes, or `null`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub memory_bytes: Option<Option<u64>>,
    /// The app's request body limit in bytes, or `null`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub max_body_bytes: Option<Option<u64>>,
    /// The instances the app may hold at once, or `null`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub max_instances: Option<Option<u32>>,
    /// How many of its newest deployments garbage collection keeps, or
    /// `null` for the default (20).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub keep: Option<Option<u32>>,
}

/// A field that is present, even as `null`: `Some(None)` for `null`, so
/// that a missing field (`None`, by `default`) differs from it.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Body of setting one configuration value.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigSetRequest {
    /// The value.
    pub value: String,
    /// A secret is served to the app like any value, but never returned by
    /// this API or logged.
    #[serde(default)]
    pub secret: bool,
}

/// One configuration entry, as listed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigEntryView {
    /// The key.
    pub key: String,
    /// The value; absent for a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Whether it is a secret.
    pub secret: bool,
    /// When it was last set, in seconds since the Unix epoch.
    pub updated_at: u64,
}

/// An app's configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigList {
    /// The app.
    pub app: String,
    /// Its entries, by key.
    pub config: Vec<ConfigEntryView>,
}

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

/// Body of `POST /v1/tokens`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The token's name, recorded with everything done with it.
    pub name: String,
    /// `read`, `deploy` or `admin`.
    pub role: String,
    /// The apps it is limited to; empty or absent for every app.
    #[serde(default)]
    pub apps: Vec<String>,
    /// How long it works, in seconds; absent for ever.
    #[serde(default)]
    pub expires_in_seconds: Option<u64>,
}

/// A scoped token, without its secret.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Its name.
    pub name: String,
    /// `read`, `deploy` or `admin`.
    pub role: String,
    /// The apps it is limited to; empty for every app.
    pub apps: Vec<String>,
    /// RFC 3339 time it was made.
    pub created_at: String,
    /// The token that made it.
    pub created_by: String,
    /// RFC 3339 time it stops working, if ever.
    pub expires_at: Option<String>,
    /// Whether it has stopped working.
    pub expired: bool,
}

/// The answer to `POST /v1/tokens`: the only time the secret is shown.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreatedToken {
    /// The token.
    #[serde(flatten)]
    pub info: TokenInfo,
    /// Its secret, to send as `Authorization: Bearer <secret>`. wharf keeps
    /// only its hash.
    pub secret: String,
}

/// Every scoped token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenList {
    /// By name.
    pub tokens: Vec<TokenInfo>,
}

/// One entry of the audit trail.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditEntryInfo {
    /// Its position; pass it as `before` to page back.
    pub id: i64,
    /// RFC 3339 time.
    pub at: String,
    /// The token's name; empty when none was recognized.
    pub actor: String,
    /// The client's address.
    pub client: String,
    /// What was asked: `deploy`, `rollback`, `create token`...
    pub action: String,
    /// The app it was about, if any.
    pub app: Option<String>,
    /// The HTTP status of the answer.
    pub status: u16,
    /// What came of it: what changed, or why it was refused.
    pub detail: String,
}

/// Part of the audit trail, newest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditTrail {
    /// The entries.
    pub entries: Vec<AuditEntryInfo>,
}

/// Body of every error answer: `{"error": {"code": ..., "message": ...}}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, for programs and for people.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// The status in words (`not_found`, `conflict`, ...); see
    /// [`ApiError::code`](crate::ApiError::code).
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
}
