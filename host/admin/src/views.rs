//! Registry records as admin API bodies, with their public URLs.

use crate::api::{AppInfo, ConfigEntryView, DeploymentInfo, ReleaseInfo};
use std::time::SystemTime;
use wharf_registry::{App, AppName, ConfigEntry, Deployment, Release};
use wharf_server::preview_label;

/// How public URLs are written: `<scheme>://<label>.<domain>[:port]/`.
#[derive(Clone, Debug)]
pub struct PublicUrls {
    /// `http` or `https`.
    pub scheme: String,
    /// The domain apps live under.
    pub domain: String,
    /// The port users reach, when it is not the scheme's own.
    pub port: Option<u16>,
}

impl PublicUrls {
    fn url(&self, label: &str) -> String {
        let Self { scheme, domain, .. } = self;
        match self.port {
            Some(port) => format!("{scheme}://{label}.{domain}:{port}/"),
            None => format!("{scheme}://{label}.{domain}/"),
        }
    }

    /// The app's URL.
    pub fn app(&self, app: &AppName) -> String {
        self.url(app.as_str())
    }

    /// A deployment's preview URL.
    pub fn preview(&self, deployment: &Deployment) -> String {
        self.url(&preview_label(&deployment.app, &deployment.key))
    }

    /// `deployment` as an API body; `live` says whether the app serves it.
    pub fn deployment(&self, deployment: &Deployment, live: bool) -> DeploymentInfo {
        DeploymentInfo {
            id: deployment.id,
            digest: deployment.key.digest.to_string(),
            key: deployment.key.to_string(),
            size: deployment.key.size,
            created_at: rfc3339(deployment.created_at),
            token_name: deployment.token_name.clone(),
            message: deployment.message.clone(),
            adapted: deployment.adapted,
            imports: deployment.imports.clone(),
            exports: deployment.exports.clone(),
            capabilities: wharf_runtime::capabilities(&deployment.imports),
            live,
            disabled: deployment.disabled,
            pinned: deployment.pinned,
            pruned: deployment.pruned,
            preview_url: self.preview(deployment),
        }
    }

    /// `app` as an API body.
    pub fn app_info(&self, app: &App) -> AppInfo {
        AppInfo {
            name: app.name.to_string(),
            url: self.app(&app.name),
            created_at: rfc3339(app.created_at),
            live: app.current.as_ref().map(|d| self.deployment(d, true)),
            hostnames: app.hostnames.iter().map(ToString::to_string).collect(),
            stats: None,
        }
    }

    /// `release` as an API body; `live_id` is the app's live deployment.
    pub fn release(&self, release: &Release, live_id: Option<i64>) -> ReleaseInfo {
        ReleaseInfo {
            app: release.deployment.app.to_string(),
            seq: release.seq,
            action: release.action.as_str().to_owned(),
            created_at: rfc3339(release.created_at),
            token_name: release.token_name.clone(),
            url: self.app(&release.deployment.app),
            deployment: self
                .deployment(&release.deployment, live_id == Some(release.deployment.id)),
        }
    }
}

/// A configuration entry as listed: a secret's value is never read from
/// the registry, so it is `None` here.
pub fn config_entry(entry: ConfigEntry) -> ConfigEntryView {
    ConfigEntryView {
        key: entry.key,
        value: entry.value,
        secret: entry.secret,
        updated_at: entry
            .updated_at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
    }
}

/// RFC 3339 with seconds, in UTC.
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}
