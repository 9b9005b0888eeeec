//! `wharf run`: serve one component from disk.

use super::runtime_args::RuntimeArgs;
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wharf_runtime::{AppContext, DeploymentFacts, MemoryKeyValue, Runtime};
use wharf_server::{Listener, SingleApp, shutdown_signal};

/// Serve one wasi:http component from a file, answering every request with a
/// fresh instance of it.
#[derive(clap::Args)]
pub struct RunCommand {
    /// The component to serve: a `.wasm` file exporting
    /// wasi:http/incoming-handler, or a wasm32-wasip1 core module, which is
    /// adapted into a component first.
    file: PathBuf,

    /// Address to listen on. Port 0 picks a free port; the address bound is
    /// printed as `listening on http://IP:PORT`.
    #[arg(long, env = "WHARF_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// On SIGINT or SIGTERM, how long in-flight requests may take to finish
    /// before they are cut.
    #[arg(long, env = "WHARF_GRACE_PERIOD", default_value = "30s", value_parser = humantime::parse_duration)]
    grace_period: Duration,

    /// A configuration value the app reads through wasi:config, as
    /// `KEY=VALUE`; repeat it for more.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = super::config::parse_assignment)]
    config: Vec<(String, String)>,

    /// The app name the component sees through wharf:app/deployment
    /// [default: the file's name].
    #[arg(long)]
    app: Option<String>,

    #[command(flatten)]
    runtime: RuntimeArgs,
}

impl RunCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let bytes = std::fs::read(&self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?;
        let runtime = Runtime::new(self.runtime.config()?)?;
        let cannot_serve = || format!("cannot serve {}", self.file.display());
        let prepared = wharf_runtime::prepare(bytes).with_context(cannot_serve)?;
        let component = runtime
            .compile(&prepared.bytes)
            .with_context(cannot_serve)?;
        tracing::info!(
            digest = %component.digest(),
            file = %self.file.display(),
            adapted = prepared.adapted,
            "compiled"
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
        };
        let dispatch = Arc::new(SingleApp::new(Arc::new(runtime), component, Arc::new(app)));

        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let listener = Listener::bind(self.listen)
                .await
                .with_context(|| format!("cannot listen on {}", self.listen))?;
            eprintln!("listening on http://{}", listener.local_addr()?);
            listener
                .serve(dispatch, shutdown_signal(), self.grace_period)
                .await;
            anyhow::Ok(())
        })?;
        // Guests cut at the end of the grace period are abandoned, not awaited.
        rt.shutdown_timeout(Duration::from_millis(100));
        Ok(())
    }
}
