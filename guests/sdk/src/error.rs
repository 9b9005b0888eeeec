//! [`Error`]: an HTTP status with a message, what a handler returns when it
//! cannot answer normally.

use std::fmt;

/// A failed request: an HTTP status and a message.
///
/// `?` turns any [`std::error::Error`] into a 500 whose message goes to the
/// app's log (wharf's stderr), while the client sees only
/// `500 Internal Server Error`. For 4xx statuses the message is the
/// response body, so say there what the client should change.
///
/// ```
/// use wharf_sdk::{Error, Request, Result};
///
/// fn quantity(request: &Request) -> Result<u32> {
///     let raw = request
///         .query_param("quantity")
///         .ok_or_else(|| Error::bad_request("add ?quantity=N to the URL"))?;
///     raw.parse()
///         .map_err(|_| Error::bad_request(format!("quantity must be a whole number, not {raw:?}")))
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    status: u16,
    message: String,
}

/// What handlers return: `Result<Response>` is `Result<Response, Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with any status. Statuses outside 400–599 become 500.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        let status = if (400..=599).contains(&status) {
            status
        } else {
            500
        };
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// 500 Internal Server Error; the message is logged, not sent.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }

    /// 502 Bad Gateway: an upstream that the app called failed.
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(502, message)
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(error: E) -> Self {
        Self::internal(error.to_string())
    }
}
