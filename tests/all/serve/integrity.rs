//! What must never happen: a tampered blob run, an admin request without
//! the token, a registry left inconsistent by a crash.

use super::*;

/// A blob changed in the store after its deploy never runs: a server that
/// kept the code it compiled from the verified bytes serves that, and one
/// that must read the blob again answers 5xx.
#[tokio::test]
async fn a_tampered_blob_is_never_run() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    let v1 = d.deploy(guests::HELLO, "hello", &[])?;
    // Swap the stored bytes for another valid component, then restart.
    std::fs::copy(
        guests::HELLO_V2,
        d._data_dir.path().join("blobs").join(&v1.key),
    )?;
    let d = d.restart()?;
    // The code compiled at deploy time is on disk under the digest, so the
    // blob is not read and what runs is still what was deployed.
    assert_eq!(d.body_at("hello.localhost").await?, V1);
    // Without that code the component is read from the store again.
    std::fs::remove_dir_all(d._data_dir.path().join("compiled"))?;
    let d = d.restart()?;
    let server = &d.server;
    let response = server.get_host("hello.localhost", "/").await?;
    assert_eq!(response.status(), 500);
    let body = response.text().await?;
    assert!(
        body.contains("failed verification and was not run"),
        "{body}"
    );
    let log = server.wait_for_log("is corrupt")?;
    assert!(
        !log.contains("guest handling"),
        "the tampered component ran: {log}"
    );

    // Deploying the right bytes again repairs the blob.
    let again = d.deploy(guests::HELLO, "hello", &[])?;
    assert!(again.uploaded, "the corrupt object is replaced");
    assert_eq!(d.body_at("hello.localhost").await?, V1);
    Ok(())
}

#[tokio::test]
async fn admin_requests_without_the_token_get_401() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    let url = format!("{}/v1/apps", d.server.admin());
    let response = client().get(&url).send().await?;
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let response = client()
        .get(&url)
        .bearer_auth("wrong-token-0123456789")
        .send()
        .await?;
    assert_eq!(response.status(), 401);
    let body = response.text().await?;
    assert!(body.contains("Authorization: Bearer"), "{body}");
    let response = client()
        .post(format!("{}/v1/apps/hello/deployments", d.server.admin()))
        .body(std::fs::read(guests::HELLO)?)
        .send()
        .await?;
    assert_eq!(response.status(), 401);
    let stderr = d.cli_fails(&["apps", "--token", "wrong-token-0123456789"])?;
    assert!(stderr.contains("HTTP 401"), "{stderr}");
    // The scheme name is case-insensitive.
    let response = client()
        .get(&url)
        .header("authorization", format!("bearer {}", d.env[1].1))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    // App names are checked before anything is sent.
    let stderr = d.cli_fails(&["delete", "shop/../blog"])?;
    assert!(stderr.contains("is not a valid app name"), "{stderr}");
    // The token never reaches the log.
    let token = &d.env[1].1;
    assert!(!d.server.log().contains(token.as_str()));
    Ok(())
}

/// SIGKILL in the middle of an upload leaves the registry as it was.
#[tokio::test]
async fn a_server_killed_during_an_upload_leaves_the_registry_consistent() -> Result<()> {
    let mut d = AdminSession::embedded(&[])?;
    let dir = d._data_dir.path().to_owned();
    let v1 = d.deploy(guests::HELLO, "hello", &[])?;

    // Send half of v2, then kill the server while it waits for the rest.
    let bytes = std::fs::read(guests::HELLO_V2)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = reqwest::Body::wrap_stream(tokio_stream(rx));
    let upload = client()
        .post(format!("{}/v1/apps/hello/deployments", d.server.admin()))
        .bearer_auth(&d.env[1].1)
        .header("content-length", bytes.len())
        .body(body)
        .send();
    let upload = tokio::spawn(upload);
    tx.send(Ok(bytes[..bytes.len() / 2].to_vec())).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    d.server.kill()?;
    assert!(upload.await?.is_err(), "the upload cannot have succeeded");

    let d = d.restart()?;
    assert_eq!(d.body_at("hello.localhost").await?, V1);
    let history: History = d.cli(&["history", "hello"])?;
    assert_eq!(history.deployments.len(), 1);
    assert_eq!(history.deployments[0].digest, v1.digest);
    // Every deployment's blob is present and whole.
    for deployment in &history.deployments {
        let blob = std::fs::read(dir.join("blobs").join(&deployment.key))?;
        assert_eq!(blob.len() as u64, deployment.size);
    }
    // The store never holds a partial object under a blob key.
    let stored = walk(&dir.join("blobs"))?;
    assert_eq!(stored.len(), 1, "{stored:?}");
    Ok(())
}

/// The registry holds apps' secrets: its file is created readable by this
/// user only, even inside a data directory others can read, which is
/// warned about.
#[tokio::test]
async fn the_registry_file_is_private() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let server = Wharf::serve(dir.path(), &[], &[])?;
    let mode = std::fs::metadata(dir.path().join("registry.db"))?
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    server.wait_for_log("can be read by other users")?;
    Ok(())
}
