//! Deciding which component answers a request, and answering it.

use crate::ComponentCache;
use crate::error_response::{error_response, text_response};
use crate::listener::RequestBody;
use crate::observe::metrics::count_invoke_error;
use crate::observe::{AppTelemetry, Health, ServedBy};
use crate::{DIGEST_HEADER, REQUEST_ID_HEADER};
use http::{HeaderValue, Request, Response, StatusCode};
use std::sync::Arc;
use wharf_runtime::trace_context::{TRACE_TARGET, continue_trace, in_span};
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
        if let Some(response) = self.health.well_known(&request) {
            return response;
        }
        let request_id = RequestId::new();
        let span = request_span(&request, request_id);
        let answer = async {
            let load = tracing::info_span!(target: TRACE_TARGET, "load");
            match in_span(self.components.get(&self.key), load).await {
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
        };
        let mut response = in_span(answer, span.clone()).await;
        record_status(&span, response.status());
        stamp_request_id(&mut response, request_id);
        response
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

/// The span of one request, continuing the trace its `traceparent` names.
/// Its app and digest are recorded once routed, its status once answered.
pub(crate) fn request_span(request: &Request<RequestBody>, request_id: RequestId) -> tracing::Span {
    let span = tracing::info_span!(
        target: TRACE_TARGET,
        "request",
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %request.method(),
        url.path = request.uri().path(),
        wharf.app = tracing::field::Empty,
        wharf.digest = tracing::field::Empty,
        wharf.request_id = %request_id,
        http.response.status_code = tracing::field::Empty,
    );
    continue_trace(&span, request.headers());
    span
}

/// Records the status a request's span ended with; a 5xx marks it failed.
pub(crate) fn record_status(span: &tracing::Span, status: StatusCode) {
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
}
