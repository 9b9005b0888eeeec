//! Deploys, previews, rollbacks, hostnames, deletes and garbage collection
//! through the CLI and the admin API.

use super::*;

/// The deploy, preview and rollback flow of the issue, step by step.
async fn deploy_rollback_and_preview(d: &AdminSession) -> Result<()> {
    // 1. Deploy v1; it is served at <app>.localhost.
    let v1 = d.deploy(guests::HELLO, "hello", &["--message", "first"])?;
    assert!(v1.uploaded && v1.live && !v1.adapted);
    assert_eq!(v1.app, "hello");
    let bytes = std::fs::read(guests::HELLO)?;
    assert_eq!(v1.size, bytes.len() as u64);
    assert_eq!(
        v1.digest,
        format!("sha256-{}", crate::harness::sha256_hex(guests::HELLO)?)
    );
    assert_eq!(
        v1.key,
        format!("application/wasm/{}b/{}.wasm", v1.size, v1.digest)
    );
    assert_eq!(
        v1.url,
        format!("http://hello.localhost:{}/", d.server.port())
    );
    assert!(
        v1.exports
            .iter()
            .any(|e| e.starts_with("wasi:http/incoming-handler@0.2"))
    );
    assert!(
        v1.imports
            .iter()
            .any(|i| i.starts_with("wasi:http/types@0.2"))
    );
    assert_eq!(d.body_at("hello.localhost").await?, V1);

    // 2. Deploy v2; it is served.
    let v2 = d.deploy(guests::HELLO_V2, "hello", &[])?;
    assert!(v2.uploaded && v2.live);
    assert_ne!(v2.preview_url, v1.preview_url);
    assert_eq!(d.body_at("hello.localhost").await?, V2);
    let response = d.server.get_host("hello.localhost", "/").await?;
    assert_eq!(response.headers()["wharf-digest"], v2.digest.as_str());

    // 3. v1's preview URL still serves v1, and production is untouched.
    // Previews of a new app need a token.
    let response = d.server.get_host(host_of(&v1.preview_url), "/").await?;
    assert_eq!(response.status(), 401);
    assert_eq!(d.preview_body_at(host_of(&v1.preview_url)).await?, V1);
    assert_eq!(d.preview_body_at(host_of(&v2.preview_url)).await?, V2);
    assert_eq!(d.body_at("hello.localhost").await?, V2);

    // A preview deploy does not go live.
    d.cli::<ReleaseInfo>(&["rollback", "hello"])?;
    let preview = d.deploy(guests::HELLO_V2, "hello", &["--preview"])?;
    assert!(!preview.live && !preview.uploaded);
    assert_eq!(d.body_at("hello.localhost").await?, V1);
    assert_eq!(d.preview_body_at(host_of(&preview.preview_url)).await?, V2);
    let promoted: ReleaseInfo = d.cli(&["promote", "hello", &preview.digest])?;
    assert_eq!(promoted.action, "promote");
    assert_eq!(d.body_at("hello.localhost").await?, V2);

    // 4. Roll back; v1 is served.
    let rollback: ReleaseInfo = d.cli(&["rollback", "hello"])?;
    assert_eq!(rollback.action, "rollback");
    assert_eq!(rollback.deployment.digest, v1.digest);
    assert_eq!(d.body_at("hello.localhost").await?, V1);
    // ...and forward again by digest.
    d.cli::<ReleaseInfo>(&["rollback", "hello", "--to", &v2.digest])?;
    assert_eq!(d.body_at("hello.localhost").await?, V2);

    // 5. Redeploying the same bytes skips the upload.
    let again = d.deploy(guests::HELLO, "hello", &[])?;
    assert!(!again.uploaded, "the store already had these bytes");
    assert_eq!(again.digest, v1.digest);
    assert_eq!(d.body_at("hello.localhost").await?, V1);

    // 6. A core module is adapted and served.
    let core = d.deploy(guests::HELLO_WASIP1, "core", &[])?;
    assert!(core.adapted && core.live);
    assert_ne!(
        core.digest,
        format!(
            "sha256-{}",
            crate::harness::sha256_hex(guests::HELLO_WASIP1)?
        )
    );
    assert_eq!(d.body_at("core.localhost").await?, V1);

    // The history records every pointer move, newest first.
    let history: History = d.cli(&["history", "hello"])?;
    let actions: Vec<&str> = history.releases.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "deploy", "rollback", "rollback", "promote", "rollback", "deploy", "deploy"
        ]
    );
    assert_eq!(history.deployments.len(), 4);
    assert_eq!(history.deployments.iter().filter(|d| d.live).count(), 1);
    assert_eq!(history.deployments.last().expect("first").message, "first");

    let apps: AppList = d.cli(&["apps"])?;
    let names: Vec<&str> = apps.apps.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["core", "hello"]);
    Ok(())
}

