//! DNS measurement, OONI "LTE" style: one hostname asked of several resolvers at once (system,
//! plain UDP, DoH), every answer recorded as a [`DnsQuery`], raw UDP responses kept as
//! injection evidence.

mod doh;
#[cfg(test)]
mod fake;
mod system;
mod udp;
mod wire;

use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, UdpSocket};
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};
use tokio::task::JoinSet;
use url::Url;
use vigil_report::{DnsAnswer, DnsQuery, Failure};

use crate::clock::Clock;

pub use system::{parse_resolv_conf, system_resolver_ip};

/// Which resolvers to ask, and how long to wait for them.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsConfig {
    /// Ask the system resolver (getaddrinfo).
    pub system: bool,
    /// Plain UDP resolvers (ISP and public ones).
    pub udp: Vec<SocketAddr>,
    /// Encrypted reference resolver (RFC 8484 DoH, POST `application/dns-message`).
    pub doh: Option<Url>,
    /// Per query.
    pub timeout: Duration,
    /// How long a UDP query keeps listening after its first answer (a second, different
    /// answer is on-path injection).
    pub linger: Duration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            system: true,
            udp: Vec::new(),
            doh: None,
            timeout: Duration::from_secs(4),
            linger: Duration::from_millis(500),
        }
    }
}

type Job = Pin<Box<dyn Future<Output = DnsQuery> + Send>>;

/// Resolve `host` with every resolver of `cfg` concurrently, each query with its own timeout.
///
/// Records come back in a fixed order: system, then A and AAAA for each UDP resolver, then A
/// and AAAA over DoH. DoH runs only when both `cfg.doh` and a `doh` client are given. A
/// Unicode hostname is queried in its punycode form and recorded as given.
pub async fn resolve(host: &str, cfg: &DnsConfig, doh: Option<&reqwest::Client>, clock: &Clock) -> Vec<DnsQuery> {
    let name = match QueryName::parse(host) {
        Ok(name) => name,
        Err(failure) => return vec![unresolvable(host, failure, clock)],
    };
    let clock = *clock;
    let mut jobs: Vec<Job> = Vec::new();
    if cfg.system {
        jobs.push(Box::pin(system::query(name.clone(), cfg.timeout, clock)));
    }
    for server in &cfg.udp {
        for qtype in [RecordType::A, RecordType::AAAA] {
            let udp = udp::UdpQuery { server: *server, qtype, timeout: cfg.timeout, linger: cfg.linger };
            jobs.push(Box::pin(udp.run(name.clone(), clock)));
        }
    }
    if let (Some(url), Some(client)) = (&cfg.doh, doh) {
        for qtype in [RecordType::A, RecordType::AAAA] {
            let doh = doh::DohQuery { client: client.clone(), url: url.clone(), qtype, timeout: cfg.timeout };
            jobs.push(Box::pin(doh.run(name.clone(), clock)));
        }
    }

    let mut set = JoinSet::new();
    for (index, job) in jobs.into_iter().enumerate() {
        set.spawn(async move { (index, job.await) });
    }
    let mut done = Vec::with_capacity(set.len());
    while let Some(joined) = set.join_next().await {
        // A query task only fails to join if it panicked; there is nothing to record then.
        if let Ok(result) = joined {
            done.push(result);
        }
    }
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, query)| query).collect()
}

/// The name being resolved: as the caller gave it, and in the ASCII (punycode) form sent.
#[derive(Debug, Clone)]
struct QueryName {
    /// As given, recorded in `hostname`.
    original: String,
    /// Punycode, lower case, no trailing dot.
    ascii: String,
    /// `ascii` as a fully qualified DNS name.
    fqdn: Name,
}

impl QueryName {
    fn parse(host: &str) -> Result<Self, Failure> {
        let trimmed = host.trim_end_matches('.');
        let ascii = match url::Host::parse(trimmed) {
            Ok(url::Host::Domain(domain)) => domain,
            Ok(_) => return Err(Failure::unknown(format!("not a domain name: {host:?}"))),
            Err(e) => return Err(Failure::unknown(format!("invalid hostname {host:?}: {e}"))),
        };
        let fqdn = Name::from_ascii(format!("{ascii}."))
            .map_err(|e| Failure::unknown(format!("invalid hostname {host:?}: {e}")))?;
        Ok(QueryName { original: host.to_string(), ascii, fqdn })
    }

    /// An empty record for this name, to be filled in by one engine.
    fn record(&self, engine: &str, resolver: &str, query_type: &str, t0: f64) -> DnsQuery {
        DnsQuery {
            engine: engine.to_string(),
            resolver_address: resolver.to_string(),
            hostname: self.original.clone(),
            query_type: query_type.to_string(),
            answers: Vec::new(),
            failure: None,
            t0,
            t: t0,
            x_responses: Vec::new(),
        }
    }
}

/// The single record returned for a host that is not a domain name: an IP literal resolves to
/// itself (as getaddrinfo would answer), anything else fails without touching the network.
fn unresolvable(host: &str, failure: Failure, clock: &Clock) -> DnsQuery {
    let t0 = clock.elapsed();
    let literal: Option<IpAddr> = host.trim_matches(|c| c == '[' || c == ']').parse().ok();
    let (answers, failure) = match literal {
        Some(ip) => (vec![DnsAnswer::from_ip(ip, None)], None),
        None => (Vec::new(), Some(failure)),
    };
    DnsQuery {
        engine: "system".into(),
        resolver_address: String::new(),
        hostname: host.to_string(),
        query_type: "ANY".into(),
        answers,
        failure,
        t0,
        t: t0,
        x_responses: Vec::new(),
    }
}

