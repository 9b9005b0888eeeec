//! The registry handle: opening the database and reading from it.

use crate::RegistryError;
use crate::change::Change;
use crate::error::malformed;
use crate::feed::{ChangeNotifications, FeedFollower, LocalFeed};
use crate::model::{
    Action, App, AppSettings, ConfigEntry, Deployment, Release, RoutedDeployment, RoutingTable,
};
use crate::names::{AppName, Hostname};
use crate::rows::{
    DEPLOYMENT_COLUMNS, SETTINGS_COLUMNS, deployment_from_row, from_millis, parse_app, parse_key,
    settings_from_row, settings_of,
};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor, Row};
use std::collections::HashSet;
use std::time::Duration;

/// How long a registry call waits for a Postgres connection before it
/// fails as unavailable ([`RegistryError::is_unavailable`]).
pub const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long opening the registry keeps trying a Postgres that does not
/// answer yet.
pub const POSTGRES_STARTUP_WAIT: Duration = Duration::from_secs(30);
use wharf_store::BlobKey;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which kind of database a registry runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file: one machine.
    Sqlite,
    /// Postgres: any number of machines.
    Postgres,
}

/// The registry: which apps exist, their deployments, what each serves now
/// and its custom hostnames. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    pool: AnyPool,
    database: Database,
    url: std::sync::Arc<str>,
    /// The change feed's state in this process.
    feed: std::sync::Arc<LocalFeed>,
}

impl Registry {
    /// Connects to `url` and brings its schema up to date.
    ///
    /// - `sqlite://PATH` (the file is created if missing) or `sqlite::memory:`;
    /// - `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`.
    pub async fn open(url: &str) -> Result<Self, RegistryError> {
        sqlx::any::install_default_drivers();
        let database = if url.starts_with("sqlite:") {
            Database::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Database::Postgres
        } else {
            return Err(RegistryError::BadUrl {
                url: redact(url),
                reason: "use sqlite://PATH or postgres://USER@HOST/DATABASE".into(),
            });
        };
        let bad = |e: sqlx::Error| RegistryError::BadUrl {
            url: redact(url),
            reason: e.to_string(),
        };
        let pool = match database {
            Database::Sqlite => {
                let url = if url.contains('?') || url.contains(":memory:") {
                    url.to_owned()
                } else {
                    format!("{url}?mode=rwc")
                };
                AnyPoolOptions::new()
                    // One in-memory database must be one connection.
                    .max_connections(if url.contains(":memory:") { 1 } else { 4 })
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await
                    .map_err(bad)?
            }
            Database::Postgres => {
                let options = AnyPoolOptions::new()
                    .max_connections(8)
                    // With Postgres down, a call fails within this rather
                    // than sqlx's default 30 s, and the admin API answers 503.
                    .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT);
                // A server started beside its database (compose, a pod)
                // waits for it at start, for up to POSTGRES_STARTUP_WAIT.
                let started = std::time::Instant::now();
                loop {
                    match options.clone().connect(url).await {
                        Ok(pool) => break pool,
                        Err(e) if started.elapsed() < POSTGRES_STARTUP_WAIT => {
                            tracing::warn!("waiting for Postgres at {}: {e}", redact(url));
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                        Err(e) => return Err(bad(e)),
                    }
                }
            }
        };
        match database {
            Database::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Database::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        Ok(Self {
            pool,
            database,
            feed: LocalFeed::new(database == Database::Postgres),
            url: url.into(),
        })
    }

    /// A stream of change notifications, on Postgres; `None` on SQLite,
    /// where servers share a machine and polling the feed is cheap.
    pub(crate) async fn notifications(&self) -> Result<Option<ChangeNotifications>, RegistryError> {
        if self.database != Database::Postgres {
            return Ok(None);
        }
        Ok(Some(ChangeNotifications::listen(&self.url).await?))
    }

    /// The database's clock, in milliseconds since the Unix epoch, as SQL:
    /// what stamps rows that servers with different clocks compare.
    pub(crate) fn now_ms(&self) -> &'static str {
        match self.database() {
            Database::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS BIGINT)",
            Database::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }

