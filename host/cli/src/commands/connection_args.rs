//! The flags every listener's connections live by, for `wharf serve` and
//! `wharf run` alike.

use std::time::Duration;
use wharf_server::ConnectionLimits;

/// Limits on client connections. Each flag also reads an environment
/// variable.
#[derive(clap::Args, Clone, Debug)]
pub struct ConnectionArgs {
    /// On SIGINT or SIGTERM, how long in-flight requests may take to finish
    /// before they are cut.
    #[arg(long, env = "WHARF_GRACE_PERIOD", default_value = "30s", value_parser = humantime::parse_duration)]
    grace_period: Duration,

    /// How long an HTTP/1 client has to send a whole request head, counted
    /// from when its connection starts waiting for one. A client sending
    /// its head too slowly, or a keep-alive connection idle for this long,
    /// is closed.
    #[arg(long, env = "WHARF_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    header_read_timeout: Duration,
}

impl ConnectionArgs {
    /// The limits as the listener takes them.
    pub fn limits(&self) -> anyhow::Result<ConnectionLimits> {
        anyhow::ensure!(
            !self.header_read_timeout.is_zero(),
            "--header-read-timeout must be longer than zero"
        );
        Ok(ConnectionLimits {
            header_read_timeout: self.header_read_timeout,
            grace_period: self.grace_period,
        })
    }
}
