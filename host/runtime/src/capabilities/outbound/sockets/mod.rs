//! `wasi:sockets` for apps, denied unless the app's outbound rules allow.
//!
//! Language runtimes import `wasi:sockets` whether or not the app opens a
//! socket (CPython built by componentize-py does), so wharf provides it,
//! and decides every use by the same [`OutboundPolicy`] as outbound HTTP:
//!
//! - **Sockets.** An app with no outbound rules cannot create a socket at
//!   all. Otherwise a request may create at most `max_requests` TCP
//!   sockets, so it cannot exhaust the server's file descriptors.
//! - **Names.** `resolve-addresses` answers only for a name some rule
//!   covers, on any port and either scheme, and only with the addresses
//!   that rule allows: under a catch-all (`*`), public addresses only. wharf
//!   resolves the name itself; wasmtime-wasi's resolver is not linked. An IP
//!   address written as a name is answered at once, as itself.
//! - **TCP connections.** A connection to `IP:PORT` is allowed when a rule
//!   allows that address and port itself (`http://127.0.0.1:9000`), or
//!   allows a name that this same request resolved to that address. Under a
//!   catch-all, only public addresses. The guest connects to the address it
//!   was given, so a DNS answer that changes later redirects nothing.
//! - **Refused always.** UDP (no UDP socket can be created), listening,
//!   accepting, and binding to a chosen address. Binding to the wildcard
//!   address with port 0 passes, since wasmtime-wasi checks the implicit
//!   bind of every connect that way; it only takes an ephemeral port.
//!
//! A request may also look names up at most `max_requests` times. Each
//! refusal is logged with the request id, up to `max_requests` lines per
//! request and kind; past that, one line says the rest go unlogged.

mod host;

pub use host::ResolveAddressStream;
pub(in crate::capabilities) use host::add_to_linker;

use super::{NameRule, OutboundPolicy, is_public, parse_ip};
use crate::RequestId;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::vec;
use tokio::sync::oneshot;
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, IpAddressFamily};
use wasmtime_wasi::sockets::SocketAddrUse;

/// What one request's sockets may reach: the app's rules, and the names
/// this request resolved, by address.
pub(crate) struct SocketAccess {
    policy: Arc<OutboundPolicy>,
    request_id: RequestId,
    /// For each address handed out by a lookup, the names it came from.
    resolved: Mutex<HashMap<IpAddr, Vec<String>>>,
    sockets: Counter,
    lookups: Counter,
    connections: Counter,
}

/// How many times a request did one thing, allowed or not.
#[derive(Default)]
struct Counter(AtomicU32);

impl Counter {
    /// Counts one more, and says whether it is within `max`.
    fn within(&self, max: u32) -> bool {
        self.0.fetch_add(1, Ordering::Relaxed) < max
    }
}

/// Why a use of a socket was refused, for the log.
#[derive(Clone, Copy)]
enum Denial {
    NoRules,
    NotCovered,
    NonPublic,
    TooMany,
    Bind,
    Listen,
    Udp,
}

impl Denial {
    fn reason(self) -> &'static str {
        match self {
            Denial::NoRules => "the app has no outbound rules",
            Denial::NotCovered => "no outbound rule allows this host and port",
            Denial::NonPublic => {
                "it is a non-public address, which only a rule naming it (or a name resolved to it) allows"
            }
            Denial::TooMany => "the request did this too many times",
            Denial::Bind => "apps may not bind sockets to an address",
            Denial::Listen => "apps may not listen",
            Denial::Udp => "apps may not use UDP",
        }
    }
}

impl SocketAccess {
    pub(crate) fn new(policy: Arc<OutboundPolicy>, request_id: RequestId) -> Arc<Self> {
        Arc::new(Self {
            policy,
            request_id,
            resolved: Mutex::default(),
            sockets: Counter::default(),
            lookups: Counter::default(),
            connections: Counter::default(),
        })
    }