    /// Which database this is.
    pub fn database(&self) -> Database {
        self.database
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Follows the change feed from this process, checking the position
    /// every `poll` in any case; see [`FeedFollower`].
    pub fn follow(&self, poll: Duration) -> FeedFollower {
        FeedFollower::new(self.clone(), self.feed.clone(), poll)
    }

    /// Starts a change. Changes are serialized: a second one waits until
    /// this one commits or is dropped (which rolls it back).
    pub async fn begin(&self) -> Result<Change, RegistryError> {
        Change::begin(self.pool.begin().await?, self.feed.clone()).await
    }

    /// The change feed's position: it increases with every committed change,
    /// so a server that sees a new value reloads its routes.
    pub async fn feed_position(&self) -> Result<i64, RegistryError> {
        let row = sqlx::query("SELECT seq FROM feed WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("seq")?)
    }

    /// What every app serves and every custom hostname, with the feed
    /// position read first (so the table is at least that new).
    pub async fn routing_table(&self) -> Result<RoutingTable, RegistryError> {
        let seq = self.feed_position().await?;
        let rows = sqlx::query(
            "SELECT a.name, d.digest, d.size, d.created_at FROM apps a \
             LEFT JOIN deployments d ON d.id = a.current_deployment ORDER BY a.name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut apps = Vec::with_capacity(rows.len());
        for row in rows {
            let name = parse_app(row.try_get("name")?)?;
            let digest: Option<String> = row.try_get("digest")?;
            let size: Option<i64> = row.try_get("size")?;
            let created_at: Option<i64> = row.try_get("created_at")?;
            let live = match (digest, size, created_at) {
                (Some(digest), Some(size), Some(created_at)) => Some(RoutedDeployment {
                    key: parse_key(&digest, size)?,
                    created_at: from_millis(created_at),
                    disabled: false,
                }),
                _ => None,
            };
            apps.push((name, live));
        }
        let hostnames = self.hostname_rows(None).await?;
        let rows = sqlx::query(
            "SELECT d.app, d.digest, d.size, d.created_at, \
             CAST(CASE WHEN x.digest IS NULL THEN 0 ELSE 1 END AS BIGINT) AS disabled \
             FROM deployments d LEFT JOIN disabled_deployments x \
             ON x.app = d.app AND x.digest = d.digest \
             WHERE NOT EXISTS (SELECT 1 FROM pruned_deployments p WHERE p.deployment = d.id) \
             ORDER BY d.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let deployments = rows
            .iter()
            .map(|row| {
                let app = parse_app(row.try_get("app")?)?;
                let key = parse_key(&row.try_get::<String, _>("digest")?, row.try_get("size")?)?;
                let created_at = from_millis(row.try_get("created_at")?);
                let disabled = row.try_get::<i64, _>("disabled")? != 0;
                Ok((
                    app,
                    RoutedDeployment {
                        key,
                        created_at,
                        disabled,
                    },
                ))
            })
            .collect::<Result<_, RegistryError>>()?;
        let rows = sqlx::query("SELECT app, key, value FROM app_config ORDER BY app, key")
            .fetch_all(&self.pool)
            .await?;
        let config = rows
            .iter()
            .map(|row| {
                Ok((
                    parse_app(row.try_get("app")?)?,
                    row.try_get("key")?,
                    row.try_get("value")?,
                ))
            })
            .collect::<Result<_, RegistryError>>()?;
        let rows = sqlx::query(&format!(
            "SELECT app, {SETTINGS_COLUMNS} FROM app_settings ORDER BY app"
        ))
        .fetch_all(&self.pool)
        .await?;
        let settings = rows
            .iter()
            .map(|row| Ok((parse_app(row.try_get("app")?)?, settings_from_row(row)?)))
            .collect::<Result<_, RegistryError>>()?;
        Ok(RoutingTable {
            seq,
            apps,
            hostnames,
            deployments,
            config,
            settings,
        })
    }

    /// `app`'s settings.
    pub async fn settings(&self, app: &AppName) -> Result<AppSettings, RegistryError> {
        self.app(app).await?;
        settings_of(&self.pool, app).await
    }

    /// `app`'s configuration, without secrets' values.
    pub async fn config(&self, app: &AppName) -> Result<Vec<ConfigEntry>, RegistryError> {
        self.app(app).await?;
        let rows = sqlx::query(
            "SELECT key, CASE WHEN secret = 1 THEN NULL ELSE value END AS value, secret, updated_at \
             FROM app_config WHERE app = $1 ORDER BY key",
        )
        .bind(app.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ConfigEntry {
                    key: row.try_get("key")?,
                    value: row.try_get("value")?,
                    secret: row.try_get::<i64, _>("secret")? == 1,
                    updated_at: from_millis(row.try_get("updated_at")?),
                })
            })
            .collect()
    }

    async fn hostname_rows(
        &self,
        app: Option<&AppName>,
    ) -> Result<Vec<(Hostname, AppName)>, RegistryError> {
        let rows = match app {
            Some(app) => {
                sqlx::query("SELECT hostname, app FROM hostnames WHERE app = $1 ORDER BY hostname")
                    .bind(app.as_str())
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query("SELECT hostname, app FROM hostnames ORDER BY hostname")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter()
            .map(|row| {
                let hostname: String = row.try_get("hostname")?;
                let hostname = hostname
                    .parse::<Hostname>()
                    .map_err(|e| malformed("hostname", e))?;
                Ok((hostname, parse_app(row.try_get("app")?)?))
            })
            .collect()
    }

    /// Every app, by name.
    pub async fn apps(&self) -> Result<Vec<App>, RegistryError> {
        let rows = sqlx::query("SELECT name FROM apps ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        let mut apps = Vec::with_capacity(rows.len());
        for row in rows {
            apps.push(self.app(&parse_app(row.try_get("name")?)?).await?);
        }
        Ok(apps)
    }

    /// One app.
    pub async fn app(&self, name: &AppName) -> Result<App, RegistryError> {
        let row = sqlx::query("SELECT created_at, current_deployment FROM apps WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| RegistryError::UnknownApp(name.to_string()))?;
        let current: Option<i64> = row.try_get("current_deployment")?;
        let current = match current {
            Some(id) => Some(self.deployment(id).await?),
            None => None,
        };
        let hostnames = self
            .hostname_rows(Some(name))
            .await?
            .into_iter()
            .map(|(hostname, _)| hostname)
            .collect();
        Ok(App {
            name: name.clone(),
            created_at: from_millis(row.try_get("created_at")?),
            current,
            hostnames,
        })
    }

    async fn deployment(&self, id: i64) -> Result<Deployment, RegistryError> {
        let row = sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments d WHERE d.id = $1"
        ))
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        deployment_from_row(&row)
    }

    /// Every deployment of `app`, newest first.
    pub async fn deployments(&self, app: &AppName) -> Result<Vec<Deployment>, RegistryError> {
        self.app(app).await?;
        let rows = sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments d WHERE d.app = $1 ORDER BY d.id DESC"
        ))
        .bind(app.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(deployment_from_row).collect()
    }

    /// Every pointer move of `app`, newest first.
    pub async fn releases(&self, app: &AppName) -> Result<Vec<Release>, RegistryError> {
        self.app(app).await?;
        let rows = sqlx::query(&format!(
            "SELECT r.seq, r.action, r.token_name AS release_token, r.created_at AS released_at, \
             {DEPLOYMENT_COLUMNS} FROM releases r JOIN deployments d ON d.id = r.deployment \
             WHERE r.app = $1 ORDER BY r.seq DESC"
        ))
        .bind(app.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let action: String = row.try_get("action")?;
                Ok(Release {
                    seq: row.try_get("seq")?,
                    action: action
                        .parse::<Action>()
                        .map_err(|e| malformed("release", e))?,
                    token_name: row.try_get("release_token")?,
                    created_at: from_millis(row.try_get("released_at")?),
                    deployment: deployment_from_row(row)?,
                })
            })
            .collect()
    }

    /// Every blob some deployment refers to; what garbage collection keeps.
    pub async fn referenced_blobs(&self) -> Result<HashSet<BlobKey>, RegistryError> {
        let rows = sqlx::query("SELECT DISTINCT digest, size FROM deployments")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| parse_key(&row.try_get::<String, _>("digest")?, row.try_get("size")?))
            .collect()
    }
}

/// `url` without its password (or, if it does not parse, without anything
/// between `://` and the last `@`).
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => wharf_store::redact_unparsed(url),
    }
}
