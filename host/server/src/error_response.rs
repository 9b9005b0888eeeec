//! Responses for requests that a guest could not answer.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use wharf_runtime::{GuestBody, InvokeError, RequestId};

/// The status code and plain-text body a client gets for `error`. The body
/// names the request id so an operator can find the details in the log.
pub fn error_response(error: &InvokeError, request_id: RequestId) -> Response<GuestBody> {
    let status = match error {
        InvokeError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
        InvokeError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        InvokeError::DeadlineExceeded { .. } => StatusCode::GATEWAY_TIMEOUT,
        InvokeError::BadCgiResponse(_) => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut response = text_response(status, format!("{error} (request id {request_id})\n"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// A JSON response with the given status.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> Response<GuestBody> {
    let body = Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A plain-text response with the given status.
pub fn text_response(status: StatusCode, body: String) -> Response<GuestBody> {
    let body = Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
