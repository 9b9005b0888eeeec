//! Serving one request with a fresh instance of a compiled component, within
//! the instance, memory, body-size and deadline limits:
//!
//! - `wasi_http.rs`: a component that exports `wasi:http/incoming-handler`;
//! - `cgi/`: a command (one that exports `wasi:cli/run`), CGI-style;
//! - `long_running.rs`: a guest that keeps the CPU busy moves to threads
//!   of its own, so short requests are never behind it;
//! - `cpu_time.rs`: the CPU time a request's guest uses, against the app's
//!   limit;
//! - `outcome.rs`: a response body ends as its guest's run did, cleanly
//!   only if the run succeeded;
//! - `request_body.rs`: how reading a request body fell short;
//! - `request_id.rs`: the id that ties a response to its log lines.

mod cgi;
mod cpu_time;
mod long_running;
mod outcome;
mod request_body;
mod request_id;
mod wasi_http;

pub use request_id::RequestId;

use crate::capabilities::{AppContext, HostState, RequestLimits};
use crate::engine::PreInstance;
use crate::idle_body::BodyError;
use crate::{CompiledComponent, InvokeError, Runtime, RuntimeConfig};
use bytes::Bytes;
use cpu_time::CpuMeter;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::sync::OwnedSemaphorePermit;
use wasmtime::{PoolConcurrencyLimitError, Store, Trap, UpdateDeadline};
use wharf_store::Digest;

/// The request header that carries the client's address to a guest (and
/// to a command as `REMOTE_ADDR`). The server sets it on every request;
/// no client can.
pub const CLIENT_IP_HEADER: &str = "wharf-client-ip";

/// The body of a guest's response, streamed as the guest writes it.
pub type GuestBody = wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// A body the host produces (an admin API answer, say), streamed as a
/// [`GuestBody`]: a failure to produce it ends the response in error.
pub fn host_body<B>(body: B) -> GuestBody
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::fmt::Display,
{
    use http_body_util::BodyExt;
    body.map_err(|e| wasmtime_wasi_http::Error::InternalError(Some(e.to_string())))
        .boxed_unsync()
}

impl Runtime {
    /// Hands `request` to a fresh instance of `component` and returns the
    /// response head as soon as the guest sends it. The body streams on while
    /// the guest keeps writing; the guest is stopped at the request deadline.
    pub async fn handle<B>(
        &self,
        component: &CompiledComponent,
        request: http::Request<B>,
        request_id: RequestId,
        app: &Arc<AppContext>,
    ) -> Result<http::Response<GuestBody>, InvokeError>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BodyError> + Send,
    {
        let config = &self.config;
        // A body declared too large is refused before it takes a slot.
        let limit = app.limits.max_request_body_bytes;
        let declared = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit) {
            return Err(InvokeError::BodyTooLarge { limit });
        }
        // The app's share first, so an app at its share does not take a
        // pool slot only to give it back.
        let app_slot = app
            .instance_share
            .try_take()
            .ok_or(InvokeError::AppOverloaded {
                share: app.instance_share.size(),
            })?;
        let pool_slot = self
            .instance_slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| InvokeError::Overloaded {
                max_instances: config.max_instances,
            })?;
        let permit = InstanceSlot {
            _pool: pool_slot,
            _app: app_slot,
        };
        match component.pre_instance() {
            PreInstance::Http(pre) => {
                let pre = pre.clone();
                self.serve_http(component, pre, request, request_id, app, permit)
                    .await
            }
            PreInstance::Command(pre) => {
                let pre = pre.clone();
                self.run_command(component, pre, request, request_id, app, permit)
                    .await
            }
        }
    }
}

/// A request's hold on an instance: a slot of the pool and one of its app's
/// share, both given back when the request's guest is done.
pub(crate) struct InstanceSlot {
    _pool: OwnedSemaphorePermit,
    _app: OwnedSemaphorePermit,
}

/// A task that is stopped if whoever waits for it goes away first: a
/// guest's run on the lane, or a request's guest task until its response
/// head is out (a client that leaves before then takes its guest with it).
pub(crate) struct AbortOnDrop<T>(Option<tokio::task::JoinHandle<T>>);

impl<T> AbortOnDrop<T> {
    /// Holds `task`.
    pub(crate) fn new(task: tokio::task::JoinHandle<T>) -> Self {
        Self(Some(task))
    }

    /// Lets the task run on whatever happens to its waiter.
    pub(crate) fn detach(mut self) -> tokio::task::JoinHandle<T> {
        self.0.take().expect("a task is detached once")
    }

    pub(crate) async fn output(&mut self) -> Result<T, tokio::task::JoinError> {
        let task = self.0.as_mut().expect("a task not detached");
        std::pin::Pin::new(task).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

impl Runtime {
    /// A store for one request, with the memory limiter and the epoch
    /// deadline set: the guest yields at every tick and is interrupted at
    /// its app's deadline, or once it has used its app's CPU time. Also
    /// returns how the run went against its limits, for [`classify`].
    pub(crate) fn new_store(
        &self,
        component: &CompiledComponent,
        state: HostState,
    ) -> (Store<HostState>, LimitsHit) {
        let limits = state.app.limits;
        let mut store = Store::new(component.engine(), state);
        store.limiter(|state| &mut state.limiter);
        let hit = LimitsHit {
            memory: store.data().limiter.hit_flag(),
            cpu: limits.cpu_time.map(|_| Arc::default()),
            limits,
        };
        let deadline_at = Instant::now() + limits.deadline;
        let cpu = hit.cpu.clone();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline_at {
                return Ok(UpdateDeadline::Interrupt);
            }
            if let (Some(cpu_time), Some(cpu)) = (limits.cpu_time, &cpu)
                && cpu.used() >= cpu_time
            {
                cpu.mark_exceeded();
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Yield(1))
        });
        (store, hit)
    }
}

/// How one request's guest went against its limits: whether it hit the
/// memory limit, and its CPU time (which its run counts).
#[derive(Clone)]
pub(crate) struct LimitsHit {
    memory: Arc<AtomicBool>,
    /// Set when the app has a CPU time per request.
    pub(crate) cpu: Option<Arc<CpuMeter>>,
    limits: RequestLimits,
}

/// Names the limit a failed guest call hit, logging the failure.
pub(crate) fn classify(
    e: &wasmtime::Error,
    hit: &LimitsHit,
    config: &RuntimeConfig,
    request_id: RequestId,
    digest: Digest,
) -> InvokeError {
    // `{e:#}`: the error's chain, which includes the guest's wasm
    // backtrace, without the host's own backtrace that RUST_BACKTRACE
    // would add to `{e:?}` (about 19 KB per trap).
    tracing::error!(%request_id, %digest, "guest failed: {e:#}");
    let limits = &hit.limits;
    if matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
        match limits.cpu_time {
            Some(limit) if hit.cpu.as_ref().is_some_and(|cpu| cpu.exceeded()) => {
                InvokeError::CpuTimeExceeded { limit }
            }
            _ => InvokeError::DeadlineExceeded {
                deadline: limits.deadline,
            },
        }
    } else if hit.memory.load(Ordering::Relaxed) {
        InvokeError::MemoryLimitExceeded {
            limit: limits.max_memory_bytes,
        }
    } else if e.is::<PoolConcurrencyLimitError>() {
        InvokeError::Overloaded {
            max_instances: config.max_instances,
        }
    } else {
        InvokeError::Trapped
    }
}
