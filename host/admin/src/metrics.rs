//! The admin API's metrics, through the `metrics` facade (a no-op until a
//! server installs a recorder).

use metrics::{Unit, counter, describe_counter};

/// Admin requests refused for a missing, unknown, expired or revoked token.
pub const SIGN_IN_FAILURES: &str = "wharf_admin_sign_in_failures_total";
/// Admin requests refused because the token's role or apps do not allow
/// them, by the role they needed.
pub const FORBIDDEN: &str = "wharf_admin_forbidden_total";

/// Describes the admin API's metrics to the installed recorder.
pub fn describe() {
    describe_counter!(
        SIGN_IN_FAILURES,
        Unit::Count,
        "Admin requests refused for a missing, unknown, expired or revoked token."
    );
    describe_counter!(
        FORBIDDEN,
        Unit::Count,
        "Admin requests refused by the token's role or apps, by the role needed."
    );
}

pub(crate) fn sign_in_failed() {
    counter!(SIGN_IN_FAILURES).increment(1);
}

pub(crate) fn forbidden(needed: wharf_registry::Role) {
    counter!(FORBIDDEN, "needed" => needed.as_str()).increment(1);
}
