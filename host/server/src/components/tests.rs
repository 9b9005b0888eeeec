//! The chain's tests, over an in-memory blob store.

use super::*;
use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::channel::{Channel, Sender};
use wharf_runtime::{
    AppContext, Compiler, CompilerMode, DeploymentFacts, InstanceShare, MemoryKeyValue, RequestId,
    RequestLimits, RuntimeConfig,
};
use wharf_store::{ClusterSecret, StoreOptions};

/// A runtime compiling with `compiler`.
fn runtime(compiler: CompilerMode) -> Arc<Runtime> {
    let config = RuntimeConfig {
        max_instances: 8,
        compiler,
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
    let (store, keys) = store(&[wharf_test_artifacts::HELLO, wharf_test_artifacts::HELLO_V2]).await;
    let runtime = runtime(CompilerMode::Cranelift);
    let cache = ComponentCache::new(runtime, store, None, None, limits);
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
        instance_share: InstanceShare::new(8),
        limits: RequestLimits::of(&RuntimeConfig::default()),
        guest_log: None,
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
    let runtime = runtime(CompilerMode::Auto);
    let cache = ComponentCache::new(runtime.clone(), store, None, None, CacheLimits::default());
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
        runtime(CompilerMode::Auto),
        store.clone(),
        Some(dir.path()),
        None,
        CacheLimits::default(),
    );
    assert!(first.get(&keys[0]).await.expect("hello").is_provisional());
    first.background_done().await;

    let restarted = ComponentCache::new(
        runtime(CompilerMode::Auto),
        store,
        Some(dir.path()),
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
        runtime(CompilerMode::Cranelift),
        store.clone(),
        None,
        Some(SharedArtifacts::new(&store, secret(1))),
        CacheLimits::default(),
    );
    let second = ComponentCache::new(
        runtime(CompilerMode::Cranelift),
        store.clone(),
        None,
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
    let winch = runtime(CompilerMode::Winch);
    let cranelift = runtime(CompilerMode::Cranelift);
    assert_ne!(winch.engine_tag(), cranelift.engine_tag());
    let shared = SharedArtifacts::new(&store, secret.clone());
    let hello = keys[0];
    // A server with another engine configuration seals its code...
    let compiled = ComponentCache::new(
        winch.clone(),
        store.clone(),
        None,
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
        None,
        Some(shared),
        CacheLimits::default(),
    );
    let loaded = cache.get(&hello).await.expect("hello");
    assert_eq!((cache.compiles(), cache.shared_loads()), (1, 0));
    assert_eq!(loaded.compiler(), Compiler::Cranelift);
}

#[test]
fn a_plain_file_in_place_of_the_compiled_code_directory_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let compiled = dir.path().join("compiled");
    std::fs::write(&compiled, b"not a directory").expect("a plain file");
    let refused = DiskCache::open(&compiled, runtime(CompilerMode::Cranelift))
        .err()
        .expect("a plain file is refused");
    assert!(
        refused.to_string().contains("is not a directory"),
        "{refused}"
    );
}
