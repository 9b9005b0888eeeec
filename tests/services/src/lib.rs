//! The real services tests run against: Garage as the S3-compatible object
//! store, a throwaway Postgres cluster and a Prometheus server, all started
//! on loopback by `scripts/with-test-services.sh` (which `make test` uses).
//!
//! A test that needs one and finds its variables unset fails with a message
//! saying how to run it; it is never skipped.

/// The Garage instance: an endpoint, a bucket and a key allowed to use it.
#[derive(Clone, Debug)]
pub struct Garage {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The S3 region Garage answers to.
    pub region: String,
    /// A bucket the key may read and write.
    pub bucket: String,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

impl Garage {
    /// The instance `scripts/with-test-services.sh` started.
    pub fn from_env() -> Self {
        Self {
            endpoint: required("WHARF_TEST_S3_ENDPOINT"),
            region: required("WHARF_TEST_S3_REGION"),
            bucket: required("WHARF_TEST_S3_BUCKET"),
            access_key_id: required("WHARF_TEST_S3_ACCESS_KEY_ID"),
            secret_access_key: required("WHARF_TEST_S3_SECRET_ACCESS_KEY"),
        }
    }

    /// A store URL in a folder of its own, so tests never see each other's
    /// blobs: `s3://BUCKET/test-<random>`.
    pub fn fresh_url(&self) -> String {
        format!("s3://{}/test-{:016x}", self.bucket, rand::random::<u64>())
    }

    /// The `AWS_*` variables a `wharf` process needs to reach this Garage.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_REGION", self.region.clone()),
            ("AWS_ACCESS_KEY_ID", self.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_access_key.clone()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
        ]
    }
}

/// The throwaway Postgres cluster.
#[derive(Clone, Debug)]
pub struct Postgres {
    /// A superuser URL to the `postgres` database.
    pub admin_url: String,
}

impl Postgres {
    /// The cluster `scripts/with-test-services.sh` started.
    pub fn from_env() -> Self {
        Self {
            admin_url: required("WHARF_TEST_POSTGRES_URL"),
        }
    }

    /// Creates an empty database for one test and returns its URL.
    pub async fn fresh_database(&self) -> String {
        use sqlx::Connection;
        let name = format!("wharf_test_{:016x}", rand::random::<u64>());
        let mut admin = sqlx::PgConnection::connect(&self.admin_url)
            .await
            .expect("connect to the test Postgres");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create a test database");
        let base = self
            .admin_url
            .rsplit_once('/')
            .expect("a URL with a database")
            .0;
        format!("{base}/{name}")
    }
}

/// The Prometheus server. It scrapes every target listed in the files of
/// its targets folder, once a second, and sees new files at once.
#[derive(Clone, Debug)]
pub struct Prometheus {
    /// `http://127.0.0.1:PORT`, its HTTP API.
    pub url: String,
    targets_dir: std::path::PathBuf,
}

impl Prometheus {
    /// The server `scripts/with-test-services.sh` started.
    pub fn from_env() -> Self {
        Self {
            url: required("WHARF_TEST_PROMETHEUS_URL"),
            targets_dir: required("WHARF_TEST_PROMETHEUS_TARGETS").into(),
        }
    }

    /// Has Prometheus scrape `address` (`IP:PORT`) with the label
    /// `wharf_test="<random>"`, until the returned target is dropped.
    pub fn scrape(&self, address: &str) -> ScrapeTarget {
        let label = format!("{:016x}", rand::random::<u64>());
        let file = self.targets_dir.join(format!("{label}.json"));
        let targets =
            format!(r#"[{{"targets": ["{address}"], "labels": {{"wharf_test": "{label}"}}}}]"#);
        // Written whole under another name, then renamed: Prometheus never
        // reads half a file.
        let partial = file.with_extension("partial");
        std::fs::write(&partial, targets).expect("write a Prometheus target file");
        std::fs::rename(&partial, &file).expect("publish a Prometheus target file");
        ScrapeTarget { label, file }
    }
}

/// A target Prometheus scrapes until this is dropped.
#[derive(Debug)]
pub struct ScrapeTarget {
    /// The value of its `wharf_test` label, to select its series with.
    pub label: String,
    file: std::path::PathBuf,
}

impl Drop for ScrapeTarget {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set. This test needs the real Garage, Postgres or Prometheus; \
             run it through scripts/with-test-services.sh (as `make test` does), e.g. \
             `scripts/with-test-services.sh cargo nextest run ...`"
        )
    })
}
