//! `wasi:keyvalue`: per-app buckets behind the [`KeyValueStore`] trait.
//!
//! The host side checks names and sizes and keeps each app to its own
//! namespace; a [`KeyValueStore`] keeps the data. `wharf serve` stores it in
//! the registry database, and `wharf run` in memory ([`MemoryKeyValue`]).
//! Counters (`atomics.increment`) are decimal text, so `get` reads them as
//! `"42"`.

use crate::AppContext;
use crate::host::HostState;
use crate::world::generated::wasi::keyvalue::{atomics, batch, store};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use wasmtime::component::Resource;

/// A future returned by a [`KeyValueStore`].
pub type KeyValueFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, KeyValueError>> + Send + 'a>>;

/// Where apps' key-value data is kept. Every call names the app, so one
/// app can never reach another's buckets.
pub trait KeyValueStore: Send + Sync + 'static {
    /// The value of `key`, if set.
    fn get<'a>(
        &'a self,
        app: &'a str,
        bucket: &'a str,
        key: &'a str,
    ) -> KeyValueFuture<'a, Option<Vec<u8>>>;

    /// Sets `key` to `value`, unless the app's data would then exceed
    /// `quota` bytes (keys plus values).
    fn set<'a>(
        &'a self,
        app: &'a str,
        bucket: &'a str,
        key: &'a str,
        value: Vec<u8>,
        quota: u64,
    ) -> KeyValueFuture<'a, ()>;

    /// Removes `key`; removing a missing key is not an error.
    fn delete<'a>(&'a self, app: &'a str, bucket: &'a str, key: &'a str) -> KeyValueFuture<'a, ()>;

    /// Up to `limit` keys of `bucket` in order, starting after the first
    /// `offset`.
    fn list_keys<'a>(
        &'a self,
        app: &'a str,
        bucket: &'a str,
        offset: u64,
        limit: u64,
    ) -> KeyValueFuture<'a, Vec<String>>;

    /// Adds `delta` to the counter at `key` (missing counts as 0) and
    /// returns the new value, atomically even across servers.
    fn increment<'a>(
        &'a self,
        app: &'a str,
        bucket: &'a str,
        key: &'a str,
        delta: u64,
        quota: u64,
    ) -> KeyValueFuture<'a, u64>;
}

/// Why a key-value operation failed; the guest sees the message.
#[derive(Debug, thiserror::Error)]
pub enum KeyValueError {
    /// A key, value or bucket name over its limit.
    #[error("{what} is {size} bytes; the limit is {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// An empty key, or one with control characters.
    #[error("keys are 1 to {limit} bytes of text without control characters; {key:?} is not one")]
    BadKey {
        /// The key.
        key: String,
        /// The most bytes a key may have.
        limit: usize,
    },
    /// A bucket name outside `[A-Za-z0-9_.-]{1,64}`.
    #[error("bucket names are 1 to 64 letters, digits, `_`, `-` or `.`; {0:?} is not one")]
    BadBucketName(String),
    /// The write would take the app past its quota.
    #[error("the app's key-value data would grow to {would_be} bytes, over its quota of {quota}")]
    QuotaExceeded {
        /// The size the data would have had.
        would_be: u64,
        /// The quota.
        quota: u64,
    },
    /// `increment` on a value that is not a decimal counter.
    #[error("the value at {0:?} is not a counter (decimal digits)")]
    NotACounter(String),
    /// `increment` past `u64::MAX`.
    #[error("incrementing {0:?} would overflow")]
    Overflow(String),
    /// The store itself failed.
    #[error("the key-value store failed: {0}")]
    Backend(String),
}

/// Limits on an app's key-value data. Each entry counts its bucket name,
/// key and value plus 64 bytes against the quota.
#[derive(Clone, Copy, Debug)]
pub struct KeyValueLimits {
    /// Longest key, in bytes.
    pub max_key_bytes: usize,
    /// Largest value, in bytes.
    pub max_value_bytes: usize,
    /// Most bytes (keys plus values) one app may keep.
    pub quota_bytes: u64,
    /// Most keys one `list-keys` call returns.
    pub list_page: u64,
}

impl Default for KeyValueLimits {
    fn default() -> Self {
        Self {
            max_key_bytes: 256,
            max_value_bytes: 1 << 20,
            quota_bytes: 64 << 20,
            list_page: 1000,
        }
    }
}

/// An open bucket: a name within the app's namespace.
pub struct Bucket {
    name: String,
}

fn check_bucket_name(name: &str) -> Result<(), KeyValueError> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(KeyValueError::BadBucketName(name.to_owned()))
    }
}

