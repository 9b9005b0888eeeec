//! A native hyper HTTP/1 server for the benchmarks: `GET /` answers the same
//! greeting as the `hello` guest and `POST /echo` streams the body back. It
//! does what a wasi:http host does minus WebAssembly, so it marks the
//! ceiling wharf is measured against.
//!
//!     native-hello 127.0.0.1:0     # prints `listening on http://ADDR`

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;

type Body = BoxBody<Bytes, hyper::Error>;

async fn answer(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let response = if request.uri().path() == "/echo" {
        Response::new(request.into_body().boxed())
    } else {
        Response::builder()
            .header("content-type", "text/plain; charset=utf-8")
            .body(
                Full::new(Bytes::from_static(b"Hello from wharf!\n"))
                    .map_err(|never| match never {})
                    .boxed(),
            )
            .expect("a valid response")
    };
    Ok(response)
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    // As many workers as the CPUs it may run on, like wharf.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        eprintln!("listening on http://{}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service_fn(answer))
                    .await;
            });
        }
    })
}
