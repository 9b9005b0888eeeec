//! Several servers on one Postgres and Garage, restarts, and the compiled
//! code they share and keep.

use super::*;

/// A second server on the same Postgres and Garage serves a deploy made
/// through the first one at once, on the registry's change notifications.
#[tokio::test]
async fn changes_reach_every_server_sharing_the_registry() -> Result<()> {
    let (a, store, db) = AdminSession::garage_and_postgres().await?;
    // B polls rarely, so it can only be this quick through notifications.
    let b = AdminSession::on(&store, &db, &["--poll-interval", "60s"])?;
    a.deploy(guests::HELLO, "hello", &[])?;
    wait_for_body(&b, "hello.localhost", V1).await?;
    a.deploy(guests::HELLO_V2, "hello", &[])?;
    wait_for_body(&b, "hello.localhost", V2).await?;
    b.cli::<ReleaseInfo>(&["rollback", "hello"])?;
    wait_for_body(&a, "hello.localhost", V1).await?;
    Ok(())
}

/// Code compiled at deploy time is saved, so after a restart the first
/// request loads it instead of compiling.
#[tokio::test]
async fn a_restart_loads_precompiled_code() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    let v1 = d.deploy(guests::HELLO, "hello", &[])?;
    let compiled = d._data_dir.path().join("compiled");
    let saved: Vec<_> = std::fs::read_dir(&compiled)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    assert!(
        saved
            .iter()
            .any(|name| name.starts_with(&v1.digest) && name.ends_with(".cwasm")),
        "{saved:?}"
    );
    let d = d.restart()?;
    assert_eq!(d.body_at("hello.localhost").await?, V1);
    let log = d.server.wait_for_log("loaded precompiled code")?;
    assert!(log.contains(&v1.digest), "{log}");
    Ok(())
}

/// Servers sharing Garage, Postgres and an artifact secret compile each
/// component once between them: the server that takes the deploy seals its
/// code into the store, and the others load it instead of compiling. A
/// server without the secret compiles for itself, with Winch first and then
/// Cranelift in the background.
#[tokio::test]
async fn servers_with_the_artifact_secret_share_compiled_code() -> Result<()> {
    let secrets = tempfile::tempdir()?;
    let secret_file = secrets.path().join("artifact-secret");
    std::fs::write(&secret_file, format!("{:064x}\n", rand_u64()))?;
    let secret = secret_file.to_str().context("utf-8 path")?;
    let sharing = ["--artifact-secret-file", secret];
    let store = Garage::from_env().fresh_url();
    let db = Postgres::from_env().fresh_database().await;
    let a = AdminSession::on(&store, &db, &sharing)?;
    let b = AdminSession::on(&store, &db, &sharing)?;
    let alone = AdminSession::on(&store, &db, &[])?;

    let v1 = a.deploy(guests::HELLO, "hello", &[])?;
    // A seals the code in the background once the deploy has answered.
    let log = a.server.wait_for_log_within(
        "sealed compiled code into the shared store",
        Duration::from_secs(60),
    )?;
    assert!(log.contains(&v1.digest), "{log}");
    wait_for_body(&b, "hello.localhost", V1).await?;
    let log = b
        .server
        .wait_for_log("loaded code compiled by another server")?;
    assert!(!log.contains("compiler=winch"), "B compiled: {log}");

    wait_for_body(&alone, "hello.localhost", V1).await?;
    // Cranelift compiles in the background; a debug build takes a while.
    let log = alone
        .server
        .wait_for_log_within("switched to recompiled code", Duration::from_secs(120))?;
    assert!(log.contains("compiler=winch"), "{log}");
    assert!(
        !log.contains("loaded code compiled by another server"),
        "{log}"
    );
    Ok(())
}

/// A deploy taken by one server is loaded by another server that serves
/// the app before that server's next request for it, so a redeploy is warm
/// on every server, not only on the one that took it.
#[tokio::test]
async fn other_servers_prepare_a_redeploy_before_its_first_request() -> Result<()> {
    let store = Garage::from_env().fresh_url();
    let db = Postgres::from_env().fresh_database().await;
    let a = AdminSession::on(&store, &db, &[])?;
    let b = AdminSession::on(&store, &db, &[])?;
    a.deploy(guests::HELLO, "hello", &[])?;
    wait_for_body(&b, "hello.localhost", V1).await?;

    let v2 = a.deploy(guests::HELLO_V2, "hello", &[])?;
    // B compiles at the lowest priority; a debug build takes a while.
    let log = b.server.wait_for_log_within(
        "prepared a new deployment before its first request",
        Duration::from_secs(120),
    )?;
    assert!(log.contains(&v2.digest), "{log}");
    assert_eq!(b.body_at("hello.localhost").await?, V2);
    // The request found v2 loaded: B loaded it once, in the background,
    // with the compiler of the code it keeps.
    let log = b.server.log();
    let loads: Vec<_> = log
        .lines()
        .filter(|line| line.contains("component ready") && line.contains(&v2.digest))
        .collect();
    assert_eq!(loads.len(), 1, "{log}");
    assert!(loads[0].contains("compiler=cranelift"), "{log}");
    Ok(())
}

/// With room for one compiled component, two apps still both serve: the
/// least recently used is dropped and loaded again when asked for.
#[tokio::test]
async fn the_compiled_cache_stays_within_its_limits() -> Result<()> {
    let d = AdminSession::embedded(&["--max-compiled", "1"])?;
    d.deploy(guests::HELLO, "a", &[])?;
    d.deploy(guests::HELLO_V2, "b", &[])?;
    for _ in 0..2 {
        assert_eq!(d.body_at("a.localhost").await?, V1);
        assert_eq!(d.body_at("b.localhost").await?, V2);
    }
    d.server.wait_for_log("evicted a compiled component")?;
    Ok(())
}
