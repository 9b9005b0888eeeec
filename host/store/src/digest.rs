//! SHA-256 digests of stored blobs.

use sha2::{Digest as _, Sha256};
use std::fmt;
use std::str::FromStr;

/// The SHA-256 of a blob. Displays and parses as `sha256-<64 lowercase hex>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The prefix of the textual form.
    pub const PREFIX: &'static str = "sha256-";

    /// Hashes `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 lowercase hex characters, without the `sha256-` prefix.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", Self::PREFIX, self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not a digest.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{input}` is not a digest: expected `sha256-` followed by 64 lowercase hex digits")]
pub struct ParseDigestError {
    input: String,
}

impl FromStr for Digest {
    type Err = ParseDigestError;

    /// Parses `sha256-<hex>`; a bare 64-digit hex string is accepted too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseDigestError {
            input: s.to_owned(),
        };
        let hex_part = s.strip_prefix(Self::PREFIX).unwrap_or(s);
        if hex_part.len() != 64 || hex_part.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(err());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut out).map_err(|_| err())?;
        Ok(Self(out))
    }
}

/// Hashes bytes incrementally as they arrive, counting them too.
#[derive(Default, Clone)]
pub struct DigestWriter {
    hasher: Sha256,
    len: u64,
}

impl DigestWriter {
    /// Starts an empty hash.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.len += chunk.len() as u64;
    }

    /// How many bytes have been fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been fed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of everything fed, and its length in bytes.
    pub fn finish(self) -> (Digest, u64) {
        (Digest(self.hasher.finalize().into()), self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // SHA-256 of the empty string, from FIPS 180-2 test vectors.
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    // SHA-256 of "abc".
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn known_vectors() {
        assert_eq!(Digest::of(b"").hex(), EMPTY);
        assert_eq!(Digest::of(b"abc").to_string(), format!("sha256-{ABC}"));
    }

    #[test]
    fn streaming_matches_one_shot() {
        let mut w = DigestWriter::new();
        w.update(b"a");
        w.update(b"bc");
        assert_eq!(w.len(), 3);
        assert_eq!(w.finish(), (Digest::of(b"abc"), 3));
    }

    #[test]
    fn parse_round_trips_and_rejects_junk() {
        let d = Digest::of(b"abc");
        assert_eq!(d.to_string().parse::<Digest>(), Ok(d));
        assert_eq!(ABC.parse::<Digest>(), Ok(d));
        for bad in [
            "",
            "sha256-",
            "sha256-abc",
            &format!("sha256-{}", ABC.to_uppercase()),
            &format!("md5-{ABC}"),
            &format!("sha256-{}zz", &ABC[..62]),
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad} should not parse");
        }
    }
}
