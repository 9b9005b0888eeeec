//! [`AppContext`]: what the host knows about the app a request is for, and
//! the host side of the interfaces that expose it: `wasi:config/store` and
//! `wharf:app/deployment`.

use crate::OutboundPolicy;
use crate::host::HostState;
use crate::keyvalue::{KeyValueLimits, KeyValueStore};
use crate::world::generated::wasi::config::store as config;
use crate::world::generated::wharf::app::deployment;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use wharf_store::Digest;

/// Which deployment is serving a request; what `wharf:app/deployment`
/// reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeploymentFacts {
    /// The app's name.
    pub app: String,
    /// The component's digest, `sha256-<hex>`.
    pub digest: String,
    /// When it was deployed, in seconds since the Unix epoch.
    pub deployed_at: u64,
    /// Whether the request came in through the preview URL.
    pub preview: bool,
}

impl DeploymentFacts {
    /// The facts of `app`'s deployment of the component with `digest`,
    /// made at `deployed_at`.
    pub fn new(app: String, digest: Digest, deployed_at: SystemTime, preview: bool) -> Self {
        Self {
            app,
            digest: digest.to_string(),
            deployed_at: deployed_at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs()),
            preview,
        }
    }
}

/// Everything per app that a request's instance can reach.
#[derive(Clone)]
pub struct AppContext {
    /// Answers `wharf:app/deployment`.
    pub facts: DeploymentFacts,
    /// The app's configuration, values and secrets alike, for
    /// `wasi:config/store`.
    pub config: Arc<BTreeMap<String, String>>,
    /// Where the app may send outbound HTTP requests.
    pub outbound: Arc<OutboundPolicy>,
    /// Where the app's `wasi:keyvalue` buckets live.
    pub keyvalue: Arc<dyn KeyValueStore>,
    /// Size limits and the quota on the app's key-value data.
    pub keyvalue_limits: KeyValueLimits,
}

impl config::Host for HostState {
    fn get(&mut self, key: String) -> Result<Option<String>, config::Error> {
        Ok(self.app.config.get(&key).cloned())
    }

    fn get_all(&mut self) -> Result<Vec<(String, String)>, config::Error> {
        Ok(self
            .app
            .config
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect())
    }
}

impl deployment::Host for HostState {
    fn current(&mut self) -> deployment::Facts {
        let facts = &self.app.facts;
        deployment::Facts {
            app: facts.app.clone(),
            digest: facts.digest.clone(),
            deployed_at: facts.deployed_at,
            preview: facts.preview,
        }
    }
}
