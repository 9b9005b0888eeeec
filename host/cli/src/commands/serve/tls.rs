//! The TLS listener of `wharf serve`: its flags, its certificates, and
//! reloading them.

use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wharf_server::{CertificateFiles, Certificates, Listener};

/// TLS on a listener of its own. Each flag also reads an environment
/// variable.
#[derive(clap::Args)]
pub struct TlsArgs {
    /// Address apps are also served on over TLS (HTTP/2 and HTTP/1.1 by
    /// ALPN), printed as `listening on https://IP:PORT`. Needs --tls-cert
    /// and --tls-key.
    #[arg(long, env = "WHARF_TLS_LISTEN", requires = "tls_cert")]
    tls_listen: Option<SocketAddr>,

    /// A PEM certificate chain for the TLS listener; repeat it (with its
    /// --tls-key) for several, chosen by SNI, the first for a client that
    /// names no host it covers. Reloaded on SIGHUP and when the files
    /// change.
    #[arg(
        long,
        env = "WHARF_TLS_CERT",
        value_name = "FILE",
        value_delimiter = ',',
        requires = "tls_listen"
    )]
    tls_cert: Vec<PathBuf>,

    /// The PEM private key of each --tls-cert, in the same order.
    #[arg(
        long,
        env = "WHARF_TLS_KEY",
        value_name = "FILE",
        value_delimiter = ',',
        requires = "tls_listen"
    )]
    tls_key: Vec<PathBuf>,
}

impl TlsArgs {
    /// The TLS listener and its certificates, if `--tls-listen` asks for
    /// one. Certificates that do not load stop the start, naming the file.
    pub async fn bind(&self) -> anyhow::Result<Option<(Listener, Arc<Certificates>)>> {
        let Some(addr) = self.tls_listen else {
            return Ok(None);
        };
        anyhow::ensure!(
            self.tls_cert.len() == self.tls_key.len(),
            "give one --tls-key for each --tls-cert, in the same order ({} certificates, {} keys)",
            self.tls_cert.len(),
            self.tls_key.len()
        );
        let files = self
            .tls_cert
            .iter()
            .zip(&self.tls_key)
            .map(|(cert, key)| CertificateFiles {
                cert: cert.clone(),
                key: key.clone(),
            })
            .collect();
        let certificates = Certificates::load(files)?;
        let listener = Listener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (--tls-listen)"))?
            .with_tls(&certificates);
        Ok(Some((listener, certificates)))
    }
}

/// How often the certificate files are checked for changes.
const CERTIFICATE_CHECK: Duration = Duration::from_secs(2);

/// Reloads `certificates` on SIGHUP and when their files change; new
/// connections get what was loaded, open ones keep theirs. A reload that
/// fails keeps the certificates in use and says why. Without certificates
/// a SIGHUP is logged and otherwise ignored, so that it never stops the
/// server.
pub fn reload_certificates(certificates: Option<Arc<Certificates>>) -> tokio::task::JoinHandle<()> {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => Some(hangups),
            Err(e) => {
                tracing::warn!(
                    "cannot listen for SIGHUP, so certificates reload only when their files change: {e}"
                );
                None
            }
        };
        let mut checks = tokio::time::interval(CERTIFICATE_CHECK);
        loop {
            let why = tokio::select! {
                Some(()) = async { hangups.as_mut()?.recv().await } => "SIGHUP",
                _ = checks.tick() => {
                    if !certificates.as_ref().is_some_and(|c| c.changed_on_disk()) {
                        continue;
                    }
                    "their files changed"
                }
            };
            let Some(certificates) = &certificates else {
                tracing::info!("{why}: there are no TLS certificates to reload");
                continue;
            };
            match certificates.reload() {
                Ok(()) => tracing::info!("reloaded the TLS certificates: {why}"),
                Err(e) => tracing::warn!("kept the TLS certificates in use, since {why} but {e}"),
            }
        }
    })
}
