//! Turning a store URL into an object-store backend.

use crate::StoreError;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use std::sync::Arc;

/// Settings for S3-compatible stores that do not fit in the URL. Each one
/// left unset falls back to the usual `AWS_*` environment variable
/// (`AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, ...).
#[derive(Clone, Default)]
pub struct S3Settings {
    /// The endpoint of a non-AWS service, e.g. `http://127.0.0.1:3900` for
    /// Garage or `https://<account>.r2.cloudflarestorage.com` for R2. An
    /// `http://` endpoint allows plain HTTP.
    pub endpoint: Option<String>,
    /// The region, e.g. `us-east-1`, `auto` for R2, `garage` for Garage.
    pub region: Option<String>,
    /// An access key id and secret. Unset, credentials come from the
    /// environment or the instance's role, as with any AWS tool.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// An object store and the folder inside it that wharf owns.
pub(crate) struct Location {
    pub objects: Arc<dyn ObjectStore>,
    pub prefix: Path,
    /// Whether reads cross the network, so a local cache pays off.
    pub remote: bool,
    /// The URL with any credentials removed, for messages.
    pub display: String,
}

/// Opens the backend `url` names:
///
/// - `file:///abs/path` or a plain path: a directory, created if missing;
/// - `memory://`: process memory, gone on exit;
/// - `s3://BUCKET[/PREFIX]`: AWS S3 or any S3-compatible service;
/// - `gs://BUCKET[/PREFIX]`: Google Cloud Storage;
/// - `az://CONTAINER[/PREFIX]`: Azure Blob Storage.
pub(crate) fn open(url: &str, s3: &S3Settings) -> Result<Location, StoreError> {
    let bad = |display: &str, reason: String| StoreError::BadUrl {
        url: display.to_owned(),
        reason,
    };
    let parsed = match url::Url::parse(url) {
        Ok(parsed) => parsed,
        // Not a URL at all: a filesystem path.
        Err(url::ParseError::RelativeUrlWithoutBase) => return open_dir(std::path::Path::new(url)),
        Err(e) => return Err(bad(&redact_unparsed(url), e.to_string())),
    };
    let mut display = parsed.clone();
    let _ = display.set_username("");
    let _ = display.set_password(None);
    let display = display.to_string();
    let bucket = parsed.host_str().unwrap_or_default().to_owned();
    let prefix = Path::parse(parsed.path().trim_matches('/'))
        .map_err(|e| bad(&display, format!("bad prefix: {e}")))?;
    let need_bucket = |what: &str| {
        if bucket.is_empty() {
            Err(bad(
                &display,
                format!("name the {what}, as in {}://NAME/PREFIX", parsed.scheme()),
            ))
        } else {
            Ok(())
        }
    };
    let build_error = |e: object_store::Error| bad(&display, e.to_string());
    let objects: Arc<dyn ObjectStore> = match parsed.scheme() {
        "file" => {
            let path = parsed
                .to_file_path()
                .map_err(|()| bad(&display, "a file URL needs an absolute path".into()))?;
            return open_dir(&path);
        }
        "memory" => {
            return Ok(Location {
                objects: Arc::new(InMemory::new()),
                prefix,
                remote: false,
                display,
            });
        }
        "s3" | "s3a" => {
            need_bucket("bucket")?;
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(&bucket);
            if let Some(endpoint) = &s3.endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            if let Some(region) = &s3.region {
                builder = builder.with_region(region);
            }
            if let Some((id, secret)) = &s3.credentials {
                builder = builder
                    .with_access_key_id(id)
                    .with_secret_access_key(secret);
            }
            // A plain-HTTP endpoint (Garage or MinIO on a private network)
            // means plain HTTP is intended.
            let endpoint = builder.get_config_value(&AmazonS3ConfigKey::Endpoint);
            if endpoint.is_some_and(|e| e.starts_with("http://")) {
                builder = builder.with_allow_http(true);
            }
            Arc::new(builder.build().map_err(build_error)?)
        }
        "gs" => {
            need_bucket("bucket")?;
            let builder = GoogleCloudStorageBuilder::from_env().with_bucket_name(&bucket);
            Arc::new(builder.build().map_err(build_error)?)
        }
        "az" | "azure" => {
            need_bucket("container")?;
            let builder = MicrosoftAzureBuilder::from_env().with_container_name(&bucket);
            Arc::new(builder.build().map_err(build_error)?)
        }
        other => {
            return Err(bad(
                &display,
                format!("unknown scheme `{other}`; use file://, memory://, s3://, gs:// or az://"),
            ));
        }
    };
    Ok(Location {
        objects,
        prefix,
        remote: true,
        display,
    })
}

/// `url` with anything between `://` and the last `@` masked, for URLs that
/// did not parse (and so cannot be cleaned field by field).
pub fn redact_unparsed(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start + 3 => {
            format!("{}***{}", &url[..start + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn open_dir(path: &std::path::Path) -> Result<Location, StoreError> {
    let display = format!("file://{}", path.display());
    std::fs::create_dir_all(path).map_err(|e| StoreError::BadUrl {
        url: display.clone(),
        reason: format!("cannot create the directory: {e}"),
    })?;
    let objects = LocalFileSystem::new_with_prefix(path).map_err(|e| StoreError::BadUrl {
        url: display.clone(),
        reason: e.to_string(),
    })?;
    Ok(Location {
        objects: Arc::new(objects),
        prefix: Path::default(),
        remote: false,
        display,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_schemes_and_missing_buckets_are_named() {
        let settings = S3Settings::default();
        let err = open("ftp://x/y", &settings)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("unknown scheme `ftp`"), "{err}");
        let err = open("s3:///prefix", &settings)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("name the bucket"), "{err}");
    }

    #[test]
    fn credentials_never_reach_messages() {
        let err = open("ftp://user:secret@host/", &S3Settings::default())
            .err()
            .expect("refused")
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn credentials_in_unparsable_urls_are_masked() {
        let err = open("s3://key:s3cret@bucket:99999x/p", &S3Settings::default())
            .err()
            .expect("refused")
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
        assert_eq!(
            redact_unparsed("postgres://u:p@h/db"),
            "postgres://***@h/db"
        );
    }

    #[test]
    fn prefixes_come_from_the_path() {
        let backend = open("memory:///a/b/", &S3Settings::default()).expect("memory opens");
        assert_eq!(backend.prefix.as_ref(), "a/b");
        assert!(!backend.remote);
    }
}
