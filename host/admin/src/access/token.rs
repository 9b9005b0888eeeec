//! The admin bearer token.

use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use subtle::ConstantTimeEq;

/// The shortest token accepted from `WHARF_ADMIN_TOKEN`.
pub const MIN_TOKEN_LEN: usize = 16;

/// What the peer credential is derived for: reading another server's own
/// guest output, and nothing else.
const PEER_PURPOSE: &[u8] = b"wharf peer credential: GET /v1/apps/*/logs?local=true";
/// What the preview cookie key is derived for.
const PREVIEW_COOKIE_PURPOSE: &[u8] = b"wharf preview cookie key";

/// The admin token, kept only as its hash. Checks take the same time
/// whatever the presented token, and its text is never logged.
///
/// Servers sharing a token also share a *peer credential* derived from it
/// (an HMAC-SHA256 of a fixed purpose under the token), which they send to
/// each other to read each other's guest output: a server, or anything
/// that pretends to be one in the registry, never receives the token
/// itself, and the credential opens nothing else.
pub struct AdminToken {
    hash: [u8; 32],
    peer_hash: [u8; 32],
    peer_credential: String,
    preview_cookie_key: [u8; 32],
    name: String,
}

/// Where the admin token came from.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// `WHARF_ADMIN_TOKEN`.
    Environment,
    /// Read from this file, written on an earlier start.
    File,
    /// Generated now and written to the file.
    Generated,
}

impl AdminToken {
    /// A token with this secret. `name` is recorded with every change made
    /// with it.
    pub fn new(secret: &str, name: &str) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(PEER_PURPOSE);
        let peer_credential = format!("wharf_peer_{}", hex::encode(mac.finalize().into_bytes()));
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(PREVIEW_COOKIE_PURPOSE);
        Self {
            hash: Sha256::digest(secret.as_bytes()).into(),
            peer_hash: Sha256::digest(peer_credential.as_bytes()).into(),
            peer_credential,
            preview_cookie_key: mac.finalize().into_bytes().into(),
            name: name.to_owned(),
        }
    }

    /// What opens token-only previews: this token, and the key preview
    /// cookies are signed with, derived from it (so servers sharing the
    /// token accept each other's cookies).
    pub fn preview_keys(&self) -> wharf_server::PreviewKeys {
        wharf_server::PreviewKeys {
            server_token_sha256: self.hash,
            cookie_key: self.preview_cookie_key,
        }
    }

    /// The peer credential, to send to the other servers of the cluster.
    pub fn peer_credential(&self) -> &str {
        &self.peer_credential
    }

    /// Whether `presented` is the peer credential, compared in constant
    /// time.
    pub fn verify_peer(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        presented.ct_eq(&self.peer_hash).into()
    }

    /// The name recorded with changes.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `presented` is the token, compared in constant time.
    pub fn verify(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        presented.ct_eq(&self.hash).into()
    }

    /// The token from `env` (the value of `WHARF_ADMIN_TOKEN`) if set, else
    /// the one saved at `file`, else a new one saved there with mode 0600.
    pub fn load_or_create(
        env: Option<String>,
        file: &Path,
    ) -> Result<(Self, TokenSource), TokenError> {
        if let Some(secret) = env {
            let secret = secret.trim();
            if secret.len() < MIN_TOKEN_LEN {
                return Err(TokenError::TooShort);
            }
            return Ok((Self::new(secret, "admin"), TokenSource::Environment));
        }
        match std::fs::read_to_string(file) {
            Ok(secret) => {
                let mode = std::fs::metadata(file)
                    .map(|m| m.permissions().mode() & 0o777)
                    .unwrap_or(0);
                if mode & 0o077 != 0 {
                    tracing::warn!(
                        "{} is readable by other users (mode {mode:o}); run `chmod 600` on it",
                        file.display()
                    );
                }
                let secret = secret.trim();
                if secret.len() < MIN_TOKEN_LEN {
                    return Err(TokenError::Unusable(file.to_owned()));
                }
                Ok((Self::new(secret, "admin"), TokenSource::File))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secret = format!("wharf_{}", hex::encode(rand::random::<[u8; 32]>()));
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(file)
                    .and_then(|mut out| writeln!(out, "{secret}"))
                    .map_err(|source| TokenError::Write {
                        path: file.to_owned(),
                        source,
                    })?;
                Ok((Self::new(&secret, "admin"), TokenSource::Generated))
            }
            Err(source) => Err(TokenError::Read {
                path: file.to_owned(),
                source,
            }),
        }
    }
}

/// Why no admin token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// `WHARF_ADMIN_TOKEN` is too short to be a secret.
    #[error(
        "WHARF_ADMIN_TOKEN must be at least {MIN_TOKEN_LEN} characters (try `openssl rand -hex 32`)"
    )]
    TooShort,
    /// The token file holds no usable token.
    #[error("{} holds no usable token; delete it to have a new one generated", .0.display())]
    Unusable(std::path::PathBuf),
    /// The token file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The token file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A new token file could not be written.
    #[error("cannot create {}: {source}", path.display())]
    Write {
        /// The token file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_token() {
        let token = AdminToken::new("correct horse battery staple", "admin");
        assert!(token.verify("correct horse battery staple"));
        assert!(!token.verify("correct horse battery stapl"));
        assert!(!token.verify(""));
    }

    #[test]
    fn generated_once_with_mode_0600_then_reused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("admin-token");
        let (first, source) = AdminToken::load_or_create(None, &file).expect("generated");
        assert_eq!(source, TokenSource::Generated);
        let mode = std::fs::metadata(&file).expect("file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let secret = std::fs::read_to_string(&file).expect("read");
        assert!(first.verify(secret.trim()));
        let (second, source) = AdminToken::load_or_create(None, &file).expect("reused");
        assert_eq!(source, TokenSource::File);
        assert!(second.verify(secret.trim()));
    }

    #[test]
    fn the_environment_wins_and_short_tokens_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("admin-token");
        let (token, source) =
            AdminToken::load_or_create(Some("0123456789abcdef".into()), &file).expect("env");
        assert_eq!(source, TokenSource::Environment);
        assert!(token.verify("0123456789abcdef"));
        assert!(
            !file.exists(),
            "no file is written when the env sets the token"
        );
        let err = AdminToken::load_or_create(Some("short".into()), &file)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("at least 16"), "{err}");
    }
}
