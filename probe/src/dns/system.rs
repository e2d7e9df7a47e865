//! The system resolver: getaddrinfo, as every application on this network sees the name, and
//! the address of the resolver it uses (first `nameserver` of /etc/resolv.conf).

use std::net::IpAddr;
use std::time::Duration;

use vigil_report::{DnsAnswer, DnsQuery, Failure};

use super::QueryName;
use crate::clock::Clock;

/// Resolve with getaddrinfo on the blocking pool: one record, query type `ANY`.
pub(super) async fn query(name: QueryName, timeout: Duration, clock: Clock) -> DnsQuery {
    let mut record = name.record("system", "", "ANY", clock.elapsed());
    let ascii = name.ascii.clone();
    let lookup = tokio::task::spawn_blocking(move || {
        dns_lookup::lookup_host(&ascii).map(|addrs| addrs.collect::<Vec<IpAddr>>())
    });
    // On timeout the lookup thread is left to finish on its own; its result is dropped.
    let result = tokio::time::timeout(timeout, lookup).await;
    record.t = clock.elapsed();
    match result {
        Err(_elapsed) => record.failure = Some(Failure::GenericTimeout),
        Ok(Err(join)) => record.failure = Some(vigil_failure::from_join(&join)),
        Ok(Ok(Err(e))) => record.failure = Some(vigil_failure::from_getaddrinfo(e)),
        Ok(Ok(Ok(addrs))) => {
            // getaddrinfo lists an address once per socket type; keep the first of each.
            let mut unique: Vec<IpAddr> = Vec::new();
            for ip in addrs {
                if !unique.contains(&ip) {
                    unique.push(ip);
                }
            }
            record.answers = unique.into_iter().map(|ip| DnsAnswer::from_ip(ip, None)).collect();
            if record.answers.is_empty() {
                record.failure = Some(Failure::DnsNoAnswer);
            }
        }
    }
    record
}

/// The system resolver's address (the first `nameserver` of /etc/resolv.conf), for the
/// measurement's `resolver_ip` — but only when it is a public IPv4 address, i.e. the ISP's or a
/// public resolver. A private or local address says nothing useful, and a global IPv6 address is
/// often the home router's, which shares the volunteer's own prefix: never record those.
pub fn system_resolver_ip() -> Option<IpAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    parse_resolv_conf(&text).filter(|ip| publishable_resolver(*ip))
}

/// Whether a resolver address may be written into a measurement (see [`system_resolver_ip`]).
pub fn publishable_resolver(ip: IpAddr) -> bool {
    ip.is_ipv4() && !crate::bogon::Scope::field().is_bogon(ip)
}

/// The first well-formed `nameserver` line of a resolv.conf (an IPv6 zone like `%eth0` is
/// dropped).
pub fn parse_resolv_conf(text: &str) -> Option<IpAddr> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            return None;
        }
        let address = words.next()?;
        let address = address.split('%').next().unwrap_or(address);
        address.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn resolv_conf_gives_the_first_nameserver() {
        let text = "# generated\nsearch lan\n;nameserver 9.9.9.9\nnameserver   fe80::1%eth0\nnameserver 192.168.1.1\n";
        assert_eq!(parse_resolv_conf(text), Some("fe80::1".parse().unwrap()));
        assert_eq!(parse_resolv_conf("nameserver bogus\nnameserver 10.0.0.1"), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(parse_resolv_conf("options ndots:1\n"), None);
    }

    #[tokio::test]
    async fn localhost_resolves_through_the_system() {
        let name = QueryName::parse("localhost").unwrap();
        let out = query(name, Duration::from_secs(4), Clock::start()).await;
        assert_eq!(out.failure, None);
        assert_eq!(
            (out.engine.as_str(), out.resolver_address.as_str(), out.query_type.as_str()),
            ("system", "", "ANY")
        );
        assert!(out.answers.iter().any(|a| a.ip() == Some(IpAddr::V4(Ipv4Addr::LOCALHOST))), "{:?}", out.answers);
        let mut ips: Vec<_> = out.answers.iter().filter_map(|a| a.ip()).collect();
        ips.sort();
        ips.dedup();
        assert_eq!(ips.len(), out.answers.len(), "no duplicates");
    }

    #[test]
    fn only_public_ipv4_resolvers_are_recorded() {
        use super::publishable_resolver;
        assert!(publishable_resolver("9.9.9.9".parse().unwrap()));
        for private in ["127.0.0.53", "192.168.1.1", "10.0.0.1", "fe80::1", "2a01:db8:1234::1", "fd00::1"] {
            assert!(!publishable_resolver(private.parse().unwrap()), "{private}");
        }
    }
}
