//! Compiled components by blob key: fetched, verified and compiled once,
//! and kept within a budget, least recently used first out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;
use wharf_runtime::{CompiledComponent, LoadError, Runtime};
use wharf_store::{BlobKey, BlobStore, StoreError};

/// Why a stored component could not be made ready to serve.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The store could not return verified bytes.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bytes did not compile or link.
    #[error("the stored component does not load: {0}")]
    Load(#[from] LoadError),
    /// The compiler itself failed.
    #[error("compiling the stored component failed: {0}")]
    Compiler(String),
}

/// How long a failure to load a blob is answered from memory before the
/// store is tried again, so a missing or corrupt blob is not downloaded and
/// hashed on every request.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(5);

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

struct Entry {
    cell: Arc<OnceCell<CompiledComponent>>,
    last_used: AtomicU64,
}

/// Components compiled from the blob store, each compiled once: concurrent
/// requests for a key that is still compiling wait for that one compilation.
/// A failure is remembered for [`FAILURE_MEMORY`]. Past its [`CacheLimits`]
/// the least recently used components are dropped; requests already running
/// on one finish on it, and the next request compiles it again (from the
/// runtime's disk cache, when it has one).
pub struct ComponentCache {
    runtime: Arc<Runtime>,
    store: Arc<BlobStore>,
    limits: CacheLimits,
    entries: Mutex<HashMap<BlobKey, Entry>>,
    clock: AtomicU64,
    failures: Mutex<HashMap<BlobKey, (Instant, Arc<FetchError>)>>,
    /// How many loads (fetch and compile) this cache has started.
    loads: AtomicU64,
}

impl ComponentCache {
    /// An empty cache over `store`, compiling with `runtime`.
    pub fn new(runtime: Arc<Runtime>, store: Arc<BlobStore>, limits: CacheLimits) -> Self {
        Self {
            runtime,
            store,
            limits,
            entries: Mutex::default(),
            clock: AtomicU64::new(0),
            failures: Mutex::default(),
            loads: AtomicU64::new(0),
        }
    }

    /// How many times a component has been fetched and compiled: once per
    /// key however many requests wanted it at once, again only after an
    /// eviction or a failure.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// The cell for `key`, marked as just used.
    fn cell(&self, key: &BlobKey) -> Arc<OnceCell<CompiledComponent>> {
        let now = self.tick();
        let mut entries = self.entries.lock().expect("component cache lock");
        let entry = entries.entry(*key).or_insert_with(|| Entry {
            cell: Arc::default(),
            last_used: AtomicU64::new(now),
        });
        entry.last_used.store(now, Ordering::Relaxed);
        entry.cell.clone()
    }

    /// The compiled component stored under `key`, fetching, verifying and
    /// compiling it on first use.
    pub async fn get(&self, key: &BlobKey) -> Result<CompiledComponent, Arc<FetchError>> {
        // The warm path: one lock, one clone.
        let cell = self.cell(key);
        if let Some(compiled) = cell.get() {
            return Ok(compiled.clone());
        }
        let mut compiled_now = false;
        let compiled = cell
            .get_or_try_init(|| async {
                // Requests that queued behind a failed attempt take its
                // answer instead of fetching and compiling again.
                if let Some(error) = self.recent_failure(key) {
                    return Err(error);
                }
                self.loads.fetch_add(1, Ordering::Relaxed);
                let bytes = self.store.get(key).await.map_err(|e| Arc::new(e.into()))?;
                let runtime = self.runtime.clone();
                let started = Instant::now();
                let compiled = tokio::task::spawn_blocking(move || runtime.compile(&bytes))
                    .await
                    .map_err(|e| Arc::new(FetchError::Compiler(e.to_string())))?
                    .map_err(|e| Arc::new(e.into()))?;
                tracing::info!(%key, elapsed = ?started.elapsed(), "component ready");
                compiled_now = true;
                Ok::<_, Arc<FetchError>>(compiled)
            })
            .await;
        match compiled {
            Ok(compiled) => {
                let compiled = compiled.clone();
                if compiled_now {
                    self.evict(key);
                }
                Ok(compiled)
            }
            Err(error) => {
                self.entries
                    .lock()
                    .expect("component cache lock")
                    .remove(key);
                let mut failures = self.failures.lock().expect("failure lock");
                failures.retain(|_, (at, _)| at.elapsed() < FAILURE_MEMORY);
                // A remembered failure keeps its time, so it expires on schedule.
                failures
                    .entry(*key)
                    .or_insert_with(|| (Instant::now(), error.clone()));
                Err(error)
            }
        }
    }

