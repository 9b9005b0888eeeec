//! Durable counters in a key-value bucket.
//!
//! - `POST /NAME` adds 1 (or `?by=N`) to the counter NAME and answers the
//!   new value; increments are atomic, so concurrent requests all count.
//! - `GET /NAME` answers the value (0 if never counted).
//! - `GET /` lists the counters as `name=value` lines.

use wharf_sdk::keyvalue::Bucket;
use wharf_sdk::{Error, Method, Request, Response, Result, handler};

#[handler]
fn count(request: Request) -> Result<Response> {
    let bucket = Bucket::open("counters")?;
    let name = request.path().trim_start_matches('/');
    if name.is_empty() {
        let mut listing = String::new();
        for key in bucket.keys()? {
            let value = bucket.get(&key)?.unwrap_or_default();
            listing += &format!("{key}={}\n", String::from_utf8_lossy(&value));
        }
        return Ok(Response::text(listing));
    }
    match request.method() {
        Method::Post => {
            let by = match request.query_param("by") {
                Some(by) => by.parse().map_err(|_| {
                    Error::bad_request(format!("`by` must be a whole number, not {by:?}"))
                })?,
                None => 1,
            };
            let value = bucket.increment(name, by)?;
            Ok(Response::text(format!("{value}\n")))
        }
        Method::Get => {
            let value = bucket.get(name)?.map_or_else(
                || "0".to_owned(),
                |v| String::from_utf8_lossy(&v).into_owned(),
            );
            Ok(Response::text(format!("{value}\n")))
        }
        other => Err(Error::new(
            405,
            format!("{other} is not allowed; use GET or POST"),
        )),
    }
}
