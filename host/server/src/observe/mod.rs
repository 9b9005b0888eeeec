//! What a running server tells about itself:
//!
//! - `metrics.rs`: the server's metrics and the Prometheus exporter that
//!   renders every metric of the process ([`Metrics`]);
//! - `endpoint.rs`: the metrics listener's `/metrics`, `/livez` and
//!   `/readyz` ([`MetricsEndpoint`]);
//! - `health.rs`: liveness and readiness ([`Health`]), also answered on the
//!   public listener under `/.well-known/wharf/`;
//! - `access.rs`: one access-log line and one count per request
//!   ([`AccessLog`]);
//! - `app_telemetry.rs`: what each app's requests and guests leave behind
//!   ([`AppTelemetry`]): its meters, its recent numbers (`window.rs`) and
//!   its recent guest output (`log_tail.rs`).

pub(crate) mod access;
mod app_telemetry;
mod endpoint;
mod health;
mod log_tail;
pub mod metrics;
mod window;

pub(crate) use access::AccessRecord;
pub use access::{AccessLog, ServedBy};
pub use app_telemetry::AppTelemetry;
pub use endpoint::MetricsEndpoint;
pub use health::{Health, NotReady};
pub use log_tail::{
    FOLLOW_BACKLOG, LOG_TAIL_BYTES, LOG_TAIL_LINES, LogLine, LogTail, NumberedLine,
};
pub use metrics::{Metrics, MetricsError};
pub use window::{AppStats, WINDOW};
