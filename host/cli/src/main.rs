//! `wharf`: host dynamic WebAssembly.
//!
//! Each subcommand lives in its own module under `commands/` as a clap
//! struct with an `execute` method.

mod commands;
mod logging;
mod traces;

use clap::Parser;

/// Host dynamic WebAssembly: serve wasi:http components.
#[derive(Parser)]
#[command(name = "wharf", version, about)]
struct Cli {
    /// How log lines are written on stderr, guest output and access lines
    /// included.
    #[arg(
        long,
        global = true,
        env = "WHARF_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    log_format: logging::LogFormat,

    /// Export traces over OTLP/HTTP to this collector (spans go to
    /// `URL/v1/traces`). Without it, the standard
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// is used if set; otherwise traces are off.
    #[arg(long, global = true, env = "WHARF_OTLP_ENDPOINT", value_name = "URL")]
    otlp_endpoint: Option<String>,

    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line with its causes, never a page of host frames, whatever
            // RUST_BACKTRACE says: these are answers, not crashes.
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let serves = cli.command.serves();
    if !serves {
        exit_quietly_on_closed_stdout();
    }
    let traces = cli
        .command
        .serves()
        .then(|| traces::Endpoint::from(cli.otlp_endpoint.clone()))
        .flatten();
    let _log = logging::init(cli.log_format, traces.as_ref())?;
    if serves {
        // Many connections must not run the process out of descriptors.
        match wharf_server::raise_open_file_limit() {
            Ok(limit) => tracing::debug!(limit, "open files"),
            Err(e) => tracing::warn!("cannot raise the open-file limit: {e}"),
        }
    }
    cli.command.execute()
}

/// A command whose reader goes away (`wharf history APP | head -1`) ends
/// as Unix tools do, by SIGPIPE, instead of panicking on its next print.
/// Servers keep Rust's default (SIGPIPE ignored): a client that goes away
/// must never stop them.
fn exit_quietly_on_closed_stdout() {
    // SAFETY: called first thing in main, before any other thread exists;
    // it restores the default disposition of one signal.
    #[expect(unsafe_code, reason = "libc call to restore SIGPIPE's default")]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
