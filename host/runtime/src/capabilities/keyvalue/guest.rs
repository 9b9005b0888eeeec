//! The guest's side of `wasi:keyvalue`: buckets, names and sizes checked,
//! each app kept to its own data.

use super::{KeyValueError, KeyValueLimits, KeyValueStore};
use crate::capabilities::{AppContext, HostState};
use crate::world::generated::wasi::keyvalue::{atomics, batch, store};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker, Resource};

/// Links `wasi:keyvalue/store`, `atomics` and `batch`.
pub(in crate::capabilities) fn add_to_linker(
    linker: &mut Linker<HostState>,
) -> wasmtime::Result<()> {
    store::add_to_linker::<_, HasSelf<HostState>>(linker, |state| state)?;
    atomics::add_to_linker::<_, HasSelf<HostState>>(linker, |state| state)?;
    batch::add_to_linker::<_, HasSelf<HostState>>(linker, |state| state)
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

    /// Counts one `operation` on the app's data.
    fn count(&self, operation: &'static str) {
        crate::metrics::keyvalue_operation(self.app(), operation);
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
        self.count("get");
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
        self.count("set");
        self.store()
            .set(self.app(), bucket, key, value, quota)
            .await
            .map_err(guest_error)
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), store::Error> {
        self.check_key(key)?;
        self.count("delete");
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
        data.count("list_keys");
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
        data.count("increment");
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
