//! One suite of behaviour the registry must show on every database, run
//! against a SQLite file and a real Postgres started by
//! scripts/with-test-services.sh.

use std::sync::Arc;
use std::time::Duration;
use wharf_registry::{
    Action, AppLimits, AppName, AppSettings, AuditEntry, AuditQuery, Hostname, NewDeployment,
    NodeRecord, PreviewAccess, Registry, RegistryError, Role, TokenRecord,
};
use wharf_store::BlobKey;
use wharf_test_services::Postgres;

/// A registry in a fresh SQLite file; the URL lets a test reach past it.
async fn sqlite() -> (Registry, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("registry.db").display());
    (Registry::open(&url).await.expect("sqlite opens"), url, dir)
}

/// A registry in a fresh database of the test Postgres.
async fn postgres() -> (Registry, String, ()) {
    let url = Postgres::from_env().fresh_database().await;
    (Registry::open(&url).await.expect("postgres opens"), url, ())
}

fn app(name: &str) -> AppName {
    name.parse().expect("valid app name")
}

fn new_deployment(app_name: &str, content: &str) -> NewDeployment {
    NewDeployment {
        app: app(app_name),
        key: BlobKey::of(content.as_bytes()),
        token_name: "admin".into(),
        message: format!("deploy {content}"),
        imports: vec![
            "wasi:http/types@0.2.4".into(),
            "wasi:io/streams@0.2.4".into(),
        ],
        exports: vec!["wasi:http/incoming-handler@0.2.4".into()],
        adapted: false,
    }
}

/// Records a deployment and, if `live`, points the app at it.
async fn deploy(registry: &Registry, app_name: &str, content: &str, live: bool) -> i64 {
    let mut change = registry.begin().await.expect("begin");
    let deployment = change
        .record_deployment(&new_deployment(app_name, content))
        .await
        .expect("record");
    if live {
        change
            .go_live(&deployment, Action::Deploy, "admin")
            .await
            .expect("go live");
    }
    change.commit().await.expect("commit");
    deployment.id
}

async fn current_key(registry: &Registry, app_name: &str) -> Option<BlobKey> {
    registry
        .app(&app(app_name))
        .await
        .expect("app exists")
        .current
        .map(|d| d.key)
}

async fn deployments_round_trip(registry: Registry, _url: &str) {
    let id = deploy(&registry, "hello", "v1", true).await;
    let deployments = registry
        .deployments(&app("hello"))
        .await
        .expect("deployments");
    assert_eq!(deployments.len(), 1);
    let d = &deployments[0];
    assert_eq!(d.id, id);
    assert_eq!(d.key, BlobKey::of(b"v1"));
    assert_eq!(d.token_name, "admin");
    assert_eq!(d.message, "deploy v1");
    assert_eq!(
        d.imports,
        ["wasi:http/types@0.2.4", "wasi:io/streams@0.2.4"]
    );
    assert_eq!(d.exports, ["wasi:http/incoming-handler@0.2.4"]);
    assert!(!d.adapted);
    assert_eq!(current_key(&registry, "hello").await, Some(d.key));
}

