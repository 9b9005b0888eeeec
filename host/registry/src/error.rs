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
    /// A hostname belongs to another app.
    #[error("hostname `{hostname}` already routes to app `{app}`; remove it there first")]
    HostnameTaken {
        /// The hostname.
        hostname: String,
        /// The app that has it.
        app: String,
    },
    /// A stored row does not parse; the database was edited by hand or is
    /// from a newer wharf.
    #[error("the registry holds a malformed row: {0}")]
    Malformed(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the schema failed.
    #[error("cannot migrate the registry schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}
