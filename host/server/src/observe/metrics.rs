//! The server's metrics, and the one recorder every metric of the process
//! goes to: `metrics-exporter-prometheus`, rendered on the metrics
//! listener's `GET /metrics` in Prometheus's text format.
//!
//! Labels stay bounded: `app` only ever names an app deployed while the
//! server ran (its series stay after it is deleted, until a restart), and
//! no label carries a path, a host or a request id. Gauges that describe a state
//! (instance slots, the component cache, the registry feed) are read when
//! Prometheus scrapes, not kept up to date on the request path.

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wharf_runtime::InvokeError;

/// Requests routed to an app, by app and status class (`2xx`...); those
/// refused before its guest ran (overload, body too large) are also
/// counted under [`REFUSED`].
pub const REQUESTS: &str = "wharf_requests_total";
/// Time from a request's arrival to its response head, by app.
pub const REQUEST_HEAD_DURATION: &str = "wharf_request_head_duration_seconds";
/// Time from a request's arrival to the end of its response body, by app.
pub const REQUEST_DURATION: &str = "wharf_request_duration_seconds";
/// Requests answered without running a guest, by [`Refusal`].
pub const REFUSED: &str = "wharf_requests_refused_total";
/// Guest runs that failed, by app and kind (`trap`, `deadline`,
/// `memory_limit`...).
pub const GUEST_FAILURES: &str = "wharf_guest_failures_total";
/// Instance slots held by requests now.
pub const INSTANCES_IN_USE: &str = "wharf_instance_slots_in_use";
/// Instance slots in the pool.
pub const INSTANCE_SLOTS: &str = "wharf_instance_slots";
/// Compiled components handed to requests and deploys, by source
/// (`memory`, `disk`, `shared`, `compile`) and compiler.
pub const COMPONENT_LOADS: &str = "wharf_component_loads_total";
/// How long compiles took, by compiler.
pub const COMPILE_DURATION: &str = "wharf_compile_duration_seconds";
/// Components compiled and in memory now.
pub const CACHE_ENTRIES: &str = "wharf_component_cache_entries";
/// Compiled code in memory now.
pub const CACHE_BYTES: &str = "wharf_component_cache_bytes";
/// Components dropped from memory to stay within the cache limits.
pub const CACHE_EVICTIONS: &str = "wharf_component_cache_evictions_total";
/// The registry change-feed position the routes in use reflect.
pub const FEED_POSITION: &str = "wharf_registry_feed_position";
/// Seconds since the server last found its routes current with the
/// registry.
pub const SINCE_REGISTRY_CHECKED: &str = "wharf_registry_seconds_since_checked";
/// 1 while the server is ready for traffic, 0 otherwise.
pub const READY: &str = "wharf_ready";
/// Always 1, labelled with the version and the engine tag.
pub const BUILD_INFO: &str = "wharf_build_info";

/// Histogram buckets of every `_seconds` histogram: 0.5 ms to 1 minute.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// How often histogram samples are folded into their buckets.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Why a request was answered without a guest running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No app is routed for its host, or the app has nothing live.
    NoSuchApp,
    /// Every instance slot was busy.
    Overloaded,
    /// Its app held its whole share of the slots.
    AppOverloaded,
    /// Its client had too many requests in flight.
    ClientOverloaded,
    /// Its body was larger than the limit.
    BodyTooLarge,
    /// Its client stopped sending the body.
    BodyStalled,
    /// Its host was missing or ambiguous.
    BadRequest,
    /// Its app's component could not be loaded.
    Unavailable,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Self::NoSuchApp => "no_such_app",
            Self::Overloaded => "overloaded",
            Self::AppOverloaded => "app_overloaded",
            Self::ClientOverloaded => "client_overloaded",
            Self::BodyTooLarge => "body_too_large",
            Self::BodyStalled => "body_stalled",
            Self::BadRequest => "bad_request",
            Self::Unavailable => "unavailable",
        }
    }

    /// Counts one refusal.
    pub fn count(self) {
        counter!(REFUSED, "reason" => self.label()).increment(1);
    }
}

/// Counts `error` from a request to `app`: as a refusal when no guest ran
/// (or the client's body was at fault), as a guest failure otherwise.
pub fn count_invoke_error(app: &str, error: &InvokeError) {
    let kind = match error {
        InvokeError::Overloaded { .. } => return Refusal::Overloaded.count(),
        InvokeError::AppOverloaded { .. } => return Refusal::AppOverloaded.count(),
        InvokeError::BodyTooLarge { .. } => return Refusal::BodyTooLarge.count(),
        InvokeError::BodyStalled { .. } => return Refusal::BodyStalled.count(),
        InvokeError::DeadlineExceeded { .. } => "deadline",
        InvokeError::CpuTimeExceeded { .. } => "cpu_time",
        InvokeError::MemoryLimitExceeded { .. } => "memory_limit",
        InvokeError::Trapped => "trap",
        InvokeError::BadCgiResponse(_) => "bad_response",
        InvokeError::Exited(_) => "exit",
        InvokeError::NoResponse => "no_response",
        InvokeError::GuestError(_) => "guest_error",
        _ => "internal",
    };
    counter!(GUEST_FAILURES, "app" => app.to_owned(), "kind" => kind).increment(1);
}

