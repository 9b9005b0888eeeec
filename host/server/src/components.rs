//! Compiled components by blob key: fetched, verified and compiled once,
//! and kept within a budget, least recently used first out.

use arc_swap::ArcSwap;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OnceCell, Semaphore, watch};
use wharf_runtime::{CompiledComponent, LoadError, Runtime};
use wharf_store::{ArtifactError, BlobKey, BlobStore, SharedArtifacts, StoreError};

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

/// One key's compiled component, or the load under way for it.
struct Entry {
    cell: OnceCell<CompiledComponent>,
    /// The cache's clock when it was last used.
    last_used: AtomicU64,
}

impl Entry {
    fn new(now: u64, compiled: Option<CompiledComponent>) -> Arc<Self> {
        Arc::new(Self {
            cell: OnceCell::new_with(compiled),
            last_used: AtomicU64::new(now),
        })
    }

    /// Marks the entry used at `now`, writing only when that changes it,
    /// so requests to a warm component do not contend on its cache line.
    fn touch(&self, now: u64) {
        if self.last_used.load(Ordering::Relaxed) != now {
            self.last_used.store(now, Ordering::Relaxed);
        }
    }
}

/// The cache's entries by key: read without a lock by every request, and
/// replaced whole (copy on write) when an entry is added, switched or
/// dropped, which happens once per load.
type Entries = HashMap<BlobKey, Arc<Entry>>;

/// Components compiled from the blob store, each compiled once: concurrent
/// requests for a key that is still compiling wait for that one compilation.
/// A failure is remembered for [`FAILURE_MEMORY`]. Past its [`CacheLimits`]
/// the least recently used components are dropped; requests already running
/// on one finish on it, and the next request loads it again.
///
/// A load takes the first of: the runtime's disk cache; code another server
/// compiled and sealed in the shared store ([`SharedArtifacts`], when the
/// cluster has a secret); a compile here. A quick provisional compile (see
/// [`Runtime::compile_quickly`]) is compiled again in the background, one
/// at a time, and swapped in when ready: new requests take the new code and
/// requests already running finish on the old. Code compiled here is
/// published to the shared store. [`prefetch`](Self::prefetch) loads a
/// component before any request asks for it.
pub struct ComponentCache {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Arc<Runtime>,
    store: Arc<BlobStore>,
    shared: Option<SharedArtifacts>,
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
    /// An empty cache over `store`, compiling with `runtime`, and sharing
    /// compiled code through `shared` when given.
    pub fn new(
        runtime: Arc<Runtime>,
        store: Arc<BlobStore>,
        shared: Option<SharedArtifacts>,
        limits: CacheLimits,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                runtime,
                store,
                shared,
                limits,
                entries: ArcSwap::default(),
                writing: Mutex::default(),
                clock: AtomicU64::new(0),
                failures: Mutex::default(),
                background_turns: Semaphore::new(1),
                background_jobs: watch::Sender::new(0),
                counts: Counts::default(),
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
                let compiled = inner.load(key, Urgency::Request).await.map_err(Arc::new)?;
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
                inner.change_entries(|entries| {
                    entries.remove(key);
                });
                let mut failures = inner.failures.lock().expect("failure lock");
                failures.retain(|_, (at, _)| at.elapsed() < FAILURE_MEMORY);
                // A remembered failure keeps its time, so it expires on schedule.
                failures
                    .entry(*key)
                    .or_insert_with(|| (Instant::now(), error.clone()));
                Err(error)
            }
        }
    }

    /// Adds a component compiled elsewhere (at deploy time, say), so the
    /// first request for it is served warm, and shares its code.
    pub fn insert(&self, key: BlobKey, compiled: CompiledComponent) {
        self.inner.keep(key, compiled.clone());
        self.inner.publish_later(compiled, false);
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
            match inner.load(&key, Urgency::Background).await {
                Ok(compiled) => {
                    inner.keep(key, compiled);
                    tracing::info!(%key, "prepared a new deployment before its first request");
                }
                Err(e) => tracing::warn!(%key, "cannot prepare a new deployment: {e}"),
            }
        });
    }
}

/// Whether a request is waiting on a load.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Urgency {
    /// Compile quickly, at normal priority.
    Request,
    /// Compile the code to keep, at the lowest priority.
    Background,
}

