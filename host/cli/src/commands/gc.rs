//! `wharf gc`: remove unreferenced blobs.

use super::client::{Client, ClientArgs, block_on, print_json};
use std::time::Duration;
use wharf_admin::api::{GcRequest, GcResult};
use wharf_admin::endpoints;

/// Delete blobs no deployment refers to and that are older than the grace
/// period.
#[derive(clap::Args)]
pub struct GcCommand {
    /// Keep unreferenced blobs younger than this (uploads still being deployed).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    grace: Duration,

    #[command(flatten)]
    client: ClientArgs,
}

impl GcCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let client = Client::new(&self.client)?;
        let request = client
            .request(reqwest::Method::POST, endpoints::GC, &[])?
            .json(&GcRequest {
                grace_seconds: Some(self.grace.as_secs()),
            });
        let result: GcResult = block_on(client.send(request))??;
        if self.client.json {
            return print_json(&result);
        }
        for key in &result.deleted {
            println!("deleted {key}");
        }
        println!(
            "{} deleted, {} referenced, {} unreferenced but younger than {}",
            result.deleted.len(),
            result.referenced,
            result.too_young,
            humantime::format_duration(self.grace)
        );
        Ok(())
    }
}
