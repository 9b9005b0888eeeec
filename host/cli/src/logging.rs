//! Log output: lines on stderr, as text or JSON, never blocking the server;
//! and, when an OTLP endpoint is set, spans exported as traces
//! (`traces.rs`).

use crate::traces;
use tracing::Level;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};
use wharf_runtime::trace_context::TRACE_TARGET;

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

/// Keeps the log writer and the trace exporter running; dropping it
/// writes out what is queued and sends what is batched.
pub struct LogGuard {
    _writer: WorkerGuard,
    traces: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.traces.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("wharf: the last traces were not sent: {e}");
        }
    }
}

/// Installs the global subscriber. Lines go through a bounded queue to a
/// writer thread; when the queue is full, lines are dropped rather than
/// stalling a request. Spans of [`TRACE_TARGET`] go only to the trace
/// exporter, when `traces` names an endpoint. Keep the guard alive until
/// exit.
pub fn init(format: LogFormat, traces: Option<&traces::Endpoint>) -> anyhow::Result<LogGuard> {
    let (writer, writer_guard) = NonBlockingBuilder::default()
        .lossy(true)
        .thread_name("wharf-log")
        .finish(std::io::stderr());
    let filter = EnvFilter::try_from_env(LOG_ENV)
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive(format!("{TRACE_TARGET}=off").parse()?);
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false);
    let lines: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Text => lines.boxed(),
        LogFormat::Json => lines.json().flatten_event(true).boxed(),
    };
    let (provider, exported) = match traces {
        None => (None, None),
        Some(endpoint) => {
            let (provider, tracer) = traces::start(endpoint)?;
            let spans = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(Targets::new().with_target(TRACE_TARGET, Level::TRACE));
            (Some(provider), Some(spans))
        }
    };
    tracing_subscriber::registry()
        .with(lines.with_filter(filter))
        .with(exported)
        .init();
    Ok(LogGuard {
        _writer: writer_guard,
        traces: provider,
    })
}
