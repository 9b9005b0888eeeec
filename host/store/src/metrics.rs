//! The store's metrics, through the `metrics` facade: every read and write
//! of the backend, with its duration and bytes.

use metrics::{Unit, counter, describe_counter, describe_histogram, histogram};
use std::time::Instant;

/// Backend reads and writes, by operation and result (`ok`, `error`).
pub const OPERATIONS: &str = "wharf_store_operations_total";
/// How long backend reads and writes took, by operation.
pub const OPERATION_DURATION: &str = "wharf_store_operation_duration_seconds";
/// Bytes read from and written to the backend, by operation.
pub const BYTES: &str = "wharf_store_bytes_total";

/// A backend operation.
#[derive(Clone, Copy)]
pub(crate) enum Operation {
    Read,
    Write,
}

impl Operation {
    fn label(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

/// Describes the store's metrics to the installed recorder.
pub fn describe() {
    describe_counter!(
        OPERATIONS,
        Unit::Count,
        "Object store reads and writes by operation and result (ok, error)."
    );
    describe_histogram!(
        OPERATION_DURATION,
        Unit::Seconds,
        "How long object store reads and writes took, by operation."
    );
    describe_counter!(
        BYTES,
        Unit::Bytes,
        "Bytes read from and written to the object store, by operation."
    );
}

/// Records one `operation` begun at `started` that moved `bytes`, or
/// failed (`None`).
pub(crate) fn record(operation: Operation, started: Instant, bytes: Option<usize>) {
    let label = operation.label();
    let result = if bytes.is_some() { "ok" } else { "error" };
    counter!(OPERATIONS, "operation" => label, "result" => result).increment(1);
    histogram!(OPERATION_DURATION, "operation" => label).record(started.elapsed());
    if let Some(bytes) = bytes {
        counter!(BYTES, "operation" => label).increment(bytes as u64);
    }
}
