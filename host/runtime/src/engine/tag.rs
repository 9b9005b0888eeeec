//! The engine tag: which engine configuration compiled a piece of code.

use sha2::{Digest as _, Sha256};
use std::hash::{Hash, Hasher};
use wasmtime::Engine;

/// Names an engine's configuration: 16 hex digits of a SHA-256 over
/// [`Engine::precompile_compatibility_hash`] and the version of the
/// preview1 adapter correction (`CORRECTION_TAG`). SHA-256 rather than std's
/// hasher, whose output may change between Rust releases, because servers
/// compare tags when they share code.
pub(crate) fn engine_tag(engine: &Engine) -> String {
    /// Feeds what `Hash` writes into SHA-256.
    struct Sha256Hasher(Sha256);
    impl Hasher for Sha256Hasher {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            unreachable!("engine_tag reads the whole digest")
        }
    }
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    // Code compiled from components wharf corrected differently must not
    // be loaded either.
    hasher.write(crate::preview1::CORRECTION_TAG.as_bytes());
    hex::encode(&hasher.0.finalize()[..8])
}