async fn pointer_moves_and_history_order(registry: Registry, _url: &str) {
    deploy(&registry, "hello", "v1", true).await;
    deploy(&registry, "hello", "v2", true).await;
    // A redeploy of the live bytes is not a version to roll back to.
    deploy(&registry, "hello", "v2", true).await;
    deploy(&registry, "hello", "v3-preview", false).await;
    assert_eq!(
        current_key(&registry, "hello").await,
        Some(BlobKey::of(b"v2"))
    );

    // Rollback skips the preview that never went live.
    let mut change = registry.begin().await.expect("begin");
    let release = change
        .rollback(&app("hello"), None, "ops")
        .await
        .expect("rollback");
    change.commit().await.expect("commit");
    assert_eq!(release.action, Action::Rollback);
    assert_eq!(release.deployment.key, BlobKey::of(b"v1"));
    assert_eq!(
        current_key(&registry, "hello").await,
        Some(BlobKey::of(b"v1"))
    );

    // Nothing older than v1 has been live.
    let mut change = registry.begin().await.expect("begin");
    let err = change
        .rollback(&app("hello"), None, "ops")
        .await
        .expect_err("nothing older");
    assert!(
        matches!(err, RegistryError::NothingToRollBackTo { .. }),
        "{err}"
    );
    drop(change);

    // Promote the preview.
    let preview = BlobKey::of(b"v3-preview");
    let mut change = registry.begin().await.expect("begin");
    change
        .promote(&app("hello"), &preview.digest, "ops")
        .await
        .expect("promote");
    change.commit().await.expect("commit");
    assert_eq!(current_key(&registry, "hello").await, Some(preview));

    // Promoting what is live is refused.
    let mut change = registry.begin().await.expect("begin");
    let err = change
        .promote(&app("hello"), &preview.digest, "ops")
        .await
        .expect_err("already live");
    assert!(matches!(err, RegistryError::AlreadyLive { .. }), "{err}");
    drop(change);

    // Rollback to a named digest.
    let mut change = registry.begin().await.expect("begin");
    change
        .rollback(&app("hello"), Some(&BlobKey::of(b"v2").digest), "ops")
        .await
        .expect("rollback --to");
    change.commit().await.expect("commit");

    let history: Vec<(Action, BlobKey)> = registry
        .releases(&app("hello"))
        .await
        .expect("releases")
        .into_iter()
        .map(|r| (r.action, r.deployment.key))
        .collect();
    assert_eq!(
        history,
        [
            (Action::Rollback, BlobKey::of(b"v2")),
            (Action::Promote, BlobKey::of(b"v3-preview")),
            (Action::Rollback, BlobKey::of(b"v1")),
            (Action::Deploy, BlobKey::of(b"v2")),
            (Action::Deploy, BlobKey::of(b"v2")),
            (Action::Deploy, BlobKey::of(b"v1")),
        ]
    );
    let seqs: Vec<i64> = registry
        .releases(&app("hello"))
        .await
        .expect("releases")
        .iter()
        .map(|r| r.seq)
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );
}

/// Rollback after a promotion returns to what was live just before it,
/// not to whatever was deployed before the preview was made.
async fn rollback_after_a_promotion(registry: Registry, _url: &str) {
    deploy(&registry, "hello", "a", true).await;
    deploy(&registry, "hello", "p", false).await;
    deploy(&registry, "hello", "b", true).await;
    let mut change = registry.begin().await.expect("begin");
    change
        .promote(&app("hello"), &BlobKey::of(b"p").digest, "ops")
        .await
        .expect("promote");
    change.commit().await.expect("commit");
    for expected in ["b", "a"] {
        let mut change = registry.begin().await.expect("begin");
        let release = change
            .rollback(&app("hello"), None, "ops")
            .await
            .expect("rollback");
        change.commit().await.expect("commit");
        assert_eq!(release.deployment.key, BlobKey::of(expected.as_bytes()));
    }
}

async fn a_dropped_change_leaves_nothing(registry: Registry, _url: &str) {
    deploy(&registry, "hello", "v1", true).await;
    let before = registry.feed_position().await.expect("feed");
    {
        let mut change = registry.begin().await.expect("begin");
        let d = change
            .record_deployment(&new_deployment("hello", "v2"))
            .await
            .expect("record");
        change
            .go_live(&d, Action::Deploy, "admin")
            .await
            .expect("go live");
        // Dropped without commit, as when the process dies mid-deploy.
    }
    assert_eq!(registry.feed_position().await.expect("feed"), before);
    assert_eq!(
        current_key(&registry, "hello").await,
        Some(BlobKey::of(b"v1"))
    );
    assert_eq!(
        registry
            .deployments(&app("hello"))
            .await
            .expect("list")
            .len(),
        1
    );
}

