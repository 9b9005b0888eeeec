//! The chain every compiled component comes through, in order: memory
//! (`memory.rs`), local disk (`disk.rs`), the shared sealed store, a
//! compile here; then, for provisional code, a recompile in the background
//! (`background.rs`), and for code compiled here, a seal into the shared
//! store.

use super::{FetchError, Inner, LoadSource, count_load};
use crate::observe::metrics::COMPILE_DURATION;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use wharf_runtime::{CompiledComponent, LoadError, Purpose};
use wharf_store::{ArtifactError, BlobKey, VerifiedArtifact};

/// Who waits on a load, which decides how its code is compiled.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Urgency {
    /// A request: compile quickly (provisional code) at normal priority.
    Request,
    /// A deploy: compile the code to keep, at normal priority, so the
    /// deploy is refused if it does not compile.
    Deploy,
    /// Nobody: compile the code to keep at the lowest priority.
    Background,
}

impl Urgency {
    /// What the compile is for.
    fn purpose(self) -> Purpose {
        match self {
            Urgency::Request => Purpose::Provisional,
            Urgency::Deploy | Urgency::Background => Purpose::Kept,
        }
    }
}

impl Inner {
    /// Loads `key`: from the disk cache, the shared store, or by compiling
    /// `bytes` (read from the blob store when not given).
    pub(super) async fn load(
        self: &Arc<Self>,
        key: &BlobKey,
        bytes: Option<Bytes>,
        urgency: Urgency,
    ) -> Result<CompiledComponent, FetchError> {
        self.counts.loads.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let digest = key.digest;
        if let Some(disk) = self.disk.clone()
            && let Some(compiled) = blocking(move || disk.load(&digest)).await?
        {
            tracing::info!(%key, "loaded precompiled code");
            let compiled = compiled?;
            count_load(LoadSource::Disk, &compiled);
            // A deploy seals its code for the cluster wherever the code
            // came from; publishing what is already sealed does nothing.
            if urgency == Urgency::Deploy {
                self.publish_later(compiled.clone(), false);
            }
            return Ok(compiled);
        }
        let mut replace_shared = false;
        if let Some(shared) = &self.shared {
            match shared.fetch(&digest, self.runtime.engine_tag()).await {
                Ok(Some(verified)) => match self.load_shared(verified).await? {
                    Ok(compiled) => {
                        self.counts.shared_loads.fetch_add(1, Ordering::Relaxed);
                        count_load(LoadSource::Shared, &compiled);
                        tracing::info!(%key, elapsed = ?started.elapsed(), "component ready: loaded code compiled by another server");
                        return Ok(compiled);
                    }
                    Err(e) => {
                        tracing::warn!(%key, "the shared compiled code does not load, so it is compiled here: {e}");
                        replace_shared = true;
                    }
                },
                Ok(None) => {}
                Err(e @ ArtifactError::Rejected { .. }) => {
                    tracing::warn!(%key, "{e}");
                    replace_shared = true;
                }
                Err(e) => {
                    tracing::warn!(%key, "cannot read shared compiled code, so it is compiled here: {e}")
                }
            }
        }
        let bytes = match bytes {
            Some(bytes) => bytes,
            None => self.store.get(key).await?,
        };
        let compiled = match urgency {
            Urgency::Request => {
                self.counts.compiles.fetch_add(1, Ordering::Relaxed);
                self.compile(bytes.clone(), urgency).await??
            }
            Urgency::Deploy | Urgency::Background => self.compile(bytes.clone(), urgency).await??,
        };
        count_load(LoadSource::Compile, &compiled);
        tracing::info!(%key, elapsed = ?started.elapsed(), compiler = %compiled.compiler(), "component ready");
        if compiled.is_provisional() {
            self.recompile_later(*key, bytes, replace_shared);
        } else {
            self.publish_later(compiled.clone(), replace_shared);
        }
        Ok(compiled)
    }

