//! What the registry stores, as the rest of wharf sees it.

use crate::names::{AppName, Hostname};
use std::time::SystemTime;
use wharf_store::BlobKey;

/// One uploaded, validated component version of an app. Deployments are
/// never changed once recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    /// Unique across the registry, increasing with time.
    pub id: i64,
    /// The app it belongs to.
    pub app: AppName,
    /// Where its component is stored (digest and size).
    pub key: BlobKey,
    /// When it was recorded.
    pub created_at: SystemTime,
    /// The name of the admin token that deployed it.
    pub token_name: String,
    /// The deployer's note; may be empty.
    pub message: String,
    /// The interfaces the component imports, with versions.
    pub imports: Vec<String>,
    /// The interfaces the component exports, with versions.
    pub exports: Vec<String>,
    /// Whether wharf adapted it from a WASI preview1 core module.
    pub adapted: bool,
    /// Whether an operator disabled it: its preview answers 410 and it
    /// cannot go live.
    pub disabled: bool,
    /// Whether it is pinned: never pruned.
    pub pinned: bool,
    /// Whether it was pruned: its blob may be gone, so it cannot go live,
    /// and its preview no longer answers.
    pub pruned: bool,
}

/// What a new deployment records; the registry adds the id and time.
#[derive(Clone, Debug)]
pub struct NewDeployment {
    /// The app; it is created if it does not exist.
    pub app: AppName,
    /// Where the validated component is stored.
    pub key: BlobKey,
    /// The name of the admin token used.
    pub token_name: String,
    /// The deployer's note.
    pub message: String,
    /// The component's imports.
    pub imports: Vec<String>,
    /// The component's exports.
    pub exports: Vec<String>,
    /// Whether it was adapted from a core module.
    pub adapted: bool,
}

/// Why an app's pointer moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// A new deployment went live.
    Deploy,
    /// An older deployment went live again.
    Rollback,
    /// A preview went live.
    Promote,
}

impl Action {
    /// Every action, with the word it is stored and shown as.
    const WORDS: [(Action, &'static str); 3] = [
        (Action::Deploy, "deploy"),
        (Action::Rollback, "rollback"),
        (Action::Promote, "promote"),
    ];

    /// The word for this action, as stored and shown.
    pub fn as_str(self) -> &'static str {
        Self::WORDS
            .iter()
            .find(|(action, _)| *action == self)
            .map_or("", |(_, word)| word)
    }
}

/// A release action stored as a word wharf does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown release action `{0}`")]
pub struct UnknownAction(pub String);

impl std::str::FromStr for Action {
    type Err = UnknownAction;

    fn from_str(word: &str) -> Result<Self, Self::Err> {
        Self::WORDS
            .iter()
            .find(|(_, known)| *known == word)
            .map(|(action, _)| *action)
            .ok_or_else(|| UnknownAction(word.to_owned()))
    }
}

/// One pointer move in an app's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    /// Position in the registry's change feed; increases with every change.
    pub seq: i64,
    /// Why the pointer moved.
    pub action: Action,
    /// The admin token that moved it.
    pub token_name: String,
    /// When.
    pub created_at: SystemTime,
    /// What went live.
    pub deployment: Deployment,
}

/// An app and what it serves now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    /// Its name.
    pub name: AppName,
    /// When it was first deployed.
    pub created_at: SystemTime,
    /// The live deployment; `None` while it only has previews.
    pub current: Option<Deployment>,
    /// Custom hostnames routed to it.
    pub hostnames: Vec<Hostname>,
}

