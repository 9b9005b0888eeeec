//! Reads the app's configuration: `greeting` (a plain value) and
//! `api-token` (usually a secret), set with `wharf config set`.
//!
//! `GET /` answers `GREETING, world! The token has N characters.`; the
//! token itself is never sent back. `GET /keys` lists the keys it can see.

use wharf_sdk::{Request, Response, Result, config, handler};

#[handler]
fn show(request: Request) -> Result<Response> {
    if request.path() == "/keys" {
        let keys: Vec<String> = config::all()?.into_iter().map(|(key, _)| key).collect();
        return Ok(Response::text(format!("{}\n", keys.join("\n"))));
    }
    let greeting = config::get("greeting")?.unwrap_or_else(|| "Hello".to_owned());
    let token = config::get("api-token")?;
    let token = match token {
        Some(token) => format!("The token has {} characters.", token.chars().count()),
        None => "There is no token.".to_owned(),
    };
    Ok(Response::text(format!("{greeting}, world! {token}\n")))
}
