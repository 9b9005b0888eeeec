//! Outbound HTTP: which origins an app may call, and the client that calls
//! them.
//!
//! An app reaches nothing until an [`OutboundPolicy`] allows an origin. The
//! policy is checked twice: the request's scheme, host and port must match
//! an [`OriginRule`], and every address the host resolves to is vetted
//! before the connection is made to that very address, so a DNS answer
//! that changes between check and connect cannot redirect it. Under a
//! catch-all rule (`*` or `https://*`) private, loopback, link-local and
//! other non-public addresses are refused; a rule that names a host or a
//! domain allows whatever that name resolves to.

use bytes::Bytes;
use http::uri::Scheme;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

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
        let (host, port) =
            split_host_port(rest).ok_or_else(|| error("the port is not a number"))?;
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
    fn matches(&self, scheme: &Scheme, host: &str, port: u16) -> bool {
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
    fn matches_host(&self, host: &str) -> bool {
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
enum Denial {
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
struct Destination {
    host: String,
    tls: bool,
    addresses: Vec<SocketAddr>,
}

impl OutboundPolicy {
    /// The rule that allows `scheme://host:port`, if any. Rules naming a host
    /// are preferred to catch-alls, since they also allow private addresses.
    fn rule_for(&self, scheme: &Scheme, host: &str, port: u16) -> Option<&OriginRule> {
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
    async fn vet(&self, uri: &http::Uri) -> Result<Destination, VetError> {
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

enum VetError {
    Denied(Denial),
    Failed(Error),
}

/// The response and the future that drives its connection, as
/// `WasiHttpHooks::send_request` returns them.
pub(crate) type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
);

/// Sends `request` if `policy` allows it, connecting only to vetted
/// addresses. A refusal is logged with `request_id` and reported to the
/// guest as `HTTP-request-denied` or `destination-IP-prohibited`.
///
/// Resolving, connecting and the TLS handshake share one connect deadline;
/// the response head has its own, and the body may fall silent for at most
/// the between-bytes timeout while the guest waits on it.
pub(crate) async fn send(
    policy: Arc<OutboundPolicy>,
    request_id: crate::RequestId,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<Sent, Error> {
    let options = options.unwrap_or_default();
    let shorter =
        |ours: Duration, theirs: Option<Duration>| theirs.map_or(ours, |theirs| theirs.min(ours));
    let connect_timeout = shorter(policy.connect_timeout, options.connect_timeout);
    let first_byte_timeout = shorter(policy.first_byte_timeout, options.first_byte_timeout);
    let between_bytes_timeout =
        shorter(policy.between_bytes_timeout, options.between_bytes_timeout)
            .max(Duration::from_millis(1));
    let connect_deadline = tokio::time::Instant::now() + connect_timeout;

    let uri = request.uri().clone();
    let destination = match tokio::time::timeout_at(connect_deadline, policy.vet(&uri)).await {
        Err(_) => Err(VetError::Failed(Error::DnsTimeout)),
        Ok(vetted) => vetted,
    };
    let destination = match destination {
        Ok(destination) => destination,
        Err(VetError::Denied(denial)) => {
            tracing::warn!(%request_id, %uri, reason = %denial, "denied outbound request");
            return Err(match denial {
                Denial::PrivateAddress(_) => Error::DestinationIpProhibited,
                _ => Error::HttpRequestDenied,
            });
        }
        Err(VetError::Failed(error)) => {
            tracing::info!(%request_id, %uri, error = ?error, "outbound request failed");
            return Err(error);
        }
    };

    let stream = connect(&destination.addresses, connect_deadline).await?;
    let stream: Box<dyn Stream> = if destination.tls {
        let name = rustls::pki_types::ServerName::try_from(destination.host.clone())
            .map_err(Error::InvalidDnsNameError)?;
        let tls = tokio::time::timeout_at(connect_deadline, TLS.connect(name, stream))
            .await
            .map_err(|_| Error::ConnectionTimeout)?
            .map_err(Error::Tls)?;
        Box::new(tls)
    } else {
        Box::new(stream)
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(Error::from)?;
    // Fused: once it has finished it is never polled again.
    let mut connection = Some(Box::pin(connection));

    // The request line carries only the path; the host is in `Host`.
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    *request.uri_mut() = http::Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;
    tracing::debug!(%request_id, %uri, address = ?destination.addresses.first(), "outbound request");

    let send = tokio::time::timeout(first_byte_timeout, sender.send_request(request));
    tokio::pin!(send);
    // Drive the connection while waiting for the response head.
    let response = loop {
        match connection.as_mut() {
            Some(running) => tokio::select! {
                result = &mut send => break result,
                result = running => {
                    connection = None;
                    result.map_err(Error::from)?;
                }
            },
            None => break send.await,
        }
    }
    .map_err(|_| Error::ConnectionReadTimeout)?
    .map_err(Error::from)?;

    let response = response.map(|body| {
        TimedBody {
            inner: body,
            limit: between_bytes_timeout,
            timer: Box::pin(tokio::time::sleep(between_bytes_timeout)),
            waiting: false,
        }
        .boxed_unsync()
    });
    let io = async move {
        match connection {
            Some(running) => running.await.map_err(Error::from),
            None => Ok(()),
        }
    };
    Ok((response, Box::new(io)))
}

/// A byte stream a request can be sent over: TCP, or TLS on top of it.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Stream for T {}

/// Connects to the first of `addresses` that answers by `deadline`. Each
/// address gets an equal share of the time left, so one that never answers
/// cannot use up the time of the others.
async fn connect(
    addresses: &[SocketAddr],
    deadline: tokio::time::Instant,
) -> Result<TcpStream, Error> {
    let mut last = Error::ConnectionTimeout;
    for (i, address) in addresses.iter().enumerate() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let share = left / u32::try_from(addresses.len() - i).unwrap_or(u32::MAX);
        match tokio::time::timeout(share, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => {
                stream.set_nodelay(true).map_err(Error::Connect)?;
                return Ok(stream);
            }
            Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = Error::ConnectionRefused;
            }
            Ok(Err(error)) => last = Error::Connect(error),
            Err(_) => last = Error::ConnectionTimeout,
        }
    }
    Err(last)
}

/// TLS with the Mozilla root certificates, shared by every request.
static TLS: LazyLock<tokio_rustls::TlsConnector> = LazyLock::new(|| {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("the default provider supports the default protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
});

/// A response body that fails when the upstream falls silent for longer
/// than `limit` while the guest is waiting for the next frame. Time the
/// guest spends not reading does not count.
struct TimedBody {
    inner: hyper::body::Incoming,
    limit: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
    /// Whether the last poll was pending, so the timer is running.
    waiting: bool,
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                self.waiting = false;
                Poll::Ready(frame.map(|frame| frame.map_err(Error::from)))
            }
            Poll::Pending => {
                if !self.waiting {
                    self.waiting = true;
                    let deadline = tokio::time::Instant::now() + self.limit;
                    self.timer.as_mut().reset(deadline);
                }
                match self.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Error::ConnectionReadTimeout))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn default_port(scheme: &Scheme) -> u16 {
    if *scheme == Scheme::HTTPS { 443 } else { 80 }
}

/// Splits `host[:port]`, with IPv6 hosts in brackets. `None` if what
/// follows the host is not `:port`.
fn split_host_port(text: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    match text.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port))),
        None => Some((text, None)),
    }
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

/// Whether `ip` is an ordinary public unicast address: not loopback,
/// private, link-local, shared (CGNAT), multicast, documentation,
/// benchmarking or reserved space, including IPv4 inside IPv6.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => {
            if let Some(v4) = ip.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let segments = ip.segments();
            let embedded = |high: u16, low: u16| {
                let [a, b] = high.to_be_bytes();
                let [c, d] = low.to_be_bytes();
                Ipv4Addr::new(a, b, c, d)
            };
            // 64:ff9b::/96, NAT64: judge the IPv4 address inside.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public_v4(embedded(segments[6], segments[7]));
            }
            // 2002::/16, 6to4: the IPv4 address is in bits 16..48.
            if segments[0] == 0x2002 {
                return is_public_v4(embedded(segments[1], segments[2]));
            }
            !(ip.is_unspecified()
                || ip.is_loopback()
                || ip.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // fc00::/7, unique local
                || (segments[0] & 0xffc0) == 0xfe80 // fe80::/10, link-local
                || (segments[0] & 0xffc0) == 0xfec0 // fec0::/10, site-local
                || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
                || (segments[0] & 0xfff0) == 0x3ff0 // 3fff::/20, documentation
                || (segments[0] == 0x2001 && segments[1] == 0) // 2001::/32, Teredo
                || (segments[0] == 0x64 && segments[1] == 0xff9b && segments[2] == 1) // 64:ff9b:1::/48, local NAT64
                || segments[..4] == [0x100, 0, 0, 0] // 100::/64, discard
                || segments[..4] == [0, 0, 0, 0]) // IPv4-compatible, SIIT and other embedded forms
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (b & 0xc0) == 64) // 100.64.0.0/10, shared address space
        || (a == 192 && b == 0 && c == 0) // 192.0.0.0/24, protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // 198.18.0.0/15, benchmarking
        || a >= 240) // reserved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> OriginRule {
        text.parse().unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn rules_parse_and_print_back() {
        for text in [
            "*",
            "https://api.example.com",
            "http://*.internal:8080",
            "http://127.0.0.1:9000",
            "https://*",
            "http://[::1]:8080",
            "https://example.com:*",
        ] {
            assert_eq!(rule(text).to_string(), text);
        }
        assert_eq!(
            rule("HTTPS://API.Example.com/").to_string(),
            "https://api.example.com"
        );
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        for (text, reason) in [
            ("api.example.com", "no scheme"),
            ("ftp://example.com", "http or https"),
            ("https://example.com/path", "no path"),
            ("https://example.com:http", "port"),
            ("https://example.com:0", "port"),
            ("https://exa mple.com", "host"),
            ("https://*.", "domain"),
            ("http://fe80::1:8080", "brackets"),
        ] {
            let error = text.parse::<OriginRule>().expect_err(text).to_string();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }

    #[test]
    fn rules_match_scheme_host_and_port() {
        let https = Scheme::HTTPS;
        let http = Scheme::HTTP;
        let exact = rule("https://api.example.com");
        assert!(exact.matches(&https, "api.example.com", 443));
        assert!(!exact.matches(&http, "api.example.com", 80));
        assert!(!exact.matches(&https, "api.example.com", 8443));
        assert!(!exact.matches(&https, "evil.com", 443));

        let subdomains = rule("http://*.internal:8080");
        assert!(subdomains.matches(&http, "db.internal", 8080));
        assert!(subdomains.matches(&http, "a.b.internal", 8080));
        assert!(!subdomains.matches(&http, "internal", 8080));
        assert!(!subdomains.matches(&http, "notinternal", 8080));
        assert!(!subdomains.matches(&http, "db.internal", 80));
        assert!(!rule("http://*.0.1").matches(&http, "127.0.0.1", 80));

        assert!(rule("*").matches(&http, "anything", 1234));
        assert!(rule("https://example.com:*").matches(&https, "example.com", 1));
    }

    #[test]
    fn host_rules_win_over_catch_alls() {
        let policy = OutboundPolicy {
            rules: vec![rule("*"), rule("http://127.0.0.1:9000")],
            ..OutboundPolicy::default()
        };
        let chosen = policy
            .rule_for(&Scheme::HTTP, "127.0.0.1", 9000)
            .expect("allowed");
        assert!(!chosen.is_catch_all());
        let chosen = policy
            .rule_for(&Scheme::HTTP, "127.0.0.1", 9001)
            .expect("allowed");
        assert!(chosen.is_catch_all());
    }

    #[test]
    fn non_public_addresses_are_recognized() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(
                !is_public(private.parse().expect(private)),
                "{private} is not public"
            );
        }
        for public in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(
                is_public(public.parse().expect(public)),
                "{public} is public"
            );
        }
    }

    #[tokio::test]
    async fn vetting_refuses_private_addresses_under_a_catch_all() {
        let policy = OutboundPolicy {
            rules: vec![rule("*")],
            ..OutboundPolicy::default()
        };
        for uri in [
            "http://127.0.0.1:8080/",
            "http://localhost:8080/",
            "http://[::1]/",
        ] {
            let uri: http::Uri = uri.parse().expect("uri");
            match policy.vet(&uri).await {
                Err(VetError::Denied(Denial::PrivateAddress(_))) => {}
                Err(VetError::Denied(other)) => panic!("{uri}: denied for {other}"),
                Err(VetError::Failed(error)) => panic!("{uri}: failed with {error:?}"),
                Ok(_) => panic!("{uri} was allowed"),
            }
        }
        let named = OutboundPolicy {
            rules: vec![rule("http://localhost:8080")],
            ..OutboundPolicy::default()
        };
        let uri: http::Uri = "http://localhost:8080/".parse().expect("uri");
        assert!(
            named.vet(&uri).await.is_ok(),
            "a rule naming the host allows it"
        );
        let uri: http::Uri = "http://user@localhost:8080/".parse().expect("uri");
        assert!(matches!(
            named.vet(&uri).await,
            Err(VetError::Denied(Denial::Unsupported))
        ));
        let uri: http::Uri = "http://localhost:8081/".parse().expect("uri");
        assert!(matches!(
            named.vet(&uri).await,
            Err(VetError::Denied(Denial::NotAllowed))
        ));
    }
}
