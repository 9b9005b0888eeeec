//! The server killed (SIGKILL) at random points of deploys: the registry
//! and the store stay consistent.

use crate::serve::{AdminSession, walk};
use anyhow::{Context, Result};
use sha2::Digest as _;
use std::collections::BTreeSet;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;
use wharf_admin::api::{DeployResult, History};
use wharf_test_artifacts as guests;

/// `component` with a custom section naming `n` appended: a distinct
/// digest that serves the same.
fn variant(component: &[u8], n: usize) -> Vec<u8> {
    let name = b"wharf-variant";
    let payload = n.to_le_bytes();
    let mut bytes = component.to_vec();
    bytes.push(0); // custom section
    bytes.push(u8::try_from(1 + name.len() + payload.len()).expect("a short section"));
    bytes.push(u8::try_from(name.len()).expect("a short name"));
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(&payload);
    bytes
}

fn digest_of(bytes: &[u8]) -> String {
    format!("sha256-{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// 20 deploys, each with the server killed after a random delay: every
/// deploy the client saw acknowledged is recorded, nothing is recorded
/// that was not sent, and every recorded deployment's blob is whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_killed_at_random_points_leave_a_consistent_registry() -> Result<()> {
    const DEPLOYS: usize = 20;
    let seed = RandomState::new().hash_one(std::time::SystemTime::now());
    let hello = std::fs::read(guests::HELLO)?;
    let components = tempfile::tempdir()?;
    let mut session = AdminSession::embedded(&[])?;
    // How long one deploy takes here, uncut: the kills fall within twice
    // that, so some land before the acknowledgement and some after.
    let timed = std::time::Instant::now();
    session.deploy(guests::HELLO_V2, "timing", &[])?;
    let deploy_time = timed.elapsed().as_millis().max(1) as u64;
    let (mut sent, mut acknowledged) = (BTreeSet::new(), BTreeSet::new());
    let mut delays = Vec::new();
    for n in 0..DEPLOYS {
        let bytes = variant(&hello, n);
        let path = components.path().join(format!("v{n}.wasm"));
        std::fs::write(&path, &bytes)?;
        sent.insert(digest_of(&bytes));
        let deploy = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
            .arg("deploy")
            .arg(&path)
            .args(["--app", "hello", "--json"])
            .env("WHARF_SERVER", session.server.admin())
            .env("WHARF_TOKEN", session.token())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let delay = Duration::from_millis(seed.rotate_left(n as u32 * 7) % (2 * deploy_time));
        delays.push(delay.as_millis());
        tokio::time::sleep(delay).await;
        session = session.restart()?;
        let output = deploy.wait_with_output()?;
        if output.status.success()
            && let Ok(result) = serde_json::from_slice::<DeployResult>(&output.stdout)
        {
            acknowledged.insert(result.digest);
        }
    }

    let history: History = session.cli(&["history", "hello"])?;
    let recorded: BTreeSet<String> = history
        .deployments
        .iter()
        .map(|deployment| deployment.digest.clone())
        .collect();
    println!(
        "{DEPLOYS} deploys of about {deploy_time} ms each, the server killed after {delays:?} ms \
         (seed {seed}): {} acknowledged, {} recorded",
        acknowledged.len(),
        recorded.len()
    );
    assert!(
        !acknowledged.is_empty(),
        "no deploy outlived its kill: nothing was tested"
    );
    assert!(
        acknowledged.len() < DEPLOYS,
        "no deploy was cut: nothing was tested"
    );
    assert!(
        acknowledged.is_subset(&recorded),
        "acknowledged but not recorded: {:?}",
        acknowledged.difference(&recorded).collect::<Vec<_>>()
    );
    assert!(recorded.is_subset(&sent), "recorded what was never sent");
    let blobs = session.data_dir().join("blobs");
    for deployment in &history.deployments {
        let blob = std::fs::read(blobs.join(&deployment.key))
            .with_context(|| format!("the blob of {}", deployment.digest))?;
        assert_eq!(
            digest_of(&blob),
            deployment.digest,
            "a recorded blob is whole"
        );
    }
    // No object in the store is partial: each holds what its key names.
    // (A put killed halfway may leave the local store's staging file,
    // which is no object.)
    let objects = walk(&blobs)?;
    let staged = objects
        .iter()
        .filter(|path| path.extension().is_none_or(|e| e != "wasm"));
    println!("staging files left by killed puts: {}", staged.count());
    for object in objects
        .iter()
        .filter(|path| path.extension().is_some_and(|e| e == "wasm"))
    {
        let name = object.to_string_lossy();
        let bytes = std::fs::read(object)?;
        assert!(
            name.ends_with(&format!("{}b/{}.wasm", bytes.len(), digest_of(&bytes))),
            "{name} holds other bytes than its key names"
        );
    }
    if !recorded.is_empty() {
        let served = session.server.get_host("hello.localhost", "/").await?;
        assert_eq!(served.status(), 200, "the live deployment serves");
    }
    Ok(())
}
