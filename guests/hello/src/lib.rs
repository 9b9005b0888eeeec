//! Answers every request with a greeting, and logs one line to stdout.

use wharf_sdk::{Request, Response, handler};

#[handler]
fn hello(request: Request) -> Response {
    println!("hello guest handling {}", request.path_with_query());
    Response::text("Hello from wharf!\n")
}
