//! Serving one request to a component that exports
//! `wasi:http/incoming-handler`.

use super::long_running::run_guest;
use super::outcome::{ends_with_run, outcome_channel};
use super::request_body::BodyFaults;
use super::{AbortOnDrop, GuestBody, InstanceSlot, classify};
use crate::capabilities::{AppContext, HostState};
use crate::idle_body::{BodyError, wasi_http_error};
use crate::trace_context::{guest_span, in_span, instantiate_span};
use crate::world::AppPre;
use crate::{CompiledComponent, InvokeError, RequestId, Runtime};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::sync::Arc;
use tokio::sync::oneshot;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;

impl Runtime {
    /// Runs `pre` once for `request` in its own task, holding `permit`, and
    /// returns the response head as soon as the guest sends it. The body
    /// streams on while the guest keeps writing; the guest is stopped at
    /// the request deadline.
    pub(super) async fn serve_http<B>(
        &self,
        component: &CompiledComponent,
        pre: AppPre<HostState>,
        request: http::Request<B>,
        request_id: RequestId,
        app: &Arc<AppContext>,
        permit: InstanceSlot,
    ) -> Result<http::Response<GuestBody>, InvokeError>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BodyError> + Send,
    {
        let config = &self.config;
        let limit = app.limits.max_request_body_bytes;
        let faults = Arc::new(BodyFaults::default());
        let request = request.map(|body| limit_body(body, limit, faults.clone()));

        let (mut store, hit) = self.new_store(
            component,
            HostState::new(config, request_id, app.clone(), component.uses_sockets()),
        );
        let deadline = app.limits.deadline;

        let (sender, receiver) = oneshot::channel();
        let internal = |e: wasmtime::Error| {
            InvokeError::internal_because("setting up the request", e.into_boxed_dyn_error())
        };
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

        // The guest runs in its own task so it can keep writing the body
        // after the response head has been returned. The task logs how the
        // guest failed, if it did, since nobody may be waiting on it.
        let digest = component.digest();
        let config = config.clone();
        let (outcome_tx, outcome_rx) = outcome_channel();
        let guest_span = guest_span();
        let task = AbortOnDrop::new(tokio::spawn(in_span(
            async move {
                let _slot = permit;
                // The run owns the store, so that it can move to the
                // long-running lane, and hands it back for the order below.
                let run = async move {
                    let call = async {
                        let app =
                            in_span(pre.instantiate_async(&mut store), instantiate_span()).await?;
                        app.wasi_http_incoming_handler()
                            .call_handle(&mut store, guest_request, response_out)
                            .await
                    };
                    (tokio::time::timeout(deadline, call).await, store)
                };
                let (result, store) = run_guest(run, hit.cpu.clone()).await;
                let result = match result {
                    Ok(Ok(())) => Ok(()),
                    Err(_elapsed) => Err(InvokeError::DeadlineExceeded { deadline }),
                    Ok(Err(e)) => Err(classify(&e, &hit, &config, request_id, digest)),
                };
                if let Err(InvokeError::DeadlineExceeded { .. }) = result {
                    tracing::error!(%request_id, %digest, "guest stopped at the {deadline:?} deadline");
                }
                // The response body, if one was sent, ends as the run did. This
                // comes before the store is dropped, which ends the body.
                let _ = outcome_tx.send(result.as_ref().map(drop).map_err(ToString::to_string));
                drop(store);
                if result.is_err() {
                    tracing::Span::current().record("otel.status_code", "ERROR");
                }
                result
            },
            guest_span,
        )));

        // Until the head is out, a client that goes away (this future is
        // dropped) stops the guest; after it, the guest finishes its body.
        let head = receiver.await;
        let task = task.detach();
        let refusal = || faults.refusal(limit);
        match head {
            Ok(_) if let Some(refusal) = refusal() => Err(refusal),
            Ok(Ok(response)) => Ok(ends_with_run(response, outcome_rx)),
            Ok(Err(code)) => {
                tracing::error!(%request_id, %digest, "guest answered with error code {code:?}");
                Err(InvokeError::GuestError(format!("{code:?}")))
            }
            // The guest dropped the response outparam without using it: it
            // finished, trapped or was stopped. The task says which.
            Err(_) => match task.await {
                _ if let Some(refusal) = refusal() => Err(refusal),
                outcome => no_response(outcome, request_id, digest),
            },
        }
    }
}

/// Why a guest sent no response, from how its task ended.
fn no_response(
    outcome: Result<Result<(), InvokeError>, tokio::task::JoinError>,
    request_id: RequestId,
    digest: wharf_store::Digest,
) -> Result<http::Response<GuestBody>, InvokeError> {
    match outcome {
        Ok(Ok(())) => {
            tracing::error!(%request_id, %digest, "guest returned without sending a response");
            Err(InvokeError::NoResponse)
        }
        Ok(Err(error)) => Err(error),
        Err(join) => Err(InvokeError::internal_because("the guest's task", join)),
    }
}

/// Caps a request body at `limit` bytes. Past it, or when the client stalls
/// or breaks off, the guest's read fails and `faults` records why, so the
/// caller can answer 413 or 408 if no response was sent.
fn limit_body<B>(
    body: B,
    limit: u64,
    faults: Arc<BodyFaults>,
) -> impl http_body::Body<Data = Bytes, Error = wasmtime_wasi_http::Error>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BodyError>,
{
    Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX)).map_err(move |e| {
        if e.is::<LengthLimitError>() {
            faults.note_too_large();
            return wasmtime_wasi_http::Error::HttpRequestBodySize(Some(limit));
        }
        faults.note_error(&*e);
        wasi_http_error(e)
    })
}
