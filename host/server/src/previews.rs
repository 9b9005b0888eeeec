//! Who may open a preview URL (`<app>--<12 hex>.<domain>`) of an app whose
//! previews need a token: a request carrying [`PREVIEW_TOKEN_HEADER`] with
//! a token that may read the app, or a browser holding the cookie a
//! one-time preview link set ([`PREVIEW_LINK_PATH`]).

use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue, header};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;
use wharf_registry::{AppName, Registry, RegistryError};

/// The header that carries a token to a token-only preview. Never passed
/// to a guest.
pub const PREVIEW_TOKEN_HEADER: &str = "wharf-preview-token";
/// The cookie a preview link sets, for the preview's host only. Never
/// passed to a guest.
pub const PREVIEW_COOKIE: &str = "wharf-preview";
/// The path of a one-time preview link: `?grant=SECRET`.
pub const PREVIEW_LINK_PATH: &str = "/.well-known/wharf/preview";
/// How long a preview link may wait to be opened.
pub const PREVIEW_LINK_LIFETIME: Duration = Duration::from_secs(3600);
/// How long the cookie a link sets keeps the preview open.
pub const PREVIEW_COOKIE_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// What opens token-only previews on this server: the server's own token
/// (by its hash) and the key cookies are signed with. Servers sharing a
/// registry and an admin token derive the same key, so a cookie one sets
/// works on all of them.
#[derive(Clone)]
pub struct PreviewKeys {
    /// SHA-256 of the server's own admin token.
    pub server_token_sha256: [u8; 32],
    /// HMAC-SHA256 key for preview cookies.
    pub cookie_key: [u8; 32],
}

impl fmt::Debug for PreviewKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PreviewKeys { .. }")
    }
}

/// Why a token-only preview was not opened.
#[derive(Debug)]
pub(crate) enum Refused {
    /// Neither a token nor a valid cookie came with the request.
    NoCredential,
    /// The token is unknown, expired, revoked, or not for this app.
    WrongToken,
    /// The registry could not say.
    Registry(RegistryError),
}

