//! `wharf gc`: prune old deployments and remove what nothing refers to.

use super::client::{Client, ClientArgs, block_on, print_json};
use bytesize::ByteSize;
use std::time::Duration;
use wharf_admin::api::{GcRequest, GcResult};
use wharf_admin::endpoints;

/// Prune each app's deployments beyond the newest it keeps (`wharf
/// settings APP --keep N`, default 20; never the live one, a disabled one
/// or a pinned one; their history stays), then delete what no remaining
/// deployment refers to and that is older than the grace period: blobs,
/// compiled code on this server's disk, and sealed code in the shared
/// store (also for engine tags no server announces any more).
#[derive(clap::Args)]
pub struct GcCommand {
    /// Keep unreferenced things younger than this (uploads still being
    /// deployed).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    grace: Duration,

    /// Only print what would be pruned and deleted, and how many bytes.
    #[arg(long)]
    dry_run: bool,

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
                dry_run: self.dry_run,
            });
        let result: GcResult = block_on(client.send(request))??;
        if self.client.json {
            return print_json(&result);
        }
        let done = if result.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        let pruned = if result.dry_run {
            "would prune"
        } else {
            "pruned"
        };
        for deployment in &result.pruned {
            println!("{pruned} {} {}", deployment.app, deployment.digest);
        }
        for key in &result.deleted {
            println!("{done} {key}");
        }
        for file in &result.compiled_deleted {
            println!("{done} compiled/{file}");
        }
        for location in &result.sealed_deleted {
            println!("{done} {location} (shared)");
        }
        println!(
            "{} deployments {pruned}; blobs: {} {done} ({}), {} referenced, {} unreferenced but \
             younger than {}; compiled code: {} files ({}); shared sealed code: {} ({})",
            result.pruned.len(),
            result.deleted.len(),
            ByteSize(result.deleted_bytes),
            result.referenced,
            result.too_young,
            humantime::format_duration(self.grace),
            result.compiled_deleted.len(),
            ByteSize(result.compiled_bytes),
            result.sealed_deleted.len(),
            ByteSize(result.sealed_bytes),
        );
        Ok(())
    }
}
