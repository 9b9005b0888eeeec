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
//! domain allows whatever that name resolves to. The same policy decides
//! what an app's `wasi:sockets` may reach.
//!
//! - `rule.rs`: the grammar of one [`OriginRule`] and what it matches;
//! - `policy.rs`: an app's [`OutboundPolicy`], the rule for a request, a
//!   socket or a name, and the vetting of a request's destination;
//! - `address.rs`: which addresses are public;
//! - `client.rs`: sending a vetted request;
//! - `sockets/`: `wasi:sockets` under the policy: what one request's
//!   sockets may reach, and the host functions that ask.

mod address;
mod client;
mod policy;
mod rule;
mod sockets;

pub(crate) use address::is_public;
pub(crate) use client::{Sent, send};
pub(crate) use policy::NameRule;
pub use policy::OutboundPolicy;
pub(crate) use rule::parse_ip;
pub use rule::{OriginRule, OriginRuleError};
pub use sockets::ResolveAddressStream;
pub(crate) use sockets::SocketAccess;
pub(super) use sockets::add_to_linker;

#[cfg(test)]
mod tests {
    use super::policy::{Denial, VetError};
    use super::*;
    use http::uri::Scheme;

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
