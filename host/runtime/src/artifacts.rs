//! Compiled code on disk, so a restart does not compile again.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;
use wharf_store::Digest;

/// A directory of precompiled components, one file per component digest
/// and engine configuration: `sha256-<hex>.<engine>.cwasm`, where `<engine>`
/// hashes [`Engine::precompile_compatibility_hash`], so a wasmtime upgrade
/// or a changed setting never loads stale code.
///
/// Files are written whole to a temporary name and renamed into place. The
/// directory must be private to wharf (the data directory is mode 0700):
/// loading maps the code as executable, so whoever can write here can run
/// code in the server.
pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_tag: String,
}

impl ArtifactCache {
    /// Uses `dir`, creating it if needed.
    pub fn open(dir: &Path, engine: &Engine) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Self {
            dir: dir.to_owned(),
            engine_tag: format!("{:016x}", hasher.finish()),
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
        // name carries its compatibility hash), renamed into place whole, in
        // a directory only wharf writes to. wasmtime checks its header and
        // version again before using it.
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

    /// Saves `component`, compiled from the bytes with `digest`.
    pub fn store(&self, digest: &Digest, component: &Component) {
        let path = self.path(digest);
        let tmp = self
            .dir
            .join(format!(".{digest}.{:016x}.tmp", rand::random::<u64>()));
        let written = component
            .serialize()
            .map_err(|e| format!("{e:#}"))
            .and_then(|bytes| std::fs::write(&tmp, bytes).map_err(|e| e.to_string()))
            .and_then(|()| std::fs::rename(&tmp, &path).map_err(|e| e.to_string()));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(path = %path.display(), "cannot save precompiled code, it will be compiled again: {e}");
        }
    }
}
