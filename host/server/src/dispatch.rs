//! Deciding which component answers a request, and answering it.

use crate::ComponentCache;
use crate::error_response::{error_response, text_response};
use crate::listener::RequestBody;
use crate::{DIGEST_HEADER, REQUEST_ID_HEADER};
use http::{HeaderValue, Request, Response, StatusCode};
use std::sync::Arc;
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
    app: Arc<AppContext>,
}

impl SingleApp {
    /// Serves the component stored under `key`, loaded through
    /// `components` like any app of `wharf serve` (so provisional code is
    /// replaced by the optimized code when that is ready), on `runtime`, as
    /// the app `app` describes.
    pub fn new(
        runtime: Arc<Runtime>,
        components: ComponentCache,
        key: BlobKey,
        app: Arc<AppContext>,
    ) -> Self {
        Self {
            runtime,
            components,
            key,
            app,
        }
    }
}

impl Dispatch for SingleApp {
    async fn dispatch(&self, request: Request<RequestBody>) -> Response<GuestBody> {
        let request_id = RequestId::new();
        let mut response = match self.components.get(&self.key).await {
            Ok(component) => {
                serve_component(&self.runtime, &component, &self.app, request, request_id).await
            }
            Err(e) => {
                tracing::error!(%request_id, "cannot load the component: {e}");
                text_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the component does not load (request id {request_id})\n"),
                )
            }
        };
        stamp_request_id(&mut response, request_id);
        response
    }
}

/// Hands `request` to `component`, turning a failure into its error
/// response, and marks the response with the component's digest.
pub(crate) async fn serve_component(
    runtime: &Runtime,
    component: &CompiledComponent,
    app: &Arc<AppContext>,
    request: Request<RequestBody>,
    request_id: RequestId,
) -> Response<GuestBody> {
    let mut response = match runtime.handle(component, request, request_id, app).await {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(%request_id, "{error}");
            error_response(&error, request_id)
        }
    };
    response
        .headers_mut()
        .insert(DIGEST_HEADER, component.digest_header().clone());
    response
}

/// Marks `response` with the request id the log uses for it.
pub(crate) fn stamp_request_id(response: &mut Response<GuestBody>, id: RequestId) {
    let value = HeaderValue::from_str(&id.to_string()).expect("hex is always a valid header value");
    response.headers_mut().insert(REQUEST_ID_HEADER, value);
}
