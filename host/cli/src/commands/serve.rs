//! `wharf serve`: host many apps from the blob store and the registry, with
//! the admin API on a second listener.

use super::access_log_args::AccessLogArgs;
use super::connection_args::{ConnectionArgs, public_listen_address};
use super::data_dir::{default_data_dir, token_file};
use super::runtime_args::RuntimeArgs;
use anyhow::Context;
use bytesize::ByteSize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wharf_admin::{AdminApi, AdminConfig, AdminToken, ClusterConfig, PublicUrls, TokenSource};
use wharf_registry::{AppName, Hostname, Registry};
use wharf_runtime::Runtime;
use wharf_server::heartbeat::{NodeIdentity, node_id, start_heartbeat};
use wharf_server::observe::{AccessLog, Health, Metrics, MetricsEndpoint};
use wharf_server::{
    AppRouter, CacheLimits, CertificateFiles, Certificates, ComponentCache, Listener, RouterConfig,
    stop_after_drain_delay,
};
use wharf_store::{BlobStore, ClusterSecret, S3Settings, SharedArtifacts, StoreOptions};

/// Serve every deployed app: `<app>.<domain>` goes to the app's live
/// deployment. With no flags, state lives in the data directory: blobs in
/// `blobs/`, the registry in `registry.db` (SQLite), the admin token in
/// `admin-token`, and precompiled code in `compiled/`.
#[derive(clap::Args)]
pub struct ServeCommand {
    /// Address apps are served on. Port 0 picks a free port; the address is
    /// printed as `listening on http://IP:PORT` [default: 0.0.0.0:$PORT
    /// when PORT is set, else 127.0.0.1:8080].
    #[arg(long, env = "WHARF_LISTEN")]
    listen: Option<SocketAddr>,

    /// Address apps are also served on over TLS (HTTP/2 and HTTP/1.1 by
    /// ALPN), printed as `listening on https://IP:PORT`. Needs --tls-cert
    /// and --tls-key.
    #[arg(long, env = "WHARF_TLS_LISTEN", requires = "tls_cert")]
    tls_listen: Option<SocketAddr>,

