//! `wharf deployments`: one deployment of an app.

use super::client::{Client, ClientArgs, block_on, print_json};
use wharf_admin::api::{DeploymentInfo, PreviewLink};
use wharf_admin::endpoints;
use wharf_registry::AppName;

/// Disable or enable one deployment, pin it against pruning, or make a
/// link that opens its preview. A disabled deployment's preview answers 410 and it cannot go
/// live (nor be rolled back to) until enabled again; the live deployment
/// cannot be disabled.
#[derive(clap::Args)]
pub struct DeploymentsCommand {
    #[command(subcommand)]
    action: DeploymentsAction,
}

#[derive(clap::Subcommand)]
enum DeploymentsAction {
    /// Disable a deployment.
    Disable(Target),
    /// Enable a disabled deployment again.
    Enable(Target),
    /// Pin a deployment: garbage collection never prunes it.
    Pin(Target),
    /// Unpin a deployment.
    Unpin(Target),
    /// Print a link that opens the deployment's preview in a browser once,
    /// within an hour, for apps whose previews need a token.
    Link(Target),
}

#[derive(clap::Args)]
struct Target {
    /// The app.
    app: AppName,
    /// The deployment's digest, `sha256-<hex>` (`wharf history` lists
    /// them).
    digest: String,
    #[command(flatten)]
    client: ClientArgs,
}

impl DeploymentsCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let (method, endpoint, target) = match &self.action {
            DeploymentsAction::Disable(target) => {
                (reqwest::Method::PUT, endpoints::DEPLOYMENT_DISABLED, target)
            }
            DeploymentsAction::Enable(target) => (
                reqwest::Method::DELETE,
                endpoints::DEPLOYMENT_DISABLED,
                target,
            ),
            DeploymentsAction::Pin(target) => {
                (reqwest::Method::PUT, endpoints::DEPLOYMENT_PINNED, target)
            }
            DeploymentsAction::Unpin(target) => (
                reqwest::Method::DELETE,
                endpoints::DEPLOYMENT_PINNED,
                target,
            ),
            DeploymentsAction::Link(target) => {
                (reqwest::Method::POST, endpoints::DEPLOYMENT_LINK, target)
            }
        };
        let api = Client::new(&target.client)?;
        let request = api.request(method, endpoint, &[target.app.as_str(), &target.digest])?;
        if let DeploymentsAction::Link(_) = self.action {
            let link: PreviewLink = block_on(api.send(request))??;
            if target.client.json {
                return print_json(&link);
            }
            println!("{}", link.link);
            eprintln!("opens {} once, until {}", link.preview_url, link.expires_at);
            return Ok(());
        }
        let deployment: DeploymentInfo = block_on(api.send(request))??;
        if target.client.json {
            return print_json(&deployment);
        }
        let state = match (deployment.disabled, deployment.pinned) {
            (true, true) => "disabled and pinned",
            (true, false) => "disabled",
            (false, true) => "enabled and pinned",
            (false, false) => "enabled",
        };
        println!("{} {} is {state}", target.app, deployment.digest);
        Ok(())
    }
}
