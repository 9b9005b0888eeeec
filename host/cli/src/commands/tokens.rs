//! `wharf tokens`: scoped admin tokens.

use super::client::{Client, ClientArgs, block_on, print_json};
use std::time::Duration;
use wharf_admin::api::{CreatedToken, TokenList, TokenRequest, describe_scope};
use wharf_admin::endpoints;
use wharf_registry::{AppName, Role, TokenName};

/// Make, list and revoke scoped tokens. A token has a role (`read`:
/// look only; `deploy`: also deploy, promote, roll back and set config;
/// `admin`: everything), may be limited to some apps, and may expire.
/// Everything done with one is recorded under its name (`wharf audit`).
/// Managing tokens needs an admin token that covers every app.
#[derive(clap::Args)]
pub struct TokensCommand {
    #[command(subcommand)]
    action: TokensAction,
}

#[derive(clap::Subcommand)]
enum TokensAction {
    /// Make a token and print its secret, which is shown only this once.
    Create {
        /// Its name, recorded with everything done with it.
        name: TokenName,
        /// What it may do: read, deploy or admin.
        #[arg(long)]
        role: Role,
        /// Limit it to this app (repeat for several). Without it, every
        /// app.
        #[arg(long = "app", value_name = "APP")]
        apps: Vec<AppName>,
        /// How long it works (`30d`, `12h`). Without it, until revoked.
        #[arg(long, value_parser = humantime::parse_duration)]
        expires: Option<Duration>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List the tokens (never their secrets).
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Revoke a token: it stops working at once.
    Revoke {
        /// The token's name.
        name: TokenName,
        #[command(flatten)]
        client: ClientArgs,
    },
}

impl TokensCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        match self.action {
            TokensAction::Create {
                name,
                role,
                apps,
                expires,
                client,
            } => {
                let api = Client::new(&client)?;
                let body = TokenRequest {
                    name: name.to_string(),
                    role: role.to_string(),
                    apps: apps.iter().map(ToString::to_string).collect(),
                    expires_in_seconds: expires.map(|d| d.as_secs().max(1)),
                };
                let created: CreatedToken = block_on(
                    api.send(
                        api.request(reqwest::Method::POST, endpoints::TOKENS, &[])?
                            .json(&body),
                    ),
                )??;
                if client.json {
                    return print_json(&created);
                }
                println!("{}", created.secret);
                eprintln!(
                    "token `{}`: {} on {}{}; the secret above is shown only now",
                    created.info.name,
                    created.info.role,
                    describe_scope(&created.info.apps),
                    created
                        .info
                        .expires_at
                        .map(|at| format!(", until {at}"))
                        .unwrap_or_default()
                );
                Ok(())
            }
            TokensAction::List { client } => {
                let api = Client::new(&client)?;
                let list: TokenList = block_on(api.send(api.request(
                    reqwest::Method::GET,
                    endpoints::TOKENS,
                    &[],
                )?))??;
                if client.json {
                    return print_json(&list);
                }
                println!(
                    "{:<24} {:<7} {:<24} {:<21} {:<21} CREATED BY",
                    "NAME", "ROLE", "APPS", "CREATED", "EXPIRES"
                );
                for token in &list.tokens {
                    let expires = match (&token.expires_at, token.expired) {
                        (Some(at), true) => format!("expired {at}"),
                        (Some(at), false) => at.clone(),
                        (None, _) => "never".to_owned(),
                    };
                    println!(
                        "{:<24} {:<7} {:<24} {:<21} {:<21} {}",
                        token.name,
                        token.role,
                        describe_scope(&token.apps),
                        token.created_at,
                        expires,
                        token.created_by
                    );
                }
                Ok(())
            }
            TokensAction::Revoke { name, client } => {
                let api = Client::new(&client)?;
                block_on(api.send::<()>(api.request(
                    reqwest::Method::DELETE,
                    endpoints::TOKEN,
                    &[name.as_str()],
                )?))??;
                if client.json {
                    return print_json(&serde_json::json!({"revoked": name.as_str()}));
                }
                eprintln!("token `{name}` revoked");
                Ok(())
            }
        }
    }
}
