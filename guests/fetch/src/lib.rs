//! Fetches the URL in `?url=` with an outbound request and streams the
//! upstream response back: status, content type and body.
//!
//! wharf lets an app reach only the origins its operator allowed; a denied
//! request answers 502 with the reason.

use wharf_sdk::{Error, Request, Response, Result, client, handler};

#[handler]
fn fetch(request: Request) -> Result<Response> {
    let url = request
        .query_param("url")
        .ok_or_else(|| Error::bad_request("say what to fetch: /?url=https://example.com/"))?;
    let upstream = match client::get(&url) {
        Ok(upstream) => upstream,
        // The reason is the point of this example, so it goes to the client.
        Err(error) => {
            return Ok(Response::new(502).with_body(format!("{}\n", error.message())));
        }
    };
    let mut response = Response::new(upstream.status()).with_header("x-fetched-from", url);
    if let Some(content_type) = upstream.header("content-type") {
        response = response.with_header("content-type", content_type);
    }
    let body = upstream.into_body();
    Ok(response.stream(move |out| body.pipe_to(out).map(drop)))
}
