//! An app's outbound policy: which rule allows a request, a socket or a
//! name lookup, and the vetting of a request's destination.

use super::address::is_public;
use super::rule::{OriginRule, default_port, parse_ip};
use http::uri::Scheme;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use wasmtime_wasi_http::Error;

/// Where an app may send outbound requests, and the limits on them.
#[derive(Debug, Clone)]
pub struct OutboundPolicy {
    /// The allowed origins; empty denies everything.
    pub rules: Vec<OriginRule>,
    /// Most outbound requests one incoming request may make.
    pub max_requests: u32,
    /// Longest wait to resolve and connect; a guest may ask for less.
    pub connect_timeout: Duration,
    /// Longest wait for the response head once the request is sent.
    pub first_byte_timeout: Duration,
    /// Longest silence between two pieces of the response body.
    pub between_bytes_timeout: Duration,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            max_requests: 16,
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(30),
            between_bytes_timeout: Duration::from_secs(30),
        }
    }
}

/// How a name that may be resolved is covered by the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameRule {
    /// A rule names it (or its domain): whatever it resolves to is allowed.
    Named,
    /// Only a catch-all covers it: only public addresses are allowed.
    CatchAll,
}

/// Why an outbound request was refused before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Denial {
    /// No rule allows the origin.
    NotAllowed,
    /// Only a catch-all rule allows it, and the host resolves only to
    /// non-public addresses.
    PrivateAddress(IpAddr),
    /// The scheme is neither http nor https, or the URI has no host.
    Unsupported,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denial::NotAllowed => f.write_str("no outbound rule allows this origin"),
            Denial::PrivateAddress(ip) => write!(
                f,
                "it resolves to {ip}, a non-public address, which only a rule naming the host allows"
            ),
            Denial::Unsupported => f.write_str(
                "only http:// and https:// URLs with a host and no userinfo are supported",
            ),
        }
    }
}

/// A request's destination, vetted: where to connect, and how.
pub(super) struct Destination {
    pub(super) host: String,
    pub(super) tls: bool,
    pub(super) addresses: Vec<SocketAddr>,
}

impl OutboundPolicy {
    /// The rule that allows `scheme://host:port`, if any. Rules naming a host
    /// are preferred to catch-alls, since they also allow private addresses.
    pub(super) fn rule_for(&self, scheme: &Scheme, host: &str, port: u16) -> Option<&OriginRule> {
        let mut matching = self
            .rules
            .iter()
            .filter(|rule| rule.matches(scheme, host, port));
        let first = matching.next()?;
        if !first.is_catch_all() {
            return Some(first);
        }
        Some(matching.find(|rule| !rule.is_catch_all()).unwrap_or(first))
    }

    /// The rule that lets a socket connect to `host:port`, if any: a rule
    /// of either scheme that allows that host and port. Rules naming a host
    /// are preferred to catch-alls, as in [`rule_for`](Self::rule_for).
    pub(crate) fn socket_rule(&self, host: &str, port: u16) -> Option<&OriginRule> {
        let found = [
            self.rule_for(&Scheme::HTTP, host, port),
            self.rule_for(&Scheme::HTTPS, host, port),
        ];
        let mut found = found.into_iter().flatten();
        let first = found.next()?;
        Some(if first.is_catch_all() {
            found.next().unwrap_or(first)
        } else {
            first
        })
    }

    /// Whether a name may be resolved: some rule covers it, on some port.
    /// `Some(true)` when only catch-alls do, so that only public addresses
    /// may be handed out for it.
    pub(crate) fn name_rule(&self, host: &str) -> Option<NameRule> {
        let mut covering = self.rules.iter().filter(|rule| rule.matches_host(host));
        let first = covering.next()?;
        if !first.is_catch_all() || covering.any(|rule| !rule.is_catch_all()) {
            Some(NameRule::Named)
        } else {
            Some(NameRule::CatchAll)
        }
    }

    /// Checks `uri` against the rules, resolves its host and keeps the
    /// addresses the matching rule allows.
    pub(super) async fn vet(&self, uri: &http::Uri) -> Result<Destination, VetError> {
        let scheme = uri.scheme().ok_or(VetError::Denied(Denial::Unsupported))?;
        if *scheme != Scheme::HTTP && *scheme != Scheme::HTTPS {
            return Err(VetError::Denied(Denial::Unsupported));
        }
        // Userinfo would travel to the upstream in `Host`; a guest has no
        // business sending it.
        if uri
            .authority()
            .is_some_and(|authority| authority.as_str().contains('@'))
        {
            return Err(VetError::Denied(Denial::Unsupported));
        }
        let raw_host = uri.host().ok_or(VetError::Denied(Denial::Unsupported))?;
        let host = raw_host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let literal = parse_ip(&host);
        let host = literal.map(|ip| ip.to_string()).unwrap_or(host);
        let port = uri.port_u16().unwrap_or_else(|| default_port(scheme));
        let rule = self
            .rule_for(scheme, &host, port)
            .ok_or(VetError::Denied(Denial::NotAllowed))?;

        let resolved: Vec<SocketAddr> = match literal {
            Some(ip) => vec![SocketAddr::new(ip, port)],
            None => {
                // `send` bounds the whole vetting by the connect deadline.
                match tokio::net::lookup_host((host.as_str(), port)).await {
                    Err(_) => {
                        return Err(VetError::Failed(Error::DnsError {
                            rcode: Some("NXDOMAIN".to_owned()),
                            info_code: None,
                        }));
                    }
                    Ok(addresses) => addresses.collect(),
                }
            }
        };
        let first = resolved.first().map(SocketAddr::ip);
        let addresses: Vec<SocketAddr> = resolved
            .into_iter()
            .filter(|address| !rule.is_catch_all() || is_public(address.ip()))
            .collect();
        if addresses.is_empty() {
            return Err(match first {
                Some(ip) => VetError::Denied(Denial::PrivateAddress(ip)),
                None => VetError::Failed(Error::DestinationNotFound),
            });
        }
        Ok(Destination {
            host,
            tls: *scheme == Scheme::HTTPS,
            addresses,
        })
    }
}

pub(super) enum VetError {
    Denied(Denial),
    Failed(Error),
}
