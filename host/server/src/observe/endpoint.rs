//! The metrics listener: `GET /metrics` for Prometheus, and `/livez` and
//! `/readyz` for orchestrators. No token: it belongs on loopback or a
//! private network, like every Prometheus exporter.

use super::{Health, Metrics};
use crate::Dispatch;
use crate::error_response::{full_response, text_response};
use crate::listener::RequestBody;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use std::sync::Arc;
use wharf_runtime::GuestBody;

/// Prometheus's text exposition format.
const EXPOSITION: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metrics listener's dispatch.
pub struct MetricsEndpoint {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

impl MetricsEndpoint {
    /// Serves `metrics` and `health`.
    pub fn new(metrics: Arc<Metrics>, health: Arc<Health>) -> Self {
        Self { metrics, health }
    }
}

impl Dispatch for MetricsEndpoint {
    async fn dispatch(&self, request: Request<RequestBody>) -> Response<GuestBody> {
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return text_response(StatusCode::METHOD_NOT_ALLOWED, "use GET\n".to_owned());
        }
        match request.uri().path() {
            "/metrics" => {
                let metrics = self.metrics.clone();
                match tokio::task::spawn_blocking(move || metrics.render()).await {
                    Ok(text) => full_response(StatusCode::OK, EXPOSITION, Bytes::from(text)),
                    Err(e) => text_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("the metrics could not be rendered: {e}\n"),
                    ),
                }
            }
            "/livez" => self.health.live_response(),
            "/readyz" => self.health.ready_response(),
            other => text_response(
                StatusCode::NOT_FOUND,
                format!("no `{other}` here: this listener has /metrics, /livez and /readyz\n"),
            ),
        }
    }
}
