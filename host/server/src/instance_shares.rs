//! [`InstanceShares`]: each app's share of the instance pool, kept across
//! routing-table rebuilds.

use std::collections::HashMap;
use std::sync::Mutex;
use wharf_registry::AppName;
use wharf_runtime::InstanceShare;

/// One [`InstanceShare`] per app, the same one for as long as the app exists,
/// so that requests already running count against the share their app's
/// next routing table hands out.
pub struct InstanceShares {
    size: u32,
    by_app: Mutex<HashMap<AppName, InstanceShare>>,
}

impl InstanceShares {
    /// Shares of `size` instances each.
    pub fn new(size: u32) -> Self {
        Self {
            size,
            by_app: Mutex::new(HashMap::new()),
        }
    }

    /// `app`'s share.
    pub fn get(&self, app: &AppName) -> InstanceShare {
        let mut by_app = self.by_app.lock().expect("instance shares lock");
        by_app
            .entry(app.clone())
            .or_insert_with(|| InstanceShare::new(self.size))
            .clone()
    }

    /// Forgets the shares of apps not in `apps` (deleted ones).
    pub fn keep_only<'a>(&self, apps: impl IntoIterator<Item = &'a AppName>) {
        let keep: std::collections::HashSet<&AppName> = apps.into_iter().collect();
        let mut by_app = self.by_app.lock().expect("instance shares lock");
        by_app.retain(|app, _| keep.contains(app));
    }
}
