//! `wharf promote`: put a preview live.

use super::client::{Client, ClientArgs, block_on};
use super::rollback::print_release;
use wharf_admin::api::{PromoteRequest, ReleaseInfo};
use wharf_admin::endpoints;
use wharf_registry::AppName;

/// Put a deployment of the app, typically a preview, live.
#[derive(clap::Args)]
pub struct PromoteCommand {
    /// The app.
    app: AppName,

    /// The deployment's digest (`sha256-<hex>`).
    digest: String,

    #[command(flatten)]
    client: ClientArgs,
}

impl PromoteCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let client = Client::new(&self.client)?;
        let request = client
            .request(
                reqwest::Method::POST,
                endpoints::PROMOTE,
                &[self.app.as_str()],
            )?
            .json(&PromoteRequest {
                digest: self.digest.clone(),
            });
        let release: ReleaseInfo = block_on(client.send(request))??;
        print_release(&release, self.client.json)
    }
}