    /// The failure to load `key`, if it happened within [`FAILURE_MEMORY`].
    fn recent_failure(&self, key: &BlobKey) -> Option<Arc<FetchError>> {
        let failures = self.failures.lock().expect("failure lock");
        let (at, error) = failures.get(key)?;
        (at.elapsed() < FAILURE_MEMORY).then(|| error.clone())
    }

    /// Adds a component compiled elsewhere (at deploy time, say), so the
    /// first request for it is served warm.
    pub fn insert(&self, key: BlobKey, compiled: CompiledComponent) {
        self.failures.lock().expect("failure lock").remove(&key);
        let cell = self.cell(&key);
        // Already compiled: keep the one in use.
        let _ = cell.set(compiled);
        self.evict(&key);
    }

    /// Drops the least recently used components until the cache is within
    /// its limits, never `keep` (the one just added).
    fn evict(&self, keep: &BlobKey) {
        let mut entries = self.entries.lock().expect("component cache lock");
        loop {
            let (count, bytes) = entries
                .values()
                .filter_map(|e| e.cell.get())
                .fold((0, 0), |(n, b), c| (n + 1, b + c.code_bytes()));
            if count <= self.limits.max_components && bytes <= self.limits.max_code_bytes {
                return;
            }
            let oldest = entries
                .iter()
                .filter(|(key, e)| *key != keep && e.cell.initialized())
                .min_by_key(|(_, e)| e.last_used.load(Ordering::Relaxed))
                .map(|(key, _)| *key);
            let Some(oldest) = oldest else { return };
            entries.remove(&oldest);
            tracing::info!(key = %oldest, "evicted a compiled component to stay within the cache limits");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use wharf_runtime::RuntimeConfig;
    use wharf_store::StoreOptions;

    /// A cache over an in-memory store (no object store is needed to test
    /// the cache itself) holding the `hello` and `hello-v2` guests.
    async fn cache(limits: CacheLimits) -> (Arc<ComponentCache>, BlobKey, BlobKey) {
        let config = RuntimeConfig {
            max_instances: 4,
            ..RuntimeConfig::default()
        };
        let runtime = Arc::new(Runtime::new(config).expect("runtime"));
        let store = BlobStore::open("memory://", &StoreOptions::default()).expect("store");
        let mut keys = Vec::new();
        for guest in [wharf_test_artifacts::HELLO, wharf_test_artifacts::HELLO_V2] {
            let bytes = Bytes::from(std::fs::read(guest).expect("guest is built"));
            keys.push(store.put(bytes).await.expect("put").key);
        }
        let cache = ComponentCache::new(runtime, Arc::new(store), limits);
        (Arc::new(cache), keys[0], keys[1])
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn fifty_concurrent_cold_requests_load_once() {
        let (cache, hello, _) = cache(CacheLimits::default()).await;
        let requests: Vec<_> = (0..50)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.get(&hello).await.map(|c| c.digest()) })
            })
            .collect();
        for request in requests {
            let digest = request.await.expect("task").expect("loads");
            assert_eq!(digest, hello.digest);
        }
        assert_eq!(cache.loads(), 1);
        cache.get(&hello).await.expect("warm");
        assert_eq!(cache.loads(), 1, "a warm hit loads nothing");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_least_recently_used_is_evicted_and_reloaded() {
        let limits = CacheLimits {
            max_components: 1,
            ..CacheLimits::default()
        };
        let (cache, hello, v2) = cache(limits).await;
        cache.get(&hello).await.expect("hello");
        cache.get(&v2).await.expect("v2");
        assert_eq!(cache.loads(), 2);
        // v2 pushed hello out, so hello loads again, and v2 stays warm
        // until then.
        cache.get(&v2).await.expect("v2 again");
        assert_eq!(cache.loads(), 2);
        cache.get(&hello).await.expect("hello again");
        assert_eq!(cache.loads(), 3);
    }
}