/// Everything a server needs to route requests, read in one go. Its
/// `Debug` leaves out configuration values, which include secrets.
#[derive(Clone, Default)]
pub struct RoutingTable {
    /// The feed position the table reflects.
    pub seq: i64,
    /// Each app and what it serves (`None`: no live deployment).
    pub apps: Vec<(AppName, Option<RoutedDeployment>)>,
    /// Custom hostnames and their apps.
    pub hostnames: Vec<(Hostname, AppName)>,
    /// Every deployment, oldest first: what preview hostnames name.
    pub deployments: Vec<(AppName, RoutedDeployment)>,
    /// Every app's configuration, secrets included: what `wasi:config`
    /// serves.
    pub config: Vec<(AppName, String, String)>,
    /// Every app's settings, where it has any.
    pub settings: Vec<(AppName, AppSettings)>,
}

/// What an operator sets per app besides its code and configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppSettings {
    /// Origins the app may send outbound HTTP requests to, in the form
    /// `https://api.example.com`; added to the server's own list.
    pub outbound: Vec<String>,
    /// Most key-value bytes the app may keep; `None` takes the server's
    /// default.
    pub kv_quota: Option<u64>,
    /// Who may open the app's preview URLs.
    pub previews: PreviewAccess,
    /// Limits on the app's requests below the server's.
    pub limits: AppLimits,
    /// How many of its newest deployments garbage collection keeps;
    /// `None`: [`DEFAULT_KEEP`].
    pub keep: Option<u32>,
}

/// How many of its newest deployments an app keeps unless it says.
pub const DEFAULT_KEEP: u32 = 20;

/// Limits an app sets on its own requests; each `None` takes the server's.
/// The admin API keeps each within the server's own limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppLimits {
    /// Wall-clock budget per request.
    pub deadline: Option<std::time::Duration>,
    /// CPU time per request.
    pub cpu_time: Option<std::time::Duration>,
    /// Most linear memory per instance, in bytes.
    pub memory_bytes: Option<u64>,
    /// Largest request body, in bytes.
    pub max_body_bytes: Option<u64>,
    /// Instances the app may hold at once, its previews included.
    pub max_instances: Option<u32>,
}

/// Who may open an app's preview URLs (`<app>--<12 hex>.<domain>`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PreviewAccess {
    /// Anyone.
    Public,
    /// Requests carrying a token that may read the app, or the cookie a
    /// one-time preview link sets. The default.
    #[default]
    Token,
    /// Nobody: previews answer 404.
    Off,
}

impl PreviewAccess {
    /// Its name, as stored and as the CLI takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Token => "token",
            Self::Off => "off",
        }
    }
}

impl std::fmt::Display for PreviewAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A preview access that is none of `public`, `token` and `off`.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a preview access: use public, token or off")]
pub struct UnknownPreviewAccess(pub String);

impl std::str::FromStr for PreviewAccess {
    type Err = UnknownPreviewAccess;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "public" => Ok(Self::Public),
            "token" => Ok(Self::Token),
            "off" => Ok(Self::Off),
            _ => Err(UnknownPreviewAccess(s.to_owned())),
        }
    }
}

/// A deployment as routing needs it: its blob, when it was made, and
/// whether it is disabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoutedDeployment {
    /// The component's blob.
    pub key: BlobKey,
    /// When it was deployed.
    pub created_at: SystemTime,
    /// Whether an operator disabled it (never for a live deployment).
    pub disabled: bool,
}

/// One configuration entry as the admin API shows it: a secret's value is
/// never read out of the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The key.
    pub key: String,
    /// The value; `None` for a secret.
    pub value: Option<String>,
    /// Whether it is a secret.
    pub secret: bool,
    /// When it was last set.
    pub updated_at: SystemTime,
}

impl std::fmt::Debug for RoutingTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let config_keys: Vec<(&AppName, &str)> = self
            .config
            .iter()
            .map(|(app, key, _)| (app, key.as_str()))
            .collect();
        f.debug_struct("RoutingTable")
            .field("seq", &self.seq)
            .field("apps", &self.apps)
            .field("hostnames", &self.hostnames)
            .field("deployments", &self.deployments)
            .field("config_keys", &config_keys)
            .field("settings", &self.settings)
            .finish()
    }
}
