//! [`Admin`]: what every handler of the admin API works on.

use crate::access::AdminToken;
use crate::api::AppInfo;
use crate::cluster::Cluster;
use crate::views::PublicUrls;
use std::sync::Arc;
use wharf_registry::{App, Registry};
use wharf_server::AppRouter;
use wharf_store::BlobStore;

/// What the admin API's handlers work on.
pub struct Admin {
    pub(crate) token: AdminToken,
    pub(crate) registry: Registry,
    pub(crate) store: Arc<BlobStore>,
    pub(crate) router: Arc<AppRouter>,
    pub(crate) urls: PublicUrls,
    pub(crate) max_deploy_bytes: u64,
    pub(crate) cluster: Cluster,
}

impl Admin {
    /// `app` as an API body, with its numbers on this server.
    pub(crate) fn app_info(&self, app: &App) -> AppInfo {
        AppInfo {
            stats: self.router.telemetry(&app.name).map(|t| t.stats()),
            ..self.urls.app_info(app)
        }
    }
}