/// Why the metrics recorder could not be installed.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the metrics recorder: {0}")]
pub struct MetricsError(#[source] BuildError);

/// The process's metrics recorder, and what else is read at each scrape.
pub struct Metrics {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
    /// Set gauges from the state they describe, at each scrape.
    at_scrape: Mutex<Vec<Box<dyn Fn() + Send + Sync>>>,
}

impl Metrics {
    /// Installs the process-wide recorder, describes every metric of the
    /// server, the runtime and the store, and sets `wharf_build_info`.
    /// Metrics recorded before this go nowhere, so a server calls it first.
    pub fn install(engine_tag: &str) -> Result<Arc<Self>, MetricsError> {
        let handle = PrometheusBuilder::new()
            .set_buckets(SECONDS_BUCKETS)
            .and_then(PrometheusBuilder::install_recorder)
            .map_err(MetricsError)?;
        describe();
        wharf_runtime::metrics::describe();
        wharf_store::metrics::describe();
        let process = metrics_process::Collector::default();
        process.describe();
        gauge!(
            BUILD_INFO,
            "version" => env!("CARGO_PKG_VERSION"),
            "engine_tag" => engine_tag.to_owned()
        )
        .set(1.0);
        Ok(Arc::new(Self {
            handle,
            process,
            at_scrape: Mutex::default(),
        }))
    }

    /// Runs `read` before each scrape, to set gauges from current state.
    pub fn at_scrape(&self, read: impl Fn() + Send + Sync + 'static) {
        self.at_scrape
            .lock()
            .expect("scrape hooks lock")
            .push(Box::new(read));
    }

    /// Every metric, in Prometheus's text exposition format. It walks
    /// every series and reads /proc: call it off the request threads.
    pub fn render(&self) -> String {
        for read in self.at_scrape.lock().expect("scrape hooks lock").iter() {
            read();
        }
        self.process.collect();
        self.handle.render()
    }

    /// Folds histogram samples into their buckets every few seconds, so
    /// memory stays bounded between scrapes (or with no scrapes at all).
    pub fn keep_up(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let metrics = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(UPKEEP_INTERVAL);
            loop {
                ticks.tick().await;
                let Some(metrics) = metrics.upgrade() else {
                    return;
                };
                metrics.handle.run_upkeep();
            }
        })
    }
}

fn describe() {
    describe_counter!(
        REQUESTS,
        Unit::Count,
        "Requests routed to an app, by app and status class."
    );
    describe_histogram!(
        REQUEST_HEAD_DURATION,
        Unit::Seconds,
        "Time from a request's arrival to its response head, by app."
    );
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "Time from a request's arrival to the end of its response body, by app."
    );
    describe_counter!(
        REFUSED,
        Unit::Count,
        "Requests answered without running a guest, by reason."
    );
    describe_counter!(
        GUEST_FAILURES,
        Unit::Count,
        "Guest runs that failed, by app and kind."
    );
    describe_gauge!(
        INSTANCES_IN_USE,
        Unit::Count,
        "Instance slots held by requests."
    );
    describe_gauge!(INSTANCE_SLOTS, Unit::Count, "Instance slots in the pool.");
    describe_counter!(
        COMPONENT_LOADS,
        Unit::Count,
        "Compiled components handed out, by source (memory, disk, shared, compile) and compiler."
    );
    describe_histogram!(
        COMPILE_DURATION,
        Unit::Seconds,
        "How long compiles took, by compiler."
    );
    describe_gauge!(
        CACHE_ENTRIES,
        Unit::Count,
        "Components compiled and in memory."
    );
    describe_gauge!(CACHE_BYTES, Unit::Bytes, "Compiled code in memory.");
    describe_counter!(
        CACHE_EVICTIONS,
        Unit::Count,
        "Components dropped from memory to stay within the cache limits."
    );
    describe_gauge!(
        FEED_POSITION,
        Unit::Count,
        "The registry change-feed position the routes in use reflect."
    );
    describe_gauge!(
        SINCE_REGISTRY_CHECKED,
        Unit::Seconds,
        "Seconds since the routes were last found current with the registry."
    );
    describe_gauge!(
        READY,
        Unit::Count,
        "1 while the server is ready for traffic."
    );
    describe_gauge!(
        BUILD_INFO,
        Unit::Count,
        "Always 1, labelled with wharf's version and the engine tag."
    );
}
