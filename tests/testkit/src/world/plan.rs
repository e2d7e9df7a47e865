//! The fake world's address plan: which loopback address every host of the battery has on the
//! probe's side (through the censor) and from outside (the control's view), and the battery's
//! inputs rewritten to the ports the fakes listen on.
//!
//! Addresses by role, `127.0.<role>.<n>`: 1 = a platform's clean edge (several names per IP, like
//! a CDN), 2 = the server behind an IP literal, 3 = a censoring edge (SNI filter), 4 = a blackhole,
//! 5 = nothing listening (refused), 6 = the ISP's blockpage server.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};

use url::Url;

use super::censor::{Censor, Profile, Scheme};
use super::{PlatformSpec, WorldError};

pub(super) const CLEAN: u8 = 1;
pub(super) const LITERAL: u8 = 2;
pub(super) const CENSOR: u8 = 3;
pub(super) const BLACKHOLE: u8 = 4;
pub(super) const REFUSED: u8 = 5;
pub(super) const BLOCKPAGE: u8 = 6;

/// The ISP's blockpage server.
pub(super) const BLOCKPAGE_IP: Ipv4Addr = Ipv4Addr::new(127, 0, BLOCKPAGE, 1);

/// The ports every fake of a kind listens on, on each of its addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub https: u16,
    pub http: u16,
    /// `tcpconnect://` endpoints on ports other than 443.
    pub tcp: u16,
}

/// A battery input taken apart.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Parsed {
    pub scheme: Scheme,
    pub host: Host,
    pub port: u16,
    /// The URL (`https`/`http`), to rewrite in place.
    pub url: Option<Url>,
}

/// A name to resolve or an IP literal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Host {
    Name(String),
    Literal(IpAddr),
}

pub(super) fn parse(input: &str) -> Result<Parsed, WorldError> {
    let bad = |why: &str| WorldError::Input { input: input.to_string(), why: why.to_string() };
    let url = Url::parse(input).map_err(|e| bad(&e.to_string()))?;
    let scheme = match url.scheme() {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        "tcpconnect" => Scheme::Tcp,
        other => return Err(bad(&format!("unsupported scheme {other:?}"))),
    };
    let raw = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("no host"))?;
    let raw = raw.trim_matches(['[', ']']);
    let host = match raw.parse::<IpAddr>() {
        Ok(ip) => Host::Literal(ip),
        Err(_) => Host::Name(raw.to_ascii_lowercase()),
    };
    let port = match scheme {
        Scheme::Tcp => url.port().ok_or_else(|| bad("tcpconnect input without a port"))?,
        _ => url.port_or_known_default().unwrap_or(443),
    };
    let url = (scheme != Scheme::Tcp).then_some(url);
    Ok(Parsed { scheme, host, port, url })
}

/// Where one host lives.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct HostPlan {
    /// Index of the first platform naming this host (its pages carry that platform's name).
    pub owner: usize,
    pub censor: Option<Censor>,
    /// The address the probe reaches: what the ISP resolver answers, or the rewritten literal.
    pub probe_ip: Ipv4Addr,
    /// The same server seen from outside the censor: what DoH and the control answer.
    pub outside_ip: Ipv4Addr,
}

/// Every host of the battery and the addresses that serve it.
#[derive(Debug, Default)]
pub(super) struct Plan {
    pub hosts: BTreeMap<Host, HostPlan>,
    /// Display names of the platforms, by index.
    pub titles: Vec<String>,
}

/// Hands out `127.0.<role>.<n>` addresses, one per key.
#[derive(Default)]
struct Allocator {
    next: HashMap<u8, u8>,
    given: HashMap<(u8, String), Ipv4Addr>,
}

impl Allocator {
    fn get(&mut self, role: u8, key: String) -> Result<Ipv4Addr, WorldError> {
        if let Some(ip) = self.given.get(&(role, key.clone())) {
            return Ok(*ip);
        }
        let n = self.next.entry(role).or_insert(0);
        *n = n.checked_add(1).filter(|n| *n < 255).ok_or(WorldError::TooManyAddresses { role })?;
        let ip = Ipv4Addr::new(127, 0, role, *n);
        self.given.insert((role, key), ip);
        Ok(ip)
    }
}

