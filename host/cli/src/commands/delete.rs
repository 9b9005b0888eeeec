//! `wharf delete`: remove an app.

use super::client::{Client, ClientArgs, block_on, print_json};
use wharf_admin::endpoints;
use wharf_registry::AppName;

/// Delete an app with its history and hostnames. Its blobs stay in the
/// store until `wharf gc` finds them unreferenced.
#[derive(clap::Args)]
pub struct DeleteCommand {
    /// The app.
    app: AppName,

    #[command(flatten)]
    client: ClientArgs,
}

impl DeleteCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let client = Client::new(&self.client)?;
        let request = client.request(
            reqwest::Method::DELETE,
            endpoints::APP,
            &[self.app.as_str()],
        )?;
        let _: serde_json::Value = block_on(client.send(request))??;
        if self.client.json {
            return print_json(&serde_json::json!({ "app": self.app.as_str(), "deleted": true }));
        }
        println!("deleted {}", self.app);
        Ok(())
    }
}