/// One request's view of its app's key-value data: the app's shared
/// context, owned so it can be held across an `await` while the store call
/// runs.
struct AppData(Arc<AppContext>);

impl AppData {
    fn store(&self) -> &dyn KeyValueStore {
        &*self.0.keyvalue
    }

    fn app(&self) -> &str {
        &self.0.facts.app
    }

    fn limits(&self) -> &KeyValueLimits {
        &self.0.keyvalue_limits
    }

    fn check_key(&self, key: &str) -> Result<(), store::Error> {
        let limit = self.limits().max_key_bytes;
        if key.len() > limit {
            return Err(guest_error(KeyValueError::TooLarge {
                what: "the key",
                size: key.len(),
                limit,
            }));
        }
        if key.is_empty() || key.chars().any(char::is_control) {
            return Err(guest_error(KeyValueError::BadKey {
                key: key.to_owned(),
                limit,
            }));
        }
        Ok(())
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, store::Error> {
        self.check_key(key)?;
        self.store()
            .get(self.app(), bucket, key)
            .await
            .map_err(guest_error)
    }

    async fn set(&self, bucket: &str, key: &str, value: Vec<u8>) -> Result<(), store::Error> {
        self.check_key(key)?;
        let limit = self.limits().max_value_bytes;
        if value.len() > limit {
            return Err(guest_error(KeyValueError::TooLarge {
                what: "the value",
                size: value.len(),
                limit,
            }));
        }
        let quota = self.limits().quota_bytes;
        self.store()
            .set(self.app(), bucket, key, value, quota)
            .await
            .map_err(guest_error)
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), store::Error> {
        self.check_key(key)?;
        self.store()
            .delete(self.app(), bucket, key)
            .await
            .map_err(guest_error)
    }
}

impl HostState {
    /// The app's data and the name of `bucket`, taken out of the state.
    fn open_bucket(&self, bucket: &Resource<Bucket>) -> Result<(AppData, String), store::Error> {
        let name = self
            .table
            .get(bucket)
            .map(|bucket| bucket.name.clone())
            .map_err(|error| store::Error::Other(error.to_string()))?;
        Ok((AppData(self.app.clone()), name))
    }
}

/// A key-value error as the guest sees it: `other` with the message.
fn guest_error(error: KeyValueError) -> store::Error {
    store::Error::Other(error.to_string())
}

impl store::Host for HostState {
    async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, store::Error> {
        check_bucket_name(&identifier).map_err(guest_error)?;
        self.table
            .push(Bucket { name: identifier })
            .map_err(|error| store::Error::Other(error.to_string()))
    }
}

impl store::HostBucket for HostState {
    async fn get(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> Result<Option<Vec<u8>>, store::Error> {
        let (data, name) = self.open_bucket(&bucket)?;
        data.get(&name, &key).await
    }

    async fn set(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), store::Error> {
        let (data, name) = self.open_bucket(&bucket)?;
        data.set(&name, &key, value).await
    }

    async fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> Result<(), store::Error> {
        let (data, name) = self.open_bucket(&bucket)?;
        data.delete(&name, &key).await
    }

    async fn exists(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> Result<bool, store::Error> {
        let (data, name) = self.open_bucket(&bucket)?;
        Ok(data.get(&name, &key).await?.is_some())
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<u64>,
    ) -> Result<store::KeyResponse, store::Error> {
        let (data, name) = self.open_bucket(&bucket)?;
        let offset = cursor.unwrap_or(0);
        let page = data.limits().list_page;
        let keys = data
            .store()
            .list_keys(data.app(), &name, offset, page)
            .await
            .map_err(guest_error)?;
        let cursor = (keys.len() as u64 == page).then(|| offset + page);
        Ok(store::KeyResponse { keys, cursor })
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for HostState {
    async fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: u64,
    ) -> Result<u64, store::Error> {
        let (data, name) = self.open_bucket(&bucket)?;
        data.check_key(&key)?;
        let quota = data.limits().quota_bytes;
        data.store()
            .increment(data.app(), &name, &key, delta, quota)
            .await
            .map_err(guest_error)
    }
}

impl batch::Host for HostState {
    async fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, store::Error> {
        let (data, name) = self.open_bucket(&bucket)?;
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            let value = data.get(&name, &key).await?;
            found.push(value.map(|value| (key, value)));
        }
        Ok(found)
    }

    async fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), store::Error> {
        let (data, name) = self.open_bucket(&bucket)?;
        for (key, value) in key_values {
            data.set(&name, &key, value).await?;
        }
        Ok(())
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<(), store::Error> {
        let (data, name) = self.open_bucket(&bucket)?;
        for key in keys {
            data.delete(&name, &key).await?;
        }
        Ok(())
    }
}

/// Key-value data in memory, for `wharf run`: it lasts as long as the
/// process.
#[derive(Default)]
pub struct MemoryKeyValue {
    entries: Mutex<Entries>,
}

type Entries = BTreeMap<(String, String, String), Vec<u8>>;

impl MemoryKeyValue {
    /// Sets an entry in `entries`, which the caller holds locked.
    fn put(
        entries: &mut Entries,
        app: &str,
        bucket: &str,
        key: &str,
        value: Vec<u8>,
        quota: u64,
    ) -> Result<(), KeyValueError> {
        let id = (app.to_owned(), bucket.to_owned(), key.to_owned());
        let usage: u64 = entries
            .range((app.to_owned(), String::new(), String::new())..)
            .take_while(|((owner, _, _), _)| owner == app)
            .map(|((_, bucket, key), value)| entry_size(bucket, key, value))
            .sum();
        let old = entries
            .get(&id)
            .map_or(0, |old| entry_size(bucket, key, old));
        let would_be = usage - old + entry_size(bucket, key, &value);
        if would_be > quota {
            return Err(KeyValueError::QuotaExceeded { would_be, quota });
        }
        entries.insert(id, value);
        Ok(())
    }
}

impl KeyValueStore for MemoryKeyValue {
    fn get<'a>(
        &'a self,
        app: &'a str,
        bucket: &'a str,
        key: &'a str,
    ) -> KeyValueFuture<'a, Option<Vec<u8>>> {
        let id = (app.to_owned(), bucket.to_owned(), key.to_owned());
        let value = self
            .entries
            .lock()
            .expect("key-value lock")
            .get(&id)
            .cloned();
        Box::pin(async move { Ok(value) })
    }

