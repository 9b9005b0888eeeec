//! Opens a raw TCP socket, which imports wasi:sockets. wharf does not give
//! apps sockets, so it must refuse this component before serving it.

use std::io::Write;
use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct UsesSockets;

wasi::http::proxy::export!(UsesSockets);

impl Guest for UsesSockets {
    fn handle(_request: IncomingRequest, _response_out: ResponseOutparam) {
        let mut stream = std::net::TcpStream::connect("10.0.0.1:80").expect("connect");
        stream.write_all(b"GET / HTTP/1.0\r\n\r\n").expect("write");
    }
}
