//! wharf's admin API: deploys, rollbacks, previews, hostnames and garbage
//! collection, as JSON over HTTP on a listener of its own.
//!
//! Every request needs `Authorization: Bearer <token>` ([`AdminToken`]).
//! The endpoints, all under `/v1`:
//!
//! | method | path | does |
//! |---|---|---|
//! | POST | `/apps/{app}/deployments?preview=&message=` | deploy the body (a component or wasip1 core module) |
//! | GET | `/apps` | list apps |
//! | GET, DELETE | `/apps/{app}` | show or delete an app (its blobs stay) |
//! | GET | `/apps/{app}/history` | releases and deployments, newest first |
//! | POST | `/apps/{app}/rollback` | `{"to": digest?}` |
//! | POST | `/apps/{app}/promote` | `{"digest": ...}` |
//! | PUT | `/apps/{app}/hostnames` | `{"hostnames": [...]}` |
//! | POST | `/gc` | `{"grace_seconds": n?}` |
//!
//! [`api`] holds the JSON bodies; the `wharf` CLI uses the same types.

pub mod api;
mod deploy;
mod error;
mod gc;
mod service;
mod token;
mod views;

pub use deploy::MAX_MESSAGE_LEN;
pub use error::ApiError;
pub use gc::DEFAULT_GRACE;
pub use service::{Admin, AdminConfig};
pub use token::{AdminToken, MIN_TOKEN_LEN, TokenSource};
pub use views::{PublicUrls, rfc3339};