impl Plan {
    pub(super) fn new(platforms: &[PlatformSpec], profile: Profile) -> Result<Plan, WorldError> {
        let mut plan = Plan { titles: platforms.iter().map(|p| p.name.clone()).collect(), ..Plan::default() };
        let mut alloc = Allocator::default();
        // A platform's edge is 127.0.1.<index + 1>.
        for index in 0..platforms.len() {
            alloc.get(CLEAN, index.to_string())?;
        }
        // Owners and censors, in battery order: the first platform (and rule) naming a host wins.
        let mut order: Vec<(Host, usize, Option<Censor>)> = Vec::new();
        for (index, p) in platforms.iter().enumerate() {
            for e in &p.endpoints {
                let host = parse(&e.input)?.host;
                let censor =
                    profile.censor_for(&p.id, &e.group).filter(|c| !(c.is_dns() && matches!(host, Host::Literal(_))));
                match order.iter_mut().find(|(h, _, _)| *h == host) {
                    Some(seen) => seen.2 = seen.2.or(censor),
                    None => order.push((host, index, censor)),
                }
            }
        }
        for (host, owner, censor) in order {
            let outside_ip = match &host {
                Host::Name(_) => alloc.get(CLEAN, owner.to_string())?,
                Host::Literal(ip) => alloc.get(LITERAL, ip.to_string())?,
            };
            let key = outside_ip.to_string();
            let probe_ip = match censor {
                Some(Censor::TlsSniReset) => alloc.get(CENSOR, format!("{key} reset"))?,
                Some(Censor::TlsSniDrop) => alloc.get(CENSOR, format!("{key} drop"))?,
                Some(Censor::TcpBlackhole) => alloc.get(BLACKHOLE, key)?,
                Some(Censor::TcpRefused) => alloc.get(REFUSED, key)?,
                _ => outside_ip,
            };
            plan.hosts.insert(host, HostPlan { owner, censor, probe_ip, outside_ip });
        }
        Ok(plan)
    }

    /// The plan of `input`'s host.
    pub(super) fn host(&self, input: &Parsed) -> &HostPlan {
        self.hosts.get(&input.host).expect("every battery host is planned")
    }

    /// Probe-side address -> the same server from outside, where they differ.
    pub(super) fn outside_map(&self) -> HashMap<IpAddr, IpAddr> {
        self.hosts
            .values()
            .filter(|h| h.probe_ip != h.outside_ip)
            .map(|h| (IpAddr::V4(h.probe_ip), IpAddr::V4(h.outside_ip)))
            .collect()
    }

    /// Addresses where fakes listen on the shared ports (all but the refused ones).
    pub(super) fn listening_ips(&self) -> Vec<Ipv4Addr> {
        let mut ips: Vec<Ipv4Addr> = self
            .hosts
            .values()
            .flat_map(|h| [h.outside_ip, h.probe_ip])
            .filter(|ip| ip.octets()[2] != REFUSED)
            .chain([BLOCKPAGE_IP])
            .collect();
        ips.sort();
        ips.dedup();
        ips
    }

    /// The hosts served at each address `pick` chooses (by IP literals' servers, their own
    /// address stands in for the name), with the owner and censor of the first host there.
    pub(super) fn served_at(&self, pick: impl Fn(&HostPlan) -> Option<Ipv4Addr>) -> BTreeMap<Ipv4Addr, Served> {
        let mut out: BTreeMap<Ipv4Addr, Served> = BTreeMap::new();
        for (host, plan) in &self.hosts {
            if let Some(ip) = pick(plan) {
                let name = match host {
                    Host::Name(name) => name.clone(),
                    Host::Literal(_) => ip.to_string(),
                };
                let served =
                    out.entry(ip).or_insert(Served { owner: plan.owner, censor: plan.censor, names: Vec::new() });
                served.names.push(name);
            }
        }
        out
    }
}

/// What one address serves.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Served {
    pub owner: usize,
    pub censor: Option<Censor>,
    pub names: Vec<String>,
}

