//! The admin API's JSON bodies, shared by the server and the `wharf` CLI,
//! by what they are about.

mod access;
mod apps;
mod deployments;
mod gc;
mod observe;

pub use access::{
    AuditEntryInfo, AuditTrail, CreatedToken, TokenInfo, TokenList, TokenRequest, describe_scope,
};
pub use apps::{
    AppInfo, AppList, AppSettingsBody, ConfigEntryView, ConfigList, ConfigSetRequest,
    HostnamesRequest, LimitsBody, SettingsUpdate,
};
pub use deployments::{
    DeployResult, DeploymentInfo, History, PreviewLink, PromoteRequest, ReleaseInfo,
    RollbackRequest,
};
pub use gc::{GcRequest, GcResult, PrunedDeployment};
pub use observe::{AppStatsBody, NodeInfo, NodeList};
pub use wharf_server::observe::{AppStats, LogLine};

use serde::{Deserialize, Serialize};

/// Body of every error answer: `{"error": {"code": ..., "message": ...}}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, for programs and for people.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// The status in words (`not_found`, `conflict`, ...); see
    /// [`ApiError::code`](crate::ApiError::code).
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
}
