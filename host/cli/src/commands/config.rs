//! `wharf config`: an app's configuration values and secrets, which it
//! reads through wasi:config.

use super::client::{Client, ClientArgs, block_on, print_json};
use wharf_admin::api::{ConfigList, ConfigSetRequest};
use wharf_registry::AppName;

/// Set, list and remove an app's configuration. The server that takes a
/// change serves it from its next request; other servers on the same
/// registry within moments on Postgres, or within their `--poll-interval`
/// on SQLite.
#[derive(clap::Args)]
pub struct ConfigCommand {
    #[command(subcommand)]
    action: ConfigAction,
}

#[derive(clap::Subcommand)]
enum ConfigAction {
    /// Set one value: `wharf config set APP KEY=VALUE [--secret]`.
    Set {
        /// The app.
        app: AppName,
        /// `KEY=VALUE`. Keys are letters, digits, `_`, `-` and `.`.
        assignment: String,
        /// Keep the value secret: the app reads it as any other, but
        /// `wharf config list` and the admin API show only its name.
        #[arg(long)]
        secret: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List an app's keys, with values except for secrets.
    List {
        /// The app.
        app: AppName,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove one key.
    Unset {
        /// The app.
        app: AppName,
        /// The key.
        key: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// Refuses a key the server would refuse, before it becomes part of a URL.
fn check_key(key: &str) -> anyhow::Result<()> {
    Ok(wharf_registry::check_config_key(key)?)
}

impl ConfigCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let (client_args, list) = match &self.action {
            ConfigAction::Set {
                app,
                assignment,
                secret,
                client,
            } => {
                let Some((key, value)) = assignment.split_once('=') else {
                    anyhow::bail!("write `KEY=VALUE`, not `{assignment}`");
                };
                check_key(key)?;
                let api = Client::new(client)?;
                let request = api
                    .request(reqwest::Method::PUT, &format!("apps/{app}/config/{key}"))?
                    .json(&ConfigSetRequest {
                        value: value.to_owned(),
                        secret: *secret,
                    });
                (client, block_on(api.send::<ConfigList>(request))??)
            }
            ConfigAction::List { app, client } => {
                let api = Client::new(client)?;
                let request = api.request(reqwest::Method::GET, &format!("apps/{app}/config"))?;
                (client, block_on(api.send::<ConfigList>(request))??)
            }
            ConfigAction::Unset { app, key, client } => {
                check_key(key)?;
                let api = Client::new(client)?;
                let request =
                    api.request(reqwest::Method::DELETE, &format!("apps/{app}/config/{key}"))?;
                (client, block_on(api.send::<ConfigList>(request))??)
            }
        };
        if client_args.json {
            return print_json(&list);
        }
        if list.config.is_empty() {
            println!("{} has no configuration", list.app);
        }
        for entry in &list.config {
            match &entry.value {
                Some(value) => println!("{}={value}", entry.key),
                None => println!("{} (secret)", entry.key),
            }
        }
        Ok(())
    }
}
