//! Which IP addresses are public: the one list of non-public ranges, shared by the probe (which
//! never measures local addresses) and the control (which never fetches them for a probe).
//!
//! Pure data and arithmetic on `std::net` addresses: no network code. An IPv6 address that
//! carries an IPv4 address (IPv4-mapped, NAT64, 6to4, Teredo) is judged by the IPv4 address a
//! connection to it really reaches, so `::ffff:10.0.0.1` or `2002:c0a8:0101::1` are not public.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 special-purpose ranges that are not globally reachable (IANA registry, RFC 6890 and later).
const V4_NON_PUBLIC: [(u32, u8); 16] = [
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
    (0x0a00_0000, 8),  // 10.0.0.0/8 RFC 1918
    (0x6440_0000, 10), // 100.64.0.0/10 carrier-grade NAT
    (0x7f00_0000, 8),  // 127.0.0.0/8 loopback
    (0xa9fe_0000, 16), // 169.254.0.0/16 link local (and cloud metadata services)
    (0xac10_0000, 12), // 172.16.0.0/12 RFC 1918
    (0xc000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
    (0xc000_0200, 24), // 192.0.2.0/24 TEST-NET-1
    (0xc058_6300, 24), // 192.88.99.0/24 deprecated 6to4 relay anycast (RFC 7526)
    (0xc0a8_0000, 16), // 192.168.0.0/16 RFC 1918
    (0xc612_0000, 15), // 198.18.0.0/15 benchmarking
    (0xc633_6400, 24), // 198.51.100.0/24 TEST-NET-2
    (0xcb00_7100, 24), // 203.0.113.0/24 TEST-NET-3
    (0xe000_0000, 4),  // 224.0.0.0/4 multicast
    (0xf000_0000, 4),  // 240.0.0.0/4 reserved
    (0xffff_ffff, 32), // 255.255.255.255 limited broadcast
];

/// IPv6 ranges that are not globally reachable. Addresses embedding IPv4 are judged by it
/// ([`reached`]) before this list is consulted.
const V6_NON_PUBLIC: [(u128, u8); 12] = [
    (0, 96),                      // unspecified, loopback, deprecated IPv4-compatible
    (0x0064_ff9b_0001 << 80, 48), // 64:ff9b:1::/48 local-use NAT64 (RFC 8215)
    (0x0100 << 112, 64),          // 100::/64 discard-only
    (0x2001_0002 << 96, 48),      // 2001:2::/48 benchmarking
    (0x2001_0010 << 96, 28),      // 2001:10::/28 deprecated ORCHID
    (0x2001_0020 << 96, 28),      // 2001:20::/28 ORCHIDv2
    (0x2001_0db8 << 96, 32),      // 2001:db8::/32 documentation
    (0x3fff << 112, 20),          // 3fff::/20 documentation (RFC 9637)
    (0xfc00 << 112, 7),           // fc00::/7 unique local
    (0xfe80 << 112, 10),          // fe80::/10 link local
    (0xfec0 << 112, 10),          // fec0::/10 deprecated site local
    (0xff00 << 112, 8),           // ff00::/8 multicast
];

/// The IPv4 ranges above, for tests that walk them.
pub fn v4_non_public_ranges() -> impl Iterator<Item = (Ipv4Addr, u8)> {
    V4_NON_PUBLIC.iter().map(|&(a, len)| (Ipv4Addr::from(a), len))
}

fn in_v4(addr: Ipv4Addr, (net, len): (u32, u8)) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(addr) & mask == net & mask
}

fn in_v6(addr: Ipv6Addr, (net, len): (u128, u8)) -> bool {
    let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
    u128::from(addr) & mask == net & mask
}

/// The IPv4 address inside an IPv6 address that carries one: IPv4-mapped (`::ffff:a.b.c.d`),
/// NAT64 (`64:ff9b::a.b.c.d`, RFC 6052), 6to4 (`2002:aabb:ccdd::/48`, RFC 3056) and Teredo
/// (`2001:0::/32`, the client's address inverted in the last 32 bits, RFC 4380).
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let bits = u128::from(ip);
    if in_v6(ip, (0x0064_ff9b << 96, 96)) {
        return Some(Ipv4Addr::from(bits as u32));
    }
    if in_v6(ip, (0x2002 << 112, 16)) {
        return Some(Ipv4Addr::from((bits >> 80) as u32));
    }
    if in_v6(ip, (0x2001_0000 << 96, 32)) {
        return Some(Ipv4Addr::from(!(bits as u32)));
    }
    None
}

/// The address a connection to `ip` really reaches: the embedded IPv4 address if there is one
/// ([`embedded_v4`]), else `ip` itself.
pub fn reached(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// True if `ip` is not a globally reachable unicast address (OONI's "bogon").
pub fn is_non_public(ip: IpAddr) -> bool {
    match reached(ip) {
        IpAddr::V4(v4) => V4_NON_PUBLIC.iter().any(|&r| in_v4(v4, r)),
        IpAddr::V6(v6) => V6_NON_PUBLIC.iter().any(|&r| in_v6(v6, r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_ipv4_range_is_non_public_at_both_ends() {
        for (net, len) in v4_non_public_ranges() {
            let first = u32::from(net);
            let last = first | (u32::MAX.checked_shr(u32::from(len)).unwrap_or(0));
            for a in [first, last] {
                assert!(is_non_public(IpAddr::V4(a.into())), "{} in {net}/{len}", Ipv4Addr::from(a));
            }
        }
    }

    #[test]
    fn public_addresses_next_to_the_ranges_are_public() {
        for s in [
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.88.98.255",
            "192.88.100.0",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "203.0.114.1",
            "223.255.255.255",
            "2a00:1450::1",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!is_non_public(ip(s)), "{s} is public");
        }
    }

    #[test]
    fn ipv6_local_ranges_and_embedded_local_ipv4_are_non_public() {
        for s in [
            "::",
            "::1",
            "100::1",
            "2001:db8::1",
            "3fff::1",
            "2001:2::1",
            "2001:10::1",
            "2001:2f:ffff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "64:ff9b:1::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "2002:c0a8:0101::1",                    // 6to4 of 192.168.1.1
            "2002:7f00:1::",                        // 6to4 of 127.0.0.1
            "2001:0:4136:e378:8000:63bf:f5ff:fffe", // Teredo, client 10.0.0.1 inverted
        ] {
            assert!(is_non_public(ip(s)), "{s} is not public");
        }
    }

    #[test]
    fn teredo_and_6to4_reach_the_embedded_address() {
        assert_eq!(reached(ip("2001:0:4136:e378:8000:63bf:f5ff:fffe")), ip("10.0.0.1"));
        assert_eq!(reached(ip("2002:c0a8:0101::1")), ip("192.168.1.1"));
        assert_eq!(reached(ip("64:ff9b::808:404")), ip("8.8.4.4"));
        assert_eq!(reached(ip("2a00:1450::1")), ip("2a00:1450::1"));
    }
}
