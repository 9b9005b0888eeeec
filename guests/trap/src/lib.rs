//! Panics, which traps the instance, on every path but `/healthy`.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Trap;

wasi::http::proxy::export!(Trap);

impl Guest for Trap {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        if request.path_with_query().as_deref() != Some("/healthy") {
            panic!("this guest traps on purpose");
        }
        let response = OutgoingResponse::new(Fields::new());
        let body = response.body().expect("body is taken once");
        ResponseOutparam::set(response_out, Ok(response));
        let out = body.write().expect("stream is taken once");
        out.blocking_write_and_flush(b"still serving\n")
            .expect("write the body");
        drop(out);
        OutgoingBody::finish(body, None).expect("finish the body");
    }
}
