//! The address of a request's client: the connection's peer, or, when the
//! peer is a trusted proxy, the address the proxy says it forwarded for.
//!
//! From a trusted proxy, the one header it is configured to write
//! ([`ForwardedHeader`]: `X-Forwarded-For` unless told `Forwarded`) is read
//! from the right: the client is the nearest address that is not itself a
//! trusted proxy, and an element that cannot be read ends the chain. The
//! other header is never read, since proxies pass on whatever a client
//! sent in it. From anyone else the forwarding headers are removed (in any
//! spelling, `_` for `-` included), so a client cannot claim another
//! address or scheme. Either way the guest gets the address in
//! [`CLIENT_IP_HEADER`], which no client can set.

use http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::Arc;
use wharf_runtime::CLIENT_IP_HEADER;

/// Headers through which a proxy tells about the request it forwards, or
/// a client claims an address; believed only from a trusted proxy.
const FORWARDING_HEADERS: [&str; 11] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    CLIENT_IP_HEADER,
];

/// The header trusted proxies write the client's address into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, ...`, as most proxies write it.
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

/// The networks whose peers are proxies whose forwarding headers are
/// believed (`--trusted-proxy`), and the header they write.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// Proxies in `networks` that write the client's address in `header`.
    pub fn new(networks: Vec<IpNet>, header: ForwardedHeader) -> Self {
        // An IPv4 network written IPv4-mapped matches the IPv4 addresses
        // peers are compared as.
        let networks = networks
            .into_iter()
            .map(|net| match net {
                IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
                    Some(v4) if v6.prefix_len() >= 96 => {
                        ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, IpNet::V4)
                    }
                    _ => net,
                },
                IpNet::V4(_) => net,
            })
            .collect();
        Self { networks, header }
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.networks.iter().any(|net| net.contains(&address))
    }

    /// How the requests of a connection from `peer` find their client:
    /// worked out once per connection.
    pub(crate) fn for_peer(self: &Arc<Self>, peer: IpAddr) -> PeerClients {
        let peer = peer.to_canonical();
        PeerClients {
            proxies: self.clone(),
            peer,
            // The header every request from an untrusted peer gets.
            direct: (!self.trusts(peer)).then(|| header_value(peer)),
        }
    }

    /// The client of a request that came from `peer` with `headers`. Sets
    /// [`CLIENT_IP_HEADER`] to it, and removes the forwarding headers
    /// unless `peer` is a trusted proxy.
    #[cfg(test)]
    fn resolve(self: &Arc<Self>, peer: IpAddr, headers: &mut HeaderMap) -> IpAddr {
        self.for_peer(peer).resolve(headers)
    }

    /// The nearest address in the forwarding chain that is not a trusted
    /// proxy (or the farthest one read, if all are); `None` when the header
    /// names no address. An element that cannot be read ends the chain.
    fn forwarded_for(&self, headers: &HeaderMap) -> Option<IpAddr> {
        let name = match self.header {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        };
        let chain: Vec<Option<IpAddr>> = headers
            .get_all(name)
            .iter()
            .flat_map(|value| value.as_bytes().split(|&b| b == b','))
            .map(|element| {
                let element = std::str::from_utf8(element).ok()?;
                match self.header {
                    ForwardedHeader::XForwardedFor => parse_node(element),
                    ForwardedHeader::Forwarded => element.split(';').find_map(|pair| {
                        let (name, value) = pair.trim().split_once('=')?;
                        name.trim()
                            .eq_ignore_ascii_case("for")
                            .then(|| parse_node(value))?
                    }),
                }
            })
            .collect();
        let mut client = None;
        for hop in chain.into_iter().rev() {
            // An address that is hidden or malformed ends what can be known.
            let Some(hop) = hop else {
                break;
            };
            client = Some(hop);
            if !self.trusts(hop) {
                break;
            }
        }
        client
    }
}

/// What one connection's requests need to find their client.
pub(crate) struct PeerClients {
    proxies: Arc<TrustedProxies>,
    peer: IpAddr,
    /// [`CLIENT_IP_HEADER`]'s value for a peer that is not a trusted proxy.
    direct: Option<http::HeaderValue>,
}

impl PeerClients {
    /// The client of a request with `headers` on this connection: sets
    /// [`CLIENT_IP_HEADER`] to it, and removes the forwarding headers
    /// unless the peer is a trusted proxy.
    pub(crate) fn resolve(&self, headers: &mut HeaderMap) -> IpAddr {
        match &self.direct {
            Some(value) => {
                remove_forwarding_headers(headers);
                headers.insert(CLIENT_IP_HEADER, value.clone());
                self.peer
            }
            None => {
                let client = self.proxies.forwarded_for(headers).unwrap_or(self.peer);
                headers.insert(CLIENT_IP_HEADER, header_value(client));
                client
            }
        }
    }
}

/// Removes every header a client could claim an address or scheme with,
/// however its name is spelled (`X_Forwarded_For` included).
fn remove_forwarding_headers(headers: &mut HeaderMap) {
    let claims: Vec<http::HeaderName> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            FORWARDING_HEADERS.iter().any(|forwarding| {
                name.len() == forwarding.len()
                    && name
                        .bytes()
                        .zip(forwarding.bytes())
                        .all(|(a, b)| a == b || (a == b'_' && b == b'-'))
            })
        })
        .cloned()
        .collect();
    for name in claims {
        headers.remove(name);
    }
}

fn header_value(address: IpAddr) -> http::HeaderValue {
    http::HeaderValue::from_str(&address.to_string())
        .expect("an IP address is a valid header value")
}

