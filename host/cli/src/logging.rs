//! Log output: lines on stderr, as text or JSON, never blocking the server.

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Environment variable holding the log filter, e.g. `info` or `wharf=debug`.
pub const LOG_ENV: &str = "WHARF_LOG";

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// `TIME LEVEL TARGET: message key=value...`, for people.
    #[default]
    Text,
    /// One JSON object per line, with every field, for log collectors.
    Json,
}

/// Installs the global subscriber. Lines go through a bounded queue to a
/// writer thread; when the queue is full, lines are dropped rather than
/// stalling a request. Keep the guard alive until exit so the queue drains.
pub fn init(format: LogFormat) -> WorkerGuard {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .thread_name("wharf-log")
        .finish(std::io::stderr());
    let filter = EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false);
    match format {
        LogFormat::Text => lines.init(),
        LogFormat::Json => lines.json().flatten_event(true).init(),
    }
    guard
}