async fn concurrent_deploys_to_one_app(registry: Registry, _url: &str) {
    const N: usize = 12;
    let registry = Arc::new(registry);
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let registry = registry.clone();
            tokio::spawn(async move { deploy(&registry, "busy", &format!("v{i}"), true).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("deploy task");
    }
    let releases = registry.releases(&app("busy")).await.expect("releases");
    assert_eq!(releases.len(), N, "every deploy is in the history");
    assert_eq!(
        registry
            .deployments(&app("busy"))
            .await
            .expect("list")
            .len(),
        N
    );
    // The live pointer is whatever went live last.
    assert_eq!(
        current_key(&registry, "busy").await,
        Some(releases[0].deployment.key)
    );
    let mut seqs: Vec<i64> = releases.iter().map(|r| r.seq).collect();
    seqs.dedup();
    assert_eq!(seqs.len(), N, "feed positions are unique");
}

async fn the_feed_and_routing_table_follow_changes(registry: Registry, _url: &str) {
    let start = registry.feed_position().await.expect("feed");
    deploy(&registry, "a", "a1", true).await;
    deploy(&registry, "b", "b1", false).await;
    let mut change = registry.begin().await.expect("begin");
    let hostnames: Vec<Hostname> = vec!["a.example.com".parse().expect("hostname")];
    change
        .set_hostnames(&app("a"), &hostnames)
        .await
        .expect("set");
    change.commit().await.expect("commit");

    let table = registry.routing_table().await.expect("table");
    assert_eq!(table.seq, start + 3);
    let live: Vec<_> = table
        .apps
        .iter()
        .map(|(app, live)| (app.clone(), live.map(|d| d.key)))
        .collect();
    assert_eq!(
        live,
        [(app("a"), Some(BlobKey::of(b"a1"))), (app("b"), None)]
    );
    assert_eq!(table.hostnames, [(hostnames[0].clone(), app("a"))]);

    // Another app cannot take the hostname.
    let mut change = registry.begin().await.expect("begin");
    let err = change
        .set_hostnames(&app("b"), &hostnames)
        .await
        .expect_err("taken");
    assert!(matches!(err, RegistryError::HostnameTaken { .. }), "{err}");
    drop(change);

    // Every deployment is listed, for preview hostnames.
    let deployments: Vec<_> = table
        .deployments
        .iter()
        .map(|(app, d)| (app.clone(), d.key))
        .collect();
    assert_eq!(
        deployments,
        [
            (app("a"), BlobKey::of(b"a1")),
            (app("b"), BlobKey::of(b"b1"))
        ]
    );
    let b1 = BlobKey::of(b"b1");

    // Deleting an app removes it and its hostnames, but other apps stay.
    let mut change = registry.begin().await.expect("begin");
    change.delete_app(&app("a")).await.expect("delete");
    change.commit().await.expect("commit");
    assert!(matches!(
        registry.app(&app("a")).await,
        Err(RegistryError::UnknownApp(_))
    ));
    let table = registry.routing_table().await.expect("table");
    assert_eq!(table.apps.len(), 1);
    assert_eq!(table.apps[0].0, app("b"));
    assert!(table.apps[0].1.is_none());
    assert!(table.hostnames.is_empty());
    assert_eq!(
        registry
            .referenced_blobs()
            .await
            .expect("refs")
            .into_iter()
            .collect::<Vec<_>>(),
        [b1]
    );
}

async fn history_cannot_be_rewritten(registry: Registry, url: &str) {
    use sqlx::Connection;
    deploy(&registry, "hello", "v1", true).await;
    sqlx::any::install_default_drivers();
    let mut raw = sqlx::AnyConnection::connect(url)
        .await
        .expect("raw connection");
    for statement in [
        "UPDATE deployments SET message = 'rewritten'",
        "UPDATE releases SET action = 'promote'",
    ] {
        let err = sqlx::query(statement)
            .execute(&mut raw)
            .await
            .expect_err("append-only");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
}

async fn config_and_settings(registry: Registry, _url: &str) {
    deploy(&registry, "a", "a1", true).await;
    deploy(&registry, "b", "b1", true).await;
    let mut change = registry.begin().await.expect("begin");
    change
        .set_config(&app("a"), "greeting", "hi", false)
        .await
        .expect("set");
    change
        .set_config(&app("a"), "token", "s3cret", true)
        .await
        .expect("set");
    change
        .set_config(&app("a"), "greeting", "hello", false)
        .await
        .expect("overwrite");
    let err = change
        .set_config(&app("a"), "bad key", "x", false)
        .await
        .expect_err("bad key");
    assert!(matches!(err, RegistryError::BadConfig(_)), "{err}");
    let err = change
        .set_config(&app("nobody"), "k", "v", false)
        .await
        .expect_err("no app");
    assert!(matches!(err, RegistryError::UnknownApp(_)), "{err}");
    change
        .set_settings(
            &app("b"),
            &AppSettings {
                outbound: vec![
                    "https://api.example.com".into(),
                    "http://*.internal:8080".into(),
                ],
                kv_quota: Some(1000),
                previews: PreviewAccess::Off,
                limits: AppLimits {
                    deadline: Some(Duration::from_millis(1500)),
                    cpu_time: Some(Duration::from_millis(50)),
                    memory_bytes: Some(16 << 20),
                    max_body_bytes: None,
                    max_instances: Some(3),
                },
                keep: Some(5),
            },
        )
        .await
        .expect("settings");
    change.commit().await.expect("commit");

    // Listing never reads a secret's value out of the database.
    let listed = registry.config(&app("a")).await.expect("list");
    assert_eq!(listed.len(), 2);
    assert_eq!(
        (listed[0].key.as_str(), listed[0].value.as_deref()),
        ("greeting", Some("hello"))
    );
    assert_eq!(
        (
            listed[1].key.as_str(),
            listed[1].value.as_deref(),
            listed[1].secret
        ),
        ("token", None, true)
    );
    assert!(registry.config(&app("b")).await.expect("list").is_empty());

    // Routing carries every value, secrets too, and the settings.
    let table = registry.routing_table().await.expect("table");
    assert_eq!(
        table.config,
        [
            (app("a"), "greeting".to_owned(), "hello".to_owned()),
            (app("a"), "token".to_owned(), "s3cret".to_owned())
        ]
    );
    assert_eq!(table.settings.len(), 1);
    assert_eq!(table.settings[0].1.outbound.len(), 2);
    assert_eq!(table.settings[0].1.previews, PreviewAccess::Off);
    let limits = table.settings[0].1.limits;
    assert_eq!(limits.deadline, Some(Duration::from_millis(1500)));
    assert_eq!(limits.cpu_time, Some(Duration::from_millis(50)));
    assert_eq!(limits.memory_bytes, Some(16 << 20));
    assert_eq!(limits.max_body_bytes, None);
    assert_eq!(limits.max_instances, Some(3));
    assert_eq!(table.settings[0].1.keep, Some(5));
    assert_eq!(
        registry
            .settings(&app("b"))
            .await
            .expect("settings")
            .kv_quota,
        Some(1000)
    );
    assert_eq!(
        registry.settings(&app("a")).await.expect("settings"),
        AppSettings::default()
    );
    assert_eq!(
        AppSettings::default().previews,
        PreviewAccess::Token,
        "a new app's previews need a token"
    );

    let mut change = registry.begin().await.expect("begin");
    change
        .unset_config(&app("a"), "greeting")
        .await
        .expect("unset");
    let err = change
        .unset_config(&app("a"), "greeting")
        .await
        .expect_err("gone");
    assert!(
        matches!(err, RegistryError::UnknownConfigKey { .. }),
        "{err}"
    );
    change.commit().await.expect("commit");
    assert_eq!(registry.config(&app("a")).await.expect("list").len(), 1);
}

async fn key_value_data(registry: Registry, url: &str) {
    deploy(&registry, "a", "a1", true).await;
    deploy(&registry, "b", "b1", true).await;
    let quota = 1 << 20;
    registry
        .kv_set("a", "default", "k1", b"one", quota)
        .await
        .expect("set");
    registry
        .kv_set("a", "default", "k2", b"two", quota)
        .await
        .expect("set");
    registry
        .kv_set("a", "other", "k1", b"elsewhere", quota)
        .await
        .expect("set");
    assert_eq!(
        registry
            .kv_get("a", "default", "k1")
            .await
            .expect("get")
            .as_deref(),
        Some(&b"one"[..])
    );
    // Apps and buckets are separate namespaces.
    assert_eq!(
        registry.kv_get("b", "default", "k1").await.expect("get"),
        None
    );
    assert_eq!(
        registry
            .kv_get("a", "other", "k1")
            .await
            .expect("get")
            .as_deref(),
        Some(&b"elsewhere"[..])
    );
    assert_eq!(
        registry
            .kv_list_keys("a", "default", 0, 10)
            .await
            .expect("list"),
        ["k1", "k2"]
    );
    assert_eq!(
        registry
            .kv_list_keys("a", "default", 1, 10)
            .await
            .expect("list"),
        ["k2"]
    );
    assert!(
        registry
            .kv_list_keys("b", "default", 0, 10)
            .await
            .expect("list")
            .is_empty()
    );

    // Usage counts bucket, key and value plus the per-entry overhead,
    // through overwrites and deletes.
    let entry = |bucket: &str, key: &str, value: &str| {
        (bucket.len() + key.len() + value.len() + wharf_store::KV_ENTRY_OVERHEAD as usize) as u64
    };
    let elsewhere = entry("other", "k1", "elsewhere");
    assert_eq!(
        registry.kv_usage(&app("a")).await.expect("usage"),
        entry("default", "k1", "one") + entry("default", "k2", "two") + elsewhere
    );
    registry
        .kv_set("a", "default", "k1", b"uno!", quota)
        .await
        .expect("overwrite");
    registry
        .kv_delete("a", "default", "k2")
        .await
        .expect("delete");
    registry
        .kv_delete("a", "default", "missing")
        .await
        .expect("deleting nothing is fine");
    let usage = entry("default", "k1", "uno!") + elsewhere;
    assert_eq!(registry.kv_usage(&app("a")).await.expect("usage"), usage);

    // The quota refuses growth, and leaves the data as it was; shrinking
    // is allowed even over the quota.
    let err = registry
        .kv_set("a", "default", "big", &[0; 100], usage + 100)
        .await
        .expect_err("quota");
    assert!(matches!(err, RegistryError::QuotaExceeded { .. }), "{err}");
    assert_eq!(
        registry.kv_get("a", "default", "big").await.expect("get"),
        None
    );
    assert_eq!(registry.kv_usage(&app("a")).await.expect("usage"), usage);
    registry
        .kv_set("a", "default", "k1", b"1", 10)
        .await
        .expect("shrinking is allowed");
    let usage = entry("default", "k1", "1") + elsewhere;
    assert_eq!(registry.kv_usage(&app("a")).await.expect("usage"), usage);
    // An increment that lengthens a counter ("9" to "10") counts the growth.
    registry
        .kv_set("a", "c", "n", b"9", 1 << 20)
        .await
        .expect("set");
    let tight = usage + entry("c", "n", "9");
    let err = registry
        .kv_increment("a", "c", "n", 1, tight)
        .await
        .expect_err("growth");
    assert!(matches!(err, RegistryError::QuotaExceeded { .. }), "{err}");
    assert_eq!(
        registry
            .kv_increment("a", "c", "n", 1, quota)
            .await
            .expect("increment"),
        10
    );
    registry.kv_delete("a", "c", "n").await.expect("delete");
    assert_eq!(registry.kv_usage(&app("a")).await.expect("usage"), usage);
    let err = registry
        .kv_set("nobody", "default", "k", b"v", quota)
        .await
        .expect_err("no app");
    assert!(matches!(err, RegistryError::UnknownApp(_)), "{err}");

    // Increments from two registry handles (two servers' pools) at once all count.
    let second = Registry::open(url).await.expect("second handle");
    let handles = [registry.clone(), second];
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let registry = handles[i % 2].clone();
            tokio::spawn(async move {
                registry
                    .kv_increment("a", "counters", "hits", 1, 1 << 20)
                    .await
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.expect("task").expect("increment"));
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=50).collect::<Vec<u64>>(),
        "every increment saw its own value"
    );
    assert_eq!(
        registry
            .kv_get("a", "counters", "hits")
            .await
            .expect("get")
            .as_deref(),
        Some(&b"50"[..])
    );
    registry
        .kv_set("a", "default", "word", b"one", quota)
        .await
        .expect("set");
    let err = registry
        .kv_increment("a", "default", "word", 1, quota)
        .await
        .expect_err("not a counter");
    assert!(matches!(err, RegistryError::NotACounter(_)), "{err}");
    let max = u64::MAX.to_string();
    registry
        .kv_set("a", "default", "max", max.as_bytes(), quota)
        .await
        .expect("set");
    let err = registry
        .kv_increment("a", "default", "max", 1, quota)
        .await
        .expect_err("overflow");
    assert!(matches!(err, RegistryError::CounterOverflow(_)), "{err}");

    // Deleting an app removes its data.
    let mut change = registry.begin().await.expect("begin");
    change.delete_app(&app("a")).await.expect("delete");
    change.commit().await.expect("commit");
    assert_eq!(
        registry.kv_get("a", "counters", "hits").await.expect("get"),
        None
    );
}

/// Servers write their rows, see each other's, and leave or are
/// forgotten; silences are measured by the database's clock.
async fn nodes_heartbeat_and_are_forgotten(registry: Registry, _url: &str) {
    use std::time::SystemTime;
    let node = |id: &str, requests_per_second: f64| NodeRecord {
        id: id.to_owned(),
        version: "0.1.0".into(),
        engine_tag: "0123456789abcdef".into(),
        public_url: "http://127.0.0.1:8080".into(),
        admin_url: format!("http://{id}:8081"),
        started_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        // Both are the database's to say.
        last_seen: SystemTime::UNIX_EPOCH,
        silent_for: Duration::ZERO,
        requests_per_second,
        instances_in_use: 3,
        instance_slots: 1000,
    };
    registry
        .heartbeat(&node("b", 1.0))
        .await
        .expect("heartbeat");
    registry
        .heartbeat(&node("a", 1.0))
        .await
        .expect("heartbeat");
    tokio::time::sleep(Duration::from_millis(400)).await;
    registry
        .heartbeat(&node("a", 12.5))
        .await
        .expect("heartbeat again");
    let nodes = registry.nodes().await.expect("nodes");
    let ids: Vec<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"], "by id, one row each");
    assert_eq!(nodes[0].requests_per_second, 12.5, "the newest heartbeat");
    assert_eq!(nodes[0].admin_url, "http://a:8081");
    assert!(
        nodes[0].silent_for < Duration::from_millis(300),
        "{:?}",
        nodes[0]
    );
    assert!(
        nodes[1].silent_for >= Duration::from_millis(350),
        "{:?}",
        nodes[1]
    );
    let now = SystemTime::now();
    let near =
        |at: SystemTime| at <= now + Duration::from_secs(60) && at >= now - Duration::from_secs(60);
    assert!(
        near(nodes[0].last_seen),
        "stamped by a clock near this one: {:?}",
        nodes[0]
    );

    let forgotten = registry
        .forget_nodes_silent_for(Duration::from_millis(300))
        .await
        .expect("forget");
    assert_eq!(forgotten, 1);
    let ids: Vec<String> = registry
        .nodes()
        .await
        .expect("nodes")
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(ids, ["a"]);
    registry.remove_node("a").await.expect("remove");
    assert!(registry.nodes().await.expect("nodes").is_empty());
}

/// Tokens are found by their secret's hash until they expire or are
/// revoked; names are unique.
async fn tokens_expire_and_are_revoked(registry: Registry, _url: &str) {
    use std::time::SystemTime;
    let token =
        |name: &str, role: Role, apps: &[&str], expires_at: Option<SystemTime>| TokenRecord {
            name: name.parse().expect("token name"),
            role,
            apps: apps.iter().map(|a| app(a)).collect(),
            created_at: SystemTime::UNIX_EPOCH,
            created_by: "admin".into(),
            expires_at,
        };
    let later = SystemTime::now() + Duration::from_secs(3600);
    let ci = token("ci", Role::Deploy, &["shop", "blog"], Some(later));
    registry.create_token(&ci, "aa11").await.expect("create");
    let err = registry
        .create_token(&token("ci", Role::Read, &[], None), "bb22")
        .await
        .expect_err("the name is taken");
    assert!(matches!(err, RegistryError::TokenExists(_)), "{err}");
    let gone = token(
        "gone",
        Role::Admin,
        &[],
        Some(SystemTime::now() - Duration::from_secs(1)),
    );
    registry.create_token(&gone, "cc33").await.expect("create");

    let found = registry
        .token_by_secret("aa11")
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found.name.as_str(), "ci");
    assert_eq!(found.role, Role::Deploy);
    assert_eq!(found.apps, [app("shop"), app("blog")]);
    assert!(found.covers(&app("shop")) && !found.covers(&app("other")));
    let expires = found.expires_at.expect("expires");
    let skew = |a: SystemTime, b: SystemTime| a.duration_since(b).or(b.duration_since(a));
    assert!(skew(expires, later).expect("times") < Duration::from_millis(2));
    assert!(
        registry
            .token_by_secret("cc33")
            .await
            .expect("find")
            .is_none(),
        "expired"
    );
    assert!(
        registry
            .token_by_secret("dd44")
            .await
            .expect("find")
            .is_none()
    );

    let names: Vec<String> = registry
        .tokens()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(names, ["ci", "gone"], "expired tokens are listed too");
    registry
        .revoke_token(&"ci".parse().expect("name"))
        .await
        .expect("revoke");
    assert!(
        registry
            .token_by_secret("aa11")
            .await
            .expect("find")
            .is_none()
    );
    let err = registry
        .revoke_token(&"ci".parse().expect("name"))
        .await
        .expect_err("already revoked");
    assert!(matches!(err, RegistryError::UnknownToken(_)), "{err}");
}

