//! One module per subcommand.

mod key;
mod run;
mod runtime_args;

use clap::Subcommand;

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    Run(run::RunCommand),
    Key(key::KeyCommand),
}

impl Command {
    /// Runs the chosen subcommand.
    pub fn execute(self) -> anyhow::Result<()> {
        match self {
            Command::Run(c) => c.execute(),
            Command::Key(c) => c.execute(),
        }
    }
}
