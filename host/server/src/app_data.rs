//! The registry as the store behind apps' `wasi:keyvalue` buckets.

use wharf_registry::{Registry, RegistryError};
use wharf_runtime::{KeyValueError, KeyValueFuture, KeyValueStore};

/// Keeps apps' key-value data in the registry database, so it is durable
/// and shared by every server on that database.
pub struct RegistryKeyValue(pub Registry);

fn error(error: RegistryError) -> KeyValueError {
    match error {
        RegistryError::QuotaExceeded { would_be, quota } => {
            KeyValueError::QuotaExceeded { would_be, quota }
        }
        RegistryError::NotACounter(key) => KeyValueError::NotACounter(key),
        RegistryError::CounterOverflow(key) => KeyValueError::Overflow(key),
        other => KeyValueError::Store(Box::new(other)),
    }
}

impl KeyValueStore for RegistryKeyValue {
    fn get<'a>(
        &'a self,
        app: &'a str,
        bucket: &'a str,
        key: &'a str,
    ) -> KeyValueFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move { self.0.kv_get(app, bucket, key).await.map_err(error) })
    }

    fn set<'a>(
        &'a self,
        app: &'a str,
        bucket: &'a str,
        key: &'a str,
        value: Vec<u8>,
        quota: u64,
    ) -> KeyValueFuture<'a, ()> {
        Box::pin(async move {
            self.0
                .kv_set(app, bucket, key, &value, quota)
                .await
                .map_err(error)
        })
    }

    fn delete<'a>(&'a self, app: &'a str, bucket: &'a str, key: &'a str) -> KeyValueFuture<'a, ()> {
        Box::pin(async move { self.0.kv_delete(app, bucket, key).await.map_err(error) })
    }

    fn list_keys<'a>(
        &'a self,
        app: &'a str,
        bucket: &'a str,
        offset: u64,
        limit: u64,
    ) -> KeyValueFuture<'a, Vec<String>> {
        Box::pin(async move {
            self.0
                .kv_list_keys(app, bucket, offset, limit)
                .await
                .map_err(error)
        })
    }

    fn increment<'a>(
        &'a self,
        app: &'a str,
        bucket: &'a str,
        key: &'a str,
        delta: u64,
        quota: u64,
    ) -> KeyValueFuture<'a, u64> {
        Box::pin(async move {
            self.0
                .kv_increment(app, bucket, key, delta, quota)
                .await
                .map_err(error)
        })
    }
}
