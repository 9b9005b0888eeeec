//! Where `wharf serve` keeps its state: the data directory, the blob store
//! and the registry, and the secret that seals compiled code for a cluster.

use super::super::data_dir::default_data_dir;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wharf_registry::Registry;
use wharf_store::{BlobStore, ClusterSecret, S3Settings, SharedArtifacts, StoreOptions};

/// Where state lives. Each flag also reads an environment variable.
#[derive(clap::Args)]
pub struct StateArgs {
    /// Where state lives [default: $XDG_DATA_HOME/wharf or ~/.local/share/wharf].
    #[arg(long, env = "WHARF_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// Blob store URL: file:///PATH, memory://, s3://BUCKET/PREFIX,
    /// gs://BUCKET/PREFIX or az://CONTAINER/PREFIX [default: DATA_DIR/blobs].
    #[arg(long, env = "WHARF_STORE")]
    store: Option<String>,

    /// Registry database URL: sqlite://PATH or postgres://USER@HOST/DB
    /// [default: sqlite://DATA_DIR/registry.db].
    #[arg(long, env = "WHARF_DB")]
    db: Option<String>,

    /// S3 endpoint for s3:// stores that are not AWS (Garage, MinIO, R2).
    /// Falls back to AWS_ENDPOINT.
    #[arg(long, env = "WHARF_S3_ENDPOINT")]
    s3_endpoint: Option<String>,

    /// S3 region. Falls back to AWS_REGION.
    #[arg(long, env = "WHARF_S3_REGION")]
    s3_region: Option<String>,

    /// A file holding the secret (at least 32 bytes; `openssl rand -hex 32`)
    /// that the servers of one cluster share to seal compiled code in the
    /// blob store under `compiled/`. With it, each component is compiled
    /// once for the cluster and other servers load that code after checking
    /// its seal; without it, each server compiles for itself.
    #[arg(long, env = "WHARF_ARTIFACT_SECRET_FILE", value_name = "FILE")]
    artifact_secret_file: Option<PathBuf>,
}

impl StateArgs {
    /// The data directory, made if missing (readable by its owner only),
    /// as an absolute path.
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        let data_dir = self.data_dir.clone().unwrap_or_else(default_data_dir);
        create_private_dir(&data_dir)?;
        std::path::absolute(&data_dir)
            .with_context(|| format!("cannot resolve {}", data_dir.display()))
    }

    /// The blob store and the registry: `--store` and `--db`, or files in
    /// `data_dir`.
    pub async fn open(&self, data_dir: &Path) -> anyhow::Result<(Arc<BlobStore>, Registry)> {
        let store_url = self
            .store
            .clone()
            .unwrap_or_else(|| data_dir.join("blobs").display().to_string());
        let options = StoreOptions {
            s3: S3Settings {
                endpoint: self.s3_endpoint.clone(),
                region: self.s3_region.clone(),
                credentials: None,
            },
            cache_dir: Some(data_dir.join("cache")),
        };
        let store = Arc::new(BlobStore::open(&store_url, &options)?);
        let db_url = match &self.db {
            Some(url) => url.clone(),
            None => {
                let file = data_dir.join("registry.db");
                create_private_file(&file)?;
                format!("sqlite://{}", file.display())
            }
        };
        let registry = Registry::open(&db_url).await?;
        tracing::info!(store = store.url(), registry = ?registry.database(), "state opened");
        Ok((store, registry))
    }

    /// Compiled code shared through `store`, when `--artifact-secret-file`
    /// gives the cluster's secret.
    pub fn shared_artifacts(&self, store: &BlobStore) -> anyhow::Result<Option<SharedArtifacts>> {
        let Some(path) = &self.artifact_secret_file else {
            return Ok(None);
        };
        let secret = std::fs::read(path)
            .with_context(|| format!("cannot read --artifact-secret-file {}", path.display()))?;
        let secret = ClusterSecret::new(&secret)
            .map_err(|e| anyhow::anyhow!("--artifact-secret-file {}: {e}", path.display()))?;
        Ok(Some(SharedArtifacts::new(store, secret)))
    }
}

/// Creates the data directory readable only by its owner: it holds the
/// admin token.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    }
    let mode = std::fs::metadata(dir)
        .with_context(|| format!("cannot read the data directory {}", dir.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            "the data directory {} can be read by other users (mode {:o}); it holds the \
             admin token and the registry with apps' secrets: run `chmod 700` on it",
            dir.display(),
            mode & 0o777
        );
    }
    Ok(())
}

/// Creates the SQLite registry file at `path` readable by this user only
/// (it holds apps' secrets), before SQLite creates it with the umask's
/// mode; SQLite gives its journal files the same mode. An existing file
/// others can read is warned about.
fn create_private_file(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mode = std::fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "{} can be read by other users (mode {:o}); it holds apps' secrets: \
                     run `chmod 600` on it",
                    path.display(),
                    mode & 0o777
                );
            }
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}
