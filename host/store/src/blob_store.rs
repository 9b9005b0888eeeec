//! Content-addressed blobs in an object store.

use crate::cache::LocalCache;
use crate::location::{self, S3Settings};
use crate::objects;
use crate::{BlobKey, Digest, StoreError};
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::sync::Mutex as AsyncMutex;

/// How to open a [`BlobStore`] besides its URL.
#[derive(Clone, Debug, Default)]
pub struct StoreOptions {
    /// Settings for `s3://` URLs.
    pub s3: S3Settings,
    /// Where to keep local copies of blobs read from a remote store. Ignored
    /// for `file://` and `memory://`, which are local already.
    pub cache_dir: Option<std::path::PathBuf>,
}

/// The result of [`BlobStore::put`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PutOutcome {
    /// Where the blob is stored.
    pub key: BlobKey,
    /// `false` when the blob was already stored and the upload was skipped.
    pub uploaded: bool,
}

/// A blob found by [`BlobStore::list`].
#[derive(Clone, Copy, Debug)]
pub struct StoredBlob {
    /// Its key.
    pub key: BlobKey,
    /// When the backend last wrote it.
    pub last_modified: SystemTime,
}

/// Component blobs stored under their own digest.
///
/// - [`put`](Self::put) never overwrites: a blob already present is skipped.
/// - [`get`](Self::get) hashes every read again and refuses bytes that do
///   not match their key, so a damaged or tampered blob is never returned.
pub struct BlobStore {
    objects: Arc<dyn ObjectStore>,
    prefix: Path,
    cache: Option<LocalCache>,
    display: String,
    /// One lock per key being uploaded, so racing puts of the same bytes in
    /// this process upload once, even on stores without conditional writes.
    uploads: Mutex<HashMap<BlobKey, Arc<AsyncMutex<()>>>>,
}

impl BlobStore {
    /// Opens the store `url` names; see the crate docs for the schemes.
    pub fn open(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let backend = location::open(url, &options.s3)?;
        let cache = match (&options.cache_dir, backend.remote) {
            (Some(dir), true) => Some(LocalCache::open(dir)?),
            _ => None,
        };
        Ok(Self {
            objects: backend.objects,
            prefix: backend.prefix,
            cache,
            display: backend.display,
            uploads: Mutex::default(),
        })
    }

    /// The store's URL, without credentials.
    pub fn url(&self) -> &str {
        &self.display
    }

