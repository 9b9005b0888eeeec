//! Scoped tokens: made, listed and revoked by an admin token that covers
//! every app. A token's secret is shown once, when it is made.

use crate::access::{AuditNote, Caller};
use crate::api::{CreatedToken, TokenInfo, TokenList, TokenRequest, describe_scope};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::Admin;
use crate::views::rfc3339;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::StatusCode;
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use wharf_registry::{AppName, Role, TokenName, TokenRecord};

/// The longest a token may be made to last: ten years.
const MAX_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// `GET /v1/tokens`.
pub(crate) async fn list(State(admin): State<Arc<Admin>>) -> Result<Json<TokenList>, ApiError> {
    let tokens = admin.registry.tokens().await?;
    Ok(Json(TokenList {
        tokens: tokens.iter().map(info).collect(),
    }))
}

/// `POST /v1/tokens`: makes a token and answers its secret, once.
pub(crate) async fn create(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    JsonBody(body): JsonBody<TokenRequest>,
) -> Result<Response, ApiError> {
    let name: TokenName = body.name.parse()?;
    let role: Role = body
        .role
        .parse()
        .map_err(|e: wharf_registry::UnknownRole| ApiError::bad_request(e.to_string()))?;
    let mut apps = body
        .apps
        .iter()
        .map(|app| app.parse::<AppName>())
        .collect::<Result<Vec<_>, _>>()?;
    apps.sort();
    apps.dedup();
    let expires_at = match body.expires_in_seconds {
        None => None,
        Some(0) => return Err(ApiError::bad_request("expires_in_seconds must be above 0")),
        Some(seconds) if Duration::from_secs(seconds) > MAX_LIFETIME => {
            return Err(ApiError::bad_request(
                "a token may last at most ten years; leave the expiry out for one that never \
                 expires",
            ));
        }
        Some(seconds) => Some(SystemTime::now() + Duration::from_secs(seconds)),
    };
    let secret = format!("wharf_t_{}", hex::encode(rand::random::<[u8; 32]>()));
    let record = TokenRecord {
        name,
        role,
        apps,
        created_at: SystemTime::now(),
        created_by: caller.name.clone(),
        expires_at,
    };
    let hash = hex::encode(Sha256::digest(secret.as_bytes()));
    admin.registry.create_token(&record, &hash).await?;
    let info = info(&record);
    tracing::info!(token = info.name, role = info.role, apps = ?info.apps, "token created");
    let note = AuditNote(format!(
        "token `{}`: {} on {}",
        info.name,
        info.role,
        describe_scope(&info.apps)
    ));
    let mut response = (StatusCode::CREATED, Json(CreatedToken { info, secret })).into_response();
    response.extensions_mut().insert(note);
    Ok(response)
}

/// `DELETE /v1/tokens/{token}`: the token stops working at once.
pub(crate) async fn revoke(
    State(admin): State<Arc<Admin>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let name: TokenName = name.parse()?;
    admin.registry.revoke_token(&name).await?;
    tracing::info!(token = %name, "token revoked");
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .extensions_mut()
        .insert(AuditNote(format!("token `{name}`")));
    Ok(response)
}

fn info(token: &TokenRecord) -> TokenInfo {
    TokenInfo {
        name: token.name.to_string(),
        role: token.role.to_string(),
        apps: token.apps.iter().map(ToString::to_string).collect(),
        created_at: rfc3339(token.created_at),
        created_by: token.created_by.clone(),
        expires_at: token.expires_at.map(rfc3339),
        expired: token.expires_at.is_some_and(|at| at <= SystemTime::now()),
    }
}
