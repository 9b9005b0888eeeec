//! Compiled code on local disk, so a restart does not compile again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use wharf_runtime::{CompiledComponent, LoadError, Runtime};
use wharf_store::Digest;

/// A directory of precompiled components, one file per component digest
/// and engine configuration: `sha256-<hex>.<engine>.cwasm`, where `<engine>`
/// is the runtime's [`Runtime::engine_tag`], so a wasmtime upgrade or a changed setting never
/// loads stale code.
///
/// Files are written whole to a temporary name, synced, and renamed into
/// place. The directory must be private to wharf ([`DiskCache::open`]
/// checks): loading maps the code as executable, so whoever can write here
/// can run code in the server.
pub(super) struct DiskCache {
    dir: PathBuf,
    /// Loads and links the code, and names its engine in every file name.
    runtime: Arc<Runtime>,
}

impl DiskCache {
    /// Uses `dir`, creating it (mode 0700) if needed. Refuses a directory
    /// that another user owns or that others may write to, since whoever
    /// writes there chooses the code the server runs.
    pub fn open(dir: &Path, runtime: Arc<Runtime>) -> std::io::Result<Self> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let meta = std::fs::metadata(dir)?;
        if !meta.is_dir() {
            return Err(std::io::Error::other(format!(
                "{} is not a directory; move it away so wharf can create its compiled-code \
                 directory there",
                dir.display()
            )));
        }
        // SAFETY: geteuid cannot fail and touches no memory.
        #[expect(unsafe_code, reason = "libc::geteuid has no safe wrapper in std")]
        let me = unsafe { libc::geteuid() };
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
            runtime,
        })
    }

    /// Deletes the files older than `grace` whose component is not in
    /// `keep`, or that another engine made (an older wharf, other
    /// settings), and says which, with their sizes. With `dry_run`, only
    /// says which it would delete.
    pub(super) fn sweep(
        &self,
        keep: &std::collections::HashSet<Digest>,
        grace: std::time::Duration,
        dry_run: bool,
    ) -> std::io::Result<Vec<(String, u64)>> {
        let ours = format!(".{}.cwasm", self.runtime.engine_tag());
        let now = std::time::SystemTime::now();
        let mut swept = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".cwasm") else {
                continue;
            };
            let digest = stem
                .split('.')
                .next()
                .and_then(|d| d.parse::<Digest>().ok());
            let wanted = name.ends_with(&ours) && digest.is_some_and(|d| keep.contains(&d));
            // A file removed meanwhile (code that no longer loaded) is
            // simply gone.
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let age = meta
                .modified()
                .ok()
                .and_then(|at| now.duration_since(at).ok())
                .unwrap_or_default();
            if wanted || age < grace || digest.is_none() {
                continue;
            }
            if !dry_run {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
            }
            swept.push((name, meta.len()));
        }
        swept.sort();
        Ok(swept)
    }

    fn path(&self, digest: &Digest) -> PathBuf {
        self.dir
            .join(format!("{digest}.{}.cwasm", self.runtime.engine_tag()))
    }

    /// The precompiled component for `digest`, if this engine wrote one,
    /// linked by `runtime`. A file that no longer loads is removed.
    pub fn load(&self, digest: &Digest) -> Option<Result<CompiledComponent, LoadError>> {
        let path = self.path(digest);
        if !path.exists() {
            return None;
        }
        // SAFETY: the file was written by `save` below from
        // `CompiledComponent::serialize` on an engine with this configuration
        // (the name carries its tag), or by `save_bytes` from a shared
        // artifact whose seal was verified; it was renamed into place whole,
        // in a directory only wharf writes to (`open` checks).
        #[expect(
            unsafe_code,
            reason = "loading precompiled code is unsafe in wasmtime's API"
        )]
        let loaded = unsafe { self.runtime.deserialize_file(*digest, &path) };
        match loaded {
            Err(LoadError::Compile(e)) => {
                tracing::warn!(path = %path.display(), "dropping an unusable precompiled component: {e:#}");
                let _ = std::fs::remove_file(&path);
                None
            }
            loaded => Some(loaded),
        }
    }

    /// Saves the code of `compiled`. The file is synced before it is
    /// renamed into place, and the directory after, so a power cut leaves
    /// either the whole file or none.
    pub fn save(&self, compiled: &CompiledComponent) {
        // Only the code to keep is named by the engine tag; provisional
        // code is another engine's.
        if compiled.is_provisional() {
            return;
        }
        match compiled.serialize() {
            Ok(bytes) => self.save_bytes(&compiled.digest(), &bytes),
            Err(e) => {
                let digest = compiled.digest();
                tracing::warn!(%digest, "cannot serialize compiled code, it will be compiled again: {e:#}")
            }
        }
    }

    /// Saves code serialized for this engine: by `save`, or by another
    /// server and verified (see `Inner::load_shared`).
    pub fn save_bytes(&self, digest: &Digest, bytes: &[u8]) {
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
