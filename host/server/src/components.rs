//! Compiled components by blob key: fetched, verified and compiled once.

use std::collections::HashMap;
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
}

/// How long a failure to load a blob is answered from memory before the
/// store is tried again, so a missing or corrupt blob is not downloaded and
/// hashed on every request.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(5);

/// Components compiled from the blob store, each compiled once: concurrent
/// requests for a key that is still compiling wait for that one compilation.
/// A failure is remembered for [`FAILURE_MEMORY`].
///
/// Every component stays compiled for the life of the process.
pub struct ComponentCache {
    runtime: Arc<Runtime>,
    store: Arc<BlobStore>,
    entries: Mutex<HashMap<BlobKey, Arc<OnceCell<CompiledComponent>>>>,
    failures: Mutex<HashMap<BlobKey, (Instant, Arc<FetchError>)>>,
}

impl ComponentCache {
    /// An empty cache over `store`, compiling with `runtime`.
    pub fn new(runtime: Arc<Runtime>, store: Arc<BlobStore>) -> Self {
        Self {
            runtime,
            store,
            entries: Mutex::default(),
            failures: Mutex::default(),
        }
    }

    /// The compiled component stored under `key`, fetching, verifying and
    /// compiling it on first use.
    pub async fn get(&self, key: &BlobKey) -> Result<CompiledComponent, Arc<FetchError>> {
        if let Some((at, error)) = self.failures.lock().expect("failure lock").get(key)
            && at.elapsed() < FAILURE_MEMORY
        {
            return Err(error.clone());
        }
        let cell = self
            .entries
            .lock()
            .expect("component cache lock")
            .entry(*key)
            .or_default()
            .clone();
        let compiled = cell
            .get_or_try_init(|| async {
                let bytes = self.store.get(key).await?;
                let runtime = self.runtime.clone();
                let started = Instant::now();
                let compiled = tokio::task::spawn_blocking(move || runtime.compile(&bytes))
                    .await
                    .expect("compilation does not panic")?;
                tracing::info!(%key, elapsed = ?started.elapsed(), "compiled");
                Ok::<_, FetchError>(compiled)
            })
            .await;
        match compiled {
            Ok(compiled) => Ok(compiled.clone()),
            Err(error) => {
                let error = Arc::new(error);
                let mut failures = self.failures.lock().expect("failure lock");
                failures.retain(|_, (at, _)| at.elapsed() < FAILURE_MEMORY);
                failures.insert(*key, (Instant::now(), error.clone()));
                Err(error)
            }
        }
    }

    /// Adds a component compiled elsewhere (at deploy time, say).
    pub fn insert(&self, key: BlobKey, compiled: CompiledComponent) {
        self.failures.lock().expect("failure lock").remove(&key);
        let cell = OnceCell::new_with(Some(compiled));
        self.entries
            .lock()
            .expect("component cache lock")
            .entry(key)
            .or_insert_with(|| Arc::new(cell));
    }
}
