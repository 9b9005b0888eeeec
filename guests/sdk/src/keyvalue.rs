//! Durable key-value buckets (`wasi:keyvalue`), private to the app and
//! kept by wharf across requests, restarts and servers.
//!
//! ```no_run
//! use wharf_sdk::{Request, Response, Result, handler, keyvalue::Bucket};
//!
//! #[handler]
//! fn handle(_request: Request) -> Result<Response> {
//!     let bucket = Bucket::open("default")?;
//!     let visits = bucket.increment("visits", 1)?; // atomic, even across servers
//!     bucket.set("last-visit", b"just now")?;
//!     Ok(Response::text(format!("visit number {visits}\n")))
//! }
//! ```
//!
//! Keys are at most 256 bytes and values 1 MiB; each app has a quota on
//! its total data (64 MiB unless the operator says otherwise). Counters
//! are stored as decimal text.

use crate::bindings::wasi::keyvalue::{atomics, batch, store};
use crate::error::{Error, Result};

fn failed(doing: &str, error: store::Error) -> Error {
    let why = match error {
        store::Error::NoSuchStore => "no such bucket".to_owned(),
        store::Error::AccessDenied => "access denied".to_owned(),
        store::Error::Other(message) => message,
    };
    Error::internal(format!("{doing} failed: {why}"))
}

/// One of the app's buckets. Names are 1 to 64 letters, digits, `_`, `-`
/// or `.`; a bucket exists as soon as something is stored in it.
pub struct Bucket {
    name: String,
    inner: store::Bucket,
}

impl Bucket {
    /// Opens the bucket `name`.
    pub fn open(name: &str) -> Result<Self> {
        let inner = store::open(name)
            .map_err(|error| failed(&format!("opening bucket {name:?}"), error))?;
        Ok(Self {
            name: name.to_owned(),
            inner,
        })
    }

    fn failed(&self, doing: &str, key: &str, error: store::Error) -> Error {
        failed(&format!("{doing} {key:?} in bucket {:?}", self.name), error)
    }

    /// The value at `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.inner
            .get(key)
            .map_err(|e| self.failed("reading", key, e))
    }

    /// Stores `value` at `key`.
    pub fn set(&self, key: &str, value: impl AsRef<[u8]>) -> Result<()> {
        self.inner
            .set(key, value.as_ref())
            .map_err(|e| self.failed("writing", key, e))
    }

    /// Removes `key`; a missing key is not an error.
    pub fn delete(&self, key: &str) -> Result<()> {
        self.inner
            .delete(key)
            .map_err(|e| self.failed("deleting", key, e))
    }

    /// Whether `key` is set.
    pub fn exists(&self, key: &str) -> Result<bool> {
        self.inner
            .exists(key)
            .map_err(|e| self.failed("checking", key, e))
    }

    /// Every key, in order.
    pub fn keys(&self) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .inner
                .list_keys(cursor)
                .map_err(|e| failed(&format!("listing bucket {:?}", self.name), e))?;
            keys.extend(page.keys);
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(keys),
            }
        }
    }

    /// Adds `delta` to the counter at `key` (a missing key counts as 0) and
    /// returns the new value. Atomic: concurrent increments all count.
    pub fn increment(&self, key: &str, delta: u64) -> Result<u64> {
        atomics::increment(&self.inner, key, delta).map_err(|e| self.failed("incrementing", key, e))
    }

    /// The values at `keys`, in order; `None` where a key is not set.
    pub fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let found = batch::get_many(&self.inner, keys)
            .map_err(|e| failed(&format!("reading from bucket {:?}", self.name), e))?;
        Ok(found
            .into_iter()
            .map(|entry| entry.map(|(_, value)| value))
            .collect())
    }

    /// Stores every `(key, value)`.
    pub fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<()> {
        batch::set_many(&self.inner, entries)
            .map_err(|e| failed(&format!("writing to bucket {:?}", self.name), e))
    }
}
