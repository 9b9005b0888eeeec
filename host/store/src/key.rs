//! The object-store key of a blob.

use crate::Digest;
use std::fmt;
use std::str::FromStr;

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

/// Why a string is not a blob key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{input}` is not a blob key: expected `application/wasm/<size>b/sha256-<hex>.wasm`")]
pub struct ParseBlobKeyError {
    input: String,
}

impl FromStr for BlobKey {
    type Err = ParseBlobKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseBlobKeyError {
            input: s.to_owned(),
        };
        let rest = s.strip_prefix(Self::PREFIX).ok_or_else(err)?;
        let (size, file) = rest.split_once("b/").ok_or_else(err)?;
        let digest = file.strip_suffix(".wasm").ok_or_else(err)?;
        if !digest.starts_with(Digest::PREFIX) || size.starts_with('+') {
            return Err(err());
        }
        let key = Self {
            digest: digest.parse().map_err(|_| err())?,
            size: size.parse().map_err(|_| err())?,
        };
        // Only the canonical spelling names a blob (no leading zeros).
        if key.to_string() != s {
            return Err(err());
        }
        Ok(key)
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

    #[test]
    fn parse_round_trips_and_rejects_junk() {
        let key = BlobKey::of(b"abc");
        assert_eq!(key.to_string().parse::<BlobKey>(), Ok(key));
        let text = key.to_string();
        for bad in [
            "",
            "application/wasm/",
            &text.replace("3b/", "03b/"),
            &text.replace("3b/", "3/"),
            &text.replace(".wasm", ".bin"),
            &text.replace("application/", "text/"),
            &text.replace("sha256-", ""),
        ] {
            assert!(bad.parse::<BlobKey>().is_err(), "{bad} should not parse");
        }
    }
}
