//! `wharf rollback`: put an earlier deployment live again.

use super::client::{Client, ClientArgs, block_on, print_json};
use wharf_admin::api::{ReleaseInfo, RollbackRequest};
use wharf_admin::endpoints;
use wharf_registry::AppName;

/// Put the app's previous live deployment live again, or the one named
/// with --to. Repeated rollbacks walk further back.
#[derive(clap::Args)]
pub struct RollbackCommand {
    /// The app.
    app: AppName,

    /// The digest to go back to (`sha256-<hex>`, see `wharf history`).
    #[arg(long)]
    to: Option<String>,

    #[command(flatten)]
    client: ClientArgs,
}

impl RollbackCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let client = Client::new(&self.client)?;
        let request = client
            .request(
                reqwest::Method::POST,
                endpoints::ROLLBACK,
                &[self.app.as_str()],
            )?
            .json(&RollbackRequest {
                to: self.to.clone(),
            });
        let release: ReleaseInfo = block_on(client.send(request))??;
        print_release(&release, self.client.json)
    }
}

/// Prints what a pointer move did.
pub fn print_release(release: &ReleaseInfo, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(release);
    }
    println!(
        "{} now serves {} ({})",
        release.app, release.deployment.digest, release.action
    );
    println!("  live     {}", release.url);
    Ok(())
}
