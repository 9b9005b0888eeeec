//! `wharf audit`: the audit trail.

use super::client::{Client, ClientArgs, block_on, print_json};
use wharf_admin::api::AuditTrail;
use wharf_admin::endpoints;
use wharf_registry::AppName;

/// Show the audit trail, newest first: every change made through the
/// admin API and every request refused for its token's role or apps, with
/// the token's name, the client's address and the answer. The whole trail
/// needs an admin token that covers every app; `--app` needs only `read`
/// on that app.
#[derive(clap::Args)]
pub struct AuditCommand {
    /// Only entries about this app.
    #[arg(long)]
    app: Option<AppName>,

    /// At most this many entries (1 to 1000).
    #[arg(long, default_value_t = 50)]
    limit: u32,

    /// Only entries older than this one (the `ID` column), to page back.
    #[arg(long, value_name = "ID")]
    before: Option<i64>,

    #[command(flatten)]
    client: ClientArgs,
}

impl AuditCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let api = Client::new(&self.client)?;
        let mut query = vec![("limit", self.limit.to_string())];
        if let Some(app) = &self.app {
            query.push(("app", app.to_string()));
        }
        if let Some(before) = self.before {
            query.push(("before", before.to_string()));
        }
        let trail: AuditTrail = block_on(
            api.send(
                api.request(reqwest::Method::GET, endpoints::AUDIT, &[])?
                    .query(&query),
            ),
        )??;
        if self.client.json {
            return print_json(&trail);
        }
        println!(
            "{:>6} {:<21} {:<16} {:<16} {:<16} {:<14} {:>6} DETAIL",
            "ID", "TIME", "ACTOR", "CLIENT", "ACTION", "APP", "STATUS"
        );
        for entry in &trail.entries {
            println!(
                "{:>6} {:<21} {:<16} {:<16} {:<16} {:<14} {:>6} {}",
                entry.id,
                entry.at,
                if entry.actor.is_empty() {
                    "-"
                } else {
                    &entry.actor
                },
                entry.client,
                entry.action,
                entry.app.as_deref().unwrap_or("-"),
                entry.status,
                entry.detail
            );
        }
        Ok(())
    }
}
