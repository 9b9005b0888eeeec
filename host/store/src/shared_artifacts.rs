//! Compiled code shared between servers through the object store.
//!
//! Precompiled code is executable, and whoever can write to the object store
//! must not be able to choose what a server runs. So each artifact is sealed
//! with an HMAC-SHA256 made with a secret the servers of one cluster share,
//! over the component digest, the engine tag and the code. A server loads
//! code only when the seal verifies; otherwise it compiles the component
//! itself.

use crate::{BlobStore, Digest, StoreError, objects};
use bytes::{BufMut, Bytes, BytesMut};
use hmac::{Hmac, Mac};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode};
use sha2::Sha256;
use std::sync::Arc;

/// Where artifacts live, beside the component blobs.
const PREFIX: &str = "compiled";
/// The first bytes of every artifact object: format and version.
const MAGIC: &[u8; 8] = b"WHARFCC1";
/// The length of an HMAC-SHA256.
const MAC_BYTES: usize = 32;
/// What the MAC covers first, so it is never valid for anything else.
const CONTEXT: &[u8] = b"wharf compiled artifact v1\0";

/// The secret the servers of one cluster share to seal compiled code.
#[derive(Clone)]
pub struct ClusterSecret(Arc<[u8]>);

impl ClusterSecret {
    /// The fewest bytes a secret may have.
    pub const MIN_BYTES: usize = 32;

    /// Takes `secret`, with surrounding whitespace (a file's trailing
    /// newline) removed. It must be at least [`Self::MIN_BYTES`] long.
    pub fn new(secret: &[u8]) -> Result<Self, String> {
        let secret = secret.trim_ascii();
        if secret.len() < Self::MIN_BYTES {
            return Err(format!(
                "the artifact secret has {} bytes and needs at least {}; \
                 make one with `openssl rand -hex 32` and give every server the same one",
                secret.len(),
                Self::MIN_BYTES
            ));
        }
        Ok(Self(secret.into()))
    }

    fn mac(&self, engine_tag: &str, digest: &Digest, code: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(CONTEXT);
        mac.update(engine_tag.as_bytes());
        mac.update(b"\0");
        mac.update(digest.as_bytes());
        mac.update(code);
        mac
    }
}

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterSecret(..)")
    }
}

/// Code whose seal verified: compiled from the component with
/// [`digest`](Self::digest) by an engine with
/// [`engine_tag`](Self::engine_tag), by a server holding the cluster secret.
/// Only [`SharedArtifacts::fetch`] makes one.
pub struct VerifiedArtifact {
    digest: Digest,
    engine_tag: String,
    code: Bytes,
}

impl VerifiedArtifact {
    /// The digest of the component the code was compiled from.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// The configuration of the engine that compiled it.
    pub fn engine_tag(&self) -> &str {
        &self.engine_tag
    }

    /// The code, in wasmtime's precompiled format.
    pub fn code(&self) -> &[u8] {
        &self.code
    }
}

/// Why a shared artifact was not used.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The object is there but its seal does not verify: it was damaged,
    /// written by a server with another secret, moved from another key, or
    /// forged. Its code is never loaded.
    #[error(
        "the compiled artifact {location} is not sealed with this server's artifact secret \
         ({reason}); it is ignored and the component is compiled here. Check that every \
         server has the same --artifact-secret-file"
    )]
    Rejected {
        /// The object's path.
        location: String,
        /// What failed.
        reason: &'static str,
    },
    /// The object store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One piece of sealed code in the shared store, as listed.
#[derive(Clone, Debug)]
pub struct StoredArtifact {
    /// Its object path.
    pub location: Path,
    /// The engine tag of the compiler that made it.
    pub engine_tag: String,
    /// The digest of the component it is code for.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// When the backend last wrote it.
    pub last_modified: std::time::SystemTime,
}

/// Sealed compiled code in the object store, under
/// `compiled/{engine tag}/sha256-{hex}.cwasm` beside the blobs.
#[derive(Clone)]
pub struct SharedArtifacts {
    objects: Arc<dyn ObjectStore>,
    root: Path,
    display: String,
    secret: ClusterSecret,
}

impl SharedArtifacts {
    /// Artifacts in the same store (and under the same prefix) as `blobs`,
    /// sealed with `secret`.
    pub fn new(blobs: &BlobStore, secret: ClusterSecret) -> Self {
        Self {
            objects: blobs.object_store().clone(),
            root: blobs.join(PREFIX),
            display: blobs.url().trim_end_matches('/').to_owned(),
            secret,
        }
    }

    /// The object path of the code for `digest` compiled by `engine_tag`.
    pub fn location(&self, digest: &Digest, engine_tag: &str) -> Path {
        self.root
            .clone()
            .join(engine_tag)
            .join(format!("{digest}.cwasm"))
    }

