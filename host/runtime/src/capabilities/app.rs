//! [`AppContext`]: what the host knows about the app a request is for.

use super::{DeploymentFacts, KeyValueLimits, KeyValueStore, OutboundPolicy};
use std::collections::BTreeMap;
use std::sync::Arc;

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
