//! `wharf:app/deployment`: which deployment is serving a request.

use super::HostState;
use crate::world::generated::wharf::app::deployment;
use std::time::{SystemTime, UNIX_EPOCH};
use wasmtime::component::{HasSelf, Linker};
use wharf_store::Digest;

/// Links `wharf:app/deployment`.
pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    deployment::add_to_linker::<_, HasSelf<HostState>>(linker, |state| state)
}

/// Which deployment is serving a request; what `wharf:app/deployment`
/// reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeploymentFacts {
    /// The app's name.
    pub app: String,
    /// The component's digest, `sha256-<hex>`.
    pub digest: String,
    /// When it was deployed, in seconds since the Unix epoch.
    pub deployed_at: u64,
    /// Whether the request came in through the preview URL.
    pub preview: bool,
}

impl DeploymentFacts {
    /// The facts of `app`'s deployment of the component with `digest`,
    /// made at `deployed_at`.
    pub fn new(app: String, digest: Digest, deployed_at: SystemTime, preview: bool) -> Self {
        Self {
            app,
            digest: digest.to_string(),
            deployed_at: deployed_at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs()),
            preview,
        }
    }

    /// The first 12 hex digits of the digest, as preview hostnames and the
    /// access log show it.
    pub fn short_digest(&self) -> &str {
        let hex = self.digest.strip_prefix("sha256-").unwrap_or(&self.digest);
        hex.get(..12).unwrap_or(hex)
    }
}

impl deployment::Host for HostState {
    fn current(&mut self) -> deployment::Facts {
        let facts = &self.app.facts;
        deployment::Facts {
            app: facts.app.clone(),
            digest: facts.digest.clone(),
            deployed_at: facts.deployed_at,
            preview: facts.preview,
        }
    }
}
