//! App names and hostnames, checked once at the edge.

use std::fmt;
use std::str::FromStr;

/// The name of an app. It is also the first DNS label of the app's hostname,
/// `<name>.<domain>`, so it is 1 to 40 characters of lowercase letters,
/// digits and single hyphens, starting with a letter and not ending with a
/// hyphen. `--` is reserved: preview hostnames use it as a separator.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct AppName(String);

impl AppName {
    /// The longest name accepted.
    pub const MAX_LEN: usize = 40;

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    /// Not a valid app name.
    #[error(
        "`{0}` is not a valid app name: use 1 to 40 lowercase letters, digits and single \
         hyphens, starting with a letter and not ending with a hyphen (e.g. `my-app`)"
    )]
    App(String),
    /// Not a valid token name.
    #[error(
        "`{0}` is not a valid token name: use 1 to 40 lowercase letters, digits and single \
         hyphens, starting with a letter (e.g. `ci-shop`); `admin` and `peer` are taken"
    )]
    Token(String),
    /// Not a valid hostname.
    #[error(
        "`{0}` is not a valid hostname: use lowercase DNS labels of letters, digits and \
         hyphens separated by dots, at most 253 characters (e.g. `shop.example.com`)"
    )]
    Hostname(String),
}

/// Whether `s` is 1 to 40 lowercase letters, digits and single hyphens,
/// starting with a letter and not ending with a hyphen.
fn is_label_name(s: &str) -> bool {
    (1..=AppName::MAX_LEN).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && !s.contains("--")
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl FromStr for AppName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_label_name(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(NameError::App(s.to_owned()))
        }
    }
}

/// The name of a scoped admin token, recorded with everything done with
/// it. The same syntax as an app name; `admin` (the server's own token)
/// and `peer` (servers reading each other's logs) are taken.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct TokenName(String);

impl TokenName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TokenName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_label_name(s) && !matches!(s, "admin" | "peer") {
            Ok(Self(s.to_owned()))
        } else {
            Err(NameError::Token(s.to_owned()))
        }
    }
}

/// A custom hostname routed to an app, lowercase, without a port.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Hostname(String);

impl Hostname {
    /// The hostname as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Hostname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Hostname {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim_end_matches('.').to_ascii_lowercase();
        let label_ok = |label: &str| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if (1..=253).contains(&lower.len()) && lower.split('.').all(label_ok) {
            Ok(Self(lower))
        } else {
            Err(NameError::Hostname(s.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names() {
        for good in ["a", "hello", "my-app", "app2", &"a".repeat(40)] {
            assert!(good.parse::<AppName>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "Hello",
            "2app",
            "-app",
            "app-",
            "a--b",
            "a_b",
            "a.b",
            &"a".repeat(41),
        ] {
            assert!(bad.parse::<AppName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn token_names() {
        for good in ["ci", "ci-shop", "deploy2"] {
            assert!(good.parse::<TokenName>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "admin",
            "peer",
            "CI",
            "ci_shop",
            "a--b",
            &"a".repeat(41),
        ] {
            assert!(bad.parse::<TokenName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn hostnames() {
        assert_eq!(
            "Shop.Example.COM.".parse::<Hostname>().map(|h| h.0),
            Ok("shop.example.com".into())
        );
        for bad in [
            "",
            "a..b",
            "-a.com",
            "a-.com",
            "a_b.com",
            "a.com:80",
            &"a".repeat(64),
        ] {
            assert!(bad.parse::<Hostname>().is_err(), "{bad}");
        }
    }
}