    /// Every piece of sealed code in the store, for every engine tag.
    pub async fn list(&self) -> Result<Vec<StoredArtifact>, ArtifactError> {
        use futures::TryStreamExt;
        let objects: Vec<_> = self
            .objects
            .list(Some(&self.root))
            .try_collect()
            .await
            .map_err(|e| self.backend_error(&self.root, e))?;
        let root_parts = self.root.parts().count();
        Ok(objects
            .into_iter()
            .filter_map(|meta| {
                let parts: Vec<String> = meta
                    .location
                    .parts()
                    .skip(root_parts)
                    .map(|part| part.as_ref().to_owned())
                    .collect();
                let [engine_tag, file] = parts.as_slice() else {
                    return None;
                };
                let digest = file.strip_suffix(".cwasm")?.parse().ok()?;
                Some(StoredArtifact {
                    engine_tag: engine_tag.clone(),
                    digest,
                    size: meta.size,
                    last_modified: meta.last_modified.into(),
                    location: meta.location,
                })
            })
            .collect())
    }

    /// Removes the sealed code at `location`; a missing one is no error.
    pub async fn delete(&self, location: &Path) -> Result<(), ArtifactError> {
        match self.objects.delete(location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.backend_error(location, e)),
        }
    }

    fn backend_error(&self, location: &Path, source: object_store::Error) -> ArtifactError {
        ArtifactError::Store(StoreError::ObjectStore {
            key: format!("{}/{location}", self.display),
            source,
        })
    }

    /// The code for `digest` compiled by an engine with `engine_tag`, if it
    /// is stored and its seal verifies; `None` if it is not stored.
    pub async fn fetch(
        &self,
        digest: &Digest,
        engine_tag: &str,
    ) -> Result<Option<VerifiedArtifact>, ArtifactError> {
        let location = self.location(digest, engine_tag);
        let sealed = objects::read(self.objects.as_ref(), &location)
            .await
            .map_err(|e| self.backend_error(&location, e))?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let rejected = |reason| ArtifactError::Rejected {
            location: format!("{}/{location}", self.display),
            reason,
        };
        if sealed.len() < MAGIC.len() + MAC_BYTES {
            return Err(rejected("it is too short to be sealed"));
        }
        if &sealed[..MAGIC.len()] != MAGIC {
            return Err(rejected("it is not in wharf's artifact format"));
        }
        let tag = &sealed[MAGIC.len()..MAGIC.len() + MAC_BYTES];
        let code = sealed.slice(MAGIC.len() + MAC_BYTES..);
        self.secret
            .mac(engine_tag, digest, &code)
            .verify_slice(tag)
            .map_err(|_| rejected("its HMAC does not match"))?;
        Ok(Some(VerifiedArtifact {
            digest: *digest,
            engine_tag: engine_tag.to_owned(),
            code,
        }))
    }

    /// Seals `code`, compiled from the component with `digest` by an engine
    /// with `engine_tag`, and stores it. An artifact already there is kept
    /// unless `replace` is set (because it failed to verify).
    pub async fn publish(
        &self,
        digest: &Digest,
        engine_tag: &str,
        code: &[u8],
        replace: bool,
    ) -> Result<(), ArtifactError> {
        let location = self.location(digest, engine_tag);
        let tag = self
            .secret
            .mac(engine_tag, digest, code)
            .finalize()
            .into_bytes();
        let mut sealed = BytesMut::with_capacity(MAGIC.len() + MAC_BYTES + code.len());
        sealed.put_slice(MAGIC);
        sealed.put_slice(&tag);
        sealed.put_slice(code);
        let mode = if replace {
            PutMode::Overwrite
        } else {
            PutMode::Create
        };
        // Another server may have sealed the same code first; on a store
        // without conditional writes, any racing writer seals the same code.
        objects::write(
            self.objects.as_ref(),
            &location,
            sealed.freeze().into(),
            mode,
        )
        .await
        .map(drop)
        .map_err(|e| self.backend_error(&location, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreOptions;
    use object_store::ObjectStoreExt;

    const CODE: &[u8] = b"machine code, as far as this test is concerned";
    const ENGINE: &str = "0123456789abcdef";

    fn secret(fill: u8) -> ClusterSecret {
        ClusterSecret::new(&[fill; 32]).expect("32 bytes")
    }

    fn shared(blobs: &BlobStore, fill: u8) -> SharedArtifacts {
        SharedArtifacts::new(blobs, secret(fill))
    }

    // An in-memory object store: what is tested here is the sealing, which
    // does not depend on the backend. The server tests share artifacts
    // through real stores.
    fn blobs() -> BlobStore {
        BlobStore::open("memory://", &StoreOptions::default()).expect("memory store")
    }

    #[tokio::test]
    async fn sealed_code_comes_back_verified() {
        let blobs = blobs();
        let artifacts = shared(&blobs, 7);
        let digest = Digest::of(b"component");
        assert!(
            artifacts
                .fetch(&digest, ENGINE)
                .await
                .expect("fetch")
                .is_none()
        );
        artifacts
            .publish(&digest, ENGINE, CODE, false)
            .await
            .expect("publish");
        let verified = artifacts
            .fetch(&digest, ENGINE)
            .await
            .expect("fetch")
            .expect("stored");
        assert_eq!(verified.code(), CODE);
        assert_eq!(verified.digest(), digest);
        assert_eq!(verified.engine_tag(), ENGINE);
        assert_eq!(
            artifacts.location(&digest, ENGINE).as_ref(),
            format!("compiled/{ENGINE}/{digest}.cwasm")
        );
    }

    #[tokio::test]
    async fn another_secret_is_rejected() {
        let blobs = blobs();
        let digest = Digest::of(b"component");
        shared(&blobs, 1)
            .publish(&digest, ENGINE, CODE, false)
            .await
            .expect("publish");
        let error = shared(&blobs, 2).fetch(&digest, ENGINE).await.err();
        assert!(
            matches!(error, Some(ArtifactError::Rejected { reason, .. }) if reason.contains("HMAC")),
            "{error:?}"
        );
    }

    /// Copies the object sealed for (`digest`, `engine`) to another place.
    async fn copy(artifacts: &SharedArtifacts, from: Path, to: Path) {
        let bytes = artifacts
            .objects
            .get(&from)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("read");
        artifacts.objects.put(&to, bytes.into()).await.expect("put");
    }

    #[tokio::test]
    async fn code_moved_to_another_engine_or_component_is_rejected() {
        let blobs = blobs();
        let artifacts = shared(&blobs, 3);
        let digest = Digest::of(b"component");
        let other = Digest::of(b"another component");
        artifacts
            .publish(&digest, ENGINE, CODE, false)
            .await
            .expect("publish");
        let sealed = artifacts.location(&digest, ENGINE);
        // Code compiled by one engine, under another engine's tag.
        copy(
            &artifacts,
            sealed.clone(),
            artifacts.location(&digest, "fedcba9876543210"),
        )
        .await;
        let wrong_engine = artifacts.fetch(&digest, "fedcba9876543210").await.err();
        assert!(
            matches!(wrong_engine, Some(ArtifactError::Rejected { .. })),
            "{wrong_engine:?}"
        );
        // Code compiled from one component, under another's digest.
        copy(&artifacts, sealed, artifacts.location(&other, ENGINE)).await;
        let wrong_digest = artifacts.fetch(&other, ENGINE).await.err();
        assert!(
            matches!(wrong_digest, Some(ArtifactError::Rejected { .. })),
            "{wrong_digest:?}"
        );
    }

    #[tokio::test]
    async fn tampered_and_unsealed_objects_are_rejected() {
        let blobs = blobs();
        let artifacts = shared(&blobs, 4);
        let digest = Digest::of(b"component");
        let location = artifacts.location(&digest, ENGINE);
        artifacts
            .publish(&digest, ENGINE, CODE, false)
            .await
            .expect("publish");
        let mut bytes = artifacts
            .objects
            .get(&location)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("read")
            .to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        artifacts
            .objects
            .put(&location, bytes.into())
            .await
            .expect("put");
        let flipped = artifacts.fetch(&digest, ENGINE).await.err();
        assert!(
            matches!(flipped, Some(ArtifactError::Rejected { reason, .. }) if reason.contains("HMAC"))
        );

        artifacts
            .objects
            .put(&location, Bytes::from_static(CODE).into())
            .await
            .expect("put");
        let unsealed = artifacts.fetch(&digest, ENGINE).await.err();
        assert!(
            matches!(unsealed, Some(ArtifactError::Rejected { reason, .. }) if reason.contains("format"))
        );

        artifacts
            .objects
            .put(&location, Bytes::from_static(b"short").into())
            .await
            .expect("put");
        let short = artifacts.fetch(&digest, ENGINE).await.err();
        assert!(
            matches!(short, Some(ArtifactError::Rejected { reason, .. }) if reason.contains("short"))
        );

        // A rejected artifact is replaced by the server that compiled instead.
        artifacts
            .publish(&digest, ENGINE, CODE, true)
            .await
            .expect("publish");
        assert!(
            artifacts
                .fetch(&digest, ENGINE)
                .await
                .expect("fetch")
                .is_some()
        );
    }

    #[test]
    fn a_short_secret_is_refused_with_the_fix() {
        let error = ClusterSecret::new(b"  too short\n").expect_err("too short");
        assert!(
            error.contains("at least 32") && error.contains("openssl rand"),
            "{error}"
        );
        assert!(ClusterSecret::new(format!("{}\n", "a".repeat(32)).as_bytes()).is_ok());
        assert_eq!(format!("{:?}", secret(0x99)), "ClusterSecret(..)");
    }
}
