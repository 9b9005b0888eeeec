//! The object-store key of a blob.

use crate::Digest;
use std::fmt;

/// Where a blob is stored: `application/wasm/{size}b/sha256-{hex}.wasm`.
///
/// The size is part of the key so that a listing shows blob sizes without a
/// read, and so that a truncated upload can never be mistaken for a whole one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct BlobKey {
    /// The SHA-256 of the blob.
    pub digest: Digest,
    /// The blob's length in bytes.
    pub size: u64,
}

impl BlobKey {
    /// The folder every component blob lives under.
    pub const PREFIX: &'static str = "application/wasm/";

    /// The key of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self {
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
        }
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}b/{}.wasm", Self::PREFIX, self.size, self.digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_exact() {
        assert_eq!(
            BlobKey::of(b"abc").to_string(),
            "application/wasm/3b/sha256-ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.wasm"
        );
    }
}
