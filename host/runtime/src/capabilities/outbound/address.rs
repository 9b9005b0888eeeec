//! Which addresses are public: the ones a catch-all rule may reach.

use std::net::{IpAddr, Ipv4Addr};

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
