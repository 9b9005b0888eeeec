//! The runtime's metrics, recorded through the `metrics` facade (a no-op
//! until a server installs a recorder). Every app label names a deployed
//! app; no label carries a path, a key or a request id.

use metrics::{Unit, counter, describe_counter};

/// Outbound HTTP requests, by app and [`OutboundResult`].
pub const OUTBOUND_REQUESTS: &str = "wharf_outbound_requests_total";
/// `wasi:keyvalue` operations, by app and operation.
pub const KEYVALUE_OPERATIONS: &str = "wharf_keyvalue_operations_total";

/// How an outbound request ended.
#[derive(Clone, Copy, Debug)]
pub(crate) enum OutboundResult {
    /// A response head came back.
    Sent,
    /// The app's outbound policy refused it.
    Denied,
    /// It was allowed but failed: DNS, connect, TLS, a timeout.
    Failed,
}

impl OutboundResult {
    fn label(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }
}

/// Describes the runtime's metrics to the installed recorder.
pub fn describe() {
    describe_counter!(
        OUTBOUND_REQUESTS,
        Unit::Count,
        "Outbound HTTP requests by app and result (sent, denied, failed)."
    );
    describe_counter!(
        KEYVALUE_OPERATIONS,
        Unit::Count,
        "wasi:keyvalue operations by app and operation."
    );
}

pub(crate) fn outbound_request(app: &str, result: OutboundResult) {
    counter!(OUTBOUND_REQUESTS, "app" => app.to_owned(), "result" => result.label()).increment(1);
}

pub(crate) fn keyvalue_operation(app: &str, operation: &'static str) {
    counter!(KEYVALUE_OPERATIONS, "app" => app.to_owned(), "operation" => operation).increment(1);
}
