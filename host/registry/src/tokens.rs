//! Scoped admin tokens: each kept as the SHA-256 of its secret, with a
//! role, the apps it is limited to, and when it expires. The server's own
//! token (`WHARF_ADMIN_TOKEN` or its token file) is not kept here.

use crate::rows::{from_millis, to_millis};
use crate::{AppName, Registry, RegistryError, TokenName};
use sqlx::Row;
use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

/// What a token may do. Each role may do what the one before it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Read apps, history, settings, configuration (without secrets'
    /// values), logs and numbers.
    Read,
    /// Also deploy, promote, roll back and change configuration.
    Deploy,
    /// Everything: tokens, hostnames, settings, deleting apps, gc, the
    /// whole audit trail.
    Admin,
}

impl Role {
    /// The role's name, as stored and as the CLI takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Deploy => "deploy",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is none of `read`, `deploy` and `admin`.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a role: use read, deploy or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(Role::Read),
            "deploy" => Ok(Role::Deploy),
            "admin" => Ok(Role::Admin),
            _ => Err(UnknownRole(s.to_owned())),
        }
    }
}

/// A scoped token, without its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// Its name, recorded with everything done with it.
    pub name: TokenName,
    /// What it may do.
    pub role: Role,
    /// The apps it is limited to; empty for every app.
    pub apps: Vec<AppName>,
    /// When it was made, by the database's clock (ignored when writing).
    pub created_at: SystemTime,
    /// The name of the token that made it.
    pub created_by: String,
    /// When it stops working, if ever.
    pub expires_at: Option<SystemTime>,
}

impl TokenRecord {
    /// Whether the token may act on `app` at all.
    pub fn covers(&self, app: &AppName) -> bool {
        self.apps.is_empty() || self.apps.contains(app)
    }
}

impl Registry {
    /// Keeps `token`, whose secret hashes to `secret_sha256` (hex).
    /// [`RegistryError::TokenExists`] when the name is taken.
    pub async fn create_token(
        &self,
        token: &TokenRecord,
        secret_sha256: &str,
    ) -> Result<(), RegistryError> {
        let apps: Vec<&str> = token.apps.iter().map(AppName::as_str).collect();
        let done = sqlx::query(&format!(
            "INSERT INTO tokens (name, secret_sha256, role, apps, created_at, created_by, \
             expires_at) VALUES ($1, $2, $3, $4, {}, $5, $6) ON CONFLICT (name) DO NOTHING",
            self.now_ms()
        ))
        .bind(token.name.as_str())
        .bind(secret_sha256)
        .bind(token.role.as_str())
        .bind(apps.join(" "))
        .bind(&token.created_by)
        .bind(token.expires_at.map(to_millis))
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(RegistryError::TokenExists(token.name.to_string()));
        }
        Ok(())
    }

    /// The unexpired token whose secret hashes to `secret_sha256` (hex).
    pub async fn token_by_secret(
        &self,
        secret_sha256: &str,
    ) -> Result<Option<TokenRecord>, RegistryError> {
        let row = sqlx::query(&format!(
            "SELECT name, role, apps, created_at, created_by, expires_at FROM tokens \
             WHERE secret_sha256 = $1 AND (expires_at IS NULL OR expires_at > {})",
            self.now_ms()
        ))
        .bind(secret_sha256)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(token_of).transpose()
    }

    /// Every token, expired ones too, by name.
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>, RegistryError> {
        let rows = sqlx::query(
            "SELECT name, role, apps, created_at, created_by, expires_at FROM tokens \
             ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(token_of).collect()
    }

    /// Deletes the token named `name`: it stops working at once.
    /// [`RegistryError::UnknownToken`] when there is none.
    pub async fn revoke_token(&self, name: &TokenName) -> Result<(), RegistryError> {
        let done = sqlx::query("DELETE FROM tokens WHERE name = $1")
            .bind(name.as_str())
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(RegistryError::UnknownToken(name.to_string()));
        }
        Ok(())
    }
}

fn token_of(row: &sqlx::any::AnyRow) -> Result<TokenRecord, RegistryError> {
    let malformed = |what: String| {
        move |source: crate::NameError| RegistryError::Malformed {
            what,
            source: Box::new(source),
        }
    };
    let name: String = row.try_get("name")?;
    let role: String = row.try_get("role")?;
    let apps: String = row.try_get("apps")?;
    Ok(TokenRecord {
        name: name
            .parse()
            .map_err(malformed(format!("token name `{name}`")))?,
        role: role.parse().map_err(|source| RegistryError::Malformed {
            what: format!("role of token `{name}`"),
            source: Box::new(source),
        })?,
        apps: apps
            .split_whitespace()
            .map(|app| app.parse().map_err(malformed(format!("app `{app}`"))))
            .collect::<Result<_, _>>()?,
        created_at: from_millis(row.try_get("created_at")?),
        created_by: row.try_get("created_by")?,
        expires_at: row
            .try_get::<Option<i64>, _>("expires_at")?
            .map(from_millis),
    })
}
