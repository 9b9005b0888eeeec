//! [`AppContext`]: what the host knows about the app a request is for.

use super::{DeploymentFacts, GuestLogSink, KeyValueLimits, KeyValueStore, OutboundPolicy};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
    /// The part of the instance pool the app may hold at once.
    pub instance_share: InstanceShare,
    /// Where the app's guest output is kept besides the log, if anywhere.
    pub guest_log: Option<Arc<dyn GuestLogSink>>,
}

/// The part of the instance pool one app may hold at once: its live
/// deployment and its previews draw on the same share, so no one app can
/// take every slot from the others. Clones share the count.
#[derive(Clone, Debug)]
pub struct InstanceShare {
    slots: Arc<Semaphore>,
    size: u32,
}

impl InstanceShare {
    /// A share of `size` instances.
    pub fn new(size: u32) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(size as usize)),
            size,
        }
    }

    /// How many instances the share allows.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// One of the share's instances, or `None` when all are in use.
    pub(crate) fn try_take(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }
}
