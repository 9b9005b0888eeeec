//! TLS for a listener: certificates and keys read from PEM files, chosen by
//! SNI (the first pair answers a client that names no host it covers),
//! ALPN `h2` and `http/1.1`, and reloaded from their files on demand (SIGHUP,
//! or a change on disk) without touching connections already open.

use arc_swap::ArcSwap;
use rustls::crypto::aws_lc_rs;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;
use tokio_rustls::TlsAcceptor;

/// One certificate chain and its key, as files.
#[derive(Clone, Debug)]
pub struct CertificateFiles {
    /// The PEM chain, leaf first.
    pub cert: PathBuf,
    /// The PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why certificates could not be loaded. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read, or holds no PEM of the kind expected.
    #[error("cannot read {what} from {}: {source}", path.display())]
    Read {
        /// `a certificate` or `a private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: rustls::pki_types::pem::Error,
    },
    /// The key does not fit the certificate, or rustls cannot use it.
    #[error("the key in {} does not go with the certificate in {}: {source}", key.display(), cert.display())]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why.
        source: rustls::Error,
    },
    /// No certificate was given.
    #[error("TLS needs at least one --tls-cert and its --tls-key")]
    None,
}

/// The certificates a TLS listener serves, swapped whole on reload.
#[derive(Debug)]
pub struct Certificates {
    files: Vec<CertificateFiles>,
    loaded: ArcSwap<Loaded>,
    /// The files' times when last looked at, so a change is acted on once.
    seen: std::sync::Mutex<Vec<Option<SystemTime>>>,
}

#[derive(Debug)]
struct Loaded {
    /// In the order given; the first is the default.
    keys: Vec<Arc<CertifiedKey>>,
    /// When each file was last changed, as read at this load.
    changed: Vec<Option<SystemTime>>,
}

impl Certificates {
    /// Loads every pair of `files`; any that fails stops the load.
    pub fn load(files: Vec<CertificateFiles>) -> Result<Arc<Self>, TlsError> {
        let loaded = load_all(&files)?;
        Ok(Arc::new(Self {
            seen: std::sync::Mutex::new(loaded.changed.clone()),
            files,
            loaded: ArcSwap::from_pointee(loaded),
        }))
    }

    /// Reads the files again and serves what they hold to new connections.
    /// On failure the certificates in use stay, and the error says why.
    pub fn reload(&self) -> Result<(), TlsError> {
        let loaded = load_all(&self.files)?;
        *self.seen.lock().expect("certificate times lock") = loaded.changed.clone();
        self.loaded.store(Arc::new(loaded));
        Ok(())
    }

    /// Whether any file changed on disk since this was last asked.
    pub fn changed_on_disk(&self) -> bool {
        let now = changed_times(&self.files);
        let mut seen = self.seen.lock().expect("certificate times lock");
        if *seen == now {
            return false;
        }
        *seen = now;
        true
    }

    /// An acceptor that offers `h2` and `http/1.1` with these certificates.
    pub fn acceptor(self: &Arc<Self>) -> TlsAcceptor {
        let provider = Arc::new(aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the default provider supports the default versions")
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let loaded = self.loaded.load();
        let by_name = hello.server_name().and_then(|name| {
            let name = rustls::pki_types::ServerName::try_from(name)
                .ok()?
                .to_owned();
            loaded.keys.iter().find(|key| {
                key.end_entity_cert()
                    .is_ok_and(|leaf| webpki_covers(leaf, &name))
            })
        });
        by_name.or(loaded.keys.first()).cloned()
    }
}

/// Whether `leaf` is valid for `name`.
fn webpki_covers(leaf: &CertificateDer<'_>, name: &rustls::pki_types::ServerName<'_>) -> bool {
    rustls::server::ParsedCertificate::try_from(leaf)
        .is_ok_and(|parsed| rustls::client::verify_server_name(&parsed, name).is_ok())
}

fn load_all(files: &[CertificateFiles]) -> Result<Loaded, TlsError> {
    if files.is_empty() {
        return Err(TlsError::None);
    }
    // Read the times first: a change during the load is seen next time.
    let changed = changed_times(files);
    let provider = aws_lc_rs::default_provider();
    let keys = files
        .iter()
        .map(|pair| {
            let read = |what, path: &Path, source| TlsError::Read {
                what,
                path: path.to_owned(),
                source,
            };
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&pair.cert)
                .and_then(|certs| certs.collect::<Result<_, _>>())
                .map_err(|e| read("a certificate", &pair.cert, e))?;
            if chain.is_empty() {
                return Err(read(
                    "a certificate",
                    &pair.cert,
                    rustls::pki_types::pem::Error::NoItemsFound,
                ));
            }
            let key = PrivateKeyDer::from_pem_file(&pair.key)
                .map_err(|e| read("a private key", &pair.key, e))?;
            CertifiedKey::from_der(chain, key, &provider)
                .map(Arc::new)
                .map_err(|source| TlsError::Mismatch {
                    cert: pair.cert.clone(),
                    key: pair.key.clone(),
                    source,
                })
        })
        .collect::<Result<_, _>>()?;
    Ok(Loaded { keys, changed })
}

fn changed_times(files: &[CertificateFiles]) -> Vec<Option<SystemTime>> {
    files
        .iter()
        .flat_map(|pair| [&pair.cert, &pair.key])
        .map(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok())
        .collect()
}
