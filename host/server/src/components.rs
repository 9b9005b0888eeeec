//! Compiled components by blob key: fetched, verified and compiled once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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

/// Components compiled from the blob store, each compiled once: concurrent
/// requests for a key that is still compiling wait for that one compilation.
/// A failure is not remembered; the next request tries again.
///
/// Every component stays compiled for the life of the process.
pub struct ComponentCache {
    runtime: Arc<Runtime>,
    store: Arc<BlobStore>,
    entries: Mutex<HashMap<BlobKey, Arc<OnceCell<CompiledComponent>>>>,
}

impl ComponentCache {
    /// An empty cache over `store`, compiling with `runtime`.
    pub fn new(runtime: Arc<Runtime>, store: Arc<BlobStore>) -> Self {
        Self {
            runtime,
            store,
            entries: Mutex::default(),
        }
    }

    /// The compiled component stored under `key`, fetching, verifying and
    /// compiling it on first use.
    pub async fn get(&self, key: &BlobKey) -> Result<CompiledComponent, FetchError> {
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
                let started = std::time::Instant::now();
                let compiled = tokio::task::spawn_blocking(move || runtime.compile(&bytes))
                    .await
                    .expect("compilation does not panic")?;
                tracing::info!(%key, elapsed = ?started.elapsed(), "compiled");
                Ok::<_, FetchError>(compiled)
            })
            .await?;
        Ok(compiled.clone())
    }

    /// Adds a component compiled elsewhere (at deploy time, say).
    pub fn insert(&self, key: BlobKey, compiled: CompiledComponent) {
        let cell = OnceCell::new_with(Some(compiled));
        self.entries
            .lock()
            .expect("component cache lock")
            .entry(key)
            .or_insert_with(|| Arc::new(cell));
    }
}
