//! What each app's requests and guests leave behind on this server: its
//! Prometheus meters (handles registered once, so a request pays no
//! lookup), its recent numbers and its recent guest output.

use super::log_tail::LogTail;
use super::metrics::{REQUEST_DURATION, REQUEST_HEAD_DURATION, REQUESTS};
use super::window::{AppStats, RequestWindow};
use http::StatusCode;
use metrics::{Counter, Histogram, counter, histogram};
use std::time::Duration;
use wharf_runtime::{GuestLine, GuestLogSink};

/// One app's telemetry on this server, kept for as long as the app exists.
pub struct AppTelemetry {
    /// `wharf_requests_total` by status class, 1xx to 5xx.
    requests: [Counter; 5],
    head_duration: Histogram,
    duration: Histogram,
    window: RequestWindow,
    logs: LogTail,
}

impl AppTelemetry {
    /// Telemetry for `app`, its meters registered with the installed
    /// recorder (if any).
    pub fn new(app: &str) -> Self {
        let class =
            |class: &'static str| counter!(REQUESTS, "app" => app.to_owned(), "status" => class);
        Self {
            requests: [
                class("1xx"),
                class("2xx"),
                class("3xx"),
                class("4xx"),
                class("5xx"),
            ],
            head_duration: histogram!(REQUEST_HEAD_DURATION, "app" => app.to_owned()),
            duration: histogram!(REQUEST_DURATION, "app" => app.to_owned()),
            window: RequestWindow::default(),
            logs: LogTail::new(app),
        }
    }

    /// Records a response head sent `elapsed` after its request arrived.
    pub fn record_head(&self, elapsed: Duration) {
        self.head_duration.record(elapsed);
    }

    /// Records a request whose response ended `elapsed` after it arrived.
    pub fn record_end(&self, status: StatusCode, elapsed: Duration) {
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        self.requests[class].increment(1);
        self.duration.record(elapsed);
        self.window.record(status.is_server_error(), elapsed);
    }

    /// The app's numbers over the last five minutes.
    pub fn stats(&self) -> AppStats {
        self.window.stats()
    }

    /// The app's recent guest output.
    pub fn logs(&self) -> &LogTail {
        &self.logs
    }
}

impl GuestLogSink for AppTelemetry {
    fn line(&self, line: GuestLine<'_>) {
        self.logs.push(line);
    }
}
