//! Streams the request body back as the response body, a chunk at a time,
//! so a large body never sits whole in guest memory.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingBody, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasi::io::streams::{OutputStream, StreamError};

struct Echo;

wasi::http::proxy::export!(Echo);

/// Largest chunk read from the request at once.
const CHUNK: u64 = 64 * 1024;

impl Guest for Echo {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let content_type = request.headers().get("content-type");
        let headers = Fields::new();
        if let Some(value) = content_type.into_iter().next() {
            headers.append("content-type", &value).expect("copy content-type");
        }
        let response = OutgoingResponse::new(headers);
        let out_body = response.body().expect("body is taken once");
        ResponseOutparam::set(response_out, Ok(response));

        let in_body = request.consume().expect("body is consumed once");
        let input = in_body.stream().expect("stream is taken once");
        let output = out_body.write().expect("stream is taken once");
        loop {
            match input.blocking_read(CHUNK) {
                Ok(chunk) => write_all(&output, &chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    panic!("reading the request body failed: {}", e.to_debug_string())
                }
            }
        }
        drop(input);
        drop(output);
        IncomingBody::finish(in_body);
        OutgoingBody::finish(out_body, None).expect("finish the body");
    }
}

/// Writes `data` in the pieces the stream accepts.
fn write_all(output: &OutputStream, mut data: &[u8]) {
    while !data.is_empty() {
        let n = data.len().min(4096);
        output
            .blocking_write_and_flush(&data[..n])
            .expect("write the response body");
        data = &data[n..];
    }
}
