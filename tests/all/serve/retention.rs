//! Retention: deployments beyond what an app keeps are pruned, and `wharf
//! gc` reclaims their blobs, compiled code and sealed code.

use super::*;
use std::collections::HashSet;
use wharf_admin::api::{AppSettingsBody, DeploymentInfo};
use wharf_store::{BlobStore, ClusterSecret, S3Settings, SharedArtifacts, StoreOptions};

/// Six different components, deployed in turn.
const SIX: [&str; 6] = [
    guests::HELLO,
    guests::HELLO_V2,
    guests::ECHO,
    guests::WHOAMI,
    guests::COUNTER,
    guests::SLOW,
];

/// Files in `dir` whose names start with one of `digests`.
fn compiled_for(dir: &Path, digests: &[&str]) -> Result<Vec<String>> {
    Ok(std::fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| digests.iter().any(|d| name.starts_with(d)))
        .collect())
}

/// With `--keep 3`, after six deploys a dry run names the oldest three and
/// changes nothing; gc then prunes them (history stays), deletes their
/// blobs and compiled code and says how many bytes; a pinned deployment
/// and the live one stay, and after a restart the live app still serves.
#[tokio::test]
async fn gc_reclaims_what_pruned_deployments_held() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    let mut digests = Vec::new();
    for (i, guest) in SIX.iter().enumerate() {
        digests.push(d.deploy(guest, "shop", &[])?.digest);
        if i == 0 {
            let settings: AppSettingsBody = d.cli(&["settings", "shop", "--keep", "3"])?;
            assert_eq!(settings.keep, 3);
        }
    }
    let history: History = d.cli(&["history", "shop"])?;
    let deployed: Vec<DeploymentInfo> = digests
        .iter()
        .map(|digest| {
            history
                .deployments
                .iter()
                .find(|dep| &dep.digest == digest)
                .cloned()
                .context("deployed")
        })
        .collect::<Result<_>>()?;
    // Roll back once, so that the fifth is live and the sixth the newest.
    let _: ReleaseInfo = d.cli(&["rollback", "shop"])?;
    // The oldest is pinned: never pruned.
    let _: DeploymentInfo = d.cli(&["deployments", "pin", "shop", &deployed[0].digest])?;
    let old: Vec<&DeploymentInfo> = deployed[1..3].iter().collect();
    let old_digests: Vec<&str> = old.iter().map(|dep| dep.digest.as_str()).collect();
    let blobs = d.data_dir().join("blobs");
    let compiled = d.data_dir().join("compiled");
    assert_eq!(compiled_for(&compiled, &old_digests)?.len(), 2);

    let dry: GcResult = d.cli(&["gc", "--grace", "0s", "--dry-run"])?;
    assert!(dry.dry_run);
    let pruned: HashSet<&str> = dry.pruned.iter().map(|p| p.digest.as_str()).collect();
    assert_eq!(pruned, old_digests.iter().copied().collect());
    let expected_bytes: u64 = old.iter().map(|dep| dep.size).sum();
    assert_eq!(dry.deleted_bytes, expected_bytes);
    assert_eq!(dry.compiled_deleted.len(), 2, "{dry:?}");
    assert!(dry.compiled_bytes > 0);
    for dep in &old {
        assert!(blobs.join(&dep.key).exists(), "a dry run deletes nothing");
    }

    let gc: GcResult = d.cli(&["gc", "--grace", "0s"])?;
    assert_eq!(gc.pruned.len(), 2);
    assert_eq!(gc.deleted_bytes, expected_bytes);
    assert_eq!(gc.compiled_bytes, dry.compiled_bytes);
    for dep in &old {
        assert!(!blobs.join(&dep.key).exists(), "{} kept", dep.key);
    }
    assert!(compiled_for(&compiled, &old_digests)?.is_empty());
    for dep in [&deployed[0], &deployed[3], &deployed[4], &deployed[5]] {
        assert!(blobs.join(&dep.key).exists(), "{} deleted", dep.key);
    }
    let history: History = d.cli(&["history", "shop"])?;
    assert_eq!(history.deployments.len(), 6, "history stays");
    assert_eq!(
        history.deployments.iter().filter(|dep| dep.pruned).count(),
        2
    );
    let again = d.cli_fails(&["promote", "shop", old_digests[0]])?;
    assert!(again.contains("was pruned"), "{again}");
    let nothing: GcResult = d.cli(&["gc", "--grace", "0s"])?;
    assert!(nothing.pruned.is_empty() && nothing.deleted.is_empty());

    let d = d.restart()?;
    let response = d.server.get_host("shop.localhost", "/").await?;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["wharf-digest"].to_str()?,
        deployed[4].digest
    );
    Ok(())
}

/// On Garage and Postgres, with servers sharing compiled code, gc removes
/// the sealed code of pruned deployments from the shared store.
#[tokio::test]
async fn gc_removes_sealed_code_of_pruned_deployments() -> Result<()> {
    let secrets = tempfile::tempdir()?;
    let secret_file = secrets.path().join("artifact-secret");
    let secret = format!("{:064x}", rand_u64());
    std::fs::write(&secret_file, format!("{secret}\n"))?;
    let store_url = Garage::from_env().fresh_url();
    let db = Postgres::from_env().fresh_database().await;
    let sharing = [
        "--artifact-secret-file",
        secret_file.to_str().context("utf-8 path")?,
    ];
    let d = AdminSession::on(&store_url, &db, &sharing)?;
    let first = d.deploy(SIX[0], "shop", &[])?;
    let _: AppSettingsBody = d.cli(&["settings", "shop", "--keep", "1"])?;
    let second = d.deploy(SIX[1], "shop", &[])?;
    // Sealing happens once each deploy has answered.
    let started = Instant::now();
    while d
        .server
        .log()
        .matches("sealed compiled code into the shared store")
        .count()
        < 2
    {
        ensure!(
            started.elapsed() < Duration::from_secs(120),
            "not sealed:\n{}",
            d.server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let garage = Garage::from_env();
    let store = BlobStore::open(
        &store_url,
        &StoreOptions {
            s3: S3Settings {
                endpoint: Some(garage.endpoint.clone()),
                region: Some(garage.region.clone()),
                credentials: Some((garage.access_key_id.clone(), garage.secret_access_key)),
            },
            cache_dir: None,
        },
    )?;
    let shared = SharedArtifacts::new(
        &store,
        ClusterSecret::new(secret.as_bytes()).map_err(anyhow::Error::msg)?,
    );
    let sealed = |list: &[wharf_store::StoredArtifact]| -> HashSet<String> {
        list.iter().map(|a| a.digest.to_string()).collect()
    };
    let before = sealed(&shared.list().await?);
    assert!(before.contains(&first.digest) && before.contains(&second.digest));

    let gc: GcResult = d.cli(&["gc", "--grace", "0s"])?;
    assert_eq!(gc.pruned.len(), 1);
    assert_eq!(gc.pruned[0].digest, first.digest);
    assert_eq!(gc.sealed_deleted.len(), 1, "{gc:?}");
    assert!(gc.sealed_bytes > 0);
    let after = sealed(&shared.list().await?);
    assert!(!after.contains(&first.digest), "{after:?}");
    assert!(after.contains(&second.digest), "{after:?}");
    assert_eq!(d.body_at("shop.localhost").await?, V2);
    Ok(())
}
