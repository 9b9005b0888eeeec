//! Streams the request body back as the response body, a chunk at a time,
//! so a body of any size never sits whole in guest memory.

use wharf_sdk::{Request, Response, handler};

#[handler]
fn echo(request: Request) -> Response {
    let mut response = Response::new(200);
    if let Some(content_type) = request.header("content-type") {
        response = response.with_header("content-type", content_type);
    }
    let body = request.into_body();
    response.stream(move |out| body.pipe_to(out).map(drop))
}
