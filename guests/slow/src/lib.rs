//! Sleeps before answering: `/?ms=N` waits N milliseconds (default 1000).
//! Used to test deadlines and graceful shutdown.

use wasi::clocks::monotonic_clock;
use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Slow;

wasi::http::proxy::export!(Slow);

impl Guest for Slow {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let ms: u64 = path
            .split_once("ms=")
            .and_then(|(_, rest)| rest.split('&').next()?.parse().ok())
            .unwrap_or(1000);
        monotonic_clock::subscribe_duration(ms * 1_000_000).block();

        let response = OutgoingResponse::new(Fields::new());
        let body = response.body().expect("body is taken once");
        ResponseOutparam::set(response_out, Ok(response));
        let out = body.write().expect("stream is taken once");
        out.blocking_write_and_flush(format!("slept {ms} ms\n").as_bytes())
            .expect("write the body");
        drop(out);
        OutgoingBody::finish(body, None).expect("finish the body");
    }
}
