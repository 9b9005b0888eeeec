//! wharf's component store: blobs named by their own bytes.
//!
//! 1. [`Digest`] is the SHA-256 of a blob, written `sha256-<lowercase hex>`.
//! 2. [`BlobKey`] is where a blob lives in the object store:
//!    `application/wasm/{size}b/sha256-{hex}.wasm`.
//! 3. [`DigestWriter`] hashes bytes as they stream past, so a blob can be named
//!    without holding it whole in memory.
//! 4. [`BlobStore`] keeps blobs in any object store the `object_store` crate
//!    reaches, chosen by URL: `file://PATH` (or a plain path), `memory://`,
//!    `s3://BUCKET/PREFIX` (AWS S3, Cloudflare R2, Garage, MinIO),
//!    `gs://BUCKET/PREFIX` and `az://CONTAINER/PREFIX`. Writes never
//!    overwrite, and every read is verified against its key.
//! 5. [`SharedArtifacts`] keeps compiled code beside the blobs, sealed with a
//!    [`ClusterSecret`], so servers of one cluster compile each component
//!    once between them and never run code the store alone could forge.

mod blob_store;
mod cache;
mod digest;
mod error;
mod key;
mod location;
pub mod metrics;
mod objects;
#[cfg(test)]
mod properties;
mod quota;
mod shared_artifacts;

pub use blob_store::{BlobStore, PutOutcome, StoreOptions, StoredBlob};
pub use digest::{Digest, DigestWriter, ParseDigestError};
pub use error::StoreError;
pub use key::{BlobKey, ParseBlobKeyError};
pub use location::{S3Settings, redact_unparsed};
pub use quota::{KV_ENTRY_OVERHEAD, kv_entry_bytes};
pub use shared_artifacts::{
    ArtifactError, ClusterSecret, SharedArtifacts, StoredArtifact, VerifiedArtifact,
};