#[tokio::test]
async fn deploy_rollback_and_preview_on_embedded_defaults() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    deploy_rollback_and_preview(&d).await?;
    // The blob is in the data directory under its content address.
    let v1 = d.deploy(guests::HELLO, "hello", &[])?;
    let blob = d._data_dir.path().join("blobs").join(&v1.key);
    assert_eq!(std::fs::read(blob)?, std::fs::read(guests::HELLO)?);
    Ok(())
}

#[tokio::test]
async fn deploy_rollback_and_preview_on_garage_and_postgres() -> Result<()> {
    let (d, _, _) = AdminSession::garage_and_postgres().await?;
    deploy_rollback_and_preview(&d).await
}

#[tokio::test]
async fn garbage_and_unsupported_components_get_422() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    let dir = tempfile::tempdir()?;
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"#!/bin/sh\necho not wasm\n")?;
    // The CLI refuses it before uploading; the API, sent it anyway, 422.
    let stderr = d.cli_fails(&["deploy", junk.to_str().expect("utf-8"), "--app", "junk"])?;
    assert!(stderr.contains("is not a WebAssembly binary"), "{stderr}");
    let response = client()
        .post(format!("{}/v1/apps/junk/deployments", d.server.admin()))
        .bearer_auth(d.token())
        .body(std::fs::read(&junk)?)
        .send()
        .await?;
    assert_eq!(response.status(), 422);
    let text = response.text().await?;
    assert!(text.contains("not a WebAssembly file"), "{text}");

    let unknown = dir.path().join("imports-unknown.wasm");
    std::fs::write(
        &unknown,
        crate::harness::component_importing_unknown_interface()?,
    )?;
    let unknown = unknown.to_str().expect("utf-8");
    let stderr = d.cli_fails(&["deploy", unknown, "--app", "unknown"])?;
    assert!(stderr.contains("acme:clock/tower@1.0.0"), "{stderr}");
    assert!(stderr.contains("422"), "{stderr}");

    // Nothing was recorded.
    let apps: AppList = d.cli(&["apps"])?;
    assert!(apps.apps.is_empty(), "{apps:?}");
    Ok(())
}

/// A component exporting only `wasi:cli/run` passes validation and is
/// served CGI-style.
#[tokio::test]
async fn command_components_deploy_and_serve_cgi_style() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    let cgi = d.deploy(guests::CGI, "cgi", &[])?;
    assert!(
        cgi.exports
            .iter()
            .any(|e| e.starts_with("wasi:cli/run@0.2")),
        "{cgi:?}"
    );
    let response = d.server.get_host("cgi.localhost", "/plain").await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await?, "plain output\n");
    Ok(())
}

#[tokio::test]
async fn deploys_over_the_size_limit_get_413() -> Result<()> {
    let d = AdminSession::embedded(&["--max-deploy-size", "10KiB"])?;
    let stderr = d.cli_fails(&["deploy", guests::HELLO, "--app", "hello"])?;
    assert!(stderr.contains("10240-byte deploy limit"), "{stderr}");
    assert!(stderr.contains("413"), "{stderr}");
    Ok(())
}

