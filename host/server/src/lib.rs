//! wharf's HTTP front: listeners, request dispatch and error responses.
//!
//! 1. [`Listener::bind`] opens a socket; its [`Listener::local_addr`] is the
//!    real address, so port 0 works.
//! 2. [`Listener::serve`] accepts HTTP/1.1 and HTTP/2 connections and passes
//!    each request to a [`Dispatch`] until the shutdown future resolves, then
//!    drains in-flight requests within a grace period.
//! 3. [`SingleApp`] is the dispatch of `wharf run`: every request goes to one
//!    component. [`error_response`] turns a runtime failure into the status
//!    code a client expects.
//! 4. [`AppRouter`] is the dispatch of `wharf serve`: the Host header picks
//!    an app ([`Routes`]), the registry says which deployment it serves, and
//!    the [`ComponentCache`] fetches, verifies and compiles it once. Previews
//!    of apps that want a token pass the check in `previews.rs` first.
//! 5. [`observe`] is what a running server tells about itself: Prometheus
//!    metrics, health, access logs, and each app's recent numbers and
//!    guest output.

mod app_data;
mod components;
mod dispatch;
mod error_response;
pub mod heartbeat;
mod lasting_apps;
mod listener;
pub mod observe;
mod previews;
mod router;
mod routes;
mod signal;

pub use components::{CacheLimits, ComponentCache, FAILURE_MEMORY, FetchError};
pub use dispatch::{Dispatch, SingleApp};
pub use error_response::json_response;
pub use listener::{
    CertificateFiles, Certificates, ConnectionLimits, ForwardedHeader, Listener, RequestBody,
    TlsError, TrustedProxies, raise_open_file_limit,
};
pub use previews::{
    PREVIEW_COOKIE, PREVIEW_LINK_LIFETIME, PREVIEW_LINK_PATH, PREVIEW_TOKEN_HEADER, PreviewKeys,
    grant_hash,
};
pub use router::{AppRouter, RouterConfig};
pub use routes::{instances_for_app, limits_for_app, preview_label};
pub use signal::{shutdown_signal, stop_after_drain_delay};

/// Response header carrying the digest of the component that answered.
pub const DIGEST_HEADER: &str = "wharf-digest";
/// Response header carrying the id of the request, as it appears in the log.
pub const REQUEST_ID_HEADER: &str = "wharf-request-id";
