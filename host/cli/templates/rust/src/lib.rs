//! `{{name}}`: a wasi:http app for wharf.

use wharf_sdk::{Request, Response, handler};

#[handler]
fn handle(request: Request) -> Response {
    // stdout and stderr go to wharf's log, tagged with the request id.
    println!("{{name}} handling {}", request.path_with_query());
    Response::text("Hello from {{name}}!\n")
}
