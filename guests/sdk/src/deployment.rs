//! Which deployment is serving the request (`wharf:app/deployment`).
//!
//! ```no_run
//! use wharf_sdk::{Request, Response, deployment, handler};
//!
//! #[handler]
//! fn handle(_request: Request) -> Response {
//!     let me = deployment::current();
//!     Response::text(format!("{} {} (preview: {})\n", me.app, me.digest, me.preview))
//! }
//! ```

use crate::bindings::wharf::app::deployment;

/// The deployment serving a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The app's name.
    pub app: String,
    /// The component's digest: `sha256-` and 64 hex digits.
    pub digest: String,
    /// When it was deployed, in seconds since the Unix epoch.
    pub deployed_at: u64,
    /// Whether the request came in through the deployment's preview URL.
    pub preview: bool,
}

/// The deployment serving the current request.
pub fn current() -> Deployment {
    let facts = deployment::current();
    Deployment {
        app: facts.app,
        digest: facts.digest,
        deployed_at: facts.deployed_at,
        preview: facts.preview,
    }
}
