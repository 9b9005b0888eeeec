//! Traces on the request path: spans of target [`TRACE_TARGET`], which
//! only the trace exporter sees (and none is built when traces are off),
//! and W3C trace context: an inbound `traceparent` continued, and the
//! current span's written into guests' outbound requests.

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