/// `input` pointed at the fakes: the fake port for its kind, an IP literal replaced by the
/// probe-side address of its server.
pub(super) fn rewrite(input: &Parsed, plan: &HostPlan, ports: Ports) -> String {
    let port = match (input.scheme, input.port) {
        (Scheme::Https, _) | (Scheme::Tcp, 443) => ports.https,
        (Scheme::Http, _) => ports.http,
        (Scheme::Tcp, _) => ports.tcp,
    };
    let host = match &input.host {
        Host::Name(name) => name.clone(),
        Host::Literal(_) => plan.probe_ip.to_string(),
    };
    match &input.url {
        Some(url) => {
            let mut url = url.clone();
            // Both succeed on http(s) URLs with a host.
            let _ = url.set_host(Some(&host));
            let _ = url.set_port(Some(port));
            url.to_string()
        }
        None => format!("tcpconnect://{host}:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::EndpointSpec;

    fn platform(id: &str, inputs: &[(&str, &str)]) -> PlatformSpec {
        PlatformSpec {
            id: id.into(),
            name: id.to_uppercase(),
            kind: "platform".into(),
            endpoints: inputs
                .iter()
                .map(|(g, i)| EndpointSpec { group: g.to_string(), input: i.to_string() })
                .collect(),
        }
    }

    #[test]
    fn hosts_get_probe_and_outside_addresses_by_censor() {
        let battery = vec![
            platform("facebook", &[("web", "https://www.facebook.com/"), ("cdn", "https://scontent.xx.fbcdn.net/")]),
            platform("messenger", &[("cdn", "tcpconnect://scontent.xx.fbcdn.net:443")]),
            platform("x", &[("web", "https://x.com/")]),
            platform(
                "telegram",
                &[("datacenters", "http://149.154.175.50:443/"), ("web", "https://web.telegram.org/")],
            ),
        ];
        let plan = Plan::new(&battery, Profile::Demo).unwrap();
        let at = |h: &str| plan.hosts[&parse(h).unwrap().host].clone();
        let fb = at("https://www.facebook.com/");
        assert_eq!((fb.owner, fb.censor, fb.probe_ip), (0, Some(Censor::DnsNxdomain), Ipv4Addr::new(127, 0, 1, 1)));
        assert_eq!(at("tcpconnect://scontent.xx.fbcdn.net:1").owner, 0, "shared hosts belong to the first platform");
        let x = at("https://x.com/");
        assert_eq!((x.probe_ip, x.outside_ip), (Ipv4Addr::new(127, 0, 3, 1), Ipv4Addr::new(127, 0, 1, 3)));
        let dc = at("http://149.154.175.50/");
        assert_eq!((dc.probe_ip, dc.outside_ip), (Ipv4Addr::new(127, 0, 4, 1), Ipv4Addr::new(127, 0, 2, 1)));
        assert_eq!(at("https://web.telegram.org/").probe_ip, Ipv4Addr::new(127, 0, 5, 1));
        assert!(!plan.listening_ips().contains(&Ipv4Addr::new(127, 0, 5, 1)));
        assert_eq!(plan.outside_map().len(), 3);

        let ports = Ports { https: 8443, http: 8080, tcp: 5000 };
        let rw = |i: &str| rewrite(&parse(i).unwrap(), &at(i), ports);
        assert_eq!(rw("https://x.com/"), "https://x.com:8443/");
        assert_eq!(rw("http://149.154.175.50:443/"), "http://127.0.4.1:8080/");
        assert_eq!(rw("tcpconnect://scontent.xx.fbcdn.net:443"), "tcpconnect://scontent.xx.fbcdn.net:8443");
        assert_eq!(rw("tcpconnect://scontent.xx.fbcdn.net:5222"), "tcpconnect://scontent.xx.fbcdn.net:5000");
    }

    #[test]
    fn bad_inputs_are_named() {
        let err = parse("ftp://example.org/").unwrap_err().to_string();
        assert!(err.contains("ftp://example.org/") && err.contains("ftp"), "{err}");
        assert!(parse("tcpconnect://example.org").is_err());
    }
}
