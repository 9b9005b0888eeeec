//! The flags every listener's connections live by, for `wharf serve` and
//! `wharf run` alike.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use wharf_server::{ConnectionLimits, ForwardedHeader, TrustedProxies};

/// Limits on client connections. Each flag also reads an environment
/// variable.
#[derive(clap::Args, Clone, Debug)]
pub struct ConnectionArgs {
    /// On SIGINT or SIGTERM, how long in-flight requests may take to finish
    /// before they are cut.
    #[arg(long, env = "WHARF_GRACE_PERIOD", default_value = "30s", value_parser = humantime::parse_duration)]
    grace_period: Duration,

    /// On SIGINT or SIGTERM, how long the server stays up, answering, after
    /// its readiness checks turn to 503 and before it stops accepting
    /// connections. Set it to how long your load balancer takes to see a
    /// failed readiness check (interval times failures). A second signal
    /// ends it early.
    #[arg(long, env = "WHARF_DRAIN_DELAY", default_value = "0s", value_parser = humantime::parse_duration)]
    drain_delay: Duration,

    /// How long an HTTP/1 client has to send a whole request head, counted
    /// from when its connection starts waiting for one. A client sending
    /// its head too slowly, or a keep-alive connection idle for this long,
    /// is closed.
    #[arg(long, env = "WHARF_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    header_read_timeout: Duration,

    /// How long a connection (HTTP/1 keep-alive or HTTP/2) may stay open
    /// with no request in flight. It is closed between one and one and a
    /// half times this after its last request ends. An idle HTTP/1
    /// connection meets --header-read-timeout first.
    #[arg(long, env = "WHARF_IDLE_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    idle_timeout: Duration,

    /// How long the reader of a request body (a guest, a deploy) waits for
    /// the client's next bytes. Past it the request is given up: 408 if
    /// nothing was answered yet, so a stalled upload holds no instance.
    /// Keep it below --deadline, or the deadline ends a stalled request
    /// first (504).
    #[arg(long, env = "WHARF_BODY_IDLE_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    body_idle_timeout: Duration,

    /// Most connections open at once on each listener. Past it the
    /// listener accepts no more until one closes.
    #[arg(long, env = "WHARF_MAX_CONNECTIONS", default_value_t = 10_000)]
    max_connections: usize,

    /// Most connections open at once from one client address. Past it a
    /// new connection from that address is closed at once. Behind a proxy
    /// every client has the proxy's address: raise this there.
    #[arg(long, env = "WHARF_MAX_CONNECTIONS_PER_CLIENT", default_value_t = 256)]
    max_connections_per_client: usize,

    /// Most requests in flight at once from one client address, over all
    /// its connections. Past it a request gets 503 with `Retry-After`.
    /// Behind a proxy every client has the proxy's address: raise this
    /// there.
    #[arg(long, env = "WHARF_MAX_REQUESTS_PER_CLIENT", default_value_t = 256)]
    max_requests_per_client: usize,

    /// A proxy or load balancer in front of wharf, as an address or a
    /// network (`10.0.0.0/8`); repeat it, or separate them with commas.
    /// Only from these peers are `Forwarded`, `X-Forwarded-For` and
    /// `X-Forwarded-Proto` believed; from anyone else they are removed
    /// before the guest sees them. The guest gets the client's address in
    /// `wharf-client-ip`, and the access log records it.
    #[arg(long = "trusted-proxy", env = "WHARF_TRUSTED_PROXY", value_delimiter = ',', value_name = "CIDR", value_parser = parse_network)]
    trusted_proxies: Vec<ipnet::IpNet>,

    /// The header the --trusted-proxy proxies write the client's address
    /// into; the other one is never read, since proxies pass on whatever a
    /// client sent in it.
    #[arg(
        long,
        env = "WHARF_TRUSTED_PROXY_HEADER",
        value_enum,
        default_value = "x-forwarded-for"
    )]
    trusted_proxy_header: ProxyHeader,
}

/// `--trusted-proxy-header`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ProxyHeader {
    /// `X-Forwarded-For`, as most proxies and load balancers write it.
    XForwardedFor,
    /// `Forwarded` (RFC 7239).
    Forwarded,
}

/// A network, or one address as a network of one.
fn parse_network(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{text}` is neither an address nor a network like 10.0.0.0/8"))
}

impl ConnectionArgs {
    /// The `--trusted-proxy` networks.
    pub fn trusted_proxies(&self) -> Arc<TrustedProxies> {
        let header = match self.trusted_proxy_header {
            ProxyHeader::XForwardedFor => ForwardedHeader::XForwardedFor,
            ProxyHeader::Forwarded => ForwardedHeader::Forwarded,
        };
        Arc::new(TrustedProxies::new(self.trusted_proxies.clone(), header))
    }

    /// `--drain-delay`.
    pub fn drain_delay(&self) -> Duration {
        self.drain_delay
    }

    /// The limits as the listener takes them, for guests with
    /// `request_deadline`.
    pub fn limits(&self, request_deadline: Duration) -> anyhow::Result<ConnectionLimits> {
        if self.body_idle_timeout >= request_deadline {
            tracing::warn!(
                "--body-idle-timeout ({:?}) is not below --deadline ({request_deadline:?}): a \
                 stalled upload will meet the deadline first and get 504, not 408",
                self.body_idle_timeout
            );
        }
        for (flag, timeout) in [
            ("--header-read-timeout", self.header_read_timeout),
            ("--idle-timeout", self.idle_timeout),
            ("--body-idle-timeout", self.body_idle_timeout),
        ] {
            anyhow::ensure!(!timeout.is_zero(), "{flag} must be longer than zero");
        }
        // The cap is a semaphore's count, which has its own ceiling.
        let most = u32::MAX as usize >> 3;
        for (flag, count) in [
            ("--max-connections", self.max_connections),
            (
                "--max-connections-per-client",
                self.max_connections_per_client,
            ),
            ("--max-requests-per-client", self.max_requests_per_client),
        ] {
            anyhow::ensure!(
                (1..=most).contains(&count),
                "{flag} must be between 1 and {most}"
            );
        }
        Ok(ConnectionLimits {
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            body_idle_timeout: self.body_idle_timeout,
            max_connections: self.max_connections,
            max_connections_per_client: self.max_connections_per_client,
            max_requests_per_client: self.max_requests_per_client,
            grace_period: self.grace_period,
        })
    }
}

/// Where the public listener binds: `--listen` (or `WHARF_LISTEN`) if
/// given; else `0.0.0.0:$PORT` when the platform sets `PORT` (Cloud Run,
/// Heroku, Fly); else `127.0.0.1:8080`.
pub fn public_listen_address(flag: Option<SocketAddr>) -> anyhow::Result<SocketAddr> {
    if let Some(address) = flag {
        return Ok(address);
    }
    match std::env::var("PORT")
        .ok()
        .filter(|port| !port.trim().is_empty())
    {
        Some(port) => {
            let port: u16 = port.trim().parse().map_err(|_| {
                anyhow::anyhow!("PORT=`{port}` is not a port number; unset it or pass --listen")
            })?;
            tracing::info!("listening on every interface, port {port}, as PORT says");
            Ok(SocketAddr::from(([0, 0, 0, 0], port)))
        }
        None => Ok(SocketAddr::from(([127, 0, 0, 1], 8080))),
    }
}
