//! `wharf serve` through the real binary and its admin API, on the embedded
//! defaults (SQLite and local files) and on Garage plus Postgres started by
//! scripts/with-test-services.sh, by feature:
//!
//! - `deploys.rs`: deploy, preview, roll back, hostnames, delete, gc;
//! - `retention.rs`: pruning old deployments, and what gc reclaims;
//! - `integrity.rs`: tampered blobs, the admin token, crashes mid-upload;
//! - `cluster.rs`: servers sharing a registry, restarts, compiled code;
//! - `app_data.rs`: config, key-value data, deployment facts;
//! - `outbound.rs`: outbound allow-lists and capabilities;
//! - `quotas.rs`: key-value quotas;
//! - `app_limits.rs`: an app's own deadline, CPU time, memory, body and
//!   instance limits;
//! - `observe.rs`: metrics through Prometheus, health, access and guest logs;
//! - `tls.rs`: the TLS listener, with curl, h2load and certificates on disk;
//! - `load_balancer.rs`: three servers behind haproxy, restarted and killed
//!   under load;
//! - `tokens.rs`: scoped tokens and the audit trail;
//! - `previews.rs`: preview access, preview links, disabled deployments.
//!
//! [`AdminSession`] is the fixture they share: a server and the CLI
//! environment that reaches it.

mod app_data;
mod app_limits;
mod cluster;
mod deploys;
mod integrity;
mod load_balancer;
mod observe;
mod outbound;
mod previews;
mod quotas;
mod retention;
mod tls;
mod tokens;

use crate::harness::{Wharf, client, wharf_cli_env};
use anyhow::{Context, Result, bail, ensure};
use serde::de::DeserializeOwned;
use std::path::Path;
use std::time::{Duration, Instant};
use wharf_admin::api::{AppList, DeployResult, GcResult, History, ReleaseInfo};
use wharf_test_artifacts as guests;
use wharf_test_services::{Garage, Postgres};

const V1: &str = "Hello from wharf!\n";
const V2: &str = "Hello from wharf, v2!\n";

/// A server and the CLI environment that reaches its admin API.
pub(crate) struct AdminSession {
    pub(crate) server: Wharf,
    env: Vec<(&'static str, String)>,
    _data_dir: tempfile::TempDir,
}

impl AdminSession {
    /// `wharf serve` with no state flags: SQLite and blobs in the data dir.
    pub(crate) fn embedded(args: &[&str]) -> Result<Self> {
        let data_dir = tempfile::tempdir()?;
        Self::embedded_in(data_dir, args)
    }

    /// [`AdminSession::embedded`] with `env` set for the server.
    pub(crate) fn embedded_with_env(args: &[&str], env: &[(&str, String)]) -> Result<Self> {
        Self::embedded_in_with(tempfile::tempdir()?, args, env)
    }

    fn embedded_in(data_dir: tempfile::TempDir, args: &[&str]) -> Result<Self> {
        Self::embedded_in_with(data_dir, args, &[])
    }

    fn embedded_in_with(
        data_dir: tempfile::TempDir,
        args: &[&str],
        env: &[(&str, String)],
    ) -> Result<Self> {
        let server = Wharf::serve(data_dir.path(), args, env)?;
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
    pub(crate) fn on(store: &str, db: &str, args: &[&str]) -> Result<Self> {
        Self::on_endpoint(store, db, args, &Garage::from_env().endpoint)
    }

    /// [`AdminSession::on`], reaching the S3 API at `s3_endpoint`.
    pub(crate) fn on_endpoint(
        store: &str,
        db: &str,
        args: &[&str],
        s3_endpoint: &str,
    ) -> Result<Self> {
        let token = format!("test-token-{:016x}", rand_u64());
        Self::on_with(store, db, args, s3_endpoint, token)
    }

    /// [`AdminSession::on`] with the admin token `token`, as the servers of
    /// one cluster share it.
    pub(crate) fn on_with_token(store: &str, db: &str, args: &[&str], token: &str) -> Result<Self> {
        Self::on_with(
            store,
            db,
            args,
            &Garage::from_env().endpoint,
            token.to_owned(),
        )
    }

    fn on_with(
        store: &str,
        db: &str,
        args: &[&str],
        s3_endpoint: &str,
        token: String,
    ) -> Result<Self> {
        let data_dir = tempfile::tempdir()?;
        let mut server_env = Garage::from_env().aws_env();
        for (name, value) in &mut server_env {
            if *name == "AWS_ENDPOINT" {
                *value = s3_endpoint.to_owned();
            }
        }
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
    pub(crate) fn restart(self) -> Result<Self> {
        let Self {
            mut server,
            _data_dir,
            ..
        } = self;
        server.kill()?;
        Self::embedded_in(_data_dir, &[])
    }

    /// The server's data directory.
    pub(crate) fn data_dir(&self) -> &Path {
        self._data_dir.path()
    }

    /// The admin token the CLI environment carries.
    pub(crate) fn token(&self) -> &str {
        self.env
            .iter()
            .find_map(|(name, value)| (*name == "WHARF_TOKEN").then_some(value.as_str()))
            .expect("the session carries a token")
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
    pub(crate) fn cli_fails(&self, args: &[&str]) -> Result<String> {
        let (status, _, stderr) = wharf_cli_env(args, &self.env)?;
        ensure!(!status.success(), "wharf {args:?} succeeded");
        Ok(stderr)
    }

    pub(crate) fn deploy(&self, file: &str, app: &str, extra: &[&str]) -> Result<DeployResult> {
        let mut args = vec!["deploy", file, "--app", app];
        args.extend_from_slice(extra);
        self.cli(&args)
    }

    /// The body served at the preview `host` to a request carrying the
    /// admin token, which must be 200: previews of new apps need a token.
    pub(crate) async fn preview_body_at(&self, host: &str) -> Result<String> {
        let response = self.preview_get(host).await?;
        ensure!(response.status() == 200, "{host}: {}", response.status());
        Ok(response.text().await?)
    }

    /// GETs `/` at the preview `host` with the admin token in
    /// `wharf-preview-token`.
    pub(crate) async fn preview_get(&self, host: &str) -> Result<reqwest::Response> {
        Ok(client()
            .get(self.server.url("/"))
            .header(
                reqwest::header::HOST,
                format!("{host}:{}", self.server.port()),
            )
            .header("wharf-preview-token", self.token())
            .send()
            .await?)
    }

    /// The body served at `host`, which must be 200.
    pub(crate) async fn body_at(&self, host: &str) -> Result<String> {
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

/// Polls until `host` serves `body`; the feed is polled every 500 ms.
async fn wait_for_body(d: &AdminSession, host: &str, body: &str) -> Result<()> {
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

pub(crate) fn walk(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
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