/// The audit trail reads newest first, by app and in pages, and cannot be
/// changed.
async fn the_audit_trail_is_append_only(registry: Registry, url: &str) {
    use sqlx::Connection;
    let entry = |action: &str, app: Option<&str>, status: u16| AuditEntry {
        id: 0,
        at: std::time::SystemTime::UNIX_EPOCH,
        actor: "ci".into(),
        client: "192.0.2.7".into(),
        action: action.into(),
        app: app.map(str::to_owned),
        status,
        detail: String::new(),
    };
    for (action, app, status) in [
        ("deploy", Some("shop"), 201),
        ("gc", None, 200),
        ("rollback", Some("shop"), 200),
        ("deploy", Some("blog"), 403),
    ] {
        registry
            .record_audit(&entry(action, app, status))
            .await
            .expect("record");
    }
    let all = registry
        .audit(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("read");
    let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["deploy", "rollback", "gc", "deploy"]);
    assert_eq!(all[0].status, 403);
    assert_eq!(all[0].client, "192.0.2.7");
    let shop = registry
        .audit(&AuditQuery {
            app: Some(app("shop")),
            before: None,
            limit: 10,
        })
        .await
        .expect("read");
    let actions: Vec<&str> = shop.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["rollback", "deploy"]);
    let page = registry
        .audit(&AuditQuery {
            app: None,
            before: Some(all[1].id),
            limit: 1,
        })
        .await
        .expect("read");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, all[2].id);

    sqlx::any::install_default_drivers();
    let mut raw = sqlx::AnyConnection::connect(url)
        .await
        .expect("raw connection");
    for statement in ["UPDATE audit SET status = 200", "DELETE FROM audit"] {
        let err = sqlx::query(statement)
            .execute(&mut raw)
            .await
            .expect_err("append-only");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
}

