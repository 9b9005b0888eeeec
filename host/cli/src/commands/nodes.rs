//! `wharf nodes`: the servers sharing the registry.

use super::client::{Client, ClientArgs, block_on, print_json};
use wharf_admin::api::NodeList;
use wharf_admin::endpoints;

/// List the servers sharing the registry: live, or gone when they have
/// missed their heartbeats for longer than the node timeout, with their
/// request rate and instance use at their last heartbeat.
#[derive(clap::Args)]
pub struct NodesCommand {
    #[command(flatten)]
    client: ClientArgs,
}

impl NodesCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let client = Client::new(&self.client)?;
        let list: NodeList =
            block_on(client.send(client.request(reqwest::Method::GET, endpoints::NODES, &[])?))??;
        if self.client.json {
            return print_json(&list);
        }
        println!(
            "{:<28} {:<5} {:>9} {:>11} {:>10} {:<8} ADMIN URL",
            "NODE", "STATE", "REQ/S 1M", "INSTANCES", "SEEN", "VERSION"
        );
        for node in &list.nodes {
            let mark = if node.this_server { "*" } else { "" };
            println!(
                "{:<28} {:<5} {:>9.2} {:>11} {:>9.0}s {:<8} {}",
                format!("{}{mark}", node.id),
                node.state,
                node.requests_per_second,
                format!("{}/{}", node.instances_in_use, node.instance_slots),
                node.seconds_since_seen,
                node.version,
                node.admin_url
            );
        }
        Ok(())
    }
}
