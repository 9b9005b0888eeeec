//! `wharf hostnames`: route custom hostnames to an app.

use super::client::{Client, ClientArgs, block_on, print_json};
use wharf_admin::api::{AppInfo, HostnamesRequest};
use wharf_admin::endpoints;
use wharf_registry::AppName;

/// Set the custom hostnames routed to an app, replacing the current list.
/// With none given, the app's custom hostnames are removed.
#[derive(clap::Args)]
pub struct HostnamesCommand {
    /// The app.
    app: AppName,

    /// Hostnames such as `shop.example.com`.
    hostnames: Vec<String>,

    #[command(flatten)]
    client: ClientArgs,
}

impl HostnamesCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let client = Client::new(&self.client)?;
        let request = client
            .request(
                reqwest::Method::PUT,
                endpoints::HOSTNAMES,
                &[self.app.as_str()],
            )?
            .json(&HostnamesRequest {
                hostnames: self.hostnames.clone(),
            });
        let app: AppInfo = block_on(client.send(request))??;
        if self.client.json {
            return print_json(&app);
        }
        if app.hostnames.is_empty() {
            println!("{} has no custom hostnames", app.name);
        } else {
            println!("{} answers at {}", app.name, app.hostnames.join(", "));
        }
        Ok(())
    }
}
