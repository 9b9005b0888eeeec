//! The admin API client every management subcommand shares.

use super::data_dir::{default_data_dir, token_file};
use anyhow::{Context, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wharf_admin::api::ErrorBody;
use wharf_admin::endpoints::Endpoint;

/// How to reach a server's admin API.
#[derive(clap::Args, Clone, Debug)]
pub struct ClientArgs {
    /// The server's admin API (what `wharf serve` printed as `admin listening
    /// on`); an address without a scheme, such as `127.0.0.1:8081`, means
    /// HTTP.
    #[arg(long, env = "WHARF_SERVER", default_value = "http://127.0.0.1:8081")]
    pub server: String,

    /// The admin token. Without it, the token file `wharf serve` writes in
    /// its default data directory is used, if it exists.
    #[arg(long, env = "WHARF_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Print the server's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A connection to one server's admin API.
pub struct Client {
    http: reqwest::Client,
    base: url::Url,
    token: String,
}

impl Client {
    pub fn new(args: &ClientArgs) -> anyhow::Result<Self> {
        // `127.0.0.1:8081`, as `wharf serve` prints the address, means HTTP.
        let server = if args.server.contains("://") {
            args.server.clone()
        } else {
            format!("http://{}", args.server)
        };
        let mut base = url::Url::parse(&server).with_context(|| {
            format!(
                "--server `{}` is not a URL like http://127.0.0.1:8081",
                args.server
            )
        })?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let token = match &args.token {
            Some(token) => token.trim().to_owned(),
            None => {
                let file = token_file(&default_data_dir());
                std::fs::read_to_string(&file)
                    .map(|t| t.trim().to_owned())
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "no admin token: pass --token or set WHARF_TOKEN (`wharf serve` \
                             prints where it keeps its token; {} was not readable)",
                            file.display()
                        )
                    })?
            }
        };
        let http = reqwest::Client::builder()
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Self { http, base, token })
    }

    /// A request to `endpoint` with `params` in its path, each
    /// percent-encoded as one segment.
    pub fn request(
        &self,
        method: reqwest::Method,
        endpoint: Endpoint,
        params: &[&str],
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        let segments = endpoint.segments(params).with_context(|| {
            format!("{} takes another number of parameters", endpoint.template())
        })?;
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| anyhow::anyhow!("--server `{}` cannot have a path", self.base))?
            .pop_if_empty()
            .extend(segments);
        Ok(self.http.request(method, url).bearer_auth(&self.token))
    }

    /// Sends `request` and returns the answer to read as it streams,
    /// turning an error answer into an error carrying the server's message.
    pub async fn open(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<reqwest::Response> {
        let response = request.send().await.map_err(|e| {
            // One line: the cause that says what happened, not the chain.
            let mut cause: &dyn std::error::Error = &e;
            while let Some(source) = cause.source() {
                cause = source;
            }
            anyhow::anyhow!(
                "cannot reach {}: is `wharf serve` running there? ({cause})",
                self.base
            )
        })?;
        let status = response.status();
        if !status.is_success() {
            let body = response
                .bytes()
                .await
                .context("the server's answer was cut off")?;
            let message = serde_json::from_slice::<ErrorBody>(&body)
                .map(|e| e.error.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
            bail!("{message} (HTTP {status})");
        }
        Ok(response)
    }

    /// Sends `request` and decodes the answer, turning an error answer into
    /// an error carrying the server's message.
    pub async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<T> {
        let body = self
            .open(request)
            .await?
            .bytes()
            .await
            .context("the server's answer was cut off")?;
        if body.is_empty() {
            return serde_json::from_slice(b"null").context("the server sent no answer");
        }
        serde_json::from_slice(&body).context("the server's answer is not the expected JSON")
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// The first 12 hex digits of a `sha256-<hex>` digest, for tables.
pub fn short_digest(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256-").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

/// Runs `future` on a small runtime: client commands do one thing at a time.
pub fn block_on<F: Future>(future: F) -> anyhow::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(future))
}
