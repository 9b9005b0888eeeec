//! [`MemoryKeyValue`]: key-value data in process memory, for `wharf run`.

use super::{KeyValueError, KeyValueFuture, KeyValueStore};
use std::collections::BTreeMap;
use std::sync::Mutex;

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

/// What an entry counts against its app's quota, as every store counts it.
use wharf_store::kv_entry_bytes as entry_size;

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