impl PreviewKeys {
    /// Whether `request`'s headers open the preview at `label` (`app--hex`)
    /// of `app`: the token header first, then the cookie.
    pub(crate) async fn admits(
        &self,
        headers: &HeaderMap,
        registry: &Registry,
        app: &AppName,
        label: &str,
    ) -> Result<(), Refused> {
        if let Some(token) = headers
            .get(PREVIEW_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
        {
            return self.token_reads(token.trim(), registry, app).await;
        }
        let now = SystemTime::now();
        let valid_cookie = cookie_values(headers, PREVIEW_COOKIE)
            .any(|value| self.cookie_opens(value, label, now));
        if valid_cookie {
            Ok(())
        } else {
            Err(Refused::NoCredential)
        }
    }

    /// Whether `token` is the server's own or a scoped token covering
    /// `app` (every role may read).
    async fn token_reads(
        &self,
        token: &str,
        registry: &Registry,
        app: &AppName,
    ) -> Result<(), Refused> {
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if bool::from(hash.ct_eq(&self.server_token_sha256)) {
            return Ok(());
        }
        match registry.token_by_secret(&hex::encode(hash)).await {
            Ok(Some(scoped)) if scoped.covers(app) => Ok(()),
            Ok(_) => Err(Refused::WrongToken),
            Err(e) => Err(Refused::Registry(e)),
        }
    }

    /// A `Set-Cookie` value that opens the preview at `label` until
    /// [`PREVIEW_COOKIE_LIFETIME`] from `now`, on that host only.
    pub(crate) fn cookie_for(&self, label: &str, now: SystemTime) -> HeaderValue {
        let until = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(PREVIEW_COOKIE_LIFETIME)
            .as_secs();
        let value = format!("{until}.{}", self.sign(label, until));
        HeaderValue::try_from(format!(
            "{PREVIEW_COOKIE}={value}; Max-Age={}; Path=/; HttpOnly; SameSite=Lax",
            PREVIEW_COOKIE_LIFETIME.as_secs()
        ))
        .expect("digits and hex are a valid header value")
    }

    /// Whether the cookie `value` was signed for `label` and has not
    /// expired at `now`.
    fn cookie_opens(&self, value: &str, label: &str, now: SystemTime) -> bool {
        let Some((until, signature)) = value.split_once('.') else {
            return false;
        };
        let Ok(until) = until.parse::<u64>() else {
            return false;
        };
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let expected = self.sign(label, until);
        until > now && bool::from(expected.as_bytes().ct_eq(signature.as_bytes()))
    }

    fn sign(&self, label: &str, until: u64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.cookie_key).expect("HMAC takes any key");
        mac.update(format!("{label}|{until}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Every value of the cookie `name` in `headers`.
fn cookie_values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(move |pair| {
            let (n, v) = pair.trim().split_once('=')?;
            (n == name).then_some(v)
        })
}

/// Removes the preview token and cookie from `headers`, so that no guest
/// sees them; other cookies stay as they were.
pub(crate) fn strip_preview_credentials(headers: &mut HeaderMap) {
    headers.remove(PREVIEW_TOKEN_HEADER);
    let mut kept = Vec::new();
    let mut changed = false;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else {
            // Not text: kept only if it cannot hold wharf's cookie.
            let ours = PREVIEW_COOKIE.as_bytes();
            if value.as_bytes().windows(ours.len()).any(|w| w == ours) {
                changed = true;
            } else {
                kept.push(value.clone());
            }
            continue;
        };
        let pairs: Vec<&str> = text
            .split(';')
            .map(str::trim)
            .filter(|pair| {
                let ours = pair
                    .split_once('=')
                    .is_some_and(|(n, _)| n == PREVIEW_COOKIE);
                changed |= ours;
                !ours && !pair.is_empty()
            })
            .collect();
        if !pairs.is_empty()
            && let Ok(value) = HeaderValue::try_from(pairs.join("; "))
        {
            kept.push(value);
        }
    }
    if changed {
        headers.remove(header::COOKIE);
        for value in kept {
            headers.append(header::COOKIE, value);
        }
    }
}

/// The SHA-256 (hex) of a preview link's secret, as the registry keeps it.
pub fn grant_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> PreviewKeys {
        PreviewKeys {
            server_token_sha256: Sha256::digest(b"server token").into(),
            cookie_key: [7; 32],
        }
    }

    #[test]
    fn a_cookie_opens_its_own_preview_until_it_expires() {
        let keys = keys();
        let now = SystemTime::now();
        let set = keys.cookie_for("shop--0123456789ab", now);
        let set = set.to_str().expect("text");
        let value = set
            .strip_prefix("wharf-preview=")
            .and_then(|rest| rest.split(';').next())
            .expect("a value");
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"));
        assert!(keys.cookie_opens(value, "shop--0123456789ab", now));
        assert!(
            !keys.cookie_opens(value, "shop--ffffffffffff", now),
            "another preview"
        );
        let later = now + PREVIEW_COOKIE_LIFETIME + Duration::from_secs(1);
        assert!(
            !keys.cookie_opens(value, "shop--0123456789ab", later),
            "expired"
        );
        let (until, signature) = value.split_once('.').expect("two parts");
        let extended = format!("{}.{signature}", until.parse::<u64>().expect("n") + 3600);
        assert!(
            !keys.cookie_opens(&extended, "shop--0123456789ab", now),
            "tampered"
        );
        let other = PreviewKeys {
            cookie_key: [8; 32],
            ..keys
        };
        assert!(
            !other.cookie_opens(value, "shop--0123456789ab", now),
            "another key"
        );
    }

    #[test]
    fn credentials_are_stripped_and_other_cookies_kept() {
        let mut headers = HeaderMap::new();
        headers.insert(PREVIEW_TOKEN_HEADER, HeaderValue::from_static("secret"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; wharf-preview=123.abc; b=2"),
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("wharf-preview=9.f"),
        );
        strip_preview_credentials(&mut headers);
        assert!(headers.get(PREVIEW_TOKEN_HEADER).is_none());
        let cookies: Vec<&str> = headers
            .get_all(header::COOKIE)
            .iter()
            .map(|v| v.to_str().expect("text"))
            .collect();
        assert_eq!(cookies, ["a=1; b=2"]);
    }
}
