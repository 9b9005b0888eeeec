//! A small JSON API: a few routes with path parameters, JSON in and out.
//!
//! - `GET /` lists the routes.
//! - `GET /hello/:name` greets `name`.
//! - `POST /sum` takes `{"numbers": [..]}` and answers `{"sum": ..,
//!   "count": ..}`.
//! - `GET /files/*path` answers with the captured rest of the path.

use serde::{Deserialize, Serialize};
use wharf_sdk::{Error, Request, Response, Result, Router, handler};

#[derive(Deserialize)]
struct SumRequest {
    numbers: Vec<f64>,
}

#[derive(Serialize)]
struct SumResponse {
    sum: f64,
    count: usize,
}

#[derive(Serialize)]
struct Greeting<'a> {
    greeting: String,
    name: &'a str,
}

#[handler]
fn route(request: Request) -> Response {
    Router::new()
        .get("/", |_| {
            Response::json(&["GET /hello/:name", "POST /sum", "GET /files/*path"])
        })
        .get("/hello/:name", hello)
        .post("/sum", sum)
        .get("/files/*path", |request| {
            Response::json(&serde_json_path(request.param("path").unwrap_or_default()))
        })
        .handle(request)
}

fn hello(request: Request) -> Result<Response> {
    let name = request
        .param("name")
        .ok_or_else(|| Error::bad_request("name a person: /hello/NAME"))?;
    Ok(Response::json(&Greeting {
        greeting: format!("Hello, {name}!"),
        name,
    }))
}

fn sum(request: Request) -> Result<Response> {
    let input: SumRequest = request.json()?;
    if input.numbers.is_empty() {
        return Err(Error::bad_request(
            "`numbers` must hold at least one number",
        ));
    }
    Ok(Response::json(&SumResponse {
        sum: input.numbers.iter().sum(),
        count: input.numbers.len(),
    }))
}

/// The captured path as a JSON object.
fn serde_json_path(path: &str) -> impl Serialize + '_ {
    #[derive(Serialize)]
    struct File<'a> {
        path: &'a str,
    }
    File { path }
}
