//! Responses for requests that a guest could not answer.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use wharf_runtime::{GuestBody, InvokeError, RequestId};

/// The status code and plain-text body a client gets for `error`. The body
/// names the request id so an operator can find the details in the log.
pub fn error_response(error: &InvokeError, request_id: RequestId) -> Response<GuestBody> {
    let status = match error {
        InvokeError::Overloaded { .. }
        | InvokeError::AppOverloaded { .. }
        | InvokeError::CpuTimeExceeded { .. } => StatusCode::SERVICE_UNAVAILABLE,
        InvokeError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        InvokeError::BodyStalled { .. } => StatusCode::REQUEST_TIMEOUT,
        InvokeError::DeadlineExceeded { .. } => StatusCode::GATEWAY_TIMEOUT,
        InvokeError::BadCgiResponse(_) => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    text_response(status, format!("{error} (request id {request_id})\n"))
}

/// A JSON response with the given status.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> Response<GuestBody> {
    full_response(status, "application/json", Bytes::from(body))
}

/// A plain-text response with the given status. A 503 also says when to
/// retry (`Retry-After: 1`).
pub fn text_response(status: StatusCode, body: String) -> Response<GuestBody> {
    full_response(status, "text/plain; charset=utf-8", Bytes::from(body))
}

pub(crate) fn full_response(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
) -> Response<GuestBody> {
    let body = Full::new(body)
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}
