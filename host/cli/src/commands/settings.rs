//! `wharf settings`: an app's outbound allow-list, key-value quota and
//! preview access.

use super::client::{Client, ClientArgs, block_on, print_json};
use bytesize::ByteSize;
use wharf_admin::api::{AppSettingsBody, SettingsUpdate};
use wharf_admin::endpoints;
use wharf_registry::{AppName, PreviewAccess};

/// Show or change an app's settings. With no flags it shows them; each flag
/// changes one and keeps the rest.
#[derive(clap::Args)]
pub struct SettingsCommand {
    /// The app.
    app: AppName,

    /// An origin the app may send outbound HTTP requests to, on top of the
    /// server's `--allow-outbound`: `https://api.example.com`,
    /// `http://*.internal:8080`, `http://127.0.0.1:9000` or `*`. Repeat it
    /// for more; the list given replaces the app's.
    #[arg(long = "allow-outbound", value_name = "ORIGIN")]
    allow_outbound: Vec<String>,

    /// Remove the app's own outbound origins.
    #[arg(long, conflicts_with = "allow_outbound")]
    no_outbound: bool,

    /// Most key-value data the app may keep, such as `10MiB`, or `default`
    /// for the server's `--kv-quota`.
    #[arg(long, value_name = "SIZE|default")]
    kv_quota: Option<String>,

    /// Who may open the app's preview URLs: `public` (anyone), `token` (a
    /// request with a token that may read the app, or a browser that
    /// opened a preview link; the default for new apps) or `off`.
    #[arg(long, value_name = "public|token|off")]
    previews: Option<PreviewAccess>,

    #[command(flatten)]
    client: ClientArgs,
}

impl SettingsCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let client = Client::new(&self.client)?;
        let app = [self.app.as_str()];
        let mut settings: AppSettingsBody = block_on(client.send(client.request(
            reqwest::Method::GET,
            endpoints::SETTINGS,
            &app,
        )?))??;
        let changing = !self.allow_outbound.is_empty()
            || self.no_outbound
            || self.kv_quota.is_some()
            || self.previews.is_some();
        if changing {
            let mut update = SettingsUpdate::default();
            if !self.allow_outbound.is_empty() || self.no_outbound {
                update.outbound = Some(self.allow_outbound.clone());
            }
            match self.kv_quota.as_deref() {
                None => {}
                Some("default") => update.kv_quota = Some(None),
                Some(size) => {
                    let size: ByteSize = size.parse().map_err(|e| {
                        anyhow::anyhow!("--kv-quota takes a size such as 10MiB, or `default`: {e}")
                    })?;
                    update.kv_quota = Some(Some(size.as_u64()));
                }
            }
            update.previews = self.previews.map(|access| access.to_string());
            let request = client
                .request(reqwest::Method::PUT, endpoints::SETTINGS, &app)?
                .json(&update);
            settings = block_on(client.send(request))??;
        }
        if self.client.json {
            return print_json(&settings);
        }
        if settings.outbound.is_empty() {
            println!("outbound  only the server's --allow-outbound origins");
        } else {
            println!(
                "outbound  {} (and the server's)",
                settings.outbound.join(", ")
            );
        }
        match settings.kv_quota {
            Some(quota) => println!("kv quota  {}", ByteSize(quota)),
            None => println!("kv quota  the server's --kv-quota"),
        }
        println!("kv usage  {}", ByteSize(settings.kv_usage));
        println!("previews  {}", settings.previews);
        Ok(())
    }
}
