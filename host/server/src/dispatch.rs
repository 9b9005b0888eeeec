//! Deciding which component answers a request, and answering it.

use crate::ComponentCache;
use crate::error_response::{error_response, text_response};
use crate::listener::RequestBody;
use crate::observe::metrics::count_invoke_error;
use crate::observe::{AppTelemetry, Health, ServedBy};
use crate::{DIGEST_HEADER, REQUEST_ID_HEADER};
use http::{HeaderValue, Request, Response, StatusCode};
use std::sync::Arc;
use wharf_runtime::trace_context::{in_span, load_span, record_status, request_span};
use wharf_runtime::{AppContext, CompiledComponent, GuestBody, RequestId, Runtime};
use wharf_store::BlobKey;

/// Turns one request into one response. Implemented by the server's routers.
pub trait Dispatch: Send + Sync + 'static {
    /// Answers `request`. Never fails: errors become error responses.
    fn dispatch(
        &self,
        request: Request<RequestBody>,
    ) -> impl Future<Output = Response<GuestBody>> + Send;
}

/// Serves every request with one component: the dispatch of `wharf run`.
pub struct SingleApp {
    runtime: Arc<Runtime>,
    components: ComponentCache,
    key: BlobKey,
    served: ServedBy,
    health: Arc<Health>,
}

impl SingleApp {
    /// Serves the component stored under `key`, loaded through
    /// `components` like any app of `wharf serve` (so provisional code is
    /// replaced by the optimized code when that is ready), on `runtime`, as
    /// the app `app` describes, answering the reserved health paths
    /// from `health`.
    pub fn new(
        runtime: Arc<Runtime>,
        components: ComponentCache,
        key: BlobKey,
        app: Arc<AppContext>,
        health: Arc<Health>,
    ) -> Self {
        let telemetry = Arc::new(AppTelemetry::new(&app.facts.app));
        Self {
            runtime,
            components,
            key,
            served: ServedBy { app, telemetry },
            health,
        }
    }
}

impl Dispatch for SingleApp {
    async fn dispatch(&self, request: Request<RequestBody>) -> Response<GuestBody> {
        answer_request(&self.health, request, |request, request_id| async move {
            match in_span(self.components.get(&self.key), load_span()).await {
                Ok(component) => {
                    let served = self.served.clone();
                    serve_component(&self.runtime, &component, served, request, request_id).await
                }
                Err(e) => {
                    tracing::error!(%request_id, "cannot load the component: {e}");
                    text_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("the component does not load (request id {request_id})\n"),
                    )
                }
            }
        })
        .await
    }
}

/// Hands `request` to `component`, as the deployment `served` names,
/// turning a failure into its error response (and counting it), and marks
/// the response with the component's digest and with `served`, for the
/// access log.
pub(crate) async fn serve_component(
    runtime: &Runtime,
    component: &CompiledComponent,
    served: ServedBy,
    request: Request<RequestBody>,
    request_id: RequestId,
) -> Response<GuestBody> {
    let mut response = match runtime
        .handle(component, request, request_id, &served.app)
        .await
    {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(%request_id, app = %served.app.facts.app, "{error}");
            count_invoke_error(&served.app.facts.app, &error);
            error_response(&error, request_id)
        }
    };
    response
        .headers_mut()
        .insert(DIGEST_HEADER, component.digest_header().clone());
    response.extensions_mut().insert(served);
    response
}

/// Marks `response` with the request id the log uses for it.
pub(crate) fn stamp_request_id(response: &mut Response<GuestBody>, id: RequestId) {
    let value = HeaderValue::from_str(&id.to_string()).expect("hex is always a valid header value");
    response.headers_mut().insert(REQUEST_ID_HEADER, value);
}

/// Answers `request` as every dispatch does: the reserved health paths
/// first; else `answer` gets the request and a fresh request id, and runs
/// in the request's span; the response is marked with the id.
pub(crate) async fn answer_request<F, A>(
    health: &Health,
    request: Request<RequestBody>,
    answer: A,
) -> Response<GuestBody>
where
    A: FnOnce(Request<RequestBody>, RequestId) -> F,
    F: Future<Output = Response<GuestBody>>,
{
    if let Some(response) = health.well_known(&request) {
        return response;
    }
    let request_id = RequestId::new();
    let span = request_span(&request, request_id);
    let mut response = in_span(answer(request, request_id), span.clone()).await;
    record_status(&span, response.status());
    stamp_request_id(&mut response, request_id);
    response
}
