//! Deciding which component answers a request, and answering it.

use crate::error_response::error_response;
use crate::{DIGEST_HEADER, REQUEST_ID_HEADER};
use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;
use std::sync::Arc;
use wharf_runtime::{CompiledComponent, GuestBody, RequestId, Runtime};

/// Turns one request into one response. Implemented by the server's routers.
pub trait Dispatch: Send + Sync + 'static {
    /// Answers `request`. Never fails: errors become error responses.
    fn dispatch(
        &self,
        request: Request<Incoming>,
    ) -> impl Future<Output = Response<GuestBody>> + Send;
}

/// Serves every request with one component: the dispatch of `wharf run`.
pub struct SingleApp {
    runtime: Arc<Runtime>,
    component: CompiledComponent,
    digest_header: HeaderValue,
}

impl SingleApp {
    /// Serves `component` on `runtime`.
    pub fn new(runtime: Arc<Runtime>, component: CompiledComponent) -> Self {
        let digest_header = HeaderValue::from_str(&component.digest().to_string())
            .expect("a digest is always a valid header value");
        Self {
            runtime,
            component,
            digest_header,
        }
    }
}

impl Dispatch for SingleApp {
    async fn dispatch(&self, request: Request<Incoming>) -> Response<GuestBody> {
        let request_id = RequestId::new();
        let mut response = match self
            .runtime
            .handle(&self.component, request, request_id)
            .await
        {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(%request_id, "{error}");
                error_response(&error, request_id)
            }
        };
        let headers = response.headers_mut();
        headers.insert(DIGEST_HEADER, self.digest_header.clone());
        headers.insert(REQUEST_ID_HEADER, request_id_header(request_id));
        response
    }
}

fn request_id_header(id: RequestId) -> HeaderValue {
    HeaderValue::from_str(&id.to_string()).expect("hex is always a valid header value")
}