impl Inner {
    /// Puts `compiled` in the cache under `key`, unless a component is
    /// already there (the one in use is kept).
    fn keep(&self, key: BlobKey, compiled: CompiledComponent) {
        self.failures.lock().expect("failure lock").remove(&key);
        let _ = self.entry(&key).cell.set(compiled);
        self.evict(&key);
    }

    /// The entry for `key`, added (and the clock advanced) if there is
    /// none, marked as just used.
    fn entry(&self, key: &BlobKey) -> Arc<Entry> {
        let _turn = self.writing.lock().expect("component cache lock");
        if let Some(entry) = self.entries.load().get(key) {
            entry.touch(self.clock.load(Ordering::Relaxed));
            return entry.clone();
        }
        let now = self.clock.fetch_add(1, Ordering::Relaxed) + 1;
        let entry = Entry::new(now, None);
        let mut entries = Entries::clone(&self.entries.load());
        entries.insert(*key, entry.clone());
        self.entries.store(Arc::new(entries));
        entry
    }

    /// Applies `change` to a copy of the entries and puts the copy in
    /// place; returns what `change` returned.
    fn change_entries<T>(&self, change: impl FnOnce(&mut Entries) -> T) -> T {
        let _turn = self.writing.lock().expect("component cache lock");
        let mut entries = Entries::clone(&self.entries.load());
        let result = change(&mut entries);
        self.entries.store(Arc::new(entries));
        result
    }

