//! What each app's requests and guests leave behind on this server: its
//! Prometheus meters (handles registered once, so a request pays no
//! lookup), its recent numbers and its recent guest output. The meters and
//! numbers are made at the app's first request, so an app nobody calls
//! costs next to nothing.

use super::log_tail::LogTail;
use super::metrics::{REQUEST_DURATION, REQUEST_HEAD_DURATION, REQUESTS};
use super::window::{AppStats, RequestWindow};
use http::StatusCode;
use metrics::{Counter, Histogram, counter, histogram};
use std::sync::OnceLock;
use std::time::Duration;
use wharf_runtime::{GuestLine, GuestLogSink};

/// One app's telemetry on this server, kept for as long as the app exists.
pub struct AppTelemetry {
    app: String,
    requested: OnceLock<Box<Requested>>,
    logs: LogTail,
}

/// What an app that has had requests keeps.
struct Requested {
    /// `wharf_requests_total` by status class, 1xx to 5xx.
    requests: [Counter; 5],
    head_duration: Histogram,
    duration: Histogram,
    window: RequestWindow,
}

impl AppTelemetry {
    /// Telemetry for `app`.
    pub fn new(app: &str) -> Self {
        Self {
            app: app.to_owned(),
            requested: OnceLock::new(),
            logs: LogTail::new(app),
        }
    }

    /// The meters and numbers, made (and registered with the installed
    /// recorder, if any) at the first request.
    fn requested(&self) -> &Requested {
        self.requested.get_or_init(|| {
            let app = &self.app;
            let class =
                |class: &'static str| counter!(REQUESTS, "app" => app.clone(), "status" => class);
            Box::new(Requested {
                requests: [
                    class("1xx"),
                    class("2xx"),
                    class("3xx"),
                    class("4xx"),
                    class("5xx"),
                ],
                head_duration: histogram!(REQUEST_HEAD_DURATION, "app" => app.clone()),
                duration: histogram!(REQUEST_DURATION, "app" => app.clone()),
                window: RequestWindow::default(),
            })
        })
    }

    /// Records a response head sent `elapsed` after its request arrived.
    pub fn record_head(&self, elapsed: Duration) {
        self.requested().head_duration.record(elapsed);
    }

    /// Records a request whose response ended `elapsed` after it arrived.
    pub fn record_end(&self, status: StatusCode, elapsed: Duration) {
        let requested = self.requested();
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        requested.requests[class].increment(1);
        requested.duration.record(elapsed);
        requested.window.record(status.is_server_error(), elapsed);
    }

    /// The app's numbers over the last five minutes.
    pub fn stats(&self) -> AppStats {
        self.requested
            .get()
            .map(|requested| requested.window.stats())
            .unwrap_or_default()
    }

    /// Requests per second over the last minute.
    pub fn rate_1m(&self) -> f64 {
        self.requested
            .get()
            .map_or(0.0, |requested| requested.window.rate_1m())
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
