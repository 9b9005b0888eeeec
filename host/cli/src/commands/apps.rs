//! `wharf apps`: list apps.

use super::client::{Client, ClientArgs, block_on, print_json, short_digest};
use wharf_admin::api::AppList;
use wharf_admin::endpoints;

/// List every app with what it serves, and its request rate over the
/// last minute and share of 5xx answers over the last five minutes on the
/// server asked.
#[derive(clap::Args)]
pub struct AppsCommand {
    #[command(flatten)]
    client: ClientArgs,
}

impl AppsCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let client = Client::new(&self.client)?;
        let list: AppList =
            block_on(client.send(client.request(reqwest::Method::GET, endpoints::APPS, &[])?))??;
        if self.client.json {
            return print_json(&list);
        }
        if list.apps.is_empty() {
            println!("no apps yet; deploy one with `wharf deploy FILE --app NAME`");
            return Ok(());
        }
        println!(
            "{:<24} {:<14} {:>9} {:>7} URL",
            "APP", "LIVE", "REQ/S 1M", "5XX 5M"
        );
        for app in &list.apps {
            let live = app
                .live
                .as_ref()
                .map_or("(preview only)", |d| short_digest(&d.digest));
            let mut urls = vec![app.url.clone()];
            urls.extend(app.hostnames.iter().cloned());
            let stats = app.stats.clone().unwrap_or_default();
            println!(
                "{:<24} {:<14} {:>9.2} {:>6.1}% {}",
                app.name,
                live,
                stats.rate_1m,
                stats.error_rate * 100.0,
                urls.join(" ")
            );
        }
        Ok(())
    }
}
