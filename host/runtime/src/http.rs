//! Serving one HTTP request with a fresh instance of a compiled component.

use crate::host::HostState;
use crate::{CompiledComponent, InvokeError, RequestId, Runtime};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::sync::oneshot;
use wasmtime::{PoolConcurrencyLimitError, Store, Trap, UpdateDeadline};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;

/// The body of a guest's response, streamed as the guest writes it.
pub type GuestBody = wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// How a guest call ended when it did not end well. Logged by the task that
/// ran the guest, and reported to the caller if no response was sent yet.
enum Failure {
    Deadline,
    Memory,
    Overloaded,
    Trap,
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
    ) -> Result<http::Response<GuestBody>, InvokeError>
    where
        B: http_body::Body<Data = Bytes, Error = hyper::Error> + Send + 'static,
    {
        let config = &self.config;
        let permit = self
            .instance_slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| InvokeError::Overloaded {
                max_instances: config.max_instances,
            })?;

        let limit = config.max_request_body_bytes;
        let declared = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit) {
            return Err(InvokeError::BodyTooLarge { limit });
        }
        let body_too_large = Arc::new(AtomicBool::new(false));
        let request = request.map(|body| {
            let flag = body_too_large.clone();
            Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX)).map_err(move |e| {
                if e.is::<LengthLimitError>() {
                    flag.store(true, Ordering::Relaxed);
                    wasmtime_wasi_http::Error::HttpRequestBodySize(Some(limit))
                } else {
                    match e.downcast::<hyper::Error>() {
                        Ok(e) => wasmtime_wasi_http::Error::Hyper(*e),
                        Err(e) => wasmtime_wasi_http::Error::InternalError(Some(e.to_string())),
                    }
                }
            })
        });

        let mut store = Store::new(&self.engine, HostState::new(config, request_id));
        store.limiter(|state| &mut state.limiter);
        let memory_hit = store.data().limiter.hit_flag();
        let deadline = config.request_deadline;
        let deadline_at = Instant::now() + deadline;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            Ok(if Instant::now() >= deadline_at {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });

        let (sender, receiver) = oneshot::channel();
        let internal = |e: wasmtime::Error| InvokeError::Internal(format!("{e:#}"));
        let guest_request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .map_err(internal)?;
        let response_out = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(internal)?;

        let pre = component.pre.clone();
        let digest = component.digest;
        let task = tokio::spawn(async move {
            let _slot = permit;
            let call = async {
                let app = pre.instantiate_async(&mut store).await?;
                app.wasi_http_incoming_handler()
                    .call_handle(&mut store, guest_request, response_out)
                    .await
            };
            let result = tokio::time::timeout(deadline, call).await;
            let failure = match result {
                Ok(Ok(())) => return None,
                Err(_elapsed) => Failure::Deadline,
                Ok(Err(e)) => {
                    let failure = if matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
                        Failure::Deadline
                    } else if memory_hit.load(Ordering::Relaxed) {
                        Failure::Memory
                    } else if e.is::<PoolConcurrencyLimitError>() {
                        Failure::Overloaded
                    } else {
                        Failure::Trap
                    };
                    tracing::error!(%request_id, %digest, "guest failed: {e:?}");
                    failure
                }
            };
            if let Failure::Deadline = failure {
                tracing::error!(%request_id, %digest, "guest stopped at the {deadline:?} deadline");
            }
            Some(failure)
        });

        let too_large = || body_too_large.load(Ordering::Relaxed);
        match receiver.await {
            Ok(Ok(_)) | Ok(Err(_)) if too_large() => Err(InvokeError::BodyTooLarge { limit }),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => {
                tracing::error!(%request_id, %digest, "guest answered with error code {code:?}");
                Err(InvokeError::GuestError(format!("{code:?}")))
            }
            // The guest dropped the response outparam without using it: it
            // finished, trapped or was stopped. The task says which.
            Err(_) => match task.await {
                _ if too_large() => Err(InvokeError::BodyTooLarge { limit }),
                Ok(None) => {
                    tracing::error!(%request_id, %digest, "guest returned without sending a response");
                    Err(InvokeError::NoResponse)
                }
                Ok(Some(Failure::Deadline)) => Err(InvokeError::DeadlineExceeded { deadline }),
                Ok(Some(Failure::Memory)) => Err(InvokeError::MemoryLimitExceeded {
                    limit: config.max_memory_bytes,
                }),
                Ok(Some(Failure::Overloaded)) => Err(InvokeError::Overloaded {
                    max_instances: config.max_instances,
                }),
                Ok(Some(Failure::Trap)) => Err(InvokeError::Trapped),
                Err(join) => Err(InvokeError::Internal(format!("guest task failed: {join}"))),
            },
        }
    }
}
