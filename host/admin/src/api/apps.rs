//! Apps, their hostnames, settings and configuration.

use super::{AppStats, DeploymentInfo};
use serde::{Deserialize, Serialize};

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

/// Every app.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AppList {
    /// By name.
    pub apps: Vec<AppInfo>,
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