/// A disabled deployment shows as disabled in history and routing, cannot
/// go live, and is passed over by a rollback; the live one cannot be
/// disabled. A preview grant is used once, before it expires.
async fn disabled_deployments_and_preview_grants(registry: Registry, _url: &str) {
    deploy(&registry, "a", "a1", true).await;
    deploy(&registry, "a", "a2", true).await;
    deploy(&registry, "a", "a3", false).await;
    let deployments = registry.deployments(&app("a")).await.expect("list");
    let digest_of = |content: &str| BlobKey::of(content.as_bytes()).digest;
    let (a1, a2, a3) = (digest_of("a1"), digest_of("a2"), digest_of("a3"));
    assert_eq!(deployments.len(), 3);

    let mut change = registry.begin().await.expect("begin");
    let err = change
        .disable_deployment(&app("a"), &a2, "ci")
        .await
        .expect_err("live");
    assert!(matches!(err, RegistryError::DisablingLive { .. }), "{err}");
    let disabled = change
        .disable_deployment(&app("a"), &a1, "ci")
        .await
        .expect("disable");
    assert!(disabled.disabled);
    change
        .disable_deployment(&app("a"), &a3, "ci")
        .await
        .expect("disable");
    change.commit().await.expect("commit");

    let table = registry.routing_table().await.expect("table");
    let flags: Vec<bool> = table.deployments.iter().map(|(_, d)| d.disabled).collect();
    assert_eq!(flags, [true, false, true]);
    let mut change = registry.begin().await.expect("begin");
    let err = change
        .promote(&app("a"), &a3, "ci")
        .await
        .expect_err("disabled");
    assert!(matches!(err, RegistryError::Disabled { .. }), "{err}");
    let err = change
        .rollback(&app("a"), None, "ci")
        .await
        .expect_err("a1 is disabled");
    assert!(
        matches!(err, RegistryError::NothingToRollBackTo { .. }),
        "{err}"
    );
    change
        .enable_deployment(&app("a"), &a3)
        .await
        .expect("enable");
    change.promote(&app("a"), &a3, "ci").await.expect("promote");
    change.commit().await.expect("commit");

    registry
        .create_preview_grant(&app("a"), &a3, "ff00", Duration::from_secs(60))
        .await
        .expect("grant");
    registry
        .create_preview_grant(&app("a"), &a3, "ee00", Duration::ZERO)
        .await
        .expect("grant");
    let (digits, other) = (a3.hex()[..12].to_owned(), a1.hex()[..12].to_owned());
    let a = app("a");
    for (hash, digits, opens, why) in [
        ("ff00", &other, false, "another preview's host"),
        ("ff00", &digits, true, "still unused, then used"),
        ("ff00", &digits, false, "once"),
        ("ee00", &digits, false, "expired"),
        ("0000", &digits, false, "unknown"),
    ] {
        let used = registry
            .use_preview_grant(hash, &a, digits)
            .await
            .expect("use");
        assert_eq!(used, opens, "{why}");
    }

    // Deleting the app takes its flags and grants with it.
    let mut change = registry.begin().await.expect("begin");
    change.delete_app(&app("a")).await.expect("delete");
    change.commit().await.expect("commit");
}

