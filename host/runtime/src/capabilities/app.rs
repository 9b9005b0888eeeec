//! [`AppContext`]: what the host knows about the app a request is for.

use super::{DeploymentFacts, GuestLogSink, KeyValueLimits, KeyValueStore, OutboundPolicy};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
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
    /// What one request of the app may use.
    pub limits: RequestLimits,
    /// Where the app's guest output is kept besides the log, if anywhere.
    pub guest_log: Option<Arc<dyn GuestLogSink>>,
}

/// What one request of an app may use: the server's limits, or lower ones
/// its settings name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLimits {
    /// Wall-clock budget, from the start of instantiation to the end of the
    /// response body; past it the guest is stopped (504 before the head).
    pub deadline: Duration,
    /// Most linear memory the instance may grow to, in bytes.
    pub max_memory_bytes: u64,
    /// Largest request body the guest is given, in bytes (413 beyond).
    pub max_request_body_bytes: u64,
    /// Most CPU time the guest may use, counted on the threads that run
    /// it and checked at every epoch tick; waits are not counted. Past it
    /// the guest is stopped (503). `None`: only the deadline bounds it.
    pub cpu_time: Option<Duration>,
}

impl RequestLimits {
    /// The server's own limits, for an app that names none.
    pub fn of(config: &crate::RuntimeConfig) -> Self {
        Self {
            deadline: config.request_deadline,
            max_memory_bytes: config.max_memory_bytes,
            max_request_body_bytes: config.max_request_body_bytes,
            cpu_time: config.cpu_time,
        }
    }
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