    /// A PEM certificate chain for the TLS listener; repeat it (with its
    /// --tls-key) for several, chosen by SNI, the first for a client that
    /// names no host it covers. Reloaded on SIGHUP and when the files
    /// change.
    #[arg(
        long,
        env = "WHARF_TLS_CERT",
        value_name = "FILE",
        value_delimiter = ',',
        requires = "tls_listen"
    )]
    tls_cert: Vec<PathBuf>,

    /// The PEM private key of each --tls-cert, in the same order.
    #[arg(
        long,
        env = "WHARF_TLS_KEY",
        value_name = "FILE",
        value_delimiter = ',',
        requires = "tls_listen"
    )]
    tls_key: Vec<PathBuf>,

    /// Address of the admin API, printed as `admin listening on
    /// http://IP:PORT`. Keep it on loopback or a private network.
    #[arg(long, env = "WHARF_ADMIN_LISTEN", default_value = "127.0.0.1:8081")]
    admin_listen: SocketAddr,

    /// Address of the metrics listener, printed as `metrics listening on
    /// http://IP:PORT`: `GET /metrics` in Prometheus's format, `/livez` and
    /// `/readyz`. No token: keep it on loopback or a private network. `off`
    /// turns it off.
    #[arg(
        long,
        env = "WHARF_METRICS_LISTEN",
        default_value = "127.0.0.1:8082",
        value_name = "ADDR|off"
    )]
    metrics_listen: MetricsListen,

    /// The admin URL this server advertises to the other servers sharing
    /// its registry (they ask it for its logs) and in `wharf nodes`
    /// [default: http://ADMIN-LISTEN-ADDRESS].
    #[arg(long, env = "WHARF_ADVERTISE_ADMIN_URL", value_name = "URL")]
    advertise_admin_url: Option<url::Url>,

    /// How often this server writes its heartbeat to the registry.
    #[arg(long, env = "WHARF_HEARTBEAT_INTERVAL", default_value = "5s", value_parser = humantime::parse_duration)]
    heartbeat_interval: Duration,

    /// How long a server may miss heartbeats before it is shown as gone
    /// (and its logs are no longer asked for). Servers silent for an hour
    /// are forgotten.
    #[arg(long, env = "WHARF_NODE_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    node_timeout: Duration,

    /// Where state lives [default: $XDG_DATA_HOME/wharf or ~/.local/share/wharf].
    #[arg(long, env = "WHARF_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// Blob store URL: file:///PATH, memory://, s3://BUCKET/PREFIX,
    /// gs://BUCKET/PREFIX or az://CONTAINER/PREFIX [default: DATA_DIR/blobs].
    #[arg(long, env = "WHARF_STORE")]
    store: Option<String>,

    /// Registry database URL: sqlite://PATH or postgres://USER@HOST/DB
    /// [default: sqlite://DATA_DIR/registry.db].
    #[arg(long, env = "WHARF_DB")]
    db: Option<String>,

    /// Apps answer at `<app>.<domain>`; previews at `<app>--<digest>.<domain>`
    /// [default: the host of --public-url, else localhost].
    #[arg(long, env = "WHARF_DOMAIN")]
    domain: Option<String>,

    /// The URL users reach the apps' domain at, behind a proxy or a load
    /// balancer (`https://apps.example.com`): every URL wharf prints or
    /// returns is written with its scheme, host and port, as
    /// `https://<app>.apps.example.com/` [default: http://DOMAIN:PORT].
    #[arg(long, env = "WHARF_PUBLIC_URL", value_name = "URL")]
    public_url: Option<url::Url>,

    /// The app that answers requests whose Host matches no app or hostname.
    /// Without it they get 404.
    #[arg(long, env = "WHARF_DEFAULT_APP")]
    default_app: Option<AppName>,

    /// S3 endpoint for s3:// stores that are not AWS (Garage, MinIO, R2).
    /// Falls back to AWS_ENDPOINT.
    #[arg(long, env = "WHARF_S3_ENDPOINT")]
    s3_endpoint: Option<String>,

    /// S3 region. Falls back to AWS_REGION.
    #[arg(long, env = "WHARF_S3_REGION")]
    s3_region: Option<String>,

    /// Largest component a deploy accepts; larger uploads get 413.
    #[arg(long, env = "WHARF_MAX_DEPLOY_SIZE", default_value = "50MiB")]
    max_deploy_size: ByteSize,

    /// Most components kept compiled in memory; past it the least recently
    /// used are dropped (and reloaded from DATA_DIR/compiled when needed).
    #[arg(long, env = "WHARF_MAX_COMPILED", default_value_t = CacheLimits::default().max_components)]
    max_compiled: usize,

    /// Most compiled code kept in memory.
    #[arg(long, env = "WHARF_MAX_COMPILED_SIZE", default_value = "2GiB")]
    max_compiled_size: ByteSize,

    /// A file holding the secret (at least 32 bytes; `openssl rand -hex 32`)
    /// that the servers of one cluster share to seal compiled code in the
    /// blob store under `compiled/`. With it, each component is compiled
    /// once for the cluster and other servers load that code after checking
    /// its seal; without it, each server compiles for itself.
    #[arg(long, env = "WHARF_ARTIFACT_SECRET_FILE", value_name = "FILE")]
    artifact_secret_file: Option<PathBuf>,

    /// How often to check the registry for changes made by other servers.
    #[arg(long, env = "WHARF_POLL_INTERVAL", default_value = "500ms", value_parser = humantime::parse_duration)]
    poll_interval: Duration,

    #[command(flatten)]
    connections: ConnectionArgs,

    #[command(flatten)]
    access_log: AccessLogArgs,

    #[command(flatten)]
    runtime: RuntimeArgs,
}

