//! Who may call the admin API, and the record of what they did.
//!
//! - [`token`]: the server's own token ([`AdminToken`]), which is `admin`,
//!   and the peer credential servers read each other's logs with.
//! - [`caller`]: [`Caller`], the token a request carries resolved to a name,
//!   a role and the apps it covers, and the check of one permission.
//! - [`check`]: the two layers in front of every handler: who is calling
//!   (401 without a valid token), then whether the endpoint's method is
//!   open to them (403 naming what is missing), per [`crate::endpoints`].
//! - [`audit`]: the audit trail entry each change and each refusal leaves.

pub(crate) mod audit;
pub(crate) mod caller;
pub(crate) mod check;
pub(crate) mod token;

pub(crate) use audit::AuditNote;
pub(crate) use caller::Caller;
pub use token::{AdminToken, MIN_TOKEN_LEN, TokenError, TokenSource};
