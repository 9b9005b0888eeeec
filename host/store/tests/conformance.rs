//! One suite of behaviour every backend must show, run against `file://`,
//! `memory://` and a real Garage (S3) started by
//! scripts/with-test-services.sh.

use bytes::Bytes;
use object_store::{ObjectStoreExt, PutPayload};
use wharf_store::{BlobKey, BlobStore, S3Settings, StoreError, StoreOptions};
use wharf_test_services::Garage;

/// A store backed by a fresh temporary directory.
fn file_store() -> (BlobStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("file://{}", dir.path().display());
    let store = BlobStore::open(&url, &StoreOptions::default()).expect("file store opens");
    (store, dir)
}

fn memory_store() -> (BlobStore, ()) {
    let store = BlobStore::open("memory://", &StoreOptions::default()).expect("memory store opens");
    (store, ())
}

fn garage_settings(garage: &Garage) -> S3Settings {
    S3Settings {
        endpoint: Some(garage.endpoint.clone()),
        region: Some(garage.region.clone()),
        credentials: Some((
            garage.access_key_id.clone(),
            garage.secret_access_key.clone(),
        )),
    }
}

/// A store in a fresh folder of the Garage bucket, with a local cache.
fn garage_store() -> (BlobStore, tempfile::TempDir) {
    let garage = Garage::from_env();
    let cache = tempfile::tempdir().expect("temp dir");
    let options = StoreOptions {
        s3: garage_settings(&garage),
        cache_dir: Some(cache.path().to_owned()),
    };
    let store = BlobStore::open(&garage.fresh_url(), &options).expect("garage store opens");
    (store, cache)
}

fn blob(tag: &str) -> Bytes {
    // Distinct, non-trivial bytes per test.
    Bytes::from(format!("\0asm component {tag} {}", "x".repeat(4096)).into_bytes())
}

async fn put_then_get_round_trips(store: BlobStore) {
    let bytes = blob("round-trip");
    let outcome = store.put(bytes.clone()).await.expect("put");
    assert!(outcome.uploaded);
    assert_eq!(outcome.key, BlobKey::of(&bytes));
    assert!(store.contains(&outcome.key).await.expect("head"));
    assert_eq!(store.get(&outcome.key).await.expect("get"), bytes);
}

async fn a_stored_blob_is_skipped(store: BlobStore) {
    let bytes = blob("skip");
    let first = store.put(bytes.clone()).await.expect("first put");
    assert!(first.uploaded);
    let second = store.put(bytes.clone()).await.expect("second put");
    assert_eq!(second.key, first.key);
    assert!(!second.uploaded, "an existing blob must be skipped");
    assert_eq!(store.get(&first.key).await.expect("get"), bytes);
}

/// A stored object whose bytes do not match its key is replaced by a put
/// of the right bytes, rather than vouched for.
async fn a_corrupt_blob_is_repaired_by_a_put(store: BlobStore) {
    let bytes = blob("repair");
    let key = store.put(bytes.clone()).await.expect("first put").key;
    store
        .object_store()
        .put(&store.location(&key), PutPayload::from_static(b"planted"))
        .await
        .expect("raw put");
    assert!(matches!(
        store.get(&key).await,
        Err(StoreError::Corrupt { .. })
    ));
    let again = store.put(bytes.clone()).await.expect("repairing put");
    assert!(again.uploaded, "the corrupt object is replaced");
    assert_eq!(store.get(&key).await.expect("get"), bytes);
}

async fn concurrent_puts_upload_once(store: BlobStore) {
    let bytes = blob("race");
    let store = std::sync::Arc::new(store);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let bytes = bytes.clone();
            tokio::spawn(async move { store.put(bytes).await.expect("put") })
        })
        .collect();
    let mut uploaded = 0;
    for task in tasks {
        uploaded += usize::from(task.await.expect("task").uploaded);
    }
    assert_eq!(uploaded, 1, "exactly one of the racing puts writes");
    assert_eq!(store.get(&BlobKey::of(&bytes)).await.expect("get"), bytes);
}