    /// The backend itself, for tools that must reach past the checks (such
    /// as tests that tamper with a blob on purpose).
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.objects
    }

    /// The backend path of `key`.
    pub fn location(&self, key: &BlobKey) -> Path {
        self.join(&key.to_string())
    }

    pub(crate) fn join(&self, relative: &str) -> Path {
        if self.prefix.as_ref().is_empty() {
            Path::from(relative)
        } else {
            Path::from(format!("{}/{relative}", self.prefix))
        }
    }

    fn backend_error(&self, key: &BlobKey, source: object_store::Error) -> StoreError {
        StoreError::ObjectStore {
            key: format!("{}/{}", self.display.trim_end_matches('/'), key),
            source,
        }
    }

    /// Whether a blob is stored under `key`.
    pub async fn contains(&self, key: &BlobKey) -> Result<bool, StoreError> {
        match self.objects.head(&self.location(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.backend_error(key, e)),
        }
    }

    /// Stores `bytes` under their own key unless a blob is there already.
    ///
    /// A stored blob is read back and verified first. If it is whole, the
    /// upload is skipped; if its bytes do not match its key (damaged or
    /// tampered with), these bytes replace it: the one case in which an
    /// object is written over. Otherwise nothing is overwritten. Puts of one
    /// key in this process take turns,
    /// and the write itself is conditional (`If-None-Match: *` on S3), so a
    /// store that honours conditional writes (AWS S3, R2, MinIO, local files)
    /// refuses to replace an object even across processes. A store that
    /// ignores them (Garage) can only see the same bytes written twice, by
    /// two processes racing on one key, since the key is the bytes' hash.
    pub async fn put(&self, bytes: Bytes) -> Result<PutOutcome, StoreError> {
        let key = hash(bytes.clone()).await;
        let lock = self
            .uploads
            .lock()
            .expect("upload table lock")
            .entry(key)
            .or_default()
            .clone();
        let outcome = {
            let _turn = lock.lock().await;
            self.put_once(key, bytes).await
        };
        let mut uploads = self.uploads.lock().expect("upload table lock");
        // Only the table and this call hold the lock: nobody else waits on it.
        if Arc::strong_count(&lock) == 2 {
            uploads.remove(&key);
        }
        outcome
    }

    async fn put_once(&self, key: BlobKey, bytes: Bytes) -> Result<PutOutcome, StoreError> {
        let location = self.location(&key);
        // What is stored already is read back and verified, so a damaged
        // object is repaired instead of being vouched for.
        let mode = match self.fetch(&key).await {
            Ok(_) => {
                return Ok(PutOutcome {
                    key,
                    uploaded: false,
                });
            }
            Err(StoreError::NotFound { .. }) => PutMode::Create,
            Err(StoreError::Corrupt { .. }) => {
                tracing::warn!(%key, "replacing a stored blob whose bytes do not match its key");
                PutMode::Overwrite
            }
            Err(e) => return Err(e),
        };
        // A racing writer could only write these same bytes: the key is
        // their own hash.
        let uploaded = objects::write(self.objects.as_ref(), &location, bytes.into(), mode)
            .await
            .map_err(|e| self.backend_error(&key, e))?;
        Ok(PutOutcome { key, uploaded })
    }

    /// The bytes under `key` in the backend itself (not the local cache),
    /// verified.
    async fn fetch(&self, key: &BlobKey) -> Result<Bytes, StoreError> {
        let bytes = objects::read(self.objects.as_ref(), &self.location(key))
            .await
            .map_err(|e| self.backend_error(key, e))?
            .ok_or(StoreError::NotFound { key: *key })?;
        verify(key, bytes).await
    }

    /// The bytes stored under `key`, verified against it. Reads go through
    /// the local cache when there is one.
    pub async fn get(&self, key: &BlobKey) -> Result<Bytes, StoreError> {
        if let Some(cache) = &self.cache
            && let Some(bytes) = cache.read(key).await
        {
            match verify(key, bytes).await {
                Ok(bytes) => return Ok(bytes),
                Err(e) => {
                    tracing::warn!("dropping a damaged cache entry: {e}");
                    cache.remove(key).await;
                }
            }
        }
        let bytes = self.fetch(key).await?;
        if let Some(cache) = &self.cache
            && let Err(e) = cache.write(key, &bytes).await
        {
            tracing::warn!("cannot cache a blob locally, it will be fetched again: {e}");
        }
        Ok(bytes)
    }

    /// Every blob under the store's prefix. Objects that are not blobs are
    /// left out.
    pub async fn list(&self) -> Result<Vec<StoredBlob>, StoreError> {
        let folder = self.join(BlobKey::PREFIX.trim_end_matches('/'));
        let objects: Vec<_> = self
            .objects
            .list(Some(&folder))
            .try_collect()
            .await
            .map_err(|source| StoreError::ObjectStore {
                key: folder.to_string(),
                source,
            })?;
        let prefix_len = if self.prefix.as_ref().is_empty() {
            0
        } else {
            self.prefix.as_ref().len() + 1
        };
        let blobs = objects
            .into_iter()
            .filter_map(|meta| {
                let relative = meta.location.as_ref().get(prefix_len..)?;
                let key = relative.parse::<BlobKey>().ok()?;
                Some(StoredBlob {
                    key,
                    last_modified: meta.last_modified.into(),
                })
            })
            .collect();
        Ok(blobs)
    }

    /// Removes the blob under `key`. Removing a missing blob succeeds.
    pub async fn delete(&self, key: &BlobKey) -> Result<(), StoreError> {
        match self.objects.delete(&self.location(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.backend_error(key, e)),
        }
    }
}

/// The key of `bytes`, hashed off the async executor.
async fn hash(bytes: Bytes) -> BlobKey {
    let size = bytes.len() as u64;
    let digest = tokio::task::spawn_blocking(move || Digest::of(&bytes))
        .await
        .expect("hashing does not panic");
    BlobKey { digest, size }
}

/// Returns `bytes` if they are exactly what `key` names.
async fn verify(key: &BlobKey, bytes: Bytes) -> Result<Bytes, StoreError> {
    let actual = hash(bytes.clone()).await;
    if actual == *key {
        Ok(bytes)
    } else {
        Err(StoreError::Corrupt {
            key: *key,
            actual: actual.digest,
            actual_size: actual.size,
        })
    }
}