#[tokio::test]
async fn hostnames_and_the_default_app_route_requests() -> Result<()> {
    let d = AdminSession::embedded(&["--default-app", "hello"])?;
    d.deploy(guests::HELLO, "hello", &[])?;
    d.deploy(guests::HELLO_V2, "shop", &[])?;
    // Any other Host goes to the default app.
    assert_eq!(d.body_at("127.0.0.1").await?, V1);
    d.cli::<serde_json::Value>(&["hostnames", "shop", "shop.example.com"])?;
    assert_eq!(d.body_at("shop.example.com").await?, V2);
    // A hostname under the domain is refused, as is another app's hostname.
    let stderr = d.cli_fails(&["hostnames", "hello", "x.localhost"])?;
    assert!(stderr.contains("under localhost"), "{stderr}");
    let stderr = d.cli_fails(&["hostnames", "hello", "shop.example.com"])?;
    assert!(stderr.contains("already routes to app `shop`"), "{stderr}");
    // Unknown apps and previews get 404 with a reason.
    let response = d.server.get_host("nope.localhost", "/").await?;
    assert_eq!(response.status(), 404);
    let text = response.text().await?;
    assert!(text.contains("no app named `nope`"), "{text}");
    assert!(
        !text.contains("wharf "),
        "end users are not told to run commands: {text}"
    );
    let response = d
        .server
        .get_host("hello--0123456789ab.localhost", "/")
        .await?;
    assert_eq!(response.status(), 404);
    assert!(
        response
            .text()
            .await?
            .contains("no deployment whose digest starts with")
    );
    Ok(())
}

#[tokio::test]
async fn deleting_an_app_then_collecting_garbage_removes_its_blobs() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    let hello = d.deploy(guests::HELLO, "hello", &[])?;
    let kept = d.deploy(guests::HELLO_V2, "other", &[])?;
    let blobs = d._data_dir.path().join("blobs");
    d.cli::<serde_json::Value>(&["delete", "hello"])?;
    let response = d.server.get_host("hello.localhost", "/").await?;
    assert_eq!(response.status(), 404);
    assert!(blobs.join(&hello.key).exists(), "delete keeps blobs");

    // Inside the grace period nothing goes.
    let gc: GcResult = d.cli(&["gc"])?;
    assert!(gc.deleted.is_empty());
    assert_eq!((gc.referenced, gc.too_young), (1, 1));
    let gc: GcResult = d.cli(&["gc", "--grace", "0s"])?;
    assert_eq!(gc.deleted, std::slice::from_ref(&hello.key));
    assert!(!blobs.join(&hello.key).exists());
    assert!(blobs.join(&kept.key).exists());
    assert_eq!(d.body_at("other.localhost").await?, V2);
    Ok(())
}

/// Sends `request` as written over a fresh connection and returns the
/// status line of the answer.
async fn status_of_raw(d: &AdminSession, request: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", d.server.port())).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await??;
    let answer = String::from_utf8_lossy(&answer);
    Ok(answer.lines().next().unwrap_or_default().to_owned())
}

