//! `{{name}}`: a wasi:http app for wharf.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct App;

wasi::http::proxy::export!(App);

impl Guest for App {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        // stdout and stderr go to wharf's log, tagged with the request id.
        println!("{{name}} handling {path}");

        let headers = Fields::from_list(&[(
            "content-type".to_owned(),
            b"text/plain; charset=utf-8".to_vec(),
        )])
        .expect("valid header");
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("body is taken once");
        ResponseOutparam::set(response_out, Ok(response));
        let out = body.write().expect("stream is taken once");
        out.blocking_write_and_flush(b"Hello from {{name}}!\n")
            .expect("write the greeting");
        drop(out);
        OutgoingBody::finish(body, None).expect("finish the body");
    }
}
