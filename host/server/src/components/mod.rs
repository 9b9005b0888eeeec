//! The compiled-code chain: every compiled component a server runs comes
//! through [`ComponentCache`], whether a request, a prefetch or a deploy
//! asks for it. The runtime offers primitives only (compile for a purpose,
//! load serialized code, link); this module decides where code comes from,
//! in this order:
//!
//! 1. memory (`memory.rs`): loaded once per key, single-flight, failures
//!    remembered for [`FAILURE_MEMORY`], least recently used out past the
//!    [`CacheLimits`];
//! 2. local disk (`disk.rs`), so a restart does not compile again;
//! 3. the shared store: code another server compiled and sealed
//!    ([`SharedArtifacts`]);
//! 4. a compile here (`chain.rs`): quick provisional code for a request,
//!    the code to keep for a deploy;
//! 5. a recompile of provisional code in the background, at the lowest CPU
//!    priority (`background.rs`), swapped in when ready;
//! 6. a seal of the code compiled here into the shared store.

mod background;
mod chain;
mod disk;
mod memory;
#[cfg(test)]
mod tests;

use crate::observe::metrics::COMPONENT_LOADS;
use arc_swap::ArcSwap;
use background::BackgroundPool;
use bytes::Bytes;
use chain::Urgency;
use disk::DiskCache;
use memory::Entries;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};
use wharf_runtime::{CompiledComponent, Compiler, LoadError, Runtime};
use wharf_store::{BlobKey, BlobStore, Digest, SharedArtifacts, StoreError};

