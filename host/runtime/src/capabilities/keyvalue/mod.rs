//! `wasi:keyvalue`: per-app buckets behind the [`KeyValueStore`] trait.
//!
//! The host side checks names and sizes and keeps each app to its own
//! namespace; a [`KeyValueStore`] keeps the data. `wharf serve` stores it in
//! the registry database, and `wharf run` in memory ([`MemoryKeyValue`]).
//! Counters (`atomics.increment`) are decimal text, so `get` reads them as
//! `"42"`.
//!
//! - `guest.rs`: the host functions a guest calls, and [`Bucket`];
//! - `memory.rs`: [`MemoryKeyValue`].

mod guest;
mod memory;

pub use guest::Bucket;
pub(super) use guest::add_to_linker;
pub use memory::MemoryKeyValue;

use std::future::Future;
use std::pin::Pin;

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
    /// The store itself failed (its database, say).
    #[error("the key-value store failed: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Limits on an app's key-value data. Each entry counts its bucket name,
/// key and value plus [`wharf_store::KV_ENTRY_OVERHEAD`] (64) bytes against the quota.
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