async fn a_missing_blob_is_not_found(store: BlobStore) {
    let key = BlobKey::of(b"never stored");
    assert!(!store.contains(&key).await.expect("head"));
    match store.get(&key).await {
        Err(StoreError::NotFound { key: missing }) => assert_eq!(missing, key),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

async fn a_tampered_blob_is_refused(store: BlobStore) {
    let bytes = blob("tamper");
    let key = store.put(bytes.clone()).await.expect("put").key;
    let mut evil = bytes.to_vec();
    evil[10] ^= 0xff;
    store
        .object_store()
        .put(&store.location(&key), PutPayload::from(evil.clone()))
        .await
        .expect("raw put");
    match store.get(&key).await {
        Err(StoreError::Corrupt {
            key: bad,
            actual,
            actual_size,
        }) => {
            assert_eq!(bad, key);
            assert_eq!(actual, BlobKey::of(&evil).digest);
            assert_eq!(actual_size, evil.len() as u64);
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

async fn a_truncated_blob_is_refused(store: BlobStore) {
    let bytes = blob("truncate");
    let key = store.put(bytes.clone()).await.expect("put").key;
    store
        .object_store()
        .put(&store.location(&key), PutPayload::from(bytes.slice(..100)))
        .await
        .expect("raw put");
    let err = store.get(&key).await.expect_err("truncated bytes refused");
    assert!(
        matches!(
            err,
            StoreError::Corrupt {
                actual_size: 100,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("corrupt"), "{err}");
}

async fn list_and_delete(store: BlobStore) {
    let a = store.put(blob("list-a")).await.expect("put a").key;
    let b = store.put(blob("list-b")).await.expect("put b").key;
    // An object outside the blob layout is not reported.
    store
        .object_store()
        .put(
            &"application/wasm/notes.txt".into(),
            PutPayload::from_static(b"hi"),
        )
        .await
        .expect("raw put");
    let mut listed: Vec<BlobKey> = store
        .list()
        .await
        .expect("list")
        .iter()
        .map(|b| b.key)
        .collect();
    listed.sort_by_key(|k| k.digest);
    let mut expected = vec![a, b];
    expected.sort_by_key(|k| k.digest);
    assert_eq!(listed, expected);
    store.delete(&a).await.expect("delete");
    store.delete(&a).await.expect("deleting twice is fine");
    assert!(!store.contains(&a).await.expect("head"));
    assert_eq!(store.list().await.expect("list").len(), 1);
}

/// Runs every case above against one backend, each in its own store.
macro_rules! conformance {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;
            conformance!(@case $open, put_then_get_round_trips);
            conformance!(@case $open, a_stored_blob_is_skipped);
            conformance!(@case $open, a_corrupt_blob_is_repaired_by_a_put);
            conformance!(@case $open, concurrent_puts_upload_once);
            conformance!(@case $open, a_missing_blob_is_not_found);
            conformance!(@case $open, a_tampered_blob_is_refused);
            conformance!(@case $open, a_truncated_blob_is_refused);
            conformance!(@case $open, list_and_delete);
        }
    };
    (@case $open:expr, $case:ident) => {
        #[tokio::test]
        async fn $case() {
            let (store, _guard) = $open;
            super::$case(store).await;
        }
    };
}

conformance!(file, file_store());
conformance!(memory, memory_store());
conformance!(garage, garage_store());

/// A restart reads a remote blob from the local cache instead of fetching it.
#[tokio::test]
async fn garage_reads_are_cached_locally_across_restarts() {
    let garage = Garage::from_env();
    let cache = tempfile::tempdir().expect("temp dir");
    let url = garage.fresh_url();
    let options = StoreOptions {
        s3: garage_settings(&garage),
        cache_dir: Some(cache.path().to_owned()),
    };
    let bytes = blob("cached");
    let key = {
        let store = BlobStore::open(&url, &options).expect("opens");
        let key = store.put(bytes.clone()).await.expect("put").key;
        assert_eq!(store.get(&key).await.expect("get"), bytes);
        // Gone from Garage; only the cache has it now.
        store
            .object_store()
            .delete(&store.location(&key))
            .await
            .expect("raw delete");
        key
    };
    let restarted = BlobStore::open(&url, &options).expect("reopens");
    assert_eq!(restarted.get(&key).await.expect("served from cache"), bytes);

    // A damaged cache entry is dropped and the remote copy is fetched again.
    std::fs::write(
        cache.path().join(format!("{}.wasm", key.digest)),
        b"damaged",
    )
    .expect("damage");
    restarted.put(bytes.clone()).await.expect("put again");
    assert_eq!(restarted.get(&key).await.expect("refetched"), bytes);
    let entry = std::fs::read(cache.path().join(format!("{}.wasm", key.digest))).expect("cached");
    assert_eq!(entry, bytes);
}
