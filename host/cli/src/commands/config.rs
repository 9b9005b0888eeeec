//! `wharf config`: an app's configuration values and secrets, which it
//! reads through wasi:config.

use super::client::{Client, ClientArgs, block_on, print_json};
use wharf_admin::api::{ConfigList, ConfigSetRequest};
use wharf_admin::endpoints;
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
        #[arg(value_name = "KEY=VALUE", value_parser = parse_assignment)]
        assignment: (String, String),
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

/// Parses `KEY=VALUE`, refusing a key the server would refuse before it
/// becomes part of a URL. `wharf run --config` takes the same form.
pub(super) fn parse_assignment(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("write `KEY=VALUE`, not `{text}`"))?;
    wharf_registry::check_config_key(key).map_err(|e| e.to_string())?;
    Ok((key.to_owned(), value.to_owned()))
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
                let (key, value) = assignment;
                let api = Client::new(client)?;
                let request = api
                    .request(
                        reqwest::Method::PUT,
                        endpoints::CONFIG_KEY,
                        &[app.as_str(), key],
                    )?
                    .json(&ConfigSetRequest {
                        value: value.to_owned(),
                        secret: *secret,
                    });
                (client, block_on(api.send::<ConfigList>(request))??)
            }
            ConfigAction::List { app, client } => {
                let api = Client::new(client)?;
                let request =
                    api.request(reqwest::Method::GET, endpoints::CONFIG, &[app.as_str()])?;
                (client, block_on(api.send::<ConfigList>(request))??)
            }
            ConfigAction::Unset { app, key, client } => {
                // Checked before the key becomes part of a URL.
                wharf_registry::check_config_key(key)?;
                let api = Client::new(client)?;
                let request = api.request(
                    reqwest::Method::DELETE,
                    endpoints::CONFIG_KEY,
                    &[app.as_str(), key],
                )?;
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