/// Pruning keeps an app's newest deployments and never the live, a
/// disabled or a pinned one; a pruned deployment no longer refers to its
/// blob, routes, or goes live again.
async fn pruning_keeps_the_newest_and_the_protected(registry: Registry, _url: &str) {
    for content in ["p1", "p2", "p3", "p4", "p5"] {
        deploy(&registry, "a", content, false).await;
    }
    deploy(&registry, "a", "p6", true).await;
    let digest_of = |content: &str| BlobKey::of(content.as_bytes()).digest;
    let mut change = registry.begin().await.expect("begin");
    // p1 goes live again, so it is live and old; p2 is pinned; p3 disabled.
    change
        .promote(&app("a"), &digest_of("p1"), "admin")
        .await
        .expect("promote");
    change
        .pin_deployment(&app("a"), &digest_of("p2"), true, "admin")
        .await
        .expect("pin");
    change
        .disable_deployment(&app("a"), &digest_of("p3"), "admin")
        .await
        .expect("disable");
    let would = change.prune(&app("a"), 2, true).await.expect("dry run");
    let pruned = change.prune(&app("a"), 2, false).await.expect("prune");
    let again = change
        .prune(&app("a"), 2, false)
        .await
        .expect("prune again");
    let referenced = change.referenced_blobs().await.expect("referenced");
    assert_eq!(
        change.retention().await.expect("retention"),
        [(app("a"), wharf_registry::DEFAULT_KEEP)]
    );
    change.commit().await.expect("commit");

    let digests = |list: &[wharf_registry::Deployment]| -> Vec<String> {
        list.iter().map(|d| d.key.digest.to_string()).collect()
    };
    assert_eq!(
        digests(&would),
        digests(&pruned),
        "a dry run names the same"
    );
    assert_eq!(digests(&pruned), [digest_of("p4").to_string()]);
    assert!(again.is_empty());
    assert!(!referenced.contains(&BlobKey::of(b"p4")));
    assert!(referenced.contains(&BlobKey::of(b"p2")));
    let history = registry.deployments(&app("a")).await.expect("history");
    assert_eq!(history.len(), 6, "history rows stay");
    assert!(
        history
            .iter()
            .any(|d| d.key == BlobKey::of(b"p4") && d.pruned)
    );
    let table = registry.routing_table().await.expect("table");
    assert!(
        !table
            .deployments
            .iter()
            .any(|(_, d)| d.key == BlobKey::of(b"p4")),
        "a pruned deployment has no preview"
    );
    let mut change = registry.begin().await.expect("begin");
    let err = change
        .promote(&app("a"), &digest_of("p4"), "admin")
        .await
        .expect_err("pruned");
    assert!(matches!(err, RegistryError::Pruned { .. }), "{err}");
}