    /// Loads `key`: from the disk cache, the shared store, or by compiling.
    async fn load(
        self: &Arc<Self>,
        key: &BlobKey,
        urgency: Urgency,
    ) -> Result<CompiledComponent, FetchError> {
        self.counts.loads.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let digest = key.digest;
        let runtime = self.runtime.clone();
        if let Some(compiled) = blocking(move || runtime.load_cached(&digest)).await? {
            return Ok(compiled?);
        }
        let mut replace_shared = false;
        if let Some(shared) = &self.shared {
            match shared.fetch(&digest, self.runtime.engine_tag()).await {
                Ok(Some(verified)) => {
                    let runtime = self.runtime.clone();
                    match blocking(move || runtime.load_shared(verified)).await? {
                        Ok(compiled) => {
                            self.counts.shared_loads.fetch_add(1, Ordering::Relaxed);
                            tracing::info!(%key, elapsed = ?started.elapsed(), "component ready: loaded code compiled by another server");
                            return Ok(compiled);
                        }
                        Err(e) => {
                            tracing::warn!(%key, "the shared compiled code does not load, so it is compiled here: {e}");
                            replace_shared = true;
                        }
                    }
                }
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
        let bytes = self.store.get(key).await?;
        let runtime = self.runtime.clone();
        let source = bytes.clone();
        let compiled = match urgency {
            Urgency::Request => {
                self.counts.compiles.fetch_add(1, Ordering::Relaxed);
                blocking(move || runtime.compile_quickly(&source)).await??
            }
            Urgency::Background => {
                blocking(move || runtime.compile_in_background(&source)).await??
            }
        };
        tracing::info!(%key, elapsed = ?started.elapsed(), compiler = %compiled.compiler(), "component ready");
        if compiled.is_provisional() {
            self.recompile_later(*key, bytes, replace_shared);
        } else {
            self.publish_later(compiled.clone(), replace_shared);
        }
        Ok(compiled)
    }

    /// Compiles `key` again into the code to keep, in the background, and
    /// swaps it in for the provisional code.
    fn recompile_later(self: &Arc<Self>, key: BlobKey, bytes: Bytes, replace_shared: bool) {
        self.in_background(move |inner| async move {
            let started = Instant::now();
            let runtime = inner.runtime.clone();
            let compiled = blocking(move || runtime.compile_in_background(&bytes)).await;
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
    fn in_background<F>(self: &Arc<Self>, job: impl FnOnce(Arc<Self>) -> F + Send + 'static)
    where
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

    /// Replaces the provisional code of `key` with `compiled`. Requests
    /// holding the old code finish on it. A key evicted in the meantime is
    /// left out: its next load finds the new code on disk.
    fn switch(&self, key: &BlobKey, compiled: CompiledComponent) {
        self.change_entries(|entries| {
            if let Some(entry) = entries.get_mut(key)
                && entry.cell.get().is_some_and(|c| c.is_provisional())
            {
                let last_used = entry.last_used.load(Ordering::Relaxed);
                *entry = Entry::new(last_used, Some(compiled));
                self.counts.switches.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    /// Seals and uploads the code of `compiled` to the shared store, if
    /// there is one, in the background.
    fn publish_later(&self, compiled: CompiledComponent, replace: bool) {
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

    /// The failure to load `key`, if it happened within [`FAILURE_MEMORY`].
    fn recent_failure(&self, key: &BlobKey) -> Option<Arc<FetchError>> {
        let failures = self.failures.lock().expect("failure lock");
        let (at, error) = failures.get(key)?;
        (at.elapsed() < FAILURE_MEMORY).then(|| error.clone())
    }

    /// Drops the least recently used components until the cache is within
    /// its limits, never `keep` (the one just added).
    fn evict(&self, keep: &BlobKey) {
        let within_limits = |entries: &Entries| {
            let (count, bytes) = entries
                .values()
                .filter_map(|e| e.cell.get())
                .fold((0, 0), |(n, b), c| (n + 1, b + c.code_bytes()));
            count <= self.limits.max_components && bytes <= self.limits.max_code_bytes
        };
        if within_limits(&self.entries.load()) {
            return;
        }
        self.change_entries(|entries| loop {
            if within_limits(entries) {
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
        });
    }
}

/// Runs CPU-bound `work` on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, FetchError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(FetchError::TaskStopped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::BodyExt;
    use http_body_util::channel::{Channel, Sender};
    use wharf_runtime::{
        AppContext, Compiler, CompilerMode, DeploymentFacts, MemoryKeyValue, RequestId,
        RuntimeConfig,
    };
    use wharf_store::{ClusterSecret, StoreOptions};

    /// A runtime compiling with `compiler`, keeping code in `artifact_dir`.
    fn runtime(compiler: CompilerMode, artifact_dir: Option<&std::path::Path>) -> Arc<Runtime> {
        let config = RuntimeConfig {
            max_instances: 8,
            compiler,
            artifact_dir: artifact_dir.map(ToOwned::to_owned),
            ..RuntimeConfig::default()
        };
        Arc::new(Runtime::new(config).expect("runtime"))
    }

    /// An in-memory store (the cache logic does not depend on the backend;
    /// the end-to-end tests run it over Garage) holding `guests`.
    async fn store(guests: &[&str]) -> (Arc<BlobStore>, Vec<BlobKey>) {
        let store = BlobStore::open("memory://", &StoreOptions::default()).expect("store");
        let mut keys = Vec::new();
        for guest in guests {
            let bytes = Bytes::from(std::fs::read(guest).expect("guest is built"));
            keys.push(store.put(bytes).await.expect("put").key);
        }
        (Arc::new(store), keys)
    }

    /// A Cranelift-only cache over the `hello` and `hello-v2` guests.
    async fn cache(limits: CacheLimits) -> (Arc<ComponentCache>, BlobKey, BlobKey) {
        let (store, keys) =
            store(&[wharf_test_artifacts::HELLO, wharf_test_artifacts::HELLO_V2]).await;
        let runtime = runtime(CompilerMode::Cranelift, None);
        let cache = ComponentCache::new(runtime, store, None, limits);
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

    fn app() -> Arc<AppContext> {
        Arc::new(AppContext {
            facts: DeploymentFacts {
                app: "echo".into(),
                digest: String::new(),
                deployed_at: 0,
                preview: false,
            },
            config: Arc::default(),
            outbound: Arc::default(),
            keyvalue: Arc::new(MemoryKeyValue::default()),
            keyvalue_limits: Default::default(),
        })
    }

    /// Starts a request to the `echo` guest whose body the test writes
    /// through the returned sender, and returns once the response head is
    /// back: the guest is then running, waiting for the body.
    async fn start_echo(
        runtime: &Runtime,
        component: &CompiledComponent,
    ) -> (
        Sender<Bytes, hyper::Error>,
        http::Response<wharf_runtime::GuestBody>,
    ) {
        let (sender, body) = Channel::<Bytes, hyper::Error>::new(4);
        let request = http::Request::post("http://echo.localhost/")
            .body(body)
            .expect("request");
        let response = runtime
            .handle(component, request, RequestId::new(), &app())
            .await
            .expect("echo answers");
        assert_eq!(response.status(), 200);
        (sender, response)
    }

    /// Sends `body` as the whole body of a request `start_echo` began, and
    /// returns what the guest echoed.
    async fn finish_echo(
        (mut sender, response): (
            Sender<Bytes, hyper::Error>,
            http::Response<wharf_runtime::GuestBody>,
        ),
        body: Bytes,
    ) -> Bytes {
        sender.send_data(body).await.expect("guest reads");
        drop(sender);
        let body = response.into_body().collect().await.expect("body");
        body.to_bytes()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn provisional_code_is_switched_while_requests_run_on_it() {
        let (store, keys) = store(&[wharf_test_artifacts::ECHO]).await;
        let runtime = runtime(CompilerMode::Auto, None);
        let cache = ComponentCache::new(runtime.clone(), store, None, CacheLimits::default());
        let echo = keys[0];

        let quick = cache.get(&echo).await.expect("echo loads");
        assert_eq!(quick.compiler(), Compiler::Winch);
        assert!(quick.is_provisional());
        // Three requests are running on the Winch code, their bodies not yet sent.
        let mut in_flight = Vec::new();
        for _ in 0..3 {
            in_flight.push(start_echo(&runtime, &quick).await);
        }

        cache.background_done().await;
        assert_eq!(cache.switches(), 1);
        assert_eq!(
            (cache.loads(), cache.compiles()),
            (1, 1),
            "the switch is no reload"
        );
        let kept = cache.get(&echo).await.expect("echo");
        assert_eq!(kept.compiler(), Compiler::Cranelift);
        assert!(!kept.is_provisional());

        // The requests begun before the switch finish on the Winch code...
        for (i, request) in in_flight.into_iter().enumerate() {
            let sent = format!("request {i} started on Winch code");
            let echoed = finish_echo(request, Bytes::from(sent.clone())).await;
            assert_eq!(echoed, sent.as_bytes());
        }
        // ...and a new one runs on the Cranelift code.
        let request = start_echo(&runtime, &kept).await;
        let echoed = finish_echo(request, Bytes::from_static(b"on cranelift")).await;
        assert_eq!(echoed, &b"on cranelift"[..]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_recompiled_code_is_kept_on_disk_for_a_restart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, keys) = store(&[wharf_test_artifacts::HELLO]).await;
        let first = ComponentCache::new(
            runtime(CompilerMode::Auto, Some(dir.path())),
            store.clone(),
            None,
            CacheLimits::default(),
        );
        assert!(first.get(&keys[0]).await.expect("hello").is_provisional());
        first.background_done().await;

        let restarted = ComponentCache::new(
            runtime(CompilerMode::Auto, Some(dir.path())),
            store,
            None,
            CacheLimits::default(),
        );
        let loaded = restarted.get(&keys[0]).await.expect("hello");
        assert_eq!(loaded.compiler(), Compiler::Cranelift);
        assert!(!loaded.is_provisional());
        assert_eq!(restarted.compiles(), 0, "loaded from disk, not compiled");
    }

    /// Two servers' caches sharing one store and, unless `other_secret`,
    /// one cluster secret.
    async fn two_servers(
        other_secret: bool,
    ) -> (ComponentCache, ComponentCache, Arc<BlobStore>, BlobKey) {
        let (store, keys) = store(&[wharf_test_artifacts::HELLO]).await;
        let secret = |fill: u8| ClusterSecret::new(&[fill; 32]).expect("secret");
        let first = ComponentCache::new(
            runtime(CompilerMode::Cranelift, None),
            store.clone(),
            Some(SharedArtifacts::new(&store, secret(1))),
            CacheLimits::default(),
        );
        let second = ComponentCache::new(
            runtime(CompilerMode::Cranelift, None),
            store.clone(),
            Some(SharedArtifacts::new(
                &store,
                secret(if other_secret { 2 } else { 1 }),
            )),
            CacheLimits::default(),
        );
        (first, second, store, keys[0])
    }

    /// Waits for the first server's background upload of `key`'s code.
    async fn wait_for_artifact(store: &BlobStore, runtime: &Runtime, key: &BlobKey) -> String {
        use object_store::ObjectStoreExt;
        let path = format!("compiled/{}/{}.cwasm", runtime.engine_tag(), key.digest);
        for _ in 0..600 {
            if store
                .object_store()
                .head(&path.as_str().into())
                .await
                .is_ok()
            {
                return path;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{path} was never uploaded");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_server_loads_sealed_code_instead_of_compiling() {
        let (first, second, store, hello) = two_servers(false).await;
        first.get(&hello).await.expect("hello");
        assert_eq!(first.compiles(), 1);
        wait_for_artifact(&store, &first.inner.runtime, &hello).await;

        let loaded = second.get(&hello).await.expect("hello");
        assert_eq!((second.compiles(), second.shared_loads()), (0, 1));
        assert_eq!(loaded.digest(), hello.digest);
        // An empty body: the sender is dropped at once.
        let request = http::Request::get("http://hello.localhost/")
            .body(Channel::<Bytes, hyper::Error>::new(1).1)
            .expect("request");
        let runtime = &second.inner.runtime;
        let response = runtime
            .handle(&loaded, request, RequestId::new(), &app())
            .await;
        assert_eq!(response.expect("hello answers").status(), 200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn code_sealed_with_another_secret_is_compiled_again() {
        let (first, second, store, hello) = two_servers(true).await;
        first.get(&hello).await.expect("hello");
        wait_for_artifact(&store, &first.inner.runtime, &hello).await;
        second.get(&hello).await.expect("hello");
        assert_eq!((second.compiles(), second.shared_loads()), (1, 0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tampered_code_is_compiled_again_and_replaced() {
        use object_store::ObjectStoreExt;
        let (first, second, store, hello) = two_servers(false).await;
        first.get(&hello).await.expect("hello");
        let path = wait_for_artifact(&store, &first.inner.runtime, &hello).await;
        let path = object_store::path::Path::from(path);
        let objects = store.object_store();
        let mut sealed = objects
            .get(&path)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("read")
            .to_vec();
        // Change one byte of the machine code, leaving the seal as it was.
        let middle = sealed.len() / 2;
        sealed[middle] ^= 0x40;
        objects
            .put(&path, sealed.clone().into())
            .await
            .expect("put");

        second.get(&hello).await.expect("hello");
        assert_eq!((second.compiles(), second.shared_loads()), (1, 0));
        // The server that compiled instead replaces the tampered object.
        for _ in 0..600 {
            let now = objects
                .get(&path)
                .await
                .expect("get")
                .bytes()
                .await
                .expect("read");
            if now.as_ref() != sealed.as_slice() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the tampered artifact was never replaced");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn code_for_another_engine_is_never_loaded() {
        let (store, keys) = store(&[wharf_test_artifacts::HELLO]).await;
        let secret = ClusterSecret::new(&[5; 32]).expect("secret");
        let winch = runtime(CompilerMode::Winch, None);
        let cranelift = runtime(CompilerMode::Cranelift, None);
        assert_ne!(winch.engine_tag(), cranelift.engine_tag());
        let shared = SharedArtifacts::new(&store, secret.clone());
        let hello = keys[0];
        // A server with another engine configuration seals its code...
        let compiled = ComponentCache::new(
            winch.clone(),
            store.clone(),
            Some(shared.clone()),
            CacheLimits::default(),
        );
        compiled.get(&hello).await.expect("hello");
        let winch_path = wait_for_artifact(&store, &winch, &hello).await;
        // ...and someone copies it to where this engine's code would be.
        use object_store::ObjectStoreExt;
        let objects = store.object_store();
        let bytes = objects
            .get(&winch_path.as_str().into())
            .await
            .expect("get")
            .bytes()
            .await
            .expect("read");
        let here = shared.location(&hello.digest, cranelift.engine_tag());
        objects.put(&here, bytes.into()).await.expect("put");

        let cache = ComponentCache::new(
            cranelift.clone(),
            store,
            Some(shared),
            CacheLimits::default(),
        );
        let loaded = cache.get(&hello).await.expect("hello");
        assert_eq!((cache.compiles(), cache.shared_loads()), (1, 0));
        assert_eq!(loaded.compiler(), Compiler::Cranelift);
    }
}