impl ServeCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let domain = self.domain()?;
        anyhow::ensure!(
            !self.poll_interval.is_zero(),
            "--poll-interval must be longer than zero"
        );
        let data_dir = self.data_dir.clone().unwrap_or_else(default_data_dir);
        create_private_dir(&data_dir)?;
        let data_dir = std::path::absolute(&data_dir)
            .with_context(|| format!("cannot resolve {}", data_dir.display()))?;
        anyhow::ensure!(self.max_compiled > 0, "--max-compiled must be at least 1");
        anyhow::ensure!(
            !self.heartbeat_interval.is_zero() && self.heartbeat_interval < self.node_timeout,
            "--heartbeat-interval must be longer than zero and shorter than --node-timeout"
        );
        let runtime = Arc::new(Runtime::new(self.runtime.config()?)?);
        let (token, source) = AdminToken::load_or_create(
            std::env::var("WHARF_ADMIN_TOKEN").ok(),
            &token_file(&data_dir),
        )?;

        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        rt.block_on(self.serve(data_dir, domain, runtime, token, source))?;
        // Guests cut at the end of the grace period are abandoned, not awaited.
        rt.shutdown_timeout(Duration::from_millis(100));
        Ok(())
    }

    async fn serve(
        self,
        data_dir: PathBuf,
        domain: Hostname,
        runtime: Arc<Runtime>,
        token: AdminToken,
        token_source: TokenSource,
    ) -> anyhow::Result<()> {
        // Before anything registers a metric, or it would go nowhere.
        let metrics = match self.metrics_listen {
            MetricsListen::Off => None,
            MetricsListen::On(_) => Some(Metrics::install(runtime.engine_tag())?),
        };
        let (store, registry) = self.open_state(&data_dir).await?;

        let listen = public_listen_address(self.listen)?;
        let public = Listener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let admin_listener = Listener::bind(self.admin_listen)
            .await
            .with_context(|| format!("cannot listen on {} (--admin-listen)", self.admin_listen))?;
        let public_addr = public.local_addr()?;
        let admin_addr = admin_listener.local_addr()?;
        let tls = self.tls_listener().await?;
        let metrics_listener = match self.metrics_listen {
            MetricsListen::Off => None,
            MetricsListen::On(addr) => Some(
                Listener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (--metrics-listen)"))?,
            ),
        };

        let limits = CacheLimits {
            max_components: self.max_compiled,
            max_code_bytes: usize::try_from(self.max_compiled_size.as_u64())?,
        };
        let shared = self.shared_artifacts(&store)?;
        let compiled_dir = data_dir.join("compiled");
        let components = ComponentCache::new(
            runtime.clone(),
            store.clone(),
            Some(&compiled_dir),
            shared,
            limits,
        );
        let router_config = RouterConfig {
            domain: domain.to_string(),
            default_app: self.default_app.clone(),
            keyvalue_limits: self.runtime.keyvalue_limits(),
        };
        let health = Arc::new(Health::with_registry(self.poll_interval));
        let router = Arc::new(
            AppRouter::new(
                runtime.clone(),
                components,
                registry.clone(),
                router_config,
                health.clone(),
            )
            .await?,
        );
        let follower = router.follow_changes(self.poll_interval);
        let node = NodeIdentity {
            id: node_id(&data_dir).context("cannot read or write this server's node id")?,
            public_url: format!("http://{public_addr}"),
            admin_url: self.admin_url(admin_addr),
            started_at: std::time::SystemTime::now(),
        };
        let heartbeat = start_heartbeat(
            registry.clone(),
            node.clone(),
            &router,
            self.heartbeat_interval,
        );
        let admin = Arc::new(AdminApi::new(
            AdminConfig {
                token,
                urls: self.public_urls(&domain, public_addr.port()),
                max_deploy_bytes: self.max_deploy_size.as_u64(),
                cluster: ClusterConfig {
                    node_id: node.id.clone(),
                    node_timeout: self.node_timeout,
                },
            },
            registry.clone(),
            store,
            router.clone(),
        ));

        eprintln!("listening on http://{public_addr}");
        let (tls_serving, certificates) = match tls {
            Some((listener, certificates)) => {
                eprintln!("listening on https://{}", listener.local_addr()?);
                (Some(listener), Some(certificates))
            }
            None => (None, None),
        };
        let _reloads = reload_certificates(certificates);
        eprintln!("admin listening on http://{admin_addr}");
        let metrics_serving = match (metrics_listener, metrics) {
            (Some(listener), Some(metrics)) => {
                eprintln!("metrics listening on http://{}", listener.local_addr()?);
                router.report_at_scrape(&metrics);
                let _upkeep = metrics.keep_up();
                Some((listener, MetricsEndpoint::new(metrics, health.clone())))
            }
            _ => None,
        };
        match token_source {
            TokenSource::Environment => eprintln!("admin token from WHARF_ADMIN_TOKEN"),
            TokenSource::File | TokenSource::Generated => {
                eprintln!("admin token in {}", token_file(&data_dir).display())
            }
        }

        let (stop, stopped) = tokio::sync::watch::channel(false);
        let drain_delay = self.connections.drain_delay();
        tokio::spawn(async move {
            stop_after_drain_delay(&health, drain_delay).await;
            let _ = stop.send(true);
        });
        let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let limits = self.connections.limits(runtime.config().request_deadline)?;
        let metrics_served = async {
            if let Some((listener, endpoint)) = metrics_serving {
                let access = AccessLog {
                    enabled: false,
                    ..self.access_log.access_log("metrics")
                };
                let until = until_stopped(stopped.clone());
                let proxies = self.connections.trusted_proxies();
                listener
                    .serve(Arc::new(endpoint), until, limits, access, proxies)
                    .await;
            }
        };
        let tls_served = async {
            if let Some(listener) = tls_serving {
                let until = until_stopped(stopped.clone());
                let access = self.access_log.access_log("public");
                let proxies = self.connections.trusted_proxies();
                listener
                    .serve(router.clone(), until, limits, access, proxies)
                    .await;
            }
        };
        tokio::join!(
            tls_served,
            public.serve(
                router.clone(),
                until_stopped(stopped.clone()),
                limits,
                self.access_log.access_log("public"),
                self.connections.trusted_proxies(),
            ),
            admin_listener.serve(
                admin,
                until_stopped(stopped.clone()),
                limits,
                self.access_log.access_log("admin"),
                self.connections.trusted_proxies(),
            ),
            metrics_served,
        );
        follower.abort();
        // Stopped and awaited, so that no heartbeat lands after the row is
        // removed.
        heartbeat.abort();
        let _ = heartbeat.await;
        // Stopping on purpose: the others need not wait to see it gone.
        if let Err(e) = registry.remove_node(&node.id).await {
            tracing::warn!("cannot remove this server from the registry's nodes: {e}");
        }
        Ok(())
    }

    /// The TLS listener and its certificates, if `--tls-listen` asks for
    /// one. Certificates that do not load stop the start, naming the file.
    async fn tls_listener(&self) -> anyhow::Result<Option<(Listener, Arc<Certificates>)>> {
        let Some(addr) = self.tls_listen else {
            return Ok(None);
        };
        anyhow::ensure!(
            self.tls_cert.len() == self.tls_key.len(),
            "give one --tls-key for each --tls-cert, in the same order ({} certificates, {} keys)",
            self.tls_cert.len(),
            self.tls_key.len()
        );
        let files = self
            .tls_cert
            .iter()
            .zip(&self.tls_key)
            .map(|(cert, key)| CertificateFiles {
                cert: cert.clone(),
                key: key.clone(),
            })
            .collect();
        let certificates = Certificates::load(files)?;
        let listener = Listener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (--tls-listen)"))?
            .with_tls(&certificates);
        Ok(Some((listener, certificates)))
    }

    /// The domain apps answer under: `--domain`, else the host of
    /// `--public-url`, else `localhost`.
    fn domain(&self) -> anyhow::Result<Hostname> {
        let from_url = self.public_url.as_ref().map(|url| {
            anyhow::ensure!(
                matches!(url.scheme(), "http" | "https")
                    && url.path() == "/"
                    && url.query().is_none()
                    && url.username().is_empty(),
                "--public-url {url} must be http or https with a host and an optional port, \
                 nothing else (apps answer at <app>.HOST)"
            );
            match url.host() {
                Some(url::Host::Domain(host)) => Ok(host.to_owned()),
                _ => anyhow::bail!("--public-url {url} must name a DNS host, not an address"),
            }
        });
        let domain = match (&self.domain, from_url) {
            (Some(domain), Some(Ok(host))) if !domain.eq_ignore_ascii_case(&host) => {
                tracing::warn!(
                    "--domain {domain} differs from the host of --public-url ({host}): the URLs \
                     wharf gives out reach apps only if a proxy rewrites the host"
                );
                domain.clone()
            }
            (_, Some(Err(e))) => return Err(e),
            (Some(domain), _) => domain.clone(),
            (None, Some(host)) => host?,
            (None, None) => "localhost".to_owned(),
        };
        domain.parse().with_context(|| format!("--domain {domain}"))
    }

    /// How URLs are written: as `--public-url` says, else as the public
    /// listener is reached directly, on `port`.
    fn public_urls(&self, domain: &Hostname, port: u16) -> PublicUrls {
        match &self.public_url {
            Some(url) => PublicUrls {
                scheme: url.scheme().to_owned(),
                domain: url.host_str().unwrap_or(domain.as_str()).to_owned(),
                port: url.port(),
            },
            None => PublicUrls {
                scheme: "http".to_owned(),
                domain: domain.to_string(),
                port: (port != 80).then_some(port),
            },
        }
    }

    /// The admin URL to advertise: `--advertise-admin-url`, else the bound
    /// address (with a warning when that is no address others can reach).
    fn admin_url(&self, bound: SocketAddr) -> String {
        if let Some(url) = &self.advertise_admin_url {
            return url.as_str().trim_end_matches('/').to_owned();
        }
        if bound.ip().is_unspecified() {
            tracing::warn!(
                "the admin API listens on {bound}, which other servers cannot reach by that \
                 address; set --advertise-admin-url so that they can ask this one for its logs"
            );
        }
        format!("http://{bound}")
    }

    /// The blob store and the registry: `--store` and `--db`, or files in
    /// `data_dir`.
    async fn open_state(&self, data_dir: &Path) -> anyhow::Result<(Arc<BlobStore>, Registry)> {
        let store_url = self
            .store
            .clone()
            .unwrap_or_else(|| data_dir.join("blobs").display().to_string());
        let options = StoreOptions {
            s3: S3Settings {
                endpoint: self.s3_endpoint.clone(),
                region: self.s3_region.clone(),
                credentials: None,
            },
            cache_dir: Some(data_dir.join("cache")),
        };
        let store = Arc::new(BlobStore::open(&store_url, &options)?);
        let db_url = match &self.db {
            Some(url) => url.clone(),
            None => {
                let file = data_dir.join("registry.db");
                create_private_file(&file)?;
                format!("sqlite://{}", file.display())
            }
        };
        let registry = Registry::open(&db_url).await?;
        tracing::info!(store = store.url(), registry = ?registry.database(), "state opened");
        Ok((store, registry))
    }

    /// Compiled code shared through `store`, when `--artifact-secret-file`
    /// gives the cluster's secret.
    fn shared_artifacts(&self, store: &BlobStore) -> anyhow::Result<Option<SharedArtifacts>> {
        let Some(path) = &self.artifact_secret_file else {
            return Ok(None);
        };
        let secret = std::fs::read(path)
            .with_context(|| format!("cannot read --artifact-secret-file {}", path.display()))?;
        let secret = ClusterSecret::new(&secret)
            .map_err(|e| anyhow::anyhow!("--artifact-secret-file {}: {e}", path.display()))?;
        Ok(Some(SharedArtifacts::new(store, secret)))
    }
}