/// Why a stored component could not be made ready to serve.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The store could not return verified bytes.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bytes did not compile or link.
    #[error("the stored component does not load: {0}")]
    Load(#[from] LoadError),
    /// The blocking task that loaded or compiled the component panicked or
    /// was cancelled, so it produced no answer.
    #[error("the task loading the stored component stopped: {0}")]
    TaskStopped(#[source] tokio::task::JoinError),
}

/// How long a failure to load a blob is answered from memory before the
/// store is tried again, so a missing or corrupt blob is not downloaded and
/// hashed on every request.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(5);

/// Where a load found its compiled component.
#[derive(Clone, Copy, Debug)]
enum LoadSource {
    /// Already in memory.
    Memory,
    /// The disk cache.
    Disk,
    /// Code another server compiled and sealed in the shared store.
    Shared,
    /// Compiled here.
    Compile,
}

/// `wharf_component_loads_total` for `source` and `compiler`.
fn load_counter(source: LoadSource, compiler: Compiler) -> metrics::Counter {
    let source = match source {
        LoadSource::Memory => "memory",
        LoadSource::Disk => "disk",
        LoadSource::Shared => "shared",
        LoadSource::Compile => "compile",
    };
    metrics::counter!(COMPONENT_LOADS, "source" => source, "compiler" => compiler.to_string())
}

/// Counts a load of `compiled` from `source`.
fn count_load(source: LoadSource, compiled: &CompiledComponent) {
    load_counter(source, compiled.compiler()).increment(1);
}

/// How many compiled components to keep, and how much compiled code.
#[derive(Clone, Copy, Debug)]
pub struct CacheLimits {
    /// Most components kept compiled at once.
    pub max_components: usize,
    /// Most compiled code kept, in bytes.
    pub max_code_bytes: usize,
}

impl Default for CacheLimits {
    fn default() -> Self {
        Self {
            max_components: 1000,
            max_code_bytes: 2 << 30,
        }
    }
}

/// Components compiled from the blob store, each compiled once: concurrent
/// requests for a key that is still compiling wait for that one compilation.
/// A failure is remembered for [`FAILURE_MEMORY`]. Past its [`CacheLimits`]
/// the least recently used components are dropped; requests already running
/// on one finish on it, and the next request loads it again.
///
/// A load takes the first of: the disk cache; code another server
/// compiled and sealed in the shared store ([`SharedArtifacts`], when the
/// cluster has a secret); a compile here. A quick provisional compile (see
/// [`wharf_runtime::Purpose::Provisional`]) is compiled again in the
/// background, one at a time, and swapped in when ready: new requests take
/// the new code and requests already running finish on the old. Code
/// compiled here is published to the shared store.
/// [`prefetch`](Self::prefetch) loads a component before any request asks
/// for it, and [`load_upload`](Self::load_upload) is a deploy's way in.
#[derive(Clone)]
pub struct ComponentCache {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Arc<Runtime>,
    store: Arc<BlobStore>,
    /// Compiled code on local disk, when the server has a place for it.
    disk: Option<Arc<DiskCache>>,
    shared: Option<SharedArtifacts>,
    /// Threads at the lowest CPU priority for compiles nobody waits on.
    background: Arc<BackgroundPool>,
    limits: CacheLimits,
    entries: ArcSwap<Entries>,
    /// Changes to `entries` take turns.
    writing: Mutex<()>,
    /// Advances at each new entry, not at each hit: entries used since the
    /// last load share a value, so eviction is least-recently-used to the
    /// nearest load.
    clock: AtomicU64,
    failures: Mutex<HashMap<BlobKey, (Instant, Arc<FetchError>)>>,
    /// Background recompiles and prefetches take turns, so a burst of new
    /// components does not take every core from the requests.
    background_turns: Semaphore,
    /// How many background recompiles and prefetches are queued or running.
    background_jobs: watch::Sender<usize>,
    counts: Counts,
    /// `wharf_component_loads_total{source="memory"}` by compiler,
    /// registered once: every request counts one.
    memory_loads: [metrics::Counter; 2],
}

/// What the cache has done, for tests and logs.
#[derive(Default)]
struct Counts {
    loads: AtomicU64,
    compiles: AtomicU64,
    shared_loads: AtomicU64,
    switches: AtomicU64,
}

impl ComponentCache {
    /// Deletes compiled code on this server's disk older than `grace` for
    /// components not in `keep`, or made by another engine, and says which
    /// files, with their sizes (nothing without a disk directory). With
    /// `dry_run`, only says which it would delete.
    pub fn sweep_disk(
        &self,
        keep: &std::collections::HashSet<Digest>,
        grace: Duration,
        dry_run: bool,
    ) -> std::io::Result<Vec<(String, u64)>> {
        match &self.inner.disk {
            Some(disk) => disk.sweep(keep, grace, dry_run),
            None => Ok(Vec::new()),
        }
    }

    /// The shared store of sealed code, when servers share compiled code.
    pub fn shared(&self) -> Option<&SharedArtifacts> {
        self.inner.shared.as_ref()
    }

    /// An empty cache over `store`, compiling with `runtime`, keeping
    /// compiled code in `disk_dir` and sharing it through `shared` when
    /// given. A `disk_dir` that cannot be used is logged and left out.
    pub fn new(
        runtime: Arc<Runtime>,
        store: Arc<BlobStore>,
        disk_dir: Option<&Path>,
        shared: Option<SharedArtifacts>,
        limits: CacheLimits,
    ) -> Self {
        let disk = disk_dir.and_then(|dir| match DiskCache::open(dir, runtime.clone()) {
            Ok(disk) => Some(Arc::new(disk)),
            Err(e) => {
                tracing::warn!("not keeping compiled code on disk: {e}");
                None
            }
        });
        Self {
            inner: Arc::new(Inner {
                runtime,
                store,
                disk,
                shared,
                background: Arc::default(),
                limits,
                entries: ArcSwap::default(),
                writing: Mutex::default(),
                clock: AtomicU64::new(0),
                failures: Mutex::default(),
                background_turns: Semaphore::new(1),
                background_jobs: watch::Sender::new(0),
                counts: Counts::default(),
                memory_loads: [Compiler::Cranelift, Compiler::Winch]
                    .map(|compiler| load_counter(LoadSource::Memory, compiler)),
            }),
        }
    }

    /// How many times a component has been loaded: once per key however
    /// many requests wanted it at once, again only after an eviction or a
    /// failure.
    pub fn loads(&self) -> u64 {
        self.inner.counts.loads.load(Ordering::Relaxed)
    }

    /// How many loads compiled the component here, in the foreground.
    pub fn compiles(&self) -> u64 {
        self.inner.counts.compiles.load(Ordering::Relaxed)
    }

    /// How many loads took verified code from the shared store.
    pub fn shared_loads(&self) -> u64 {
        self.inner.counts.shared_loads.load(Ordering::Relaxed)
    }

    /// How many components are compiled and in memory, and the bytes of
    /// their code.
    pub fn usage(&self) -> (usize, usize) {
        self.inner.usage(&self.inner.entries.load())
    }

    /// How many provisional components were replaced by their recompiled
    /// code.
    pub fn switches(&self) -> u64 {
        self.inner.counts.switches.load(Ordering::Relaxed)
    }

    /// Waits until no background recompile or prefetch is queued or
    /// running.
    pub async fn background_done(&self) {
        let mut pending = self.inner.background_jobs.subscribe();
        let _ = pending.wait_for(|&n| n == 0).await;
    }

    /// The compiled component stored under `key`, loading it on first use.
    pub async fn get(&self, key: &BlobKey) -> Result<CompiledComponent, Arc<FetchError>> {
        let inner = &self.inner;
        // The warm path: no lock, and no write to memory other requests
        // share unless this entry was last used before the latest load.
        if let Some(entry) = inner.entries.load().get(key) {
            entry.touch(inner.clock.load(Ordering::Relaxed));
            if let Some(compiled) = entry.cell.get() {
                let by_compiler = usize::from(compiled.compiler() == Compiler::Winch);
                inner.memory_loads[by_compiler].increment(1);
                return Ok(compiled.clone());
            }
        }
        let entry = inner.entry(key);
        let mut loaded_now = false;
        let compiled = entry
            .cell
            .get_or_try_init(|| async {
                // Requests that queued behind a failed attempt take its
                // answer instead of loading again.
                if let Some(error) = inner.recent_failure(key) {
                    return Err(error);
                }
                let compiled = inner
                    .load(key, None, Urgency::Request)
                    .await
                    .map_err(Arc::new)?;
                loaded_now = true;
                Ok::<_, Arc<FetchError>>(compiled)
            })
            .await;
        match compiled {
            Ok(compiled) => {
                let compiled = compiled.clone();
                if loaded_now {
                    inner.evict(key);
                }
                Ok(compiled)
            }
            Err(error) => {
                inner.remember_failure(key, &error);
                Err(error)
            }
        }
    }

    /// A deploy's way in: the component `bytes`, which will be stored
    /// under `key`, through the same chain as a request's, compiling the
    /// code to keep when no link has it. The result stays in memory, so the
    /// first request after the deploy is served warm. An error is the
    /// deploy's to report and is not remembered.
    pub async fn load_upload(
        &self,
        key: BlobKey,
        bytes: Bytes,
    ) -> Result<CompiledComponent, FetchError> {
        if let Some(compiled) = self
            .inner
            .entries
            .load()
            .get(&key)
            .and_then(|e| e.cell.get())
        {
            return Ok(compiled.clone());
        }
        let compiled = self.inner.load(&key, Some(bytes), Urgency::Deploy).await?;
        self.inner.keep(key, compiled.clone());
        Ok(compiled)
    }

    /// Whether the component under `key` is compiled and in memory.
    pub fn is_loaded(&self, key: &BlobKey) -> bool {
        self.inner
            .entries
            .load()
            .get(key)
            .is_some_and(|entry| entry.cell.initialized())
    }

    /// Loads `key` in the background, before any request asks for it: from
    /// the disk cache or the shared store, or by compiling the code to keep
    /// at the lowest CPU priority, taking turns with the background
    /// recompiles. A request that arrives first loads it itself, as usual.
    pub fn prefetch(&self, key: BlobKey) {
        if self.inner.entries.load().contains_key(&key) {
            return;
        }
        self.inner.in_background(move |inner| async move {
            if inner.entries.load().contains_key(&key) {
                return;
            }
            match inner.load(&key, None, Urgency::Background).await {
                Ok(compiled) => {
                    inner.keep(key, compiled);
                    tracing::info!(%key, "prepared a new deployment before its first request");
                }
                Err(e) => tracing::warn!(%key, "cannot prepare a new deployment: {e}"),
            }
        });
    }
}
