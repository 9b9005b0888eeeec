//! `wharf history`: an app's releases and deployments.

use super::client::{Client, ClientArgs, block_on, print_json, short_digest};
use wharf_admin::api::History;
use wharf_admin::endpoints;
use wharf_registry::AppName;

/// Show an app's releases (every change of what is live) and deployments.
#[derive(clap::Args)]
pub struct HistoryCommand {
    /// The app.
    app: AppName,

    #[command(flatten)]
    client: ClientArgs,
}

impl HistoryCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let client = Client::new(&self.client)?;
        let request = client.request(
            reqwest::Method::GET,
            endpoints::HISTORY,
            &[self.app.as_str()],
        )?;
        let history: History = block_on(client.send(request))??;
        if self.client.json {
            return print_json(&history);
        }
        println!("releases of {}, newest first:", history.app);
        for r in &history.releases {
            println!(
                "  {:>6}  {:<9} {}  {}  by {}",
                r.seq,
                r.action,
                short_digest(&r.deployment.digest),
                r.created_at,
                r.token_name
            );
        }
        println!("deployments, newest first (* = live, x = disabled, - = pruned, p = pinned):");
        for d in &history.deployments {
            let live = match (d.live, d.disabled, d.pruned, d.pinned) {
                (true, ..) => "*",
                (false, true, ..) => "x",
                (false, false, true, _) => "-",
                (false, false, false, true) => "p",
                (false, false, false, false) => " ",
            };
            println!(
                "  {live} {}  {:>9} B  {}  {}  {}",
                d.digest, d.size, d.created_at, d.preview_url, d.message
            );
        }
        Ok(())
    }
}
