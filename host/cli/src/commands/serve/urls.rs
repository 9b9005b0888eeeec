//! The domain apps answer under, and how the URLs `wharf serve` gives out
//! are written.

use anyhow::Context;
use wharf_admin::PublicUrls;
use wharf_registry::Hostname;

/// The apps' domain and public URL. Each flag also reads an environment
/// variable.
#[derive(clap::Args)]
pub struct UrlArgs {
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
}

impl UrlArgs {
    /// The domain apps answer under: `--domain`, else the host of
    /// `--public-url`, else `localhost`.
    pub fn domain(&self) -> anyhow::Result<Hostname> {
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
    pub fn public_urls(&self, domain: &Hostname, port: u16) -> PublicUrls {
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
}
