//! Traces on the request path: the spans wharf exports, of target
//! [`TRACE_TARGET`], which only the trace exporter sees (and none is built
//! when traces are off): a request, its `load`, its `guest` run with its
//! `instantiate`, and each outbound request; and W3C trace context: an
//! inbound `traceparent` continued, and the current span's written into
//! guests' outbound requests.

use futures::future::Either;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use tracing::Span;
use tracing::instrument::{Instrument, Instrumented};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The target of the spans wharf exports as traces.
pub const TRACE_TARGET: &str = "wharf::trace";

/// Makes `span` continue the trace `headers` carry (`traceparent`), if any.
pub fn continue_trace(span: &Span, headers: &http::HeaderMap) {
    if span.is_disabled() || !headers.contains_key("traceparent") {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    // Fails only for a span the exporter does not see.
    let _ = span.set_parent(parent);
}

/// Writes `span`'s trace context into `headers`, so that whoever receives
/// them continues the trace.
pub fn inject_trace(span: &Span, headers: &mut http::HeaderMap) {
    if span.is_disabled() {
        return;
    }
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    });
}

/// `future` in `span` when traces are on, and as it is when they are off
/// (`span` disabled), so that requests pay nothing for spans no one
/// exports.
pub fn in_span<F: Future>(future: F, span: Span) -> Either<Instrumented<F>, F> {
    if span.is_disabled() {
        Either::Right(future)
    } else {
        Either::Left(future.instrument(span))
    }
}

/// The span of one request, continuing the trace its `traceparent` names.
/// Its app and digest are recorded once routed ([`record_deployment`]),
/// its status once answered ([`record_status`]).
pub fn request_span<B>(request: &http::Request<B>, request_id: impl std::fmt::Display) -> Span {
    let span = tracing::info_span!(
        target: TRACE_TARGET,
        "request",
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %request.method(),
        url.path = request.uri().path(),
        wharf.app = tracing::field::Empty,
        wharf.digest = tracing::field::Empty,
        wharf.request_id = %request_id,
        http.response.status_code = tracing::field::Empty,
    );
    continue_trace(&span, request.headers());
    span
}

/// Records on the current request's span the app and digest it went to.
pub fn record_deployment(app: &str, short_digest: &str) {
    let span = Span::current();
    span.record("wharf.app", app);
    span.record("wharf.digest", short_digest);
}

/// Records the status a request's span ended with; a 5xx marks it failed.
pub fn record_status(span: &Span, status: http::StatusCode) {
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
}

/// The span of finding a request's compiled component.
pub fn load_span() -> Span {
    tracing::info_span!(target: TRACE_TARGET, "load")
}

/// The span of a guest's run; marked failed if the run fails.
pub fn guest_span() -> Span {
    tracing::info_span!(target: TRACE_TARGET, "guest", otel.status_code = tracing::field::Empty)
}

/// The span of instantiating a guest.
pub fn instantiate_span() -> Span {
    tracing::info_span!(target: TRACE_TARGET, "instantiate")
}
