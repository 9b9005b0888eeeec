//! A local copy of blobs read from a remote store, so that a restart does
//! not fetch them again.

use crate::{BlobKey, StoreError};
use bytes::Bytes;
use std::path::{Path, PathBuf};

/// A directory of blobs named `sha256-<hex>.wasm`. Entries are written
/// whole to a temporary file and renamed into place, so a crash never leaves
/// a partial entry under a real name. Entries are verified on every read like
/// any other blob, so a damaged entry is dropped and fetched again.
#[derive(Debug, Clone)]
pub(crate) struct LocalCache {
    dir: PathBuf,
}

impl LocalCache {
    /// Uses `dir`, creating it if needed.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| cache_error(dir, source))?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    fn path(&self, key: &BlobKey) -> PathBuf {
        self.dir.join(format!("{}.wasm", key.digest))
    }

    /// The cached bytes of `key`, unverified, if present.
    pub async fn read(&self, key: &BlobKey) -> Option<Bytes> {
        tokio::fs::read(self.path(key)).await.ok().map(Bytes::from)
    }

    /// Drops a damaged entry.
    pub async fn remove(&self, key: &BlobKey) {
        let _ = tokio::fs::remove_file(self.path(key)).await;
    }

    /// Stores verified `bytes` under `key`.
    pub async fn write(&self, key: &BlobKey, bytes: &Bytes) -> Result<(), StoreError> {
        let final_path = self.path(key);
        let tmp = self.dir.join(format!(
            ".{}.{:016x}.tmp",
            key.digest,
            rand::random::<u64>()
        ));
        tokio::fs::write(&tmp, bytes)
            .await
            .map_err(|source| cache_error(&tmp, source))?;
        tokio::fs::rename(&tmp, &final_path)
            .await
            .map_err(|source| cache_error(&final_path, source))
    }
}

fn cache_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Cache {
        path: path.display().to_string(),
        source,
    }
}
