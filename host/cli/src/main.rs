//! `wharf`: host dynamic WebAssembly.
//!
//! Each subcommand lives in its own module under `commands/` as a clap
//! struct with an `execute` method.

mod commands;
mod logging;

use clap::Parser;

/// Host dynamic WebAssembly: serve wasi:http components.
#[derive(Parser)]
#[command(name = "wharf", version, about)]
struct Cli {
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _log = logging::init();
    cli.command.execute()
}
