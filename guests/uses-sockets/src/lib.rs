//! Opens a raw TCP connection with Rust's std (which imports wasi:sockets)
//! to `?to=HOST:PORT`, writes one line, and says whether it could. wharf
//! refuses the connection unless the app's outbound rules name that host
//! and port.

use std::io::Write;
use wharf_sdk::{Error, Request, Response, Result, handler};

#[handler]
fn uses_sockets(request: Request) -> Result<Response> {
    let to = request
        .query_param("to")
        .ok_or_else(|| Error::bad_request("say where to connect: /?to=HOST:PORT"))?;
    let answer = match std::net::TcpStream::connect(to.as_str()) {
        Ok(mut stream) => match stream.write_all(b"hello from rust\n") {
            Ok(()) => "connected\n".to_owned(),
            Err(error) => format!("write failed: {error}\n"),
        },
        Err(error) => format!("refused: {error}\n"),
    };
    Ok(Response::text(answer))
}