/// An address as `Forwarded` or `X-Forwarded-For` writes it: `192.0.2.1`,
/// `192.0.2.1:4711`, `"[2001:db8::1]:4711"` or `2001:db8::1`; `None` for
/// `unknown`, an obfuscated name, or anything else.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    if let Some(rest) = text.strip_prefix('[') {
        return rest
            .split(']')
            .next()?
            .parse::<IpAddr>()
            .ok()
            .map(|a| a.to_canonical());
    }
    let (host, _port) = text.rsplit_once(':')?;
    host.parse::<IpAddr>().ok().map(|a| a.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(networks: &[&str], header: ForwardedHeader) -> Arc<TrustedProxies> {
        let networks = networks.iter().map(|n| n.parse().expect("a network"));
        Arc::new(TrustedProxies::new(networks.collect(), header))
    }

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            let value = http::HeaderValue::from_bytes(value).expect("a header value");
            headers.append(*name, value);
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn an_untrusted_peer_cannot_claim_another_address() {
        let mut sent = headers(&[
            ("x-forwarded-for", b"1.2.3.4"),
            ("x_forwarded_for", b"1.2.3.5"),
            ("forwarded", b"for=5.6.7.8;proto=https"),
            ("x-forwarded-proto", b"https"),
            ("x-real-ip", b"9.9.9.9"),
            ("true-client-ip", b"8.8.8.8"),
            (CLIENT_IP_HEADER, b"7.7.7.7"),
        ]);
        let trusted = proxies(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let client = trusted.resolve(ip("192.0.2.1"), &mut sent);
        assert_eq!(client, ip("192.0.2.1"));
        assert_eq!(sent.len(), 1, "only wharf's own header is left: {sent:?}");
        assert_eq!(sent[CLIENT_IP_HEADER], "192.0.2.1");
    }

    #[test]
    fn a_trusted_proxy_names_the_nearest_untrusted_hop() {
        let trusted = proxies(
            &["127.0.0.0/8", "10.0.0.0/8"],
            ForwardedHeader::XForwardedFor,
        );
        let mut sent = headers(&[("x-forwarded-for", b"203.0.113.9, 198.51.100.7, 10.1.1.1")]);
        let client = trusted.resolve(ip("127.0.0.1"), &mut sent);
        assert_eq!(
            client,
            ip("198.51.100.7"),
            "the hop before the trusted ones"
        );
        assert_eq!(
            sent["x-forwarded-for"],
            "203.0.113.9, 198.51.100.7, 10.1.1.1"
        );
        assert_eq!(sent[CLIENT_IP_HEADER], "198.51.100.7");

        // A proxy that writes X-Forwarded-For passes on a client's
        // Forwarded, which is never read.
        let mut sent = headers(&[
            ("forwarded", b"for=6.6.6.6"),
            ("x-forwarded-for", b"198.51.100.7"),
        ]);
        assert_eq!(
            trusted.resolve(ip("::ffff:127.0.0.1"), &mut sent),
            ip("198.51.100.7")
        );

        // What cannot be read ends the chain at the nearest readable hop.
        let mut sent = headers(&[("x-forwarded-for", b"unknown, 10.0.0.5")]);
        assert_eq!(trusted.resolve(ip("127.0.0.1"), &mut sent), ip("10.0.0.5"));
        let mut sent = headers(&[("x-forwarded-for", b"6.6.6.6, \xff, 10.0.0.5")]);
        assert_eq!(trusted.resolve(ip("127.0.0.1"), &mut sent), ip("10.0.0.5"));
        let mut sent = HeaderMap::new();
        assert_eq!(trusted.resolve(ip("127.0.0.1"), &mut sent), ip("127.0.0.1"));
    }

    #[test]
    fn proxies_that_write_forwarded_are_read_there_only() {
        let trusted = proxies(&["::ffff:127.0.0.0/104"], ForwardedHeader::Forwarded);
        let mut sent = headers(&[
            (
                "forwarded",
                b"for=\"[2001:db8::1]:4711\";proto=https, for=_hidden",
            ),
            ("x-forwarded-for", b"6.6.6.6"),
        ]);
        assert_eq!(
            trusted.resolve(ip("127.0.0.1"), &mut sent),
            ip("127.0.0.1"),
            "an obfuscated nearest hop hides the rest"
        );
        let chained = proxies(
            &["127.0.0.0/8", "198.51.100.0/24"],
            ForwardedHeader::Forwarded,
        );
        let mut sent = headers(&[
            ("forwarded", b"for=6.6.6.6, proto=https, for=198.51.100.7"),
            ("x-forwarded-for", b"6.6.6.6"),
        ]);
        assert_eq!(
            chained.resolve(ip("127.0.0.1"), &mut sent),
            ip("198.51.100.7"),
            "an element without `for` ends the chain"
        );
        let mut sent = headers(&[("forwarded", b"for=\"[2001:db8::1]:4711\";proto=https")]);
        assert_eq!(
            trusted.resolve(ip("127.0.0.1"), &mut sent),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn addresses_are_read_in_every_form_proxies_write() {
        assert_eq!(parse_node("192.0.2.1"), Some(ip("192.0.2.1")));
        assert_eq!(parse_node(" 192.0.2.1:4711"), Some(ip("192.0.2.1")));
        assert_eq!(parse_node("\"[2001:db8::1]:80\""), Some(ip("2001:db8::1")));
        assert_eq!(parse_node("2001:db8::1"), Some(ip("2001:db8::1")));
        assert_eq!(parse_node("unknown"), None);
        assert_eq!(parse_node("_hidden"), None);
    }
}
