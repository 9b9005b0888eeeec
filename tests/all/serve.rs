//! `wharf serve`: deploys, rollbacks and previews through the real binary
//! and its admin API, on the embedded defaults (SQLite and local files) and
//! on Garage plus Postgres started by scripts/with-test-services.sh.

use crate::harness::{Wharf, client, wharf_cli_env};
use anyhow::{Context, Result, ensure};
use serde::de::DeserializeOwned;
use std::path::Path;
use std::time::{Duration, Instant};
use wharf_admin::api::{AppList, DeployResult, GcResult, History, ReleaseInfo};
use wharf_test_artifacts as guests;
use wharf_test_services::{Garage, Postgres};

const V1: &str = "Hello from wharf!\n";
const V2: &str = "Hello from wharf, v2!\n";

/// A server and the CLI environment that reaches its admin API.
pub(crate) struct Deployment {
    pub(crate) server: Wharf,
    env: Vec<(&'static str, String)>,
    _data_dir: tempfile::TempDir,
}

impl Deployment {
    /// `wharf serve` with no state flags: SQLite and blobs in the data dir.
    pub(crate) fn embedded(args: &[&str]) -> Result<Self> {
        let data_dir = tempfile::tempdir()?;
        Self::embedded_in(data_dir, args)
    }

    fn embedded_in(data_dir: tempfile::TempDir, args: &[&str]) -> Result<Self> {
        let server = Wharf::serve(data_dir.path(), args, &[])?;
        let token = std::fs::read_to_string(data_dir.path().join("admin-token"))?;
        let env = vec![
            ("WHARF_SERVER", server.admin().to_owned()),
            ("WHARF_TOKEN", token.trim().to_owned()),
        ];
        Ok(Self {
            server,
            env,
            _data_dir: data_dir,
        })
    }

    /// `wharf serve` on a fresh Garage folder and a fresh Postgres database.
    async fn garage_and_postgres() -> Result<(Self, String, String)> {
        let store = Garage::from_env().fresh_url();
        let db = Postgres::from_env().fresh_database().await;
        Ok((Self::on(&store, &db, &[])?, store, db))
    }

    /// `wharf serve --store STORE --db DB`, on Garage credentials.
    fn on(store: &str, db: &str, args: &[&str]) -> Result<Self> {
        let data_dir = tempfile::tempdir()?;
        let token = format!("test-token-{:016x}", rand_u64());
        let mut server_env = Garage::from_env().aws_env();
        server_env.push(("WHARF_ADMIN_TOKEN", token.clone()));
        let mut all_args = vec!["--store", store, "--db", db];
        all_args.extend_from_slice(args);
        let server = Wharf::serve(data_dir.path(), &all_args, &server_env)?;
        let env = vec![
            ("WHARF_SERVER", server.admin().to_owned()),
            ("WHARF_TOKEN", token),
        ];
        Ok(Self {
            server,
            env,
            _data_dir: data_dir,
        })
    }

    /// Kills the server (SIGKILL) if it still runs and starts a new one on
    /// the same data directory.
    fn restart(self) -> Result<Self> {
        let Self {
            mut server,
            _data_dir,
            ..
        } = self;
        server.kill()?;
        Self::embedded_in(_data_dir, &[])
    }

    /// Runs `wharf ARGS... --json` against this server and decodes stdout.
    pub(crate) fn cli<T: DeserializeOwned>(&self, args: &[&str]) -> Result<T> {
        let mut args = args.to_vec();
        args.push("--json");
        let (status, stdout, stderr) = wharf_cli_env(&args, &self.env)?;
        ensure!(status.success(), "wharf {args:?} failed: {stderr}");
        serde_json::from_str(&stdout).with_context(|| format!("decoding {stdout}"))
    }

    /// Runs `wharf ARGS...`, expects it to fail, and returns stderr.
    fn cli_fails(&self, args: &[&str]) -> Result<String> {
        let (status, _, stderr) = wharf_cli_env(args, &self.env)?;
        ensure!(!status.success(), "wharf {args:?} succeeded");
        Ok(stderr)
    }

    pub(crate) fn deploy(&self, file: &str, app: &str, extra: &[&str]) -> Result<DeployResult> {
        let mut args = vec!["deploy", file, "--app", app];
        args.extend_from_slice(extra);
        self.cli(&args)
    }

