//! Scoped tokens and the audit trail.

use serde::{Deserialize, Serialize};

/// Body of `POST /v1/tokens`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The token's name, recorded with everything done with it.
    pub name: String,
    /// `read`, `deploy` or `admin`.
    pub role: String,
    /// The apps it is limited to; empty or absent for every app.
    #[serde(default)]
    pub apps: Vec<String>,
    /// How long it works, in seconds; absent for ever.
    #[serde(default)]
    pub expires_in_seconds: Option<u64>,
}

/// A scoped token, without its secret.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Its name.
    pub name: String,
    /// `read`, `deploy` or `admin`.
    pub role: String,
    /// The apps it is limited to; empty for every app.
    pub apps: Vec<String>,
    /// RFC 3339 time it was made.
    pub created_at: String,
    /// The token that made it.
    pub created_by: String,
    /// RFC 3339 time it stops working, if ever.
    pub expires_at: Option<String>,
    /// Whether it has stopped working.
    pub expired: bool,
}

/// The answer to `POST /v1/tokens`: the only time the secret is shown.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreatedToken {
    /// The token.
    #[serde(flatten)]
    pub info: TokenInfo,
    /// Its secret, to send as `Authorization: Bearer <secret>`. wharf keeps
    /// only its hash.
    pub secret: String,
}

/// Every scoped token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenList {
    /// By name.
    pub tokens: Vec<TokenInfo>,
}

/// One entry of the audit trail.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditEntryInfo {
    /// Its position; pass it as `before` to page back.
    pub id: i64,
    /// RFC 3339 time.
    pub at: String,
    /// The token's name; empty when none was recognized.
    pub actor: String,
    /// The client's address.
    pub client: String,
    /// What was asked: `deploy`, `rollback`, `create token`...
    pub action: String,
    /// The app it was about, if any.
    pub app: Option<String>,
    /// The HTTP status of the answer.
    pub status: u16,
    /// What came of it: what changed, or why it was refused.
    pub detail: String,
}

/// Part of the audit trail, newest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditTrail {
    /// The entries.
    pub entries: Vec<AuditEntryInfo>,
}

/// The apps a token covers, as messages write them: `shop, blog`, or
/// `every app` for a token limited to none.
pub fn describe_scope<T: std::fmt::Display>(apps: &[T]) -> String {
    if apps.is_empty() {
        return "every app".to_owned();
    }
    let apps: Vec<String> = apps.iter().map(ToString::to_string).collect();
    apps.join(", ")
}
