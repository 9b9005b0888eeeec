//! The address of a request's client: the connection's peer, or, when the
//! peer is a trusted proxy, the address the proxy says it forwarded for.
//!
//! From a trusted proxy, `Forwarded` (RFC 7239) or else `X-Forwarded-For`
//! is read from the right: the client is the nearest address that is not
//! itself a trusted proxy. From anyone else the forwarding headers are
//! removed, so a client cannot claim another address or scheme. Either
//! way the guest gets the address in [`CLIENT_IP_HEADER`], which no client
//! can set.

use http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::Arc;
use wharf_runtime::CLIENT_IP_HEADER;

/// Headers through which a proxy tells about the request it forwards;
/// believed only from a trusted proxy.
const FORWARDING_HEADERS: [&str; 5] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-real-ip",
];

/// The networks whose peers are proxies whose forwarding headers are
/// believed (`--trusted-proxy`).
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Proxies in `networks`.
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
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
    /// proxy (or the farthest one, if all are); `None` when the headers
    /// name no address.
    fn forwarded_for(&self, headers: &HeaderMap) -> Option<IpAddr> {
        let chain: Vec<Option<IpAddr>> = if headers.contains_key("forwarded") {
            headers
                .get_all("forwarded")
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .filter_map(|element| {
                    element.split(';').find_map(|pair| {
                        let (name, value) = pair.trim().split_once('=')?;
                        name.eq_ignore_ascii_case("for").then(|| parse_node(value))
                    })
                })
                .collect()
        } else {
            headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .map(parse_node)
                .collect()
        };
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
                for name in FORWARDING_HEADERS {
                    headers.remove(name);
                }
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

    fn proxies(networks: &[&str]) -> Arc<TrustedProxies> {
        let networks = networks.iter().map(|n| n.parse().expect("a network"));
        Arc::new(TrustedProxies::new(networks.collect()))
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, value.parse().expect("a header value"));
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn an_untrusted_peer_cannot_claim_another_address() {
        let mut sent = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("forwarded", "for=5.6.7.8;proto=https"),
            ("x-forwarded-proto", "https"),
            ("x-real-ip", "9.9.9.9"),
            (CLIENT_IP_HEADER, "7.7.7.7"),
        ]);
        let client = proxies(&["10.0.0.0/8"]).resolve(ip("192.0.2.1"), &mut sent);
        assert_eq!(client, ip("192.0.2.1"));
        for name in FORWARDING_HEADERS {
            assert!(!sent.contains_key(name), "{name} reached the guest");
        }
        assert_eq!(sent[CLIENT_IP_HEADER], "192.0.2.1");
    }

    #[test]
    fn a_trusted_proxy_names_the_nearest_untrusted_hop() {
        let trusted = proxies(&["127.0.0.0/8", "10.0.0.0/8"]);
        let mut sent = headers(&[("x-forwarded-for", "203.0.113.9, 198.51.100.7, 10.1.1.1")]);
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

        let mut sent = headers(&[
            (
                "forwarded",
                "for=\"[2001:db8::1]:4711\";proto=https, for=10.0.0.5",
            ),
            ("x-forwarded-for", "6.6.6.6"),
        ]);
        let client = trusted.resolve(ip("::ffff:127.0.0.1"), &mut sent);
        assert_eq!(
            client,
            ip("2001:db8::1"),
            "Forwarded wins over X-Forwarded-For"
        );

        let mut sent = headers(&[("x-forwarded-for", "unknown, 10.0.0.5")]);
        assert_eq!(trusted.resolve(ip("127.0.0.1"), &mut sent), ip("10.0.0.5"));
        let mut sent = HeaderMap::new();
        assert_eq!(trusted.resolve(ip("127.0.0.1"), &mut sent), ip("127.0.0.1"));
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
