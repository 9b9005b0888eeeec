//! The grammar of outbound rules: `*`, `https://api.example.com`,
//! `http://*.internal:8080`, and what each one matches.

use http::uri::Scheme;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One allowed origin, written `*`, `https://api.example.com`,
/// `http://*.internal:8080` or `http://127.0.0.1:9000`.
///
/// The scheme is required except in the bare `*`. Without a port, a rule
/// allows the scheme's default port (80 or 443); `:*` allows any port.
/// `*.example.com` matches every subdomain of example.com, not example.com
/// itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginRule {
    /// `None` for the bare `*`, which allows both schemes.
    scheme: Option<Scheme>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// `*`: any host.
    Any,
    /// One host name (lower case) or IP address.
    Exact(String),
    /// `*.example.com`: stored as `.example.com`.
    Subdomains(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortPattern {
    /// No port written: the scheme's default.
    Default,
    /// `:*`.
    Any,
    Exact(u16),
}

/// Why a rule could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid outbound rule {rule:?}: {reason}; write `*`, `https://api.example.com`, `http://*.internal:8080` or `http://127.0.0.1:9000`"
)]
pub struct OriginRuleError {
    rule: String,
    reason: &'static str,
}

impl FromStr for OriginRule {
    type Err = OriginRuleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |reason| OriginRuleError {
            rule: text.to_owned(),
            reason,
        };
        if text == "*" {
            return Ok(Self {
                scheme: None,
                host: HostPattern::Any,
                port: PortPattern::Any,
            });
        }
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| error("it has no scheme"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::HTTP,
            "https" => Scheme::HTTPS,
            _ => return Err(error("the scheme must be http or https")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err(error("a rule is an origin: no path, query or user"));
        }
        let (host, port) = crate::authority::split_host_port(rest)
            .ok_or_else(|| error("the port is not a number"))?;
        if host.contains(':') && !rest.starts_with('[') {
            return Err(error(
                "write an IPv6 address in brackets, as in http://[::1]:8080",
            ));
        }
        let port = match port {
            None => PortPattern::Default,
            Some("*") => PortPattern::Any,
            Some(port) => PortPattern::Exact(
                port.parse()
                    .map_err(|_| error("the port is not a number from 1 to 65535"))?,
            ),
        };
        if port == PortPattern::Exact(0) {
            return Err(error("the port is not a number from 1 to 65535"));
        }
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostPattern::Any
        } else if let Some(domain) = host.strip_prefix("*.") {
            if !is_host_name(domain) {
                return Err(error("the domain after `*.` is not a host name"));
            }
            HostPattern::Subdomains(format!(".{domain}"))
        } else if let Some(ip) = parse_ip(&host) {
            HostPattern::Exact(ip.to_string())
        } else if is_host_name(&host) {
            HostPattern::Exact(host)
        } else {
            return Err(error("the host is not a host name or an IP address"));
        };
        Ok(Self {
            scheme: Some(scheme),
            host,
            port,
        })
    }
}

impl fmt::Display for OriginRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(scheme) = &self.scheme else {
            return f.write_str("*");
        };
        write!(f, "{scheme}://")?;
        match &self.host {
            HostPattern::Any => f.write_str("*")?,
            HostPattern::Exact(host) if host.contains(':') => write!(f, "[{host}]")?,
            HostPattern::Exact(host) => f.write_str(host)?,
            HostPattern::Subdomains(domain) => write!(f, "*{domain}")?,
        }
        match self.port {
            PortPattern::Default => Ok(()),
            PortPattern::Any => f.write_str(":*"),
            PortPattern::Exact(port) => write!(f, ":{port}"),
        }
    }
}

impl OriginRule {
    /// Whether a request to `scheme://host:port` falls under this rule.
    pub(super) fn matches(&self, scheme: &Scheme, host: &str, port: u16) -> bool {
        if self
            .scheme
            .as_ref()
            .is_some_and(|allowed| allowed != scheme)
        {
            return false;
        }
        let port_matches = match self.port {
            PortPattern::Any => true,
            PortPattern::Exact(allowed) => allowed == port,
            PortPattern::Default => port == default_port(scheme),
        };
        port_matches && self.matches_host(host)
    }

    /// Whether this rule covers `host` (lower case, an IP address written
    /// canonically), on some port.
    pub(super) fn matches_host(&self, host: &str) -> bool {
        match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(allowed) => allowed == host,
            HostPattern::Subdomains(domain) => {
                parse_ip(host).is_none()
                    && host.ends_with(domain.as_str())
                    && host.len() > domain.len()
            }
        }
    }

    /// Whether this rule lets every host through, so that it must not
    /// open the way to private addresses.
    pub(crate) fn is_catch_all(&self) -> bool {
        self.host == HostPattern::Any
    }
}

pub(super) fn default_port(scheme: &Scheme) -> u16 {
    if *scheme == Scheme::HTTPS { 443 } else { 80 }
}

pub(crate) fn parse_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Letters, digits, `-` and `.`, in labels of 1 to 63 characters.
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}
