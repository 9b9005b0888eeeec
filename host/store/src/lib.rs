//! Content addressing for wharf's component store.
//!
//! Every component wharf serves is named by its own bytes:
//!
//! 1. [`Digest`] is the SHA-256 of a blob, written `sha256-<lowercase hex>`.
//! 2. [`BlobKey`] is where a blob lives in the object store:
//!    `application/wasm/{size}b/sha256-{hex}.wasm`.
//! 3. [`DigestWriter`] hashes bytes as they stream past, so a blob can be named
//!    without holding it whole in memory.

mod digest;
mod key;

pub use digest::{Digest, DigestWriter, ParseDigestError};
pub use key::BlobKey;
