//! Property tests of the parsers that take outside input: digests and blob
//! keys arrive in URLs, CLI arguments and stored object names.

use crate::{BlobKey, Digest};
use proptest::prelude::*;

proptest! {
    /// Any text: parsing never panics, and what parses is the canonical
    /// form, so one digest has one spelling.
    #[test]
    fn a_digest_parses_only_from_its_own_spelling(text in "\\PC{0,80}|(sha256-)?[0-9a-fA-F]{60,68}") {
        if let Ok(digest) = text.parse::<Digest>() {
            let spelled = digest.to_string();
            prop_assert_eq!(spelled.parse::<Digest>().ok(), Some(digest));
            let prefixed = format!("sha256-{}", text);
            prop_assert!(spelled == text || prefixed == spelled);
        }
    }

    /// Every key wharf writes reads back as itself.
    #[test]
    fn a_key_reads_back_as_written(content in any::<[u8; 32]>(), size in any::<u64>()) {
        let key = BlobKey { digest: Digest::of(&content), size };
        prop_assert_eq!(key.to_string().parse::<BlobKey>().ok(), Some(key));
    }

    /// Any text: parsing never panics, and a key parses only from its
    /// canonical name, so no second object name means the same blob.
    #[test]
    fn a_key_parses_only_from_its_own_name(
        text in "\\PC{0,120}|application/wasm/[0-9]{0,22}b?/sha256-[0-9a-f]{62,66}(\\.wasm)?",
    ) {
        if let Ok(key) = text.parse::<BlobKey>() {
            prop_assert_eq!(key.to_string(), text);
        }
    }
}
