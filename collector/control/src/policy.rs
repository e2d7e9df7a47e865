//! Which addresses the control may connect to: never loopback, private, link-local or other
//! non-public addresses, nor the collector's own, so a probe cannot turn the control against the
//! network it runs in. A lab may declare networks that count as public.
//!
//! The ranges duplicate the probe's `bogon` module on purpose: the control must not depend on the
//! probe, and the report crate holds data types only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// IPv4 special-purpose ranges that are not globally reachable (IANA registry, RFC 6890 and later).
const V4_NON_PUBLIC: [Ipv4Net; 15] = [
    v4(0, 0, 0, 0, 8),          // "this network"
    v4(10, 0, 0, 0, 8),         // RFC 1918
    v4(100, 64, 0, 0, 10),      // carrier-grade NAT
    v4(127, 0, 0, 0, 8),        // loopback
    v4(169, 254, 0, 0, 16),     // link local (and cloud metadata services)
    v4(172, 16, 0, 0, 12),      // RFC 1918
    v4(192, 0, 0, 0, 24),       // IETF protocol assignments
    v4(192, 0, 2, 0, 24),       // TEST-NET-1
    v4(192, 168, 0, 0, 16),     // RFC 1918
    v4(198, 18, 0, 0, 15),      // benchmarking
    v4(198, 51, 100, 0, 24),    // TEST-NET-2
    v4(203, 0, 113, 0, 24),     // TEST-NET-3
    v4(224, 0, 0, 0, 4),        // multicast
    v4(240, 0, 0, 0, 4),        // reserved
    v4(255, 255, 255, 255, 32), // limited broadcast
];

/// IPv6 ranges that are not globally reachable. IPv4-mapped and NAT64 addresses are judged by the
/// IPv4 address they embed.
const V6_NON_PUBLIC: [Ipv6Net; 9] = [
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96), // unspecified, loopback, deprecated IPv4-compatible
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), // local-use NAT64 (RFC 8215)
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), // discard-only
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), // documentation (RFC 9637)
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), // unique local
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), // link local
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), // deprecated site local
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), // multicast
];

/// Well-known NAT64 prefix: the last 32 bits are an IPv4 address (RFC 6052).
const NAT64: Ipv6Net = v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(s: [u16; 8], len: u8) -> Ipv6Net {
    let ip = Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]);
    Ipv6Net::new_assert(ip, len)
}

/// The address a connection to `ip` really reaches: the IPv4 address inside an IPv4-mapped
/// (`::ffff:a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`) address, else `ip` itself.
fn effective(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if NAT64.contains(&v6) => {
            let o = v6.octets();
            IpAddr::V4(Ipv4Addr::new(o[12], o[13], o[14], o[15]))
        }
        other => other.to_canonical(),
    }
}

/// True if `ip` is not a globally reachable unicast address (OONI's "bogon"), lab nets aside.
pub fn is_non_public(ip: IpAddr) -> bool {
    match effective(ip) {
        IpAddr::V4(v4) => V4_NON_PUBLIC.iter().any(|net| net.contains(&v4)),
        IpAddr::V6(v6) => V6_NON_PUBLIC.iter().any(|net| net.contains(&v6)),
    }
}

/// The addresses the control may connect to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    allow_nets: Vec<IpNet>,
    own_addrs: Vec<IpAddr>,
}

impl TargetPolicy {
    /// A control in the field: every non-public address is refused.
    pub fn public_only() -> Self {
        Self::default()
    }

    /// A control in a lab: addresses inside `allow_nets` count as public (own addresses aside).
    pub fn lab(allow_nets: Vec<IpNet>) -> Self {
        Self { allow_nets, own_addrs: Vec::new() }
    }

    /// The collector's own addresses: always refused, even inside a lab net.
    pub fn with_own_addresses(mut self, addrs: Vec<IpAddr>) -> Self {
        self.own_addrs = addrs.into_iter().map(effective).collect();
        self
    }

    /// True if the control may connect to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let reached = effective(ip);
        if self.own_addrs.contains(&reached) {
            return false;
        }
        let in_lab = self.allow_nets.iter().any(|net| net.contains(&ip) || net.contains(&reached));
        in_lab || !is_non_public(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn public_only_refuses_every_non_public_range() {
        let field = TargetPolicy::public_only();
        let refused = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
        ];
        for s in refused {
            assert!(!field.allows(ip(s)), "{s} must be refused");
            assert!(is_non_public(ip(s)), "{s} is not public");
        }
        let allowed = ["8.8.8.8", "1.1.1.1", "100.128.0.1", "172.32.0.1", "2a00:1450::1", "::ffff:8.8.8.8"];
        for s in allowed {
            assert!(field.allows(ip(s)), "{s} must be allowed");
        }
    }

    #[test]
    fn lab_nets_count_as_public_but_own_addresses_never_do() {
        let lab = TargetPolicy::lab(vec![net("127.0.0.0/8"), net("::1/128")]).with_own_addresses(vec![
            ip("127.0.0.1"),
            ip("198.51.100.1"),
            ip("8.8.4.4"),
        ]);
        assert!(lab.allows(ip("127.0.0.2")));
        assert!(lab.allows(ip("::1")));
        assert!(lab.allows(ip("::ffff:127.0.0.2")), "mapped form of a lab address");
        assert!(!lab.allows(ip("127.0.0.1")), "own address inside the lab net");
        assert!(!lab.allows(ip("::ffff:127.0.0.1")), "own address, IPv4-mapped");
        assert!(!lab.allows(ip("64:ff9b::808:404")), "own public address through NAT64");
        assert!(!lab.allows(ip("8.8.4.4")), "own public address");
        assert!(!lab.allows(ip("10.0.0.1")), "outside the lab nets");
        assert!(lab.allows(ip("8.8.8.8")));
    }
}
