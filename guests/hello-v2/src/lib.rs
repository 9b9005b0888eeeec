//! The second version of `hello`: a different greeting, so tests can tell
//! which version answered.

use wharf_sdk::{Request, Response, handler};

#[handler]
fn hello(request: Request) -> Response {
    println!("hello-v2 guest handling {}", request.path_with_query());
    Response::text("Hello from wharf, v2!\n")
}