    /// Logs a refusal of `what`, unless the request has been refused more
    /// than `max_requests` times already for it (the first past that says
    /// so).
    fn refuse(
        &self,
        counter: &Counter,
        what: &str,
        target: &dyn std::fmt::Display,
        denial: Denial,
    ) {
        let max = self.policy.max_requests;
        let seen = counter.0.load(Ordering::Relaxed);
        if seen <= max {
            tracing::warn!(request_id = %self.request_id, %target, reason = denial.reason(), "denied {what}");
        } else if seen == max + 1 {
            tracing::warn!(request_id = %self.request_id, "denied {what}s: the request keeps trying; further refusals are not logged");
        }
    }

    /// Whether this request may create another TCP socket.
    fn admit_socket(&self, family: IpAddressFamily) -> Result<(), ErrorCode> {
        let within = self.sockets.within(self.policy.max_requests);
        let denial = if self.policy.rules.is_empty() {
            Denial::NoRules
        } else if !within {
            Denial::TooMany
        } else {
            return Ok(());
        };
        self.refuse(&self.sockets, "socket", &format_args!("{family:?}"), denial);
        Err(ErrorCode::AccessDenied)
    }

    /// The check wasmtime-wasi calls before each bind, listen, accept and
    /// connect.
    pub(crate) fn address_check(
        self: &Arc<Self>,
    ) -> impl Fn(SocketAddr, SocketAddrUse) -> Pin<Box<dyn Future<Output = bool> + Send + Sync>>
    + Send
    + Sync
    + 'static {
        let access = self.clone();
        move |address, use_| {
            let allowed = access.allows(address, use_);
            Box::pin(async move { allowed })
        }
    }

    fn allows(&self, address: SocketAddr, use_: SocketAddrUse) -> bool {
        let denial = match use_ {
            // What wasmtime-wasi checks for the implicit bind of a connect.
            SocketAddrUse::TcpBind if address.ip().is_unspecified() && address.port() == 0 => {
                return true;
            }
            SocketAddrUse::TcpConnect => match self.connect_denial(address) {
                None => return true,
                Some(denial) => denial,
            },
            other => {
                // Counted like connections, so that retries are not logged
                // without end.
                self.connections.within(self.policy.max_requests);
                match other {
                    SocketAddrUse::TcpBind => Denial::Bind,
                    SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => Denial::Listen,
                    _ => Denial::Udp,
                }
            }
        };
        self.refuse(&self.connections, "socket", &address, denial);
        false
    }

    /// Why a TCP connection to `address` is refused, if it is.
    fn connect_denial(&self, address: SocketAddr) -> Option<Denial> {
        let within = self.connections.within(self.policy.max_requests);
        let ip = address.ip().to_canonical();
        let names = self
            .resolved
            .lock()
            .expect("resolved names lock")
            .get(&ip)
            .cloned()
            .unwrap_or_default();
        let rules: Vec<bool> = std::iter::once(ip.to_string())
            .chain(names)
            .filter_map(|host| self.policy.socket_rule(&host, address.port()))
            .map(|rule| rule.is_catch_all())
            .collect();
        if rules.is_empty() {
            Some(Denial::NotCovered)
        } else if rules.iter().all(|&catch_all| catch_all) && !is_public(ip) {
            Some(Denial::NonPublic)
        } else if !within {
            Some(Denial::TooMany)
        } else {
            None
        }
    }

    /// Starts resolving `name`, if the rules cover it. An IP address is its
    /// own answer, at once.
    fn resolve(self: &Arc<Self>, name: String) -> Result<ResolveAddressStream, ErrorCode> {
        let (host, literal) = match url::Host::parse(&name) {
            Ok(url::Host::Domain(domain)) => (domain, None),
            Ok(url::Host::Ipv4(ip)) => (ip.to_string(), Some(IpAddr::V4(ip))),
            Ok(url::Host::Ipv6(ip)) => (ip.to_string(), Some(IpAddr::V6(ip))),
            Err(_) => match parse_ip(&name) {
                Some(ip) => (ip.to_canonical().to_string(), Some(ip.to_canonical())),
                None => return Err(ErrorCode::InvalidArgument),
            },
        };
        let Some(rule) = self.policy.name_rule(&host) else {
            self.lookups.within(self.policy.max_requests);
            let denial = if self.policy.rules.is_empty() {
                Denial::NoRules
            } else {
                Denial::NotCovered
            };
            self.refuse(&self.lookups, "name lookup", &name, denial);
            return Err(ErrorCode::AccessDenied);
        };
        if let Some(ip) = literal {
            let addresses = self.hand_out(&host, rule, vec![ip]);
            return Ok(ResolveAddressStream::Done(Ok(addresses.into_iter())));
        }
        if !self.lookups.within(self.policy.max_requests) {
            self.refuse(&self.lookups, "name lookup", &name, Denial::TooMany);
            return Err(ErrorCode::AccessDenied);
        }
        let (answer, answered) = oneshot::channel();
        let access = self.clone();
        let timeout = self.policy.connect_timeout;
        tokio::spawn(async move {
            let lookup = tokio::net::lookup_host((host.as_str(), 0));
            let addresses = match tokio::time::timeout(timeout, lookup).await {
                Ok(Ok(addresses)) => Ok(addresses.map(|a| a.ip().to_canonical()).collect()),
                Ok(Err(_)) => Err(ErrorCode::NameUnresolvable),
                Err(_) => Err(ErrorCode::TemporaryResolverFailure),
            };
            let _ = answer.send(addresses.map(|addresses| access.hand_out(&host, rule, addresses)));
        });
        Ok(ResolveAddressStream::Pending(answered))
    }

    /// The addresses of `host` the rule allows, remembered as `host`'s for
    /// the connection checks that follow.
    fn hand_out(&self, host: &str, rule: NameRule, addresses: Vec<IpAddr>) -> Vec<IpAddr> {
        let (allowed, refused): (Vec<IpAddr>, Vec<IpAddr>) = addresses
            .into_iter()
            .partition(|ip| rule == NameRule::Named || is_public(*ip));
        if !refused.is_empty() {
            self.lookups.within(self.policy.max_requests);
            let what = format!("{host} -> {refused:?}");
            self.refuse(
                &self.lookups,
                "addresses from a name lookup",
                &what,
                Denial::NonPublic,
            );
        }
        let mut resolved = self.resolved.lock().expect("resolved names lock");
        for ip in &allowed {
            let names = resolved.entry(*ip).or_default();
            if !names.iter().any(|name| name == host) {
                names.push(host.to_owned());
            }
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime_wasi::p2::Pollable;

    /// Access under `rules`, with the default cap of 16 per request.
    fn access(rules: &[&str]) -> Arc<SocketAccess> {
        access_capped(rules, OutboundPolicy::default().max_requests)
    }

    fn access_capped(rules: &[&str], max_requests: u32) -> Arc<SocketAccess> {
        let policy = OutboundPolicy {
            rules: rules
                .iter()
                .map(|rule| rule.parse().expect("valid rule"))
                .collect(),
            max_requests,
            ..OutboundPolicy::default()
        };
        SocketAccess::new(Arc::new(policy), RequestId::new())
    }

    fn connects(access: &SocketAccess, address: &str) -> bool {
        let address = address.parse().expect("socket address");
        access.allows(address, SocketAddrUse::TcpConnect)
    }

    #[test]
    fn an_address_rule_allows_that_address_and_port_only() {
        let access = access(&["http://127.0.0.1:9000"]);
        assert!(connects(&access, "127.0.0.1:9000"));
        assert!(!connects(&access, "127.0.0.1:9001"));
        assert!(!connects(&access, "127.0.0.2:9000"));
        // An IPv4-mapped IPv6 address is the same address.
        assert!(connects(&access, "[::ffff:127.0.0.1]:9000"));
    }

    #[test]
    fn only_the_implicit_bind_of_a_connect_is_allowed() {
        let access = access(&["*"]);
        let check = |address: &str, use_| access.allows(address.parse().expect("address"), use_);
        assert!(check("0.0.0.0:0", SocketAddrUse::TcpBind));
        assert!(check("[::]:0", SocketAddrUse::TcpBind));
        assert!(!check("0.0.0.0:8080", SocketAddrUse::TcpBind));
        assert!(!check("127.0.0.1:0", SocketAddrUse::TcpBind));
        assert!(!check("0.0.0.0:0", SocketAddrUse::TcpListen));
        assert!(!check("93.184.216.34:443", SocketAddrUse::TcpAccept));
        assert!(!check("0.0.0.0:0", SocketAddrUse::UdpBind));
        assert!(!check("93.184.216.34:53", SocketAddrUse::UdpSend));
    }

    #[test]
    fn a_catch_all_reaches_public_addresses_only() {
        let access = access(&["*"]);
        assert!(connects(&access, "93.184.216.34:443"));
        assert!(connects(&access, "93.184.216.34:25"));
        for private in [
            "127.0.0.1:80",
            "10.0.0.1:80",
            "169.254.169.254:80",
            "[::1]:80",
        ] {
            assert!(!connects(&access, private), "{private}");
        }
    }

    #[test]
    fn a_name_rule_allows_what_this_request_resolved_it_to() {
        let access = access(&["https://api.example.com", "http://*.internal:8080"]);
        assert_eq!(
            access.policy.name_rule("api.example.com"),
            Some(NameRule::Named)
        );
        assert_eq!(
            access.policy.name_rule("db.internal"),
            Some(NameRule::Named)
        );
        assert_eq!(access.policy.name_rule("example.com"), None);
        assert!(!connects(&access, "10.1.2.3:443"), "before any lookup");
        let handed = access.hand_out(
            "api.example.com",
            NameRule::Named,
            vec!["10.1.2.3".parse().expect("ip")],
        );
        assert_eq!(
            handed.len(),
            1,
            "a named host may resolve to a private address"
        );
        assert!(connects(&access, "10.1.2.3:443"));
        assert!(!connects(&access, "10.1.2.3:80"), "the rule's port only");
        access.hand_out(
            "db.internal",
            NameRule::Named,
            vec!["10.9.9.9".parse().expect("ip")],
        );
        assert!(connects(&access, "10.9.9.9:8080"));
        assert!(!connects(&access, "10.9.9.9:443"));
    }

    #[test]
    fn under_a_catch_all_lookups_hand_out_public_addresses_only() {
        let access = access(&["*"]);
        assert_eq!(
            access.policy.name_rule("anything.example"),
            Some(NameRule::CatchAll)
        );
        let handed = access.hand_out(
            "anything.example",
            NameRule::CatchAll,
            vec![
                "127.0.0.1".parse().expect("ip"),
                "93.184.216.34".parse().expect("ip"),
            ],
        );
        assert_eq!(handed, ["93.184.216.34".parse::<IpAddr>().expect("ip")]);
        assert!(!connects(&access, "127.0.0.1:80"));
    }

    #[test]
    fn sockets_need_rules_and_are_capped_per_request() {
        let none = access(&[]);
        assert!(none.admit_socket(IpAddressFamily::Ipv4).is_err());
        let some = access_capped(&["http://127.0.0.1:9000"], 3);
        for _ in 0..3 {
            assert!(some.admit_socket(IpAddressFamily::Ipv4).is_ok());
        }
        assert!(some.admit_socket(IpAddressFamily::Ipv6).is_err());
    }

    #[test]
    fn connections_per_request_are_capped() {
        let access = access_capped(&["http://127.0.0.1:9000"], 3);
        for _ in 0..3 {
            assert!(connects(&access, "127.0.0.1:9000"));
        }
        assert!(!connects(&access, "127.0.0.1:9000"));
    }

    #[tokio::test]
    async fn names_no_rule_covers_are_not_looked_up() {
        let access = access(&["http://127.0.0.1:9000"]);
        assert!(matches!(
            access.resolve("example.com".into()),
            Err(ErrorCode::AccessDenied)
        ));
        assert!(matches!(
            access.resolve("not a name!".into()),
            Err(ErrorCode::InvalidArgument)
        ));
        let mut stream = access.resolve("127.0.0.1".into()).expect("a rule names it");
        stream.ready().await;
        match stream {
            ResolveAddressStream::Done(Ok(addresses)) => {
                assert_eq!(
                    addresses.collect::<Vec<_>>(),
                    ["127.0.0.1".parse::<IpAddr>().expect("ip")]
                );
            }
            _ => panic!("the lookup did not finish"),
        }
    }
}
