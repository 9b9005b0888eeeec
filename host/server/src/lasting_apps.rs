//! [`LastingApps`]: what the server keeps for each app across
//! routing-table rebuilds: its share of the instance pool and its
//! telemetry.

use crate::observe::AppTelemetry;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use wharf_registry::AppName;
use wharf_runtime::InstanceShare;

/// What one app keeps for as long as it exists.
#[derive(Clone)]
pub struct LastingApp {
    /// Requests already running count against the share their app's next
    /// routing table hands out.
    pub share: InstanceShare,
    /// Its meters, recent numbers and recent guest output.
    pub telemetry: Arc<AppTelemetry>,
}

/// One [`LastingApp`] per app, the same one for as long as the app exists.
#[derive(Default)]
pub struct LastingApps {
    by_app: Mutex<HashMap<AppName, LastingApp>>,
}

impl LastingApps {
    /// What `app` keeps, made on first use, with a share of `size`
    /// instances. A share whose size changed is replaced: requests running
    /// on the old one finish there, and new ones count against the new one.
    pub fn get(&self, app: &AppName, size: u32) -> LastingApp {
        let mut by_app = self.by_app.lock().expect("lasting apps lock");
        let kept = by_app.entry(app.clone()).or_insert_with(|| LastingApp {
            share: InstanceShare::new(size),
            telemetry: Arc::new(AppTelemetry::new(app.as_str())),
        });
        if kept.share.size() != size {
            kept.share = InstanceShare::new(size);
        }
        kept.clone()
    }

    /// `app`'s telemetry, if the app exists.
    pub fn telemetry(&self, app: &AppName) -> Option<Arc<AppTelemetry>> {
        let by_app = self.by_app.lock().expect("lasting apps lock");
        by_app.get(app).map(|kept| kept.telemetry.clone())
    }

    /// Requests per second over the last minute, over every app.
    pub fn requests_per_second(&self) -> f64 {
        let by_app = self.by_app.lock().expect("lasting apps lock");
        by_app.values().map(|kept| kept.telemetry.rate_1m()).sum()
    }

    /// Forgets apps not in `apps` (deleted ones).
    pub fn keep_only<'a>(&self, apps: impl IntoIterator<Item = &'a AppName>) {
        let keep: HashSet<&AppName> = apps.into_iter().collect();
        let mut by_app = self.by_app.lock().expect("lasting apps lock");
        by_app.retain(|app, _| keep.contains(app));
    }
}