/// How often the certificate files are checked for changes.
const CERTIFICATE_CHECK: Duration = Duration::from_secs(2);

/// Reloads `certificates` on SIGHUP and when their files change; new
/// connections get what was loaded, open ones keep theirs. A reload that
/// fails keeps the certificates in use and says why. Without certificates
/// a SIGHUP is logged and otherwise ignored, so that it never stops the
/// server.
fn reload_certificates(certificates: Option<Arc<Certificates>>) -> tokio::task::JoinHandle<()> {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => Some(hangups),
            Err(e) => {
                tracing::warn!(
                    "cannot listen for SIGHUP, so certificates reload only when their files change: {e}"
                );
                None
            }
        };
        let mut checks = tokio::time::interval(CERTIFICATE_CHECK);
        loop {
            let why = tokio::select! {
                Some(()) = async { hangups.as_mut()?.recv().await } => "SIGHUP",
                _ = checks.tick() => {
                    if !certificates.as_ref().is_some_and(|c| c.changed_on_disk()) {
                        continue;
                    }
                    "their files changed"
                }
            };
            let Some(certificates) = &certificates else {
                tracing::info!("{why}: there are no TLS certificates to reload");
                continue;
            };
            match certificates.reload() {
                Ok(()) => tracing::info!("reloaded the TLS certificates: {why}"),
                Err(e) => tracing::warn!("kept the TLS certificates in use, since {why} but {e}"),
            }
        }
    })
}

