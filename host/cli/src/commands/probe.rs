//! `wharf probe`: a readiness check that needs nothing but the binary, for
//! container images that have no curl.

use super::client::block_on;
use super::serve::MetricsListen;
use anyhow::{Context, bail};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Check that a server is ready: exit 0 when the URL answers 2xx, 1
/// otherwise, saying why. A container's health check runs it.
#[derive(clap::Args)]
pub struct ProbeCommand {
    /// What to ask. Without it, `/readyz` on the metrics listener that
    /// `WHARF_METRICS_LISTEN` names (on loopback when it binds every
    /// address), else `http://127.0.0.1:8082/readyz`.
    url: Option<String>,

    /// How long to wait for the answer.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

impl ProbeCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let url = match self.url {
            Some(url) => url,
            None => default_url(std::env::var("WHARF_METRICS_LISTEN").ok().as_deref())?,
        };
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let status = block_on(async { http.get(&url).send().await.map(|r| r.status()) })?
            .with_context(|| format!("{url} did not answer"))?;
        if !status.is_success() {
            bail!("{url} answered {status}");
        }
        Ok(())
    }
}

/// The readiness URL of the metrics listener `metrics_listen` describes.
fn default_url(metrics_listen: Option<&str>) -> anyhow::Result<String> {
    let address = match metrics_listen {
        None => SocketAddr::from((Ipv4Addr::LOCALHOST, 8082)),
        Some(text) => match text.parse::<MetricsListen>().map_err(anyhow::Error::msg)? {
            MetricsListen::On(address) => address,
            MetricsListen::Off => bail!(
                "WHARF_METRICS_LISTEN is off, so there is no /readyz to ask: \
                 give a URL, such as http://127.0.0.1:8080/.well-known/wharf/ready"
            ),
        },
    };
    let ip = match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Ok(format!(
        "http://{}/readyz",
        SocketAddr::new(ip, address.port())
    ))
}

#[cfg(test)]
mod tests {
    use super::default_url;

    #[test]
    fn default_url_follows_the_metrics_listener() -> anyhow::Result<()> {
        assert_eq!(default_url(None)?, "http://127.0.0.1:8082/readyz");
        assert_eq!(
            default_url(Some("0.0.0.0:9100"))?,
            "http://127.0.0.1:9100/readyz"
        );
        assert_eq!(default_url(Some("[::]:9100"))?, "http://[::1]:9100/readyz");
        assert_eq!(
            default_url(Some("10.0.0.7:8082"))?,
            "http://10.0.0.7:8082/readyz"
        );
        let off = default_url(Some("off"))
            .expect_err("off has no URL")
            .to_string();
        assert!(off.contains("give a URL"), "{off}");
        assert!(default_url(Some("nonsense")).is_err());
        Ok(())
    }
}
