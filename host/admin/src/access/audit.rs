//! Writing the audit trail: one entry for every admin request that changes
//! something, and for every request refused for its token's role or apps.

use http::HeaderMap;
use wharf_registry::{AuditEntry, Registry};
use wharf_runtime::CLIENT_IP_HEADER;

/// What a handler, or an error answer, says about the outcome, for the
/// audit entry: the digest made live, the token made, why it failed. Sent
/// in the response's extensions, never to the client.
#[derive(Clone, Debug)]
pub(crate) struct AuditNote(pub(crate) String);

/// The client's address as the listener resolved it (through trusted
/// proxies), or `unknown` for a request that came in process.
pub(crate) fn client_of(headers: &HeaderMap) -> String {
    headers
        .get(CLIENT_IP_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("unknown")
        .to_owned()
}

/// Appends `entry` to the trail. A registry that cannot take it is logged:
/// the answer to the request it records has already been decided.
pub(crate) async fn record(registry: &Registry, entry: AuditEntry) {
    if let Err(e) = registry.record_audit(&entry).await {
        tracing::warn!(
            actor = entry.actor,
            action = entry.action,
            status = entry.status,
            "cannot record an admin action in the audit trail: {e}"
        );
    }
}
