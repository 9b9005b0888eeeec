//! What can go wrong reading or writing blobs.

use crate::{BlobKey, Digest};

/// A blob-store failure. Each message names the blob and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store URL cannot be used.
    #[error("cannot use store `{url}`: {reason}")]
    BadUrl {
        /// The URL as given, with any credentials removed.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No blob is stored under the key.
    #[error("blob {key} is not in the store")]
    NotFound {
        /// The missing key.
        key: BlobKey,
    },
    /// The stored bytes do not hash to their key. They are never returned.
    #[error(
        "blob {key} is corrupt: its {actual_size} stored bytes hash to {actual}; \
         it will not be run. Remove that object from the store and deploy the component again"
    )]
    Corrupt {
        /// The key read.
        key: BlobKey,
        /// What the bytes actually hash to.
        actual: Digest,
        /// How many bytes were actually stored.
        actual_size: u64,
    },
    /// The backend failed.
    #[error("object store failed on {key}: {source}")]
    ObjectStore {
        /// The key or prefix being accessed.
        key: String,
        /// The backend's error.
        #[source]
        source: object_store::Error,
    },
    /// The local cache directory failed.
    #[error("local blob cache failed at {path}: {source}")]
    Cache {
        /// The file or directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
