//! One access-log line and one count per request, written when its
//! response ends: when the body is sent, fails, or the client leaves.

use super::AppTelemetry;
use crate::REQUEST_ID_HEADER;
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;
use wharf_runtime::AppContext;

/// Which app and deployment answered a request: put in the response's
/// extensions by the dispatch, taken out by the listener's access record.
#[derive(Clone)]
pub struct ServedBy {
    /// The deployment's context.
    pub app: Arc<AppContext>,
    /// Where the app's numbers go.
    pub telemetry: Arc<AppTelemetry>,
}

/// What a listener logs about each request.
#[derive(Clone, Copy, Debug)]
pub struct AccessLog {
    /// The listener's name in the log: `public`, `admin` or `metrics`.
    pub listener: &'static str,
    /// Whether to write a line per request (requests are counted anyway).
    pub enabled: bool,
    /// Whether the line's path keeps its query string. Off by default:
    /// queries carry tokens and other secrets.
    pub with_query: bool,
}

impl AccessLog {
    /// Starts the record of `request`, from `client`, arriving now.
    pub(crate) fn begin<B>(&self, request: &Request<B>, client: IpAddr) -> AccessStart {
        AccessStart(Some(Started {
            log: *self,
            started: Instant::now(),
            // What the line needs is kept only if a line will be written.
            line: (self.enabled
                && tracing::enabled!(target: "wharf::access", tracing::Level::INFO))
            .then(|| (request.method().clone(), request.uri().clone())),
            client,
        }))
    }
}

/// The status logged for a request whose client left before its response
/// head, as nginx logs it.
pub const CLIENT_CLOSED_REQUEST: u16 = 499;

/// A request's record before its response head. Dropped without one (the
/// client left, and its request's future with it), it logs the request as
/// [`CLIENT_CLOSED_REQUEST`].
pub(crate) struct AccessStart(Option<Started>);

struct Started {
    log: AccessLog,
    started: Instant,
    /// Its method and target, when lines are written.
    line: Option<(Method, Uri)>,
    client: IpAddr,
}

impl AccessStart {
    /// Notes `response`'s head, taking the [`ServedBy`] out of it.
    pub(crate) fn responded<B>(mut self, response: &mut Response<B>) -> AccessRecord {
        let start = self.0.take().expect("a request is answered once");
        let served = response.extensions_mut().remove::<ServedBy>();
        if let Some(served) = &served {
            served.telemetry.record_head(start.started.elapsed());
        }
        AccessRecord {
            status: response.status(),
            request_id: response.headers().get(REQUEST_ID_HEADER).cloned(),
            served,
            start,
        }
    }
}

impl Drop for AccessStart {
    fn drop(&mut self) {
        if let Some(start) = self.0.take() {
            let status = StatusCode::from_u16(CLIENT_CLOSED_REQUEST).expect("a valid status code");
            let record = AccessRecord {
                start,
                status,
                request_id: None,
                served: None,
            };
            record.finish(0, BodyEnd::ClientGone);
        }
    }
}

/// How a response body ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyEnd {
    /// Sent whole.
    Complete,
    /// Its producer failed (the guest trapped mid-body, say).
    Failed,
    /// The client went away first (before the head, or during the body).
    ClientGone,
}

impl BodyEnd {
    fn label(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Failed => "failed",
            Self::ClientGone => "client_gone",
        }
    }
}

/// A request whose response head is out.
pub(crate) struct AccessRecord {
    start: Started,
    status: StatusCode,
    request_id: Option<HeaderValue>,
    served: Option<ServedBy>,
}

impl AccessRecord {
    /// Counts the request and writes its line: its response ended as
    /// `end`, after `bytes` bytes of body.
    pub(crate) fn finish(self, bytes: u64, end: BodyEnd) {
        let elapsed = self.start.started.elapsed();
        if let Some(served) = &self.served {
            served.telemetry.record_end(self.status, elapsed);
        }
        let Some((method, uri)) = &self.start.line else {
            return;
        };
        let path = if self.start.log.with_query {
            uri.path_and_query().map_or(uri.path(), |p| p.as_str())
        } else {
            uri.path()
        };
        let facts = self.served.as_ref().map(|served| &served.app.facts);
        let request_id = self.request_id.as_ref().and_then(|id| id.to_str().ok());
        tracing::info!(
            target: "wharf::access",
            listener = %self.start.log.listener,
            app = facts.map(|facts| display(&facts.app)),
            digest = facts.map(|facts| display(facts.short_digest())),
            method = %method,
            path = %path,
            status = self.status.as_u16(),
            bytes,
            duration_ms = elapsed.as_micros() as f64 / 1000.0,
            request_id = request_id.map(display),
            client = %self.start.client,
            end = %end.label(),
        );
    }
}
