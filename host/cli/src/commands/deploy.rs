//! `wharf deploy`: upload a component to a server.

use super::client::{Client, ClientArgs, block_on, print_json};
use anyhow::Context;
use bytes::Bytes;
use futures::StreamExt;
use std::io::IsTerminal;
use std::path::PathBuf;
use wharf_admin::api::DeployResult;
use wharf_admin::endpoints;
use wharf_registry::AppName;

/// The size of each piece of an upload, and of each progress-bar step.
const CHUNK: usize = 64 * 1024;

/// Upload a component (or a wasm32-wasip1 core module, which the server
/// adapts) and make it the app's live version, or only a preview.
#[derive(clap::Args)]
pub struct DeployCommand {
    /// The `.wasm` file.
    file: PathBuf,

    /// The app to deploy to; created on first deploy.
    #[arg(long)]
    app: AppName,

    /// Record it with its own preview URL without making it live.
    #[arg(long)]
    preview: bool,

    /// A note kept in the app's history.
    #[arg(long, short)]
    message: Option<String>,

    /// An origin the app may send outbound HTTP requests to, such as
    /// `https://api.example.com`; repeat it for more. Given, the list
    /// replaces the app's; see `wharf settings`.
    #[arg(long = "allow-outbound", value_name = "ORIGIN")]
    allow_outbound: Vec<String>,

    #[command(flatten)]
    client: ClientArgs,
}

impl DeployCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let client = Client::new(&self.client)?;
        let bytes = Bytes::from(
            std::fs::read(&self.file)
                .with_context(|| format!("cannot read {}", self.file.display()))?,
        );
        if !bytes.starts_with(b"\0asm") {
            anyhow::bail!(
                "{} is not a WebAssembly binary (it does not start with \\0asm); deploy a \
                 component (`cargo component build`) or a wasm32-wasip1 module",
                self.file.display()
            );
        }
        let size = bytes.len() as u64;
        let bar = (!self.client.json && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(size);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "uploading {bar:30} {bytes}/{total_bytes} ({bytes_per_sec})",
                )
                .expect("valid template"),
            );
            bar
        });
        let chunks: Vec<Bytes> = (0..bytes.len())
            .step_by(CHUNK)
            .map(|start| bytes.slice(start..(start + CHUNK).min(bytes.len())))
            .collect();
        let progress = bar.clone();
        let stream = futures::stream::iter(chunks).inspect(move |chunk| {
            if let Some(bar) = &progress {
                bar.inc(chunk.len() as u64);
            }
        });
        let mut query = vec![("preview", self.preview.to_string())];
        if let Some(message) = &self.message {
            query.push(("message", message.clone()));
        }
        for origin in &self.allow_outbound {
            query.push(("allow_outbound", origin.clone()));
        }
        let request = client
            .request(
                reqwest::Method::POST,
                endpoints::DEPLOYMENTS,
                &[self.app.as_str()],
            )?
            .query(&query)
            .header(reqwest::header::CONTENT_TYPE, "application/wasm")
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(
                stream.map(Ok::<_, std::convert::Infallible>),
            ));
        let result: anyhow::Result<DeployResult> = block_on(client.send(request))?;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let result = result.with_context(|| format!("deploying {} failed", self.file.display()))?;
        if self.client.json {
            return print_json(&result);
        }
        let stored = if result.uploaded {
            "uploaded"
        } else {
            "already stored, upload skipped"
        };
        let adapted = if result.adapted {
            ", adapted from a core module"
        } else {
            ""
        };
        println!(
            "deployed {} {} ({} bytes, {stored}{adapted})",
            result.app, result.digest, result.size
        );
        if result.live {
            println!("  live     {}", result.url);
        } else {
            println!(
                "  preview only; `wharf promote {} {}` puts it live",
                result.app, result.digest
            );
        }
        println!("  preview  {}", result.preview_url);
        if let Some(link) = &result.preview_link {
            println!("  open     {link}");
            println!("           (once, within an hour; previews of this app need a token)");
        }
        if !result.capabilities.is_empty() {
            println!("  uses     {}", result.capabilities.join(", "));
        }
        if !result.added_capabilities.is_empty() {
            println!(
                "  new: this version imports {}, which the previous one did not",
                result.added_capabilities.join(", ")
            );
        }
        Ok(())
    }
}
