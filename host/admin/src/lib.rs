//! wharf's admin API: deploys, rollbacks, previews, hostnames, settings,
//! configuration and garbage collection, as JSON over HTTP on a listener of
//! its own, routed by axum.
//!
//! Every request needs `Authorization: Bearer <token>`: the server's own
//! token ([`AdminToken`]), which may do everything, or a scoped token kept
//! in the registry, whose role (`read`, `deploy`, `admin`) and apps limit
//! what it may do ([`endpoints`] names the role each method needs). Every
//! change, and every refusal for a token's role or apps, is recorded in
//! the audit trail.
//! The endpoints, all under `/v1` ([`endpoints`] writes each path once,
//! for the server and the `wharf` CLI):
//!
//! | method | path | does |
//! |---|---|---|
//! | POST | `/apps/{app}/deployments?preview=&message=&allow_outbound=` | deploy the body (a component or wasip1 core module) |
//! | GET | `/apps` | list apps |
//! | GET, DELETE | `/apps/{app}` | show or delete an app (its blobs stay) |
//! | PUT, DELETE | `/apps/{app}/deployments/{digest}/disabled` | disable or enable a deployment |
//! | PUT, DELETE | `/apps/{app}/deployments/{digest}/pinned` | pin or unpin a deployment |
//! | POST | `/apps/{app}/deployments/{digest}/link` | a one-time link to the deployment's preview |
//! | GET | `/apps/{app}/history` | releases and deployments, newest first |
//! | POST | `/apps/{app}/rollback` | `{"to": digest?}` |
//! | POST | `/apps/{app}/promote` | `{"digest": ...}` |
//! | PUT | `/apps/{app}/hostnames` | `{"hostnames": [...]}` |
//! | GET, PUT | `/apps/{app}/settings` | `{"outbound": [...]?, "kv_quota": n\|null?, "previews": "public"\|"token"\|"off"?}`, only the fields given change |
//! | GET | `/apps/{app}/config` | the app's configuration, secrets without values |
//! | PUT, DELETE | `/apps/{app}/config/{key}` | `{"value": ..., "secret": bool}` |
//! | GET | `/apps/{app}/logs?since=&follow=` | the app's guest output from every server, as NDJSON |
//! | GET | `/apps/{app}/stats` | the app's request rate, error rate and latency on this server |
//! | GET | `/nodes` | the servers sharing the registry |
//! | POST | `/gc` | `{"grace_seconds": n?, "dry_run": bool?}` |
//! | GET, POST | `/tokens` | list scoped tokens, or make one: `{"name", "role", "apps": [...]?, "expires_in_seconds": n?}` |
//! | DELETE | `/tokens/{token}` | revoke a token |
//! | GET | `/audit?app=&before=&limit=` | the audit trail, newest first |
//!
//! Every error is `{"error": {"code": ..., "message": ...}}` ([`ApiError`]).
//! [`api`] holds the JSON bodies; the `wharf` CLI uses the same types.

mod access;
pub mod api;
mod cluster;
mod deploy;
pub mod endpoints;
mod error;
mod extract;
mod gc;
mod handlers;
pub mod metrics;
mod router;
mod state;
mod views;

pub use access::{AdminToken, MIN_TOKEN_LEN, TokenError, TokenSource};
pub use cluster::{ClusterConfig, DEFAULT_NODE_TIMEOUT};
pub use deploy::MAX_MESSAGE_LEN;
pub use error::ApiError;
pub use extract::MAX_JSON_BODY;
pub use gc::DEFAULT_GRACE;
pub use router::{AdminApi, AdminConfig};
pub use views::{PublicUrls, rfc3339};
