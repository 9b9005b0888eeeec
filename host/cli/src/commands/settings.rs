//! `wharf settings`: an app's outbound allow-list, key-value quota,
//! preview access and limits.

use super::client::{Client, ClientArgs, block_on, print_json};
use bytesize::ByteSize;
use std::time::Duration;
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

    /// Wall-clock budget per request (such as `5s`), at most the server's
    /// --deadline, or `default` for the server's.
    #[arg(long, value_name = "DURATION|default")]
    deadline: Option<String>,

    /// CPU time per request (such as `50ms`), waits not counted; a request
    /// past it gets 503. At most the server's --cpu-time (or --deadline),
    /// or `default`.
    #[arg(long, value_name = "DURATION|default")]
    cpu_time: Option<String>,

    /// Most memory one instance may grow to (such as `64MiB`), at most the
    /// server's --max-memory, or `default`.
    #[arg(long, value_name = "SIZE|default")]
    memory: Option<String>,

    /// Largest request body (such as `1MiB`), at most the server's
    /// --max-request-body, or `default`.
    #[arg(long, value_name = "SIZE|default")]
    max_body: Option<String>,

    /// Instances the app may hold at once, previews included, at most the
    /// server's --max-instances-per-app, or `default`.
    #[arg(long, value_name = "N|default")]
    max_instances: Option<String>,

    /// How many of its newest deployments `wharf gc` keeps (older ones not
    /// live, disabled or pinned are pruned), or `default` (20).
    #[arg(long, value_name = "N|default")]
    keep: Option<String>,

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
            || self.previews.is_some()
            || self.deadline.is_some()
            || self.cpu_time.is_some()
            || self.memory.is_some()
            || self.max_body.is_some()
            || self.max_instances.is_some()
            || self.keep.is_some();
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
            update.deadline_ms = limit("--deadline", self.deadline.as_deref(), millis)?;
            update.cpu_time_ms = limit("--cpu-time", self.cpu_time.as_deref(), millis)?;
            update.memory_bytes = limit("--memory", self.memory.as_deref(), bytes)?;
            update.max_body_bytes = limit("--max-body", self.max_body.as_deref(), bytes)?;
            update.max_instances = limit("--max-instances", self.max_instances.as_deref(), |t| {
                t.parse::<u32>().map_err(|e| e.to_string())
            })?;
            update.keep = limit("--keep", self.keep.as_deref(), |t| {
                t.parse::<u32>().map_err(|e| e.to_string())
            })?;
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
        println!("keeps     the newest {} deployments", settings.keep);
        let (own, effective) = (&settings.limits, &settings.effective_limits);
        let source = |set: bool| if set { "the app's" } else { "the server's" };
        let shown = |ms: Option<u64>| {
            ms.map_or_else(
                || "none".to_owned(),
                |ms| humantime::format_duration(Duration::from_millis(ms)).to_string(),
            )
        };
        println!(
            "deadline  {} ({})",
            shown(effective.deadline_ms),
            source(own.deadline_ms.is_some())
        );
        println!(
            "cpu time  {} ({})",
            shown(effective.cpu_time_ms),
            source(own.cpu_time_ms.is_some())
        );
        for (name, value, set) in [
            (
                "memory   ",
                effective.memory_bytes,
                own.memory_bytes.is_some(),
            ),
            (
                "max body ",
                effective.max_body_bytes,
                own.max_body_bytes.is_some(),
            ),
        ] {
            println!("{name} {} ({})", ByteSize(value.unwrap_or(0)), source(set));
        }
        println!(
            "instances {} ({})",
            effective.max_instances.unwrap_or(0),
            source(own.max_instances.is_some())
        );
        Ok(())
    }
}

/// A limit flag's value: `default` (the server's, `Some(None)`), or one
/// `parse` reads; absent, `None`.
fn limit<T>(
    flag: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> anyhow::Result<Option<Option<T>>> {
    match value {
        None => Ok(None),
        Some("default") => Ok(Some(None)),
        Some(text) => parse(text)
            .map(|v| Some(Some(v)))
            .map_err(|e| anyhow::anyhow!("{flag} `{text}`: {e}; or `default` for the server's")),
    }
}

fn millis(text: &str) -> Result<u64, String> {
    let duration = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    u64::try_from(duration.as_millis()).map_err(|e| e.to_string())
}

fn bytes(text: &str) -> Result<u64, String> {
    text.parse::<ByteSize>().map(|size| size.as_u64())
}
