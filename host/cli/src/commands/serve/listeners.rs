//! The listeners of `wharf serve`: bound together at start, announced on
//! stderr, and served until the server stops.

use super::super::access_log_args::AccessLogArgs;
use super::tls::TlsArgs;
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use wharf_admin::AdminApi;
use wharf_server::observe::{AccessLog, MetricsEndpoint};
use wharf_server::{AppRouter, Certificates, ConnectionLimits, Dispatch, Listener, TrustedProxies};

/// `--metrics-listen`: an address, or `off`.
#[derive(Clone, Copy, Debug)]
pub enum MetricsListen {
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

/// Every listener of a server, bound.
pub struct Listeners {
    public: Listener,
    tls: Option<(Listener, Arc<Certificates>)>,
    admin: Listener,
    metrics: Option<Listener>,
}

/// What the listeners serve, and how.
pub struct Served<'a> {
    pub apps: Arc<AppRouter>,
    pub admin: Arc<AdminApi>,
    /// Set when the metrics listener is on.
    pub metrics: Option<MetricsEndpoint>,
    pub limits: ConnectionLimits,
    pub access_log: &'a AccessLogArgs,
    pub proxies: Arc<TrustedProxies>,
}

impl Listeners {
    /// Binds the public, TLS (if asked for), admin and metrics (unless
    /// off) listeners; the first that cannot bind stops the start.
    pub async fn bind(
        public: SocketAddr,
        tls: &TlsArgs,
        admin: SocketAddr,
        metrics: MetricsListen,
    ) -> anyhow::Result<Self> {
        let public_listener = Listener::bind(public)
            .await
            .with_context(|| format!("cannot listen on {public}"))?;
        let admin_listener = Listener::bind(admin)
            .await
            .with_context(|| format!("cannot listen on {admin} (--admin-listen)"))?;
        let tls = tls.bind().await?;
        let metrics = match metrics {
            MetricsListen::Off => None,
            MetricsListen::On(addr) => Some(
                Listener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (--metrics-listen)"))?,
            ),
        };
        Ok(Self {
            public: public_listener,
            tls,
            admin: admin_listener,
            metrics,
        })
    }

    /// The public listener's address.
    pub fn public_addr(&self) -> std::io::Result<SocketAddr> {
        self.public.local_addr()
    }

    /// The admin listener's address.
    pub fn admin_addr(&self) -> std::io::Result<SocketAddr> {
        self.admin.local_addr()
    }

    /// The TLS listener's certificates, if there is one.
    pub fn certificates(&self) -> Option<Arc<Certificates>> {
        self.tls
            .as_ref()
            .map(|(_, certificates)| certificates.clone())
    }

    /// Prints where each listener listens, one line each on stderr, in the
    /// order scripts read them: public, TLS, admin, metrics.
    pub fn announce(&self) -> std::io::Result<()> {
        eprintln!("listening on http://{}", self.public.local_addr()?);
        if let Some((listener, _)) = &self.tls {
            eprintln!("listening on https://{}", listener.local_addr()?);
        }
        eprintln!("admin listening on http://{}", self.admin.local_addr()?);
        if let Some(listener) = &self.metrics {
            eprintln!("metrics listening on http://{}", listener.local_addr()?);
        }
        Ok(())
    }

    /// Serves `served` on every listener until `stopped` turns true, then
    /// drains them all.
    pub async fn serve(self, served: Served<'_>, stopped: &watch::Receiver<bool>) {
        let serving = Serving {
            stopped: stopped.clone(),
            limits: served.limits,
            proxies: served.proxies.clone(),
        };
        let access = |name| served.access_log.access_log(name);
        let tls = async {
            if let Some((listener, _)) = self.tls {
                let apps = served.apps.clone();
                serving.run(listener, apps, access("public")).await;
            }
        };
        let metrics = async {
            if let (Some(listener), Some(endpoint)) = (self.metrics, served.metrics) {
                let quiet = AccessLog {
                    enabled: false,
                    ..access("metrics")
                };
                serving.run(listener, Arc::new(endpoint), quiet).await;
            }
        };
        tokio::join!(
            tls,
            serving.run(self.public, served.apps.clone(), access("public")),
            serving.run(self.admin, served.admin.clone(), access("admin")),
            metrics,
        );
    }
}

/// What every listener is served by.
struct Serving {
    stopped: watch::Receiver<bool>,
    limits: ConnectionLimits,
    proxies: Arc<TrustedProxies>,
}

impl Serving {
    /// Serves `dispatch` on `listener` until the stop signal turns true.
    async fn run<D: Dispatch>(&self, listener: Listener, dispatch: Arc<D>, access: AccessLog) {
        let mut stopped = self.stopped.clone();
        let until = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let proxies = self.proxies.clone();
        listener
            .serve(dispatch, until, self.limits, access, proxies)
            .await;
    }
}
