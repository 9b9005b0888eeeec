//! Compiled code on disk, so a restart does not compile again.

use sha2::{Digest as _, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;
use wharf_store::Digest;

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

/// A directory of precompiled components, one file per component digest
/// and engine configuration: `sha256-<hex>.<engine>.cwasm`, where `<engine>`
/// is the [`engine_tag`], so a wasmtime upgrade or a changed setting never
/// loads stale code.
///
/// Files are written whole to a temporary name, synced, and renamed into
/// place. The directory must be private to wharf ([`ArtifactCache::open`]
/// checks): loading maps the code as executable, so whoever can write here
/// can run code in the server.
pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_tag: String,
}

impl ArtifactCache {
    /// Uses `dir`, creating it (mode 0700) if needed. Refuses a directory
    /// that another user owns or that others may write to, since whoever
    /// writes there chooses the code the server runs.
    pub fn open(dir: &Path, engine_tag: &str) -> std::io::Result<Self> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let meta = std::fs::metadata(dir)?;
        let me = std::fs::metadata("/proc/self")?.uid();
        if meta.uid() != me || meta.mode() & 0o022 != 0 {
            return Err(std::io::Error::other(format!(
                "{} must be owned by this user and writable by no one else \
                 (owner uid {}, mode {:o}); fix it with chown and `chmod 700`",
                dir.display(),
                meta.uid(),
                meta.mode() & 0o777
            )));
        }
        Ok(Self {
            dir: dir.to_owned(),
            engine_tag: engine_tag.to_owned(),
        })
    }

    fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(format!("{digest}.{}.cwasm", self.engine_tag))
    }

    /// The precompiled component for `digest`, if this engine wrote one.
    pub fn load(&self, engine: &Engine, digest: &Digest) -> Option<Component> {
        let path = self.path(digest);
        if !path.exists() {
            return None;
        }
        // SAFETY: the file was written by `store` below from
        // `Component::serialize` on an engine with this configuration (the
        // name carries its compatibility hash), or by `store_bytes` from a
        // shared artifact whose seal was verified; it was renamed into place
        // whole, in a directory only wharf writes to. wasmtime checks its
        // header and version again before using it.
        #[expect(
            unsafe_code,
            reason = "loading precompiled code is unsafe in wasmtime's API"
        )]
        let loaded = unsafe { Component::deserialize_file(engine, &path) };
        match loaded {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), "dropping an unusable precompiled component: {e:#}");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Saves `component`, compiled from the bytes with `digest`. The file is
    /// synced before it is renamed into place, and the directory after, so a
    /// power cut leaves either the whole file or none.
    pub fn store(&self, digest: &Digest, component: &Component) {
        match component.serialize() {
            Ok(bytes) => self.store_bytes(digest, &bytes),
            Err(e) => {
                tracing::warn!(%digest, "cannot serialize compiled code, it will be compiled again: {e:#}")
            }
        }
    }

    /// Saves code serialized for this engine: by `store`, or by another
    /// server and verified (see `Runtime::load_shared`).
    pub fn store_bytes(&self, digest: &Digest, bytes: &[u8]) {
        use std::io::Write;
        let path = self.path(digest);
        let tmp = self
            .dir
            .join(format!(".{digest}.{:016x}.tmp", rand::random::<u64>()));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&self.dir)?.sync_all()
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(path = %path.display(), "cannot save precompiled code, it will be compiled again: {e}");
        }
    }
}
