//! Identifiers that tie a response to the log lines it caused.

use std::fmt;

/// A random 64-bit id for one request, shown as 16 hex digits. It appears in
/// the `wharf-request-id` response header, in error bodies and on every log
/// line the request causes, including the guest's own output.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RequestId(u64);

impl RequestId {
    /// A fresh random id.
    pub fn new() -> Self {
        Self(rand::random())
    }
}

impl std::str::FromStr for RequestId {
    type Err = std::num::ParseIntError;

    /// Reads the 16 hex digits [`RequestId`]'s `Display` writes.
    fn from_str(hex: &str) -> Result<Self, Self::Err> {
        u64::from_str_radix(hex, 16).map(Self)
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}