    /// Loads code another server compiled and sealed, after
    /// [`wharf_store::SharedArtifacts`] verified its seal. Code sealed for
    /// another engine configuration is refused. The code is saved in the
    /// disk cache too, so a restart finds it there.
    async fn load_shared(
        &self,
        code: VerifiedArtifact,
    ) -> Result<Result<CompiledComponent, LoadError>, FetchError> {
        let engine_tag = self.runtime.engine_tag();
        if code.engine_tag() != engine_tag {
            return Ok(Err(LoadError::OtherEngine {
                code_engine: code.engine_tag().to_owned(),
                engine: engine_tag.to_owned(),
            }));
        }
        let (runtime, disk) = (self.runtime.clone(), self.disk.clone());
        blocking(move || {
            let digest = code.digest();
            if let Some(disk) = disk {
                disk.save_bytes(&digest, code.code());
                if let Some(loaded) = disk.load(&digest) {
                    return loaded;
                }
            }
            // SAFETY: the bytes carry a valid HMAC made with the cluster
            // secret over this digest, this engine tag and the code, so they
            // were serialized by a wharf server holding the secret, with an
            // engine of this configuration.
            #[expect(
                unsafe_code,
                reason = "loading precompiled code is unsafe in wasmtime's API"
            )]
            unsafe {
                runtime.deserialize(digest, code.code())
            }
        })
        .await
    }

    /// Compiles `bytes` as `urgency` asks (see [`Urgency`]) on the
    /// blocking pool, a background compile on the lowest-priority threads,
    /// and keeps the code on disk.
    async fn compile(
        &self,
        bytes: Bytes,
        urgency: Urgency,
    ) -> Result<Result<CompiledComponent, LoadError>, FetchError> {
        let (runtime, disk, pool) = (
            self.runtime.clone(),
            self.disk.clone(),
            self.background.clone(),
        );
        blocking(move || {
            let compile = || {
                let started = Instant::now();
                let compiled = runtime.compile(&bytes, urgency.purpose())?;
                metrics::histogram!(COMPILE_DURATION, "compiler" => compiled.compiler().to_string())
                    .record(started.elapsed());
                Ok::<_, LoadError>(compiled)
            };
            let compiled = match urgency {
                Urgency::Background => pool.run(compile),
                Urgency::Request | Urgency::Deploy => compile(),
            }?;
            if let Some(disk) = disk {
                disk.save(&compiled);
            }
            Ok(compiled)
        })
        .await
    }

    /// swaps it in for the provisional code.
    pub(super) fn recompile_later(
        self: &Arc<Self>,
        key: BlobKey,
        bytes: Bytes,
        replace_shared: bool,
    ) {
        self.in_background(move |inner| async move {
            let started = Instant::now();
            let compiled = inner.compile(bytes, Urgency::Background).await;
            match compiled.and_then(|compiled| Ok(compiled?)) {
                Ok(compiled) => {
                    inner.switch(&key, compiled.clone());
                    tracing::info!(%key, elapsed = ?started.elapsed(), compiler = %compiled.compiler(), "switched to recompiled code");
                    inner.publish_later(compiled, replace_shared);
                }
                Err(e) => {
                    tracing::warn!(%key, "recompiling failed, so the provisional code stays in use: {e}")
                }
            }
        });
    }

    /// Runs `job` on its own task, in turn with the other background
    /// recompiles and prefetches, and counts it until it ends.
    pub(super) fn in_background<F>(
        self: &Arc<Self>,
        job: impl FnOnce(Arc<Self>) -> F + Send + 'static,
    ) where
        F: Future<Output = ()> + Send + 'static,
    {
        self.background_jobs.send_modify(|n| *n += 1);
        let inner = self.clone();
        tokio::spawn(async move {
            let turn = inner.background_turns.acquire().await;
            job(inner.clone()).await;
            drop(turn);
            inner.background_jobs.send_modify(|n| *n -= 1);
        });
    }

    /// Seals and uploads the code of `compiled` to the shared store, if
    /// there is one, in the background.
    pub(super) fn publish_later(&self, compiled: CompiledComponent, replace: bool) {
        let Some(shared) = &self.shared else { return };
        if compiled.is_provisional() {
            return;
        }
        let shared = shared.clone();
        let engine_tag = self.runtime.engine_tag().to_owned();
        tokio::spawn(async move {
            let digest = compiled.digest();
            let code = blocking(move || compiled.serialize()).await;
            let published = match code.and_then(|code| Ok(code?)) {
                Ok(code) => shared
                    .publish(&digest, &engine_tag, &code, replace)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match published {
                Ok(()) => tracing::info!(%digest, "sealed compiled code into the shared store"),
                Err(e) => tracing::warn!(%digest, "cannot share compiled code: {e}"),
            }
        });
    }
}

/// Runs CPU-bound `work` on the blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, FetchError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(FetchError::TaskStopped)
}