macro_rules! conformance {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;
            conformance!(@case $open, deployments_round_trip);
            conformance!(@case $open, pointer_moves_and_history_order);
            conformance!(@case $open, rollback_after_a_promotion);
            conformance!(@case $open, a_dropped_change_leaves_nothing);
            conformance!(@case $open, concurrent_deploys_to_one_app);
            conformance!(@case $open, the_feed_and_routing_table_follow_changes);
            conformance!(@case $open, history_cannot_be_rewritten);
            conformance!(@case $open, config_and_settings);
            conformance!(@case $open, key_value_data);
            conformance!(@case $open, nodes_heartbeat_and_are_forgotten);
            conformance!(@case $open, tokens_expire_and_are_revoked);
            conformance!(@case $open, the_audit_trail_is_append_only);
            conformance!(@case $open, disabled_deployments_and_preview_grants);
            conformance!(@case $open, pruning_keeps_the_newest_and_the_protected);
        }
    };
    (@case $open:expr, $case:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $case() {
            let (registry, url, _guard) = $open.await;
            super::$case(registry, &url).await;
        }
    };
}

conformance!(sqlite, sqlite());
conformance!(postgres, postgres());

#[tokio::test]
async fn unknown_database_urls_are_refused_with_a_hint() {
    let err = Registry::open("mysql://x/y")
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("use sqlite://PATH or postgres://"), "{err}");
}
