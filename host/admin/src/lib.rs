//! wharf's admin API: deploys, rollbacks, previews, hostnames, settings,
//! configuration and garbage collection, as JSON over HTTP on a listener of
//! its own, routed by axum.
//!
//! Every request needs `Authorization: Bearer <token>` ([`AdminToken`]).
//! The endpoints, all under `/v1` ([`endpoints`] writes each path once,
//! for the server and the `wharf` CLI):
//!
//! | method | path | does |
//! |---|---|---|
//! | POST | `/apps/{app}/deployments?preview=&message=&allow_outbound=` | deploy the body (a component or wasip1 core module) |
//! | GET | `/apps` | list apps |
//! | GET, DELETE | `/apps/{app}` | show or delete an app (its blobs stay) |
//! | GET | `/apps/{app}/history` | releases and deployments, newest first |
//! | POST | `/apps/{app}/rollback` | `{"to": digest?}` |
//! | POST | `/apps/{app}/promote` | `{"digest": ...}` |
//! | PUT | `/apps/{app}/hostnames` | `{"hostnames": [...]}` |
//! | GET, PUT | `/apps/{app}/settings` | `{"outbound": [...]?, "kv_quota": n\|null?}`, only the fields given change |
//! | GET | `/apps/{app}/config` | the app's configuration, secrets without values |
//! | PUT, DELETE | `/apps/{app}/config/{key}` | `{"value": ..., "secret": bool}` |
//! | GET | `/apps/{app}/logs?since=&follow=` | the app's guest output from every server, as NDJSON |
//! | GET | `/apps/{app}/stats` | the app's request rate, error rate and latency on this server |
//! | GET | `/nodes` | the servers sharing the registry |
//! | POST | `/gc` | `{"grace_seconds": n?}` |
//!
//! Every error is `{"error": {"code": ..., "message": ...}}` ([`ApiError`]).
//! [`api`] holds the JSON bodies; the `wharf` CLI uses the same types.

pub mod api;
mod cluster;
mod deploy;
pub mod endpoints;
mod error;
mod extract;
mod gc;
mod handlers;
mod router;
mod state;
mod token;
mod views;

pub use cluster::{ClusterConfig, DEFAULT_NODE_TIMEOUT};
pub use deploy::MAX_MESSAGE_LEN;
pub use error::ApiError;
pub use extract::MAX_JSON_BODY;
pub use gc::DEFAULT_GRACE;
pub use router::{AdminApi, AdminConfig};
pub use token::{AdminToken, MIN_TOKEN_LEN, TokenError, TokenSource};
pub use views::{PublicUrls, rfc3339};