    fn set<'a>(
        &'a self,
        app: &'a str,
        bucket: &'a str,
        key: &'a str,
        value: Vec<u8>,
        quota: u64,
    ) -> KeyValueFuture<'a, ()> {
        let mut entries = self.entries.lock().expect("key-value lock");
        let result = Self::put(&mut entries, app, bucket, key, value, quota);
        Box::pin(async move { result })
    }

    fn delete<'a>(&'a self, app: &'a str, bucket: &'a str, key: &'a str) -> KeyValueFuture<'a, ()> {
        let id = (app.to_owned(), bucket.to_owned(), key.to_owned());
        self.entries.lock().expect("key-value lock").remove(&id);
        Box::pin(async { Ok(()) })
    }

    fn list_keys<'a>(
        &'a self,
        app: &'a str,
        bucket: &'a str,
        offset: u64,
        limit: u64,
    ) -> KeyValueFuture<'a, Vec<String>> {
        let keys = self
            .entries
            .lock()
            .expect("key-value lock")
            .range((app.to_owned(), bucket.to_owned(), String::new())..)
            .map(|(id, _)| id)
            .take_while(|(owner, name, _)| owner == app && name == bucket)
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|(_, _, key)| key.clone())
            .collect();
        Box::pin(async move { Ok(keys) })
    }

    fn increment<'a>(
        &'a self,
        app: &'a str,
        bucket: &'a str,
        key: &'a str,
        delta: u64,
        quota: u64,
    ) -> KeyValueFuture<'a, u64> {
        // One lock around read and write makes the increment atomic.
        let mut entries = self.entries.lock().expect("key-value lock");
        let id = (app.to_owned(), bucket.to_owned(), key.to_owned());
        let result =
            next_counter(key, entries.get(&id).map(Vec::as_slice), delta).and_then(|next| {
                Self::put(
                    &mut entries,
                    app,
                    bucket,
                    key,
                    next.to_string().into_bytes(),
                    quota,
                )?;
                Ok(next)
            });
        Box::pin(async move { result })
    }
}

/// What an entry counts against its app's quota: its bucket name, key and
/// value, plus 64 bytes for the entry itself, as the registry counts them.
fn entry_size(bucket: &str, key: &str, value: &[u8]) -> u64 {
    (bucket.len() + key.len() + value.len() + 64) as u64
}

/// The counter after adding `delta` to `current` (decimal text; missing is
/// 0).
fn next_counter(key: &str, current: Option<&[u8]>, delta: u64) -> Result<u64, KeyValueError> {
    let current = match current {
        None => 0,
        Some(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| text.parse::<u64>().ok())
            .ok_or_else(|| KeyValueError::NotACounter(key.to_owned()))?,
    };
    current
        .checked_add(delta)
        .ok_or_else(|| KeyValueError::Overflow(key.to_owned()))
}