/// A request is routed by one host: two Host headers, a Host that
/// contradicts an absolute-form target, or no Host on HTTP/1.1 get 400,
/// even with a default app to fall back on.
#[tokio::test]
async fn ambiguous_hosts_are_refused_with_400() -> Result<()> {
    let d = AdminSession::embedded(&["--default-app", "hello"])?;
    d.deploy(guests::HELLO, "hello", &[])?;
    let port = d.server.port();
    let close = "Connection: close\r\n\r\n";
    let two_hosts =
        format!("GET / HTTP/1.1\r\nHost: hello.localhost\r\nHost: shop.localhost\r\n{close}");
    assert_eq!(
        status_of_raw(&d, &two_hosts).await?,
        "HTTP/1.1 400 Bad Request"
    );
    let mismatch = format!(
        "GET http://hello.localhost:{port}/ HTTP/1.1\r\nHost: shop.localhost:{port}\r\n{close}"
    );
    assert_eq!(
        status_of_raw(&d, &mismatch).await?,
        "HTTP/1.1 400 Bad Request"
    );
    let no_host = format!("GET / HTTP/1.1\r\n{close}");
    assert_eq!(
        status_of_raw(&d, &no_host).await?,
        "HTTP/1.1 400 Bad Request"
    );
    // An absolute-form target with its own Host routes as usual.
    let absolute = format!(
        "GET http://hello.localhost:{port}/ HTTP/1.1\r\nHost: hello.localhost:{port}\r\n{close}"
    );
    assert_eq!(status_of_raw(&d, &absolute).await?, "HTTP/1.1 200 OK");
    // HTTP/1.0 needs no Host; it goes to the default app.
    let old = "GET / HTTP/1.0\r\n\r\n";
    assert_eq!(status_of_raw(&d, old).await?, "HTTP/1.0 200 OK");
    Ok(())
}

/// With `--public-url`, the URLs wharf returns are the ones users reach
/// (scheme, host and port), and apps answer under its host.
#[tokio::test]
async fn public_urls_follow_the_public_url() -> Result<()> {
    let d = AdminSession::embedded(&["--public-url", "https://apps.example.test"])?;
    let deployed = d.deploy(guests::HELLO, "hello", &[])?;
    assert_eq!(deployed.url, "https://hello.apps.example.test/");
    let preview = format!(
        "https://hello--{}.apps.example.test/",
        &deployed.digest[7..19]
    );
    assert_eq!(deployed.preview_url, preview);
    assert_eq!(d.body_at("hello.apps.example.test").await?, V1);

    let d = AdminSession::embedded(&["--public-url", "http://example.test:8443"])?;
    let deployed = d.deploy(guests::HELLO, "hello", &[])?;
    assert_eq!(deployed.url, "http://hello.example.test:8443/");
    Ok(())
}

/// The CLI takes `--server` without a scheme, as `wharf serve` prints the
/// address; says in one line when nothing answers there; and refuses a
/// file that is not WebAssembly before uploading anything.
#[tokio::test]
async fn the_cli_meets_a_new_user_halfway() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    let bare = d
        .server
        .admin()
        .strip_prefix("http://")
        .context("an http URL")?
        .to_owned();
    let env = [
        ("WHARF_SERVER", bare),
        ("WHARF_TOKEN", d.token().to_owned()),
    ];
    let (status, stdout, stderr) = wharf_cli_env(&["apps", "--json"], &env)?;
    ensure!(status.success(), "{stderr}");
    let apps: AppList = serde_json::from_str(&stdout)?;
    assert!(apps.apps.is_empty());

    let nowhere = [
        ("WHARF_SERVER", "127.0.0.1:1".to_owned()),
        ("WHARF_TOKEN", d.token().to_owned()),
    ];
    // Even with backtraces asked for, an error is one line.
    let mut loud = nowhere.to_vec();
    loud.push(("RUST_BACKTRACE", "1".to_owned()));
    let (status, _, stderr) = wharf_cli_env(&["apps"], &loud)?;
    assert!(!status.success());
    assert!(
        stderr.contains("is `wharf serve` running there?") && stderr.trim().lines().count() == 1,
        "{stderr}"
    );

    let readme = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let stderr = d.cli_fails(&["deploy", readme, "--app", "docs"])?;
    assert!(stderr.contains("is not a WebAssembly binary"), "{stderr}");
    let trail: wharf_admin::api::AuditTrail = d.cli(&["audit"])?;
    assert!(
        trail.entries.is_empty(),
        "nothing reached the server: {trail:?}"
    );
    Ok(())
}
