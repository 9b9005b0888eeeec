//! Registry failures.

use wharf_store::Digest;

/// Why a registry operation failed. Each message says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The database URL cannot be used.
    #[error("cannot use database `{url}`: {reason}")]
    BadUrl {
        /// The URL, without its password.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The app does not exist.
    #[error("there is no app named `{0}`; `wharf apps` lists them")]
    UnknownApp(String),
    /// The app has no deployment with that digest.
    #[error("app `{app}` has no deployment {digest}; `wharf history {app}` lists them")]
    UnknownDeployment {
        /// The app.
        app: String,
        /// What was asked for.
        digest: String,
    },
    /// A rollback found nothing older to go back to.
    #[error("app `{app}` has no earlier live deployment to roll back to; name one with --to")]
    NothingToRollBackTo {
        /// The app.
        app: String,
    },
    /// A rollback or promotion to what is already live.
    #[error("app `{app}` is already serving {digest}")]
    AlreadyLive {
        /// The app.
        app: String,
        /// The live digest.
        digest: Digest,
    },
    /// A disabled deployment cannot go live.
    #[error(
        "app `{app}`'s deployment {digest} is disabled; enable it first with \
         `wharf deployments enable {app} {digest}`"
    )]
    Disabled {
        /// The app.
        app: String,
        /// The disabled deployment.
        digest: Digest,
    },
    /// A pruned deployment cannot go live: its blob may be gone.
    #[error(
        "app `{app}`'s deployment {digest} was pruned and its component may be gone; deploy \
         it again"
    )]
    Pruned {
        /// The app.
        app: String,
        /// The pruned deployment.
        digest: Digest,
    },
    /// The live deployment cannot be disabled.
    #[error(
        "app `{app}` is serving {digest}; roll back or promote another deployment before \
         disabling it"
    )]
    DisablingLive {
        /// The app.
        app: String,
        /// The live digest.
        digest: Digest,
    },
    /// A hostname belongs to another app.
    #[error("hostname `{hostname}` already routes to app `{app}`; remove it there first")]
    HostnameTaken {
        /// The hostname.
        hostname: String,
        /// The app that has it.
        app: String,
    },
    /// A configuration key outside `[A-Za-z0-9_.-]{1,128}`, or a value over
    /// 64 KiB.
    #[error("{0}")]
    BadConfig(String),
    /// There is no such configuration key.
    #[error("app `{app}` has no configuration key `{key}`; `wharf config list {app}` lists them")]
    UnknownConfigKey {
        /// The app.
        app: String,
        /// The key.
        key: String,
    },
    /// A key-value write would take the app past its quota.
    #[error("the app's key-value data would grow to {would_be} bytes, over its quota of {quota}")]
    QuotaExceeded {
        /// The size the data would have had.
        would_be: u64,
        /// The quota.
        quota: u64,
    },
    /// An increment of a value that is not a decimal counter.
    #[error("the value at `{0}` is not a counter (decimal digits)")]
    NotACounter(String),
    /// An increment past `u64::MAX`.
    #[error("incrementing `{0}` would overflow")]
    CounterOverflow(String),
    /// A token with that name exists.
    #[error("there is already a token named `{0}`; revoke it first or pick another name")]
    TokenExists(String),
    /// There is no token with that name.
    #[error("there is no token named `{0}`; `wharf tokens list` lists them")]
    UnknownToken(String),
    /// A stored row does not parse; the database was edited by hand or is
    /// from a newer wharf.
    #[error("the registry holds a malformed {what}: {source}")]
    Malformed {
        /// What is malformed, with its value.
        what: String,
        /// Why it does not parse.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the schema failed.
    #[error("cannot migrate the registry schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// SQLite's primary result code for a database locked by another connection.
const SQLITE_BUSY: i64 = 5;

impl RegistryError {
    /// Whether SQLite refused because another change held its lock for
    /// longer than the busy timeout (`SQLITE_BUSY`, with its extended
    /// codes): worth trying again.
    pub fn is_busy(&self) -> bool {
        let Self::Database(sqlx::Error::Database(db)) = self else {
            return false;
        };
        // The Any driver passes SQLite's own error through.
        db.try_downcast_ref::<sqlx::sqlite::SqliteError>()
            .and_then(sqlx::error::DatabaseError::code)
            .and_then(|code| code.parse::<i64>().ok())
            .is_some_and(|code| code & 0xff == SQLITE_BUSY)
    }
}

impl RegistryError {
    /// Whether the database could not be reached at all (refused, reset,
    /// or no connection within the pool's acquire timeout): the registry is
    /// down, not the request wrong, and worth trying again.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Database(
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed,
            ) => true,
            // Postgres going down or refusing more clients: a connection
            // failure (class 08), an administrator or crash shutdown, a
            // server still starting (57P01 to 57P03), too many connections.
            Self::Database(sqlx::Error::Database(db)) => db.code().is_some_and(|code| {
                code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
            }),
            _ => false,
        }
    }
}

/// A [`RegistryError::Malformed`] for `what`, failing with `source`.
pub(crate) fn malformed(
    what: impl Into<String>,
    source: impl std::error::Error + Send + Sync + 'static,
) -> RegistryError {
    RegistryError::Malformed {
        what: what.into(),
        source: Box::new(source),
    }
}
