//! One module per subcommand.

mod access_log_args;
mod apps;
mod audit;
mod client;
mod config;
mod connection_args;
mod data_dir;
mod delete;
mod deploy;
mod deployments;
mod gc;
mod history;
mod hostnames;
mod key;
mod logs;
mod new;
mod nodes;
mod probe;
mod promote;
mod rollback;
mod run;
mod runtime_args;
mod serve;
mod settings;
mod tokens;

use clap::Subcommand;

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    Serve(Box<serve::ServeCommand>),
    Run(Box<run::RunCommand>),
    Deploy(deploy::DeployCommand),
    Deployments(deployments::DeploymentsCommand),
    Rollback(rollback::RollbackCommand),
    Promote(promote::PromoteCommand),
    Apps(apps::AppsCommand),
    History(history::HistoryCommand),
    Hostnames(hostnames::HostnamesCommand),
    Config(config::ConfigCommand),
    Settings(settings::SettingsCommand),
    Delete(delete::DeleteCommand),
    Gc(gc::GcCommand),
    New(new::NewCommand),
    Key(key::KeyCommand),
    Logs(logs::LogsCommand),
    Nodes(nodes::NodesCommand),
    Probe(probe::ProbeCommand),
    Tokens(tokens::TokensCommand),
    Audit(audit::AuditCommand),
}

impl Command {
    /// Whether this command serves (and so writes to sockets) rather than
    /// printing an answer and exiting.
    pub fn serves(&self) -> bool {
        matches!(self, Command::Serve(_) | Command::Run(_))
    }

    /// Runs the chosen subcommand.
    pub fn execute(self) -> anyhow::Result<()> {
        match self {
            Command::Serve(c) => c.execute(),
            Command::Run(c) => c.execute(),
            Command::Deploy(c) => c.execute(),
            Command::Deployments(c) => c.execute(),
            Command::Rollback(c) => c.execute(),
            Command::Promote(c) => c.execute(),
            Command::Apps(c) => c.execute(),
            Command::History(c) => c.execute(),
            Command::Hostnames(c) => c.execute(),
            Command::Config(c) => c.execute(),
            Command::Settings(c) => c.execute(),
            Command::Delete(c) => c.execute(),
            Command::Gc(c) => c.execute(),
            Command::New(c) => c.execute(),
            Command::Key(c) => c.execute(),
            Command::Logs(c) => c.execute(),
            Command::Nodes(c) => c.execute(),
            Command::Probe(c) => c.execute(),
            Command::Tokens(c) => c.execute(),
            Command::Audit(c) => c.execute(),
        }
    }
}
