//! `wharf run`: serve one component from disk.

use super::access_log_args::AccessLogArgs;
use super::connection_args::{ConnectionArgs, public_listen_address};
use super::runtime_args::RuntimeArgs;
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wharf_runtime::{
    AppContext, DeploymentFacts, InstanceShare, MemoryKeyValue, RequestLimits, Runtime,
};
use wharf_server::observe::Health;
use wharf_server::{CacheLimits, ComponentCache, Listener, SingleApp, stop_after_drain_delay};
use wharf_store::{BlobStore, StoreOptions};

/// Serve one wasi:http component from a file, answering every request with a
/// fresh instance of it.
#[derive(clap::Args)]
pub struct RunCommand {
    /// The component to serve: a `.wasm` file exporting
    /// wasi:http/incoming-handler, or a wasm32-wasip1 core module, which is
    /// adapted into a component first.
    file: PathBuf,

    /// Address to listen on. Port 0 picks a free port; the address bound is
    /// printed as `listening on http://IP:PORT` [default: 0.0.0.0:$PORT
    /// when PORT is set, else 127.0.0.1:8080].
    #[arg(long, env = "WHARF_LISTEN")]
    listen: Option<SocketAddr>,

    #[command(flatten)]
    connections: ConnectionArgs,

    #[command(flatten)]
    access_log: AccessLogArgs,

    /// A configuration value the app reads through wasi:config, as
    /// `KEY=VALUE`; repeat it for more.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = super::config::parse_assignment)]
    config: Vec<(String, String)>,

    /// The app name the component sees through wharf:app/deployment
    /// [default: the file's name].
    #[arg(long)]
    app: Option<String>,

    /// Where compiled code is kept between runs, so that running the same
    /// component again maps its code from disk instead of compiling it
    /// [default: $XDG_CACHE_HOME/wharf/compiled, or ~/.cache/wharf/compiled].
    #[arg(long, env = "WHARF_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    #[command(flatten)]
    runtime: RuntimeArgs,
}

impl RunCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        rt.block_on(self.serve())?;
        // Guests cut at the end of the grace period, and a background
        // recompile still running, are abandoned, not awaited.
        rt.shutdown_timeout(Duration::from_millis(100));
        Ok(())
    }

    /// Loads the component through the same chain as `wharf serve` (the
    /// disk cache, else a quick compile with Cranelift following in the
    /// background), then serves it until a shutdown signal.
    async fn serve(self) -> anyhow::Result<()> {
        let bytes = std::fs::read(&self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?;
        let cannot_serve = || format!("cannot serve {}", self.file.display());
        let prepared = wharf_runtime::prepare(bytes).with_context(cannot_serve)?;
        // Refuse what wharf cannot serve before spending seconds compiling it.
        wharf_runtime::check_bytes(&prepared.bytes).with_context(cannot_serve)?;

        let runtime = Arc::new(Runtime::new(self.runtime.config()?)?);
        let limits = self.connections.limits(runtime.config().request_deadline)?;
        let cache_dir = self.cache_dir.clone().unwrap_or_else(default_cache_dir);
        let store = Arc::new(BlobStore::open("memory://", &StoreOptions::default())?);
        let size = prepared.bytes.len();
        let key = store.put(prepared.bytes.into()).await?.key;
        let components = ComponentCache::new(
            runtime.clone(),
            store,
            Some(&cache_dir),
            None,
            CacheLimits::default(),
        );
        if size >= LARGE_COMPONENT {
            eprintln!(
                "loading {} ({:.1} MB): compiled code from the cache, or a quick compile",
                self.file.display(),
                size as f64 / 1e6
            );
        }
        let started = Instant::now();
        let component = components
            .get(&key)
            .await
            .map_err(anyhow::Error::new)
            .with_context(cannot_serve)?;
        let how = if component.is_provisional() {
            "compiled quickly; optimized code follows from the background, at low priority"
        } else if components.compiles() == 0 {
            "loaded its compiled code from the cache"
        } else {
            "compiled"
        };
        tracing::info!(
            digest = %component.digest(),
            file = %self.file.display(),
            adapted = prepared.adapted,
            compiler = %component.compiler(),
            elapsed = ?started.elapsed(),
            "{how}"
        );
        let app = AppContext {
            facts: DeploymentFacts::new(
                self.app.clone().unwrap_or_else(|| {
                    self.file.file_stem().map_or_else(
                        || "app".to_owned(),
                        |stem| stem.to_string_lossy().into_owned(),
                    )
                }),
                component.digest(),
                std::time::SystemTime::now(),
                false,
            ),
            config: Arc::new(self.config.iter().cloned().collect()),
            outbound: runtime.config().outbound.clone(),
            // `wharf run` keeps key-value data in memory, for as long as it runs.
            keyvalue: Arc::new(MemoryKeyValue::default()),
            keyvalue_limits: self.runtime.keyvalue_limits(),
            instance_share: InstanceShare::new(self.runtime.single_app_share()),
            limits: RequestLimits::of(runtime.config()),
            guest_log: None,
        };
        let health = Arc::new(Health::standalone());
        let dispatch = Arc::new(SingleApp::new(
            runtime,
            components,
            key,
            Arc::new(app),
            health.clone(),
        ));

        let listen = public_listen_address(self.listen)?;
        let listener = Listener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        eprintln!("listening on http://{}", listener.local_addr()?);
        let stop = stop_after_drain_delay(&health, self.connections.drain_delay());
        let access = self.access_log.access_log("public");
        let proxies = self.connections.trusted_proxies();
        listener
            .serve(dispatch, stop, limits, access, proxies)
            .await;
        Ok(())
    }
}

/// Components at least this large get a line saying that they load, since
/// compiling one can take a second or more.
const LARGE_COMPONENT: usize = 4 << 20;

/// `$XDG_CACHE_HOME/wharf/compiled`, else `~/.cache/wharf/compiled`, else
/// `./.wharf/compiled`.
fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|home| !home.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        });
    match base {
        Some(base) => base.join("wharf/compiled"),
        None => PathBuf::from(".wharf/compiled"),
    }
}
