//! `wharf serve`: host many apps from the blob store and the registry, with
//! the admin API on a second listener:
//!
//! - `state.rs`: the data directory, the blob store and the registry;
//! - `listeners.rs`: the public, TLS, admin and metrics listeners;
//! - `tls.rs`: the TLS listener's certificates, and reloading them;
//! - `urls.rs`: the apps' domain and the URLs given out;
//! - `cluster.rs`: this server among the others: heartbeats and its URL.

mod cluster;
mod listeners;
mod state;
mod tls;
mod urls;

use super::access_log_args::AccessLogArgs;
use super::connection_args::{ConnectionArgs, public_listen_address};
use super::data_dir::token_file;
use super::runtime_args::RuntimeArgs;
use bytesize::ByteSize;
use cluster::ClusterArgs;
pub use listeners::MetricsListen;
use listeners::{Listeners, Served};
use state::StateArgs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tls::{TlsArgs, reload_certificates};
use urls::UrlArgs;
use wharf_admin::{AdminApi, AdminConfig, AdminToken, ClusterConfig, TokenSource};
use wharf_registry::{AppName, Hostname, Registry};
use wharf_runtime::Runtime;
use wharf_server::heartbeat::start_heartbeat;
use wharf_server::observe::{Health, Metrics, MetricsEndpoint};
use wharf_server::{AppRouter, CacheLimits, ComponentCache, RouterConfig, stop_after_drain_delay};
use wharf_store::BlobStore;

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

    #[command(flatten)]
    tls: TlsArgs,

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

    #[command(flatten)]
    cluster: ClusterArgs,

    #[command(flatten)]
    state: StateArgs,

    #[command(flatten)]
    urls: UrlArgs,

    /// The app that answers requests whose Host matches no app or hostname.
    /// Without it they get 404.
    #[arg(long, env = "WHARF_DEFAULT_APP")]
    default_app: Option<AppName>,

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
        let domain = self.urls.domain()?;
        anyhow::ensure!(
            !self.poll_interval.is_zero(),
            "--poll-interval must be longer than zero"
        );
        let data_dir = self.state.data_dir()?;
        anyhow::ensure!(self.max_compiled > 0, "--max-compiled must be at least 1");
        self.cluster.check()?;
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
        let (store, registry) = self.state.open(&data_dir).await?;
        let listen = public_listen_address(self.listen)?;
        let listeners =
            Listeners::bind(listen, &self.tls, self.admin_listen, self.metrics_listen).await?;
        let (public_addr, admin_addr) = (listeners.public_addr()?, listeners.admin_addr()?);

        let health = Arc::new(Health::with_registry(self.poll_interval));
        let router = self
            .router(
                &runtime,
                &store,
                &registry,
                &data_dir,
                RouterConfig {
                    domain: domain.to_string(),
                    default_app: self.default_app.clone(),
                    keyvalue_limits: self.runtime.keyvalue_limits(),
                    previews: token.preview_keys(),
                },
                &health,
            )
            .await?;
        let follower = router.follow_changes(self.poll_interval);
        let node = self.cluster.identity(&data_dir, public_addr, admin_addr)?;
        let heartbeat = start_heartbeat(
            registry.clone(),
            node.clone(),
            &router,
            self.cluster.heartbeat_interval,
        );
        let admin = Arc::new(AdminApi::new(
            AdminConfig {
                token,
                urls: self.urls.public_urls(&domain, public_addr.port()),
                max_deploy_bytes: self.max_deploy_size.as_u64(),
                cluster: ClusterConfig {
                    node_id: node.id.clone(),
                    node_timeout: self.cluster.node_timeout,
                },
            },
            registry.clone(),
            store,
            router.clone(),
        ));

        listeners.announce()?;
        announce_token(token_source, &data_dir);
        let _reloads = reload_certificates(listeners.certificates());
        let metrics = metrics.map(|metrics| {
            router.report_at_scrape(&metrics);
            let _upkeep = metrics.keep_up();
            MetricsEndpoint::new(metrics, health.clone())
        });

        let (stop, stopped) = tokio::sync::watch::channel(false);
        let drain_delay = self.connections.drain_delay();
        tokio::spawn(async move {
            stop_after_drain_delay(&health, drain_delay).await;
            let _ = stop.send(true);
        });
        let served = Served {
            apps: router,
            admin,
            metrics,
            limits: self.connections.limits(runtime.config().request_deadline)?,
            access_log: &self.access_log,
            proxies: self.connections.trusted_proxies(),
        };
        listeners.serve(served, &stopped).await;

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

    /// The router over `registry`, set up by `config`, its compiled code
    /// cached in memory, in `DATA_DIR/compiled`, and (with the cluster's
    /// secret) in `store`.
    async fn router(
        &self,
        runtime: &Arc<Runtime>,
        store: &Arc<BlobStore>,
        registry: &Registry,
        data_dir: &Path,
        config: RouterConfig,
        health: &Arc<Health>,
    ) -> anyhow::Result<Arc<AppRouter>> {
        let limits = CacheLimits {
            max_components: self.max_compiled,
            max_code_bytes: usize::try_from(self.max_compiled_size.as_u64())?,
        };
        let components = ComponentCache::new(
            runtime.clone(),
            store.clone(),
            Some(&data_dir.join("compiled")),
            self.state.shared_artifacts(store)?,
            limits,
        );
        let router = AppRouter::new(
            runtime.clone(),
            components,
            registry.clone(),
            config,
            health.clone(),
        )
        .await?;
        Ok(Arc::new(router))
    }
}

/// Prints where the admin token comes from.
fn announce_token(source: TokenSource, data_dir: &Path) {
    match source {
        TokenSource::Environment => eprintln!("admin token from WHARF_ADMIN_TOKEN"),
        TokenSource::File | TokenSource::Generated => {
            eprintln!("admin token in {}", token_file(data_dir).display())
        }
    }
}