/// Does this host have a global IPv6 route? Checked once per process by connecting a UDP
/// socket to a global address (no packet is sent) and looking at the local address chosen.
pub fn host_has_ipv6() -> bool {
    static HAS_IPV6: OnceLock<bool> = OnceLock::new();
    *HAS_IPV6.get_or_init(|| {
        let probe = || -> std::io::Result<IpAddr> {
            let socket = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0))?;
            socket.connect((Ipv6Addr::new(0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888), 53))?;
            Ok(socket.local_addr()?.ip())
        };
        probe().is_ok_and(|ip| is_global_v6(&ip))
    })
}

/// A global unicast IPv6 address (2000::/3), the only kind that reaches the internet.
fn is_global_v6(ip: &IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xe000 == 0x2000)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::fake::{FakeDns, Reply, answer};
    use super::*;

    #[test]
    fn unicode_names_are_sent_as_punycode() {
        let name = QueryName::parse("Bücher.Example.").unwrap();
        assert_eq!(name.original, "Bücher.Example.");
        assert_eq!(name.ascii, "xn--bcher-kva.example");
        assert_eq!(name.fqdn.to_ascii(), "xn--bcher-kva.example.");
    }

    #[test]
    fn non_domain_hosts_are_not_queried() {
        let clock = Clock::start();
        assert!(QueryName::parse("a b.example").is_err());
        let literal = unresolvable("[::1]", Failure::unknown("x"), &clock);
        assert_eq!(literal.answers, vec![DnsAnswer::from_ip("::1".parse().unwrap(), None)]);
        assert_eq!(literal.failure, None);
        let bad = unresolvable("a b", Failure::unknown("bad"), &clock);
        assert!(bad.answers.is_empty());
        assert_eq!(bad.failure, Some(Failure::unknown("bad")));
    }

    #[tokio::test]
    async fn ip_literal_resolves_to_itself_without_queries() {
        let cfg = DnsConfig { udp: vec!["127.0.0.1:9".parse().unwrap()], ..DnsConfig::default() };
        let out = resolve("192.0.2.7", &cfg, None, &Clock::start()).await;
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].answers[0].ipv4.as_deref(), Some("192.0.2.7"));
    }

    #[test]
    fn only_2000_slash_3_is_global() {
        let global: IpAddr = "2a01:4f8::1".parse().unwrap();
        assert!(is_global_v6(&global));
        for other in ["::1", "fe80::1", "fd00::1", "::", "127.0.0.1"] {
            assert!(!is_global_v6(&other.parse().unwrap()), "{other}");
        }
        // Cached and callable; its value depends on the machine.
        assert_eq!(host_has_ipv6(), host_has_ipv6());
    }

    #[test]
    fn defaults_follow_ooni() {
        let cfg = DnsConfig::default();
        assert!(cfg.system && cfg.udp.is_empty() && cfg.doh.is_none());
        assert_eq!(cfg.timeout, Duration::from_secs(4));
        assert_eq!(cfg.linger, Duration::from_millis(500));
    }

    #[tokio::test]
    async fn resolvers_run_in_parallel_and_records_keep_their_order() {
        let good = |ip: [u8; 4]| {
            move |q: &hickory_proto::op::Message| {
                vec![Reply::now(answer(q, &[Ipv4Addr::from(ip)], &["2001:db8::1".parse().unwrap()]))]
            }
        };
        let first = FakeDns::start(good([192, 0, 2, 1])).await;
        let second = FakeDns::start(good([192, 0, 2, 2])).await;
        let dead = FakeDns::start(|_| Vec::new()).await;
        let timeout = Duration::from_millis(300);
        let cfg = DnsConfig {
            system: true,
            udp: vec![first.addr, dead.addr, second.addr],
            doh: None,
            timeout,
            linger: Duration::from_millis(50),
        };
        let clock = Clock::start();
        let started = tokio::time::Instant::now();
        let out = resolve("localhost", &cfg, None, &clock).await;
        let took = started.elapsed();
        assert!(took >= timeout, "the dead resolver is waited for: {took:?}");
        assert!(took < timeout * 2, "queries must run concurrently: {took:?}");

        let shape: Vec<(&str, &str, &str)> =
            out.iter().map(|q| (q.engine.as_str(), q.resolver_address.as_str(), q.query_type.as_str())).collect();
        let (a, d, b) = (first.addr.to_string(), dead.addr.to_string(), second.addr.to_string());
        assert_eq!(
            shape,
            vec![
                ("system", "", "ANY"),
                ("udp", a.as_str(), "A"),
                ("udp", a.as_str(), "AAAA"),
                ("udp", d.as_str(), "A"),
                ("udp", d.as_str(), "AAAA"),
                ("udp", b.as_str(), "A"),
                ("udp", b.as_str(), "AAAA"),
            ]
        );
        assert!(out.iter().all(|q| q.hostname == "localhost" && q.t >= q.t0));
        assert!(out[0].answers.iter().any(|a| a.ip() == Some(IpAddr::V4(Ipv4Addr::LOCALHOST))));
        assert_eq!(out[1].answers[0].ipv4.as_deref(), Some("192.0.2.1"));
        assert_eq!(out[2].answers[0].ipv6.as_deref(), Some("2001:db8::1"));
        assert_eq!(out[3].failure, Some(Failure::GenericTimeout));
        assert_eq!(out[4].failure, Some(Failure::GenericTimeout));
        assert_eq!(out[5].answers[0].ipv4.as_deref(), Some("192.0.2.2"));
    }
}
