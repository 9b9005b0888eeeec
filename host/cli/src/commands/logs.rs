//! `wharf logs`: an app's guest output.

use super::client::{Client, ClientArgs, block_on, short_digest};
use anyhow::Context;
use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};
use wharf_admin::api::LogLine;
use wharf_admin::endpoints;
use wharf_registry::AppName;

/// Print what an app's guests wrote to stdout and stderr, as every server
/// sharing the registry keeps it (the last 1000 lines or 1 MiB per app on
/// each), oldest first, each with its time, server (when there are
/// several), digest and request id.
#[derive(clap::Args)]
pub struct LogsCommand {
    /// The app.
    app: AppName,

    /// Keep printing new lines as the guests print them, until interrupted.
    #[arg(long, short)]
    follow: bool,

    /// Only lines printed within this long, like 30s, 5m or 1h.
    #[arg(long, value_parser = humantime::parse_duration)]
    since: Option<Duration>,

    #[command(flatten)]
    client: ClientArgs,
}

impl LogsCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let client = Client::new(&self.client)?;
        let mut query = vec![("follow", self.follow.to_string())];
        if let Some(since) = self.since {
            query.push(("since", humantime::format_duration(since).to_string()));
        }
        let request = client
            .request(reqwest::Method::GET, endpoints::LOGS, &[self.app.as_str()])?
            .query(&query);
        let json = self.client.json;
        block_on(async move {
            let mut response = client.open(request).await?;
            let mut pending = Vec::new();
            let mut out = std::io::stdout().lock();
            while let Some(chunk) = response
                .chunk()
                .await
                .context("the server's log stream was cut off")?
            {
                pending.extend_from_slice(&chunk);
                while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    print_line(&mut out, &line[..end], json)?;
                }
                out.flush()?;
            }
            Ok(())
        })?
    }
}

/// Prints one NDJSON line of the stream: as it came with `--json`, else as
/// `TIME DIGEST REQUEST-ID STREAM: TEXT`.
fn print_line(out: &mut impl Write, line: &[u8], json: bool) -> anyhow::Result<()> {
    if json {
        out.write_all(line)?;
        out.write_all(b"\n")?;
        return Ok(());
    }
    if let Ok(line) = serde_json::from_slice::<LogLine>(line) {
        let time = UNIX_EPOCH + Duration::from_millis(line.time_ms);
        let node = line.node.map(|node| format!("{node} ")).unwrap_or_default();
        writeln!(
            out,
            "{} {node}{} {} {}: {}",
            humantime::format_rfc3339_millis(time),
            short_digest(&line.digest),
            line.request_id,
            line.stream,
            printable(&line.text)
        )?;
    } else if let Ok(note) = serde_json::from_slice::<serde_json::Value>(line)
        && let Some(missed) = note.get("missed")
    {
        writeln!(out, "({missed} lines were missed: this client fell behind)")?;
    } else if let Ok(note) = serde_json::from_slice::<serde_json::Value>(line)
        && let (Some(node), Some(why)) = (note.get("node"), note.get("unreachable"))
    {
        writeln!(out, "(server {node} was not asked for its lines: {why})")?;
    } else {
        anyhow::bail!(
            "the server sent a line that is not a log line: {}",
            String::from_utf8_lossy(line)
        );
    }
    Ok(())
}

/// `text` with control characters (a guest's terminal escape sequences,
/// say) written as escapes, so that they cannot act on the terminal.
fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("plain\ttext"), "plain\ttext");
        assert_eq!(printable("\u{1b}[2Jgone"), "\\u{1b}[2Jgone");
    }
}