/// `--metrics-listen`: an address, or `off`.
#[derive(Clone, Copy, Debug)]
enum MetricsListen {
    On(SocketAddr),
    Off,
}

impl std::str::FromStr for MetricsListen {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "off" {
            return Ok(Self::Off);
        }
        text.parse().map(Self::On).map_err(|e| {
            format!("`{text}` is neither an address like 127.0.0.1:8082 nor `off`: {e}")
        })
    }
}

/// Creates the data directory readable only by its owner: it holds the
/// admin token.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    }
    let mode = std::fs::metadata(dir)
        .with_context(|| format!("cannot read the data directory {}", dir.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            "the data directory {} can be read by other users (mode {:o}); it holds the \
             admin token and the registry with apps' secrets: run `chmod 700` on it",
            dir.display(),
            mode & 0o777
        );
    }
    Ok(())
}

/// Creates the SQLite registry file at `path` readable by this user only
/// (it holds apps' secrets), before SQLite creates it with the umask's
/// mode; SQLite gives its journal files the same mode. An existing file
/// others can read is warned about.
fn create_private_file(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mode = std::fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "{} can be read by other users (mode {:o}); it holds apps' secrets: \
                     run `chmod 600` on it",
                    path.display(),
                    mode & 0o777
                );
            }
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}
