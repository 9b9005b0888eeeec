//! The app's configuration (`wasi:config/store`): values and secrets that
//! the operator sets with `wharf config set APP KEY=VALUE [--secret]`.
//!
//! ```no_run
//! use wharf_sdk::{Request, Response, Result, config, handler};
//!
//! #[handler]
//! fn handle(_request: Request) -> Result<Response> {
//!     let greeting = config::get("greeting")?.unwrap_or_else(|| "Hello".into());
//!     let api_key = config::require("api-key")?; // a secret, read like any value
//!     Ok(Response::text(format!("{greeting}! (key of {} bytes)\n", api_key.len())))
//! }
//! ```

use crate::bindings::wasi::config::store;
use crate::error::{Error, Result};

fn failed(error: store::Error) -> Error {
    Error::internal(format!("reading the app's configuration failed: {error:?}"))
}

/// The value of `key`, if set.
pub fn get(key: &str) -> Result<Option<String>> {
    store::get(key).map_err(failed)
}

/// The value of `key`; a 500 naming the key when it is not set.
pub fn require(key: &str) -> Result<String> {
    get(key)?.ok_or_else(|| {
        Error::internal(format!(
            "the configuration key `{key}` is not set; set it with `wharf config set APP {key}=VALUE`"
        ))
    })
}

/// Every key and value.
pub fn all() -> Result<Vec<(String, String)>> {
    store::get_all().map_err(failed)
}