    /// The body served at `host`, which must be 200.
    async fn body_at(&self, host: &str) -> Result<String> {
        let response = self.server.get_host(host, "/").await?;
        ensure!(response.status() == 200, "{host}: {}", response.status());
        Ok(response.text().await?)
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// The host part of a URL like `http://hello--abc.localhost:1234/`.
fn host_of(url: &str) -> &str {
    let rest = url.strip_prefix("http://").expect("http URL");
    rest.split([':', '/']).next().expect("a host")
}

/// The deploy, preview and rollback flow of the issue, step by step.
async fn deploy_rollback_and_preview(d: &Deployment) -> Result<()> {
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
    assert_eq!(d.body_at(host_of(&v1.preview_url)).await?, V1);
    assert_eq!(d.body_at(host_of(&v2.preview_url)).await?, V2);
    assert_eq!(d.body_at("hello.localhost").await?, V2);

    // A preview deploy does not go live.
    d.cli::<ReleaseInfo>(&["rollback", "hello"])?;
    let preview = d.deploy(guests::HELLO_V2, "hello", &["--preview"])?;
    assert!(!preview.live && !preview.uploaded);
    assert_eq!(d.body_at("hello.localhost").await?, V1);
    assert_eq!(d.body_at(host_of(&preview.preview_url)).await?, V2);
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
    let d = Deployment::embedded(&[])?;
    deploy_rollback_and_preview(&d).await?;
    // The blob is in the data directory under its content address.
    let v1 = d.deploy(guests::HELLO, "hello", &[])?;
    let blob = d._data_dir.path().join("blobs").join(&v1.key);
    assert_eq!(std::fs::read(blob)?, std::fs::read(guests::HELLO)?);
    Ok(())
}

#[tokio::test]
async fn deploy_rollback_and_preview_on_garage_and_postgres() -> Result<()> {
    let (d, _, _) = Deployment::garage_and_postgres().await?;
    deploy_rollback_and_preview(&d).await
}

/// A second server on the same Postgres and Garage serves a deploy made
/// through the first one at once, on the registry's change notifications.
#[tokio::test]
async fn changes_reach_every_server_sharing_the_registry() -> Result<()> {
    let (a, store, db) = Deployment::garage_and_postgres().await?;
    // B polls rarely, so it can only be this quick through notifications.
    let b = Deployment::on(&store, &db, &["--poll-interval", "60s"])?;
    a.deploy(guests::HELLO, "hello", &[])?;
    wait_for_body(&b, "hello.localhost", V1).await?;
    a.deploy(guests::HELLO_V2, "hello", &[])?;
    wait_for_body(&b, "hello.localhost", V2).await?;
    b.cli::<ReleaseInfo>(&["rollback", "hello"])?;
    wait_for_body(&a, "hello.localhost", V1).await?;
    Ok(())
}

/// Polls until `host` serves `body`; the feed is polled every 500 ms.
async fn wait_for_body(d: &Deployment, host: &str, body: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        let response = d.server.get_host(host, "/").await?;
        let status = response.status();
        let text = response.text().await?;
        if status == 200 && text == body {
            return Ok(());
        }
        ensure!(
            started.elapsed() < Duration::from_secs(3),
            "{host} still answers {status} {text:?} after 3 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A blob changed in the store after its deploy never runs: a server that
/// kept the code it compiled from the verified bytes serves that, and one
/// that must read the blob again answers 5xx.
#[tokio::test]
async fn a_tampered_blob_is_never_run() -> Result<()> {
    let d = Deployment::embedded(&[])?;
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
async fn garbage_and_unsupported_components_get_422() -> Result<()> {
    let d = Deployment::embedded(&[])?;
    let dir = tempfile::tempdir()?;
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"#!/bin/sh\necho not wasm\n")?;
    let stderr = d.cli_fails(&["deploy", junk.to_str().expect("utf-8"), "--app", "junk"])?;
    assert!(stderr.contains("not a WebAssembly file"), "{stderr}");
    assert!(stderr.contains("422"), "{stderr}");

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
    let d = Deployment::embedded(&[])?;
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
async fn admin_requests_without_the_token_get_401() -> Result<()> {
    let d = Deployment::embedded(&[])?;
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

#[tokio::test]
async fn deploys_over_the_size_limit_get_413() -> Result<()> {
    let d = Deployment::embedded(&["--max-deploy-size", "10KiB"])?;
    let stderr = d.cli_fails(&["deploy", guests::HELLO, "--app", "hello"])?;
    assert!(stderr.contains("10240-byte deploy limit"), "{stderr}");
    assert!(stderr.contains("413"), "{stderr}");
    Ok(())
}

/// SIGKILL in the middle of an upload leaves the registry as it was.
#[tokio::test]
async fn a_server_killed_during_an_upload_leaves_the_registry_consistent() -> Result<()> {
    let mut d = Deployment::embedded(&[])?;
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

fn walk(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(walk(&path)?);
        } else {
            files.push(path);
        }
    }
    Ok(files)
}

/// A stream over a channel's receiver.
fn tokio_stream<T>(mut rx: tokio::sync::mpsc::Receiver<T>) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn hostnames_and_the_default_app_route_requests() -> Result<()> {
    let d = Deployment::embedded(&["--default-app", "hello"])?;
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
    assert!(response.text().await?.contains("no app named `nope`"));
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
    let d = Deployment::embedded(&[])?;
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

/// Code compiled at deploy time is saved, so after a restart the first
/// request loads it instead of compiling.
#[tokio::test]
async fn a_restart_loads_precompiled_code() -> Result<()> {
    let d = Deployment::embedded(&[])?;
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
    let a = Deployment::on(&store, &db, &sharing)?;
    let b = Deployment::on(&store, &db, &sharing)?;
    let alone = Deployment::on(&store, &db, &[])?;

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
    let a = Deployment::on(&store, &db, &[])?;
    let b = Deployment::on(&store, &db, &[])?;
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
    let d = Deployment::embedded(&["--max-compiled", "1"])?;
    d.deploy(guests::HELLO, "a", &[])?;
    d.deploy(guests::HELLO_V2, "b", &[])?;
    for _ in 0..2 {
        assert_eq!(d.body_at("a.localhost").await?, V1);
        assert_eq!(d.body_at("b.localhost").await?, V2);
    }
    d.server.wait_for_log("evicted a compiled component")?;
    Ok(())
}

/// Config, key-value data and deployment facts, per app and durable: the
/// flow of the app-data issue against one registry backend.
async fn app_data(d: &Deployment) -> Result<()> {
    for app in ["count-a", "count-b"] {
        d.deploy(guests::COUNTER, app, &[])?;
    }
    d.deploy(guests::CONFIG, "conf", &[])?;
    d.deploy(guests::CONFIG, "other-conf", &[])?;
    let whoami = d.deploy(guests::WHOAMI, "who", &[])?;

    // 50 parallel increments sum exactly; another app sees none of them.
    let hits = futures::future::join_all((0..50).map(|_| {
        client()
            .post(d.server.url("/hits"))
            .header("host", "count-a.localhost")
            .send()
    }))
    .await;
    for hit in hits {
        let hit = hit?;
        ensure!(hit.status() == 200, "increment: {}", hit.text().await?);
    }
    let body = |host: &'static str, path: &'static str| async move {
        let response = d.server.get_host(host, path).await?;
        ensure!(
            response.status() == 200,
            "{host}{path}: {}",
            response.status()
        );
        anyhow::Ok(response.text().await?)
    };
    assert_eq!(body("count-a.localhost", "/hits").await?, "50\n");
    assert_eq!(body("count-b.localhost", "/hits").await?, "0\n");
    assert_eq!(body("count-b.localhost", "/").await?, "");

    // Config: a value and a secret; the other app sees neither.
    let set = |args: &[&str]| {
        let mut all = vec!["config", "set"];
        all.extend_from_slice(args);
        d.cli::<serde_json::Value>(&all)
    };
    set(&["conf", "greeting=Howdy"])?;
    let listed = set(&["conf", "api-token=s3cr3t-value", "--secret"])?;
    assert!(!listed.to_string().contains("s3cr3t-value"), "{listed}");
    assert_eq!(
        body("conf.localhost", "/").await?,
        "Howdy, world! The token has 12 characters.\n"
    );
    assert_eq!(
        body("other-conf.localhost", "/").await?,
        "Hello, world! There is no token.\n"
    );
    let listed: serde_json::Value = d.cli(&["config", "list", "conf"])?;
    assert_eq!(listed["config"][0]["key"], "api-token");
    assert_eq!(listed["config"][0]["secret"], true);
    assert!(listed["config"][0].get("value").is_none(), "{listed}");
    assert_eq!(listed["config"][1]["value"], "Howdy");
    let (status, stdout, _) = wharf_cli_env(&["config", "list", "conf"], &d.env)?;
    assert!(status.success());
    assert_eq!(stdout, "api-token (secret)\ngreeting=Howdy\n");
    d.cli::<serde_json::Value>(&["config", "unset", "conf", "greeting"])?;
    assert_eq!(
        body("conf.localhost", "/").await?,
        "Hello, world! The token has 12 characters.\n"
    );
    for bad in ["bad key=1", "..=1", ".=1"] {
        let error = d.cli_fails(&["config", "set", "conf", bad])?;
        assert!(error.contains("configuration keys are"), "{error}");
    }
    // `..` is refused before it can become a path segment of another request.
    let error = d.cli_fails(&["config", "unset", "conf", ".."])?;
    assert!(error.contains("configuration keys are"), "{error}");
    assert_eq!(
        d.server.get_host("conf.localhost", "/").await?.status(),
        200
    );
    let error = d.cli_fails(&["config", "unset", "conf", "missing"])?;
    assert!(error.contains("has no configuration key"), "{error}");
    assert!(
        !d.server.log().contains("s3cr3t-value"),
        "a secret reached the log"
    );

    // Deployment facts, live and through the preview URL.
    let facts: serde_json::Value = d
        .server
        .get_host("who.localhost", "/")
        .await?
        .json()
        .await?;
    assert_eq!(facts["app"], "who");
    assert_eq!(facts["digest"], whoami.digest.as_str());
    assert_eq!(facts["preview"], false);
    let preview = host_of(&whoami.preview_url);
    let facts: serde_json::Value = d.server.get_host(preview, "/").await?.json().await?;
    assert_eq!(facts["preview"], true);
    Ok(())
}

#[tokio::test]
async fn app_data_on_embedded_defaults_survives_a_restart() -> Result<()> {
    let d = Deployment::embedded(&[])?;
    app_data(&d).await?;
    let d = d.restart()?;
    assert_eq!(
        d.server
            .get_host("count-a.localhost", "/hits")
            .await?
            .text()
            .await?,
        "50\n"
    );
    let response = d.server.get_host("conf.localhost", "/").await?;
    assert_eq!(
        response.text().await?,
        "Hello, world! The token has 12 characters.\n"
    );
    Ok(())
}

#[tokio::test]
async fn app_data_on_garage_and_postgres_survives_a_restart() -> Result<()> {
    let (a, store, db) = Deployment::garage_and_postgres().await?;
    app_data(&a).await?;
    // A second server on the same database: increments through both sum
    // exactly, and a config change through one reaches the other.
    let b = Deployment::on(&store, &db, &["--poll-interval", "60s"])?;
    let post = |d: &Deployment| {
        client()
            .post(d.server.url("/hits"))
            .header("host", "count-a.localhost")
            .send()
    };
    let hits =
        futures::future::join_all((0..40).map(|i| post(if i % 2 == 0 { &a } else { &b }))).await;
    for hit in hits {
        ensure!(hit?.status() == 200, "increment failed");
    }
    let total = b
        .server
        .get_host("count-a.localhost", "/hits")
        .await?
        .text()
        .await?;
    assert_eq!(total, "90\n");
    // No drift under concurrency: "counters" + "hits" + "90" + 64.
    let settings: serde_json::Value = b.cli(&["settings", "count-a"])?;
    assert_eq!(settings["kv_usage"], 8 + 4 + 2 + 64);
    a.cli::<serde_json::Value>(&["config", "set", "conf", "greeting=Ahoy"])?;
    wait_for_body(
        &b,
        "conf.localhost",
        "Ahoy, world! The token has 12 characters.\n",
    )
    .await?;
    drop(b);
    drop(a);
    let d = Deployment::on(&store, &db, &[])?;
    assert_eq!(
        d.server
            .get_host("count-a.localhost", "/hits")
            .await?
            .text()
            .await?,
        "90\n"
    );
    Ok(())
}

/// Each app reaches only the origins allowed to it; a deploy says which
/// capabilities its component uses, and which are new.
#[tokio::test]
async fn outbound_allow_lists_and_capabilities_are_per_app() -> Result<()> {
    let upstream = crate::harness::Upstream::start().await?;
    let origin = format!("http://127.0.0.1:{}", upstream.port);
    // The server's own list is open to every app, beside each app's own.
    let shared = crate::harness::Upstream::start().await?;
    let shared_origin = format!("http://127.0.0.1:{}", shared.port);
    let d = Deployment::embedded(&["--allow-outbound", &shared_origin])?;
    let first = d.deploy(guests::HELLO, "fetch-a", &[])?;
    assert!(first.capabilities.is_empty(), "{:?}", first.capabilities);
    let a = d.deploy(guests::FETCH, "fetch-a", &["--allow-outbound", &origin])?;
    assert_eq!(a.capabilities, ["wasi:http/outgoing-handler"]);
    assert_eq!(a.added_capabilities, ["wasi:http/outgoing-handler"]);
    let again = d.deploy(guests::FETCH, "fetch-a", &[])?;
    assert!(
        again.added_capabilities.is_empty(),
        "{:?}",
        again.added_capabilities
    );
    d.deploy(guests::FETCH, "fetch-b", &[])?;
    let history: History = d.cli(&["history", "fetch-a"])?;
    assert!(
        history
            .deployments
            .iter()
            .any(|d| d.capabilities == ["wasi:http/outgoing-handler"])
    );

    let fetch = |host: &'static str| {
        client()
            .get(d.server.url("/"))
            .query(&[("url", format!("{origin}/x"))])
            .header("host", host)
            .send()
    };
    assert_eq!(
        fetch("fetch-a.localhost").await?.text().await?,
        "upstream saw GET /x\n"
    );
    let denied = fetch("fetch-b.localhost").await?;
    assert_eq!(denied.status(), 502);
    assert!(denied.text().await?.contains("HttpRequestDenied"));
    assert_eq!(upstream.hits(), 1);

    let settings: serde_json::Value =
        d.cli(&["settings", "fetch-b", "--allow-outbound", &origin])?;
    assert_eq!(settings["outbound"][0], origin.as_str());
    assert_eq!(fetch("fetch-b.localhost").await?.status(), 200);
    assert_eq!(upstream.hits(), 2);

    let error = d.cli_fails(&["settings", "fetch-b", "--allow-outbound", "example.com"])?;
    assert!(error.contains("it has no scheme"), "{error}");
    let error = d.cli_fails(&[
        "deploy",
        guests::FETCH,
        "--app",
        "fetch-c",
        "--allow-outbound",
        "ftp://x",
    ])?;
    assert!(error.contains("http or https"), "{error}");
    let error = d.cli_fails(&[
        "deploy",
        guests::FETCH,
        "--app",
        "fetch-a",
        "--preview",
        "--allow-outbound",
        &origin,
    ])?;
    assert!(error.contains("cannot come with preview"), "{error}");

    for host in ["fetch-a.localhost", "fetch-b.localhost"] {
        let response = client()
            .get(d.server.url("/"))
            .query(&[("url", format!("{shared_origin}/shared"))])
            .header("host", host)
            .send()
            .await?;
        assert_eq!(response.text().await?, "upstream saw GET /shared\n");
    }
    assert_eq!(shared.hits(), 2);
    Ok(())
}

/// A key-value write past the app's quota fails in the guest with an error
/// that says so, and nothing is written. Quotas are per app.
#[tokio::test]
async fn key_value_quota_is_enforced() -> Result<()> {
    let d = Deployment::embedded(&["--kv-quota", "100B"])?;
    d.deploy(guests::COUNTER, "small", &[])?;
    d.deploy(guests::COUNTER, "roomy", &[])?;
    let settings: serde_json::Value = d.cli(&["settings", "roomy", "--kv-quota", "1KiB"])?;
    assert_eq!(settings["kv_quota"], 1024);
    let post = |host: &'static str, path: &'static str| {
        client()
            .post(d.server.url(path))
            .header("host", host)
            .send()
    };
    const LONG: &str = "/a-key-long-enough-to-pass-the-quota";
    // "counters" + "a" + "1" + 64 bytes of overhead: 74 of 100.
    assert_eq!(post("small.localhost", "/a").await?.text().await?, "1\n");
    let long = post("small.localhost", LONG).await?;
    assert_eq!(long.status(), 500);
    d.server.wait_for_log("over its quota of 100")?;
    let listing = d
        .server
        .get_host("small.localhost", "/")
        .await?
        .text()
        .await?;
    assert_eq!(listing, "a=1\n");
    assert_eq!(post("roomy.localhost", LONG).await?.status(), 200);
    let settings: serde_json::Value = d.cli(&["settings", "small"])?;
    assert_eq!(settings["kv_usage"], 74);
    Ok(())
}
