//! Which addresses the probe may measure: bogons (private, reserved, local) are off limits unless the
//! operator lists them as a lab network.
//!
//! Volunteer safety rule: a probe on someone's home network never connects to local or private
//! addresses (RIPE Atlas does the same), so a DNS answer pointing at 192.168.1.1 is reported, not
//! followed. Lab nets (e.g. 10.99.0.0/16 in a test bed) count as public.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// IPv4 special-purpose ranges that are not globally reachable (IANA registry, RFC 6890 and later).
const V4_BOGONS: [Ipv4Net; 15] = [
    v4(0, 0, 0, 0, 8),          // "this network"
    v4(10, 0, 0, 0, 8),         // RFC 1918
    v4(100, 64, 0, 0, 10),      // carrier-grade NAT
    v4(127, 0, 0, 0, 8),        // loopback
    v4(169, 254, 0, 0, 16),     // link local
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
/// IPv4 address they embed, see [`embedded_v4`].
const V6_BOGONS: [Ipv6Net; 9] = [
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

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if NAT64.contains(&ip) {
        let o = ip.octets();
        return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    None
}

/// The set of addresses the probe may connect to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    lab_nets: Vec<IpNet>,
}

impl Scope {
    /// A probe in the field: every bogon is off limits.
    pub fn field() -> Self {
        Self::default()
    }

    /// A probe in a lab: addresses inside `nets` count as public even if they are bogons.
    pub fn lab(nets: Vec<IpNet>) -> Self {
        Self { lab_nets: nets }
    }

    /// The operator's lab networks (empty in the field).
    pub fn lab_nets(&self) -> &[IpNet] {
        &self.lab_nets
    }

    fn in_lab(&self, ip: IpAddr) -> bool {
        self.lab_nets.iter().any(|net| net.contains(&ip))
    }

    /// True if `ip` is private, reserved, local or otherwise not global, and not in a lab net.
    pub fn is_bogon(&self, ip: IpAddr) -> bool {
        if self.in_lab(ip) {
            return false;
        }
        match ip {
            IpAddr::V4(v4) => V4_BOGONS.iter().any(|net| net.contains(&v4)),
            IpAddr::V6(v6) => match embedded_v4(v6) {
                Some(v4) => self.is_bogon(IpAddr::V4(v4)),
                None => V6_BOGONS.iter().any(|net| net.contains(&v6)),
            },
        }
    }

    /// True if the probe may connect to `ip` (it is not a bogon, or it is in a lab net).
    pub fn may_measure(&self, ip: IpAddr) -> bool {
        !self.is_bogon(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_ipv4_range_is_a_bogon_at_both_ends() {
        let field = Scope::field();
        for net in V4_BOGONS {
            for addr in [net.network(), net.broadcast()] {
                assert!(field.is_bogon(IpAddr::V4(addr)), "{addr} in {net}");
                assert!(!field.may_measure(IpAddr::V4(addr)), "{addr} in {net}");
            }
        }
        for s in [
            "0.1.2.3",
            "10.10.34.34",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "169.254.1.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.251",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(field.is_bogon(ip(s)), "{s}");
        }
    }

    #[test]
    fn public_ipv4_just_outside_the_ranges_is_measurable() {
        let field = Scope::field();
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "203.0.114.1",
            "223.255.255.255",
            "149.154.175.50",
        ] {
            assert!(field.may_measure(ip(s)), "{s}");
        }
    }

    #[test]
    fn ipv6_local_and_reserved_ranges_are_bogons() {
        let field = Scope::field();
        for s in [
            "::",
            "::1",
            "100::1",
            "2001:db8::1",
            "2001:db8:ffff::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::101",
            "64:ff9b:1::1",
        ] {
            assert!(field.is_bogon(ip(s)), "{s}");
        }
        for s in ["2a03:2880:f12f:83:face:b00c:0:25de", "2001:4860:4860::8888", "2606:4700::1111"] {
            assert!(field.may_measure(ip(s)), "{s}");
        }
    }

    #[test]
    fn mapped_and_nat64_addresses_are_judged_by_their_ipv4() {
        let field = Scope::field();
        assert!(field.is_bogon(ip("::ffff:192.168.1.1")));
        assert!(field.is_bogon(ip("::ffff:127.0.0.1")));
        assert!(field.may_measure(ip("::ffff:8.8.8.8")));
        assert!(field.is_bogon(ip("64:ff9b::10.0.0.1")));
        assert!(field.is_bogon(ip("64:ff9b::a9fe:a9fe"))); // 169.254.169.254
        assert!(field.may_measure(ip("64:ff9b::1.1.1.1")));
    }

    #[test]
    fn lab_nets_override_bogons_and_nothing_else() {
        let lab = Scope::lab(vec!["10.99.0.0/16".parse().unwrap(), "fd00:99::/32".parse().unwrap()]);
        assert!(lab.may_measure(ip("10.99.1.2")));
        assert!(lab.may_measure(ip("::ffff:10.99.1.2")));
        assert!(lab.may_measure(ip("64:ff9b::10.99.0.1")));
        assert!(lab.may_measure(ip("fd00:99::53")));
        assert!(lab.is_bogon(ip("10.98.0.1")));
        assert!(lab.is_bogon(ip("fd00:98::1")));
        assert!(lab.is_bogon(ip("127.0.0.1")));
        assert!(lab.may_measure(ip("8.8.8.8")));
        assert_eq!(lab.lab_nets().len(), 2);
        assert!(Scope::field().is_bogon(ip("10.99.1.2")));
    }
}
