//! The first link of the chain: compiled components in memory, by blob
//! key, read without a lock, with failures remembered for a while and the
//! least recently used dropped past the limits.

use super::{FAILURE_MEMORY, FetchError, Inner};
use crate::observe::metrics::CACHE_EVICTIONS;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::sync::OnceCell;
use wharf_runtime::CompiledComponent;
use wharf_store::BlobKey;

/// One key's compiled component, or the load under way for it.
pub(super) struct Cached {
    pub(super) cell: OnceCell<CompiledComponent>,
    /// The cache's clock when it was last used.
    pub(super) last_used: AtomicU64,
}

impl Cached {
    pub(super) fn new(now: u64, compiled: Option<CompiledComponent>) -> Arc<Self> {
        Arc::new(Self {
            cell: OnceCell::new_with(compiled),
            last_used: AtomicU64::new(now),
        })
    }

    /// Marks the entry used at `now`, writing only when that changes it,
    /// so requests to a warm component do not contend on its cache line.
    pub(super) fn touch(&self, now: u64) {
        if self.last_used.load(Ordering::Relaxed) != now {
            self.last_used.store(now, Ordering::Relaxed);
        }
    }
}

/// The cache's entries by key: read without a lock by every request, and
/// replaced whole (copy on write) when an entry is added, switched or
/// dropped, which happens once per load.
pub(super) type Entries = HashMap<BlobKey, Arc<Cached>>;

impl Inner {
    /// Puts `compiled` in the cache under `key`, unless a component is
    /// already there (the one in use is kept).
    pub(super) fn keep(&self, key: BlobKey, compiled: CompiledComponent) {
        self.failures.lock().expect("failure lock").remove(&key);
        let _ = self.entry(&key).cell.set(compiled);
        self.evict(&key);
    }

    /// The entry for `key`, added (and the clock advanced) if there is
    /// none, marked as just used.
    pub(super) fn entry(&self, key: &BlobKey) -> Arc<Cached> {
        let _turn = self.writing.lock().expect("component cache lock");
        if let Some(entry) = self.entries.load().get(key) {
            entry.touch(self.clock.load(Ordering::Relaxed));
            return entry.clone();
        }
        let now = self.clock.fetch_add(1, Ordering::Relaxed) + 1;
        let entry = Cached::new(now, None);
        let mut entries = Entries::clone(&self.entries.load());
        entries.insert(*key, entry.clone());
        self.entries.store(Arc::new(entries));
        entry
    }

    /// Applies `change` to a copy of the entries and puts the copy in
    /// place; returns what `change` returned.
    pub(super) fn change_entries<T>(&self, change: impl FnOnce(&mut Entries) -> T) -> T {
        let _turn = self.writing.lock().expect("component cache lock");
        let mut entries = Entries::clone(&self.entries.load());
        let result = change(&mut entries);
        self.entries.store(Arc::new(entries));
        result
    }

    /// Replaces the provisional code of `key` with `compiled`. Requests
    /// holding the old code finish on it. A key evicted in the meantime is
    /// left out: its next load finds the new code on disk.
    pub(super) fn switch(&self, key: &BlobKey, compiled: CompiledComponent) {
        self.change_entries(|entries| {
            if let Some(entry) = entries.get_mut(key)
                && entry.cell.get().is_some_and(|c| c.is_provisional())
            {
                let last_used = entry.last_used.load(Ordering::Relaxed);
                *entry = Cached::new(last_used, Some(compiled));
                self.counts.switches.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    /// The failure to load `key`, if it happened within [`FAILURE_MEMORY`].
    pub(super) fn recent_failure(&self, key: &BlobKey) -> Option<Arc<FetchError>> {
        let failures = self.failures.lock().expect("failure lock");
        let (at, error) = failures.get(key)?;
        (at.elapsed() < FAILURE_MEMORY).then(|| error.clone())
    }

    /// Remembers that loading `key` failed with `error`, and forgets the
    /// entry, so requests within [`FAILURE_MEMORY`] get the same answer.
    pub(super) fn remember_failure(&self, key: &BlobKey, error: &Arc<FetchError>) {
        self.change_entries(|entries| {
            entries.remove(key);
        });
        let mut failures = self.failures.lock().expect("failure lock");
        failures.retain(|_, (at, _)| at.elapsed() < FAILURE_MEMORY);
        // A remembered failure keeps its time, so it expires on schedule.
        failures
            .entry(*key)
            .or_insert_with(|| (Instant::now(), error.clone()));
    }

    /// How many of `entries` are compiled, and the bytes of their code.
    pub(super) fn usage(&self, entries: &Entries) -> (usize, usize) {
        entries
            .values()
            .filter_map(|e| e.cell.get())
            .fold((0, 0), |(n, b), c| (n + 1, b + c.code_bytes()))
    }

    /// Drops the least recently used components until the cache is within
    /// its limits, never `keep` (the one just added).
    pub(super) fn evict(&self, keep: &BlobKey) {
        let within_limits = |entries: &Entries| {
            let (count, bytes) = self.usage(entries);
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
            metrics::counter!(CACHE_EVICTIONS).increment(1);
            tracing::info!(key = %oldest, "evicted a compiled component to stay within the cache limits");
        });
    }
}
