//! The lab's internet as data (`tests/lab/world.toml`): server addresses and their networks,
//! the sites each address serves, the DNS truth, and the bystander targets every scenario checks.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use serde::{Deserialize, Serialize};
use vigil_testkit::{CertKind, DnsBehaviour, Site, WebBehaviour, Zone};

use crate::LabError;

/// The probe's address (namespace `probe`).
pub const PROBE_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 2);
/// The ISP router on the probe's link; its resolver listens here on port 53.
pub const ISP_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 1);
/// The ISP router on the internet's link.
pub const ISP_UPLINK_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 2, 1);
/// The internet namespace's own address on that link.
pub const INET_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 2, 2);
/// Every lab address is in here, and the probe treats it as public.
pub const LAB_NET: &str = "10.77.0.0/16";

/// The name a `*` site stands for: every name of the world.
const EVERY_NAME: &str = "*";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    pub services: Services,
    pub server: Vec<Server>,
    pub site: Vec<SiteSpec>,
    #[serde(default)]
    pub dns: BTreeMap<String, Ipv4Addr>,
    /// Names whose only record is a CNAME to another name of the world (every resolver and the
    /// control follow it).
    #[serde(default)]
    pub cname: BTreeMap<String, String>,
    /// Names that exist but have no address record (NOERROR with no A/AAAA answer).
    #[serde(default)]
    pub nodata: Nodata,
    pub bystanders: Bystanders,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nodata {
    pub names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Services {
    pub public_resolver: Ipv4Addr,
    pub authoritative: Ipv4Addr,
    pub doh: Ipv4Addr,
    pub control: Ipv4Addr,
}

/// One address of the lab internet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub ip: Ipv4Addr,
    pub asn: u32,
    #[serde(default)]
    pub about: String,
    /// Bare TCP acceptors (e.g. 5222 for WhatsApp's chat endpoints).
    #[serde(default)]
    pub tcp_ports: Vec<u16>,
}

/// Names served on one IP over HTTPS (:443, lab CA) and HTTP (:80).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSpec {
    pub ip: Ipv4Addr,
    /// Host names; `*` means every name of the world (a blockpage server).
    pub names: Vec<String>,
    #[serde(default)]
    pub cert: Cert,
    pub serve: Serve,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cert {
    #[default]
    Valid,
    Expired,
    WrongName,
    SelfSigned,
}

/// What a site serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Serve {
    Page { title: String, bytes: usize },
    Body { status: u16, body: String },
    Redirect { location: String },
    RedirectLoop,
    Large { bytes: usize },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bystanders {
    pub inputs: Vec<String>,
}

impl World {
    /// Parse a world file.
    pub fn load(path: &Path) -> Result<World, LabError> {
        let text = std::fs::read_to_string(path).map_err(|e| LabError::io(format!("read {}", path.display()), e))?;
        Self::parse(&text).map_err(|e| LabError::Parse { file: path.display().to_string(), message: e })
    }

    /// Parse world TOML and check it is coherent.
    pub fn parse(text: &str) -> Result<World, String> {
        let world: World = toml::from_str(text).map_err(|e| e.to_string())?;
        world.validate()?;
        Ok(world)
    }

    fn validate(&self) -> Result<(), String> {
        let known: BTreeSet<Ipv4Addr> = self.server.iter().map(|s| s.ip).collect();
        let net: ipnet::Ipv4Net = LAB_NET.parse().map_err(|e| format!("{e}"))?;
        for ip in &known {
            if !net.contains(ip) {
                return Err(format!("server {ip} is outside the lab net {LAB_NET}"));
            }
        }
        let services = [self.services.public_resolver, self.services.authoritative, self.services.doh];
        let used = self.site.iter().map(|s| s.ip).chain(self.dns.values().copied()).chain(services);
        for ip in used.chain([self.services.control]) {
            if !known.contains(&ip) {
                return Err(format!("{ip} is used but not declared as a [[server]]"));
            }
        }
        let named = self.names();
        for (name, target) in &self.cname {
            if !named.contains(&target.to_ascii_lowercase()) {
                return Err(format!("cname {name} points at {target}, which the world does not know"));
            }
        }
        Ok(())
    }

    /// Every concrete host name the world knows (sites, `[dns]`, `[cname]` and `[nodata]`).
    pub fn names(&self) -> BTreeSet<String> {
        let sites = self.site.iter().flat_map(|s| s.names.iter()).filter(|n| *n != EVERY_NAME);
        let dns = self.dns.keys().chain(self.cname.keys()).chain(&self.nodata.names);
        sites.chain(dns).map(|n| n.to_ascii_lowercase()).collect()
    }

    /// The uncensored DNS: each site's names to its IP, then `[dns]`, `[cname]` and `[nodata]`.
    pub fn truth(&self) -> Zone {
        let zone = Zone::new();
        for site in &self.site {
            for name in site.names.iter().filter(|n| *n != EVERY_NAME) {
                zone.set(name, DnsBehaviour::Answer(vec![IpAddr::V4(site.ip)]));
            }
        }
        for (name, ip) in &self.dns {
            zone.set(name, DnsBehaviour::Answer(vec![IpAddr::V4(*ip)]));
        }
        for (name, target) in &self.cname {
            zone.set(name, DnsBehaviour::Cname(target.clone()));
        }
        for name in &self.nodata.names {
            zone.set(name, DnsBehaviour::NoAnswer);
        }
        zone
    }

    /// The ASN of every address, as the control reports it.
    pub fn asns(&self) -> HashMap<IpAddr, u32> {
        self.server.iter().map(|s| (IpAddr::V4(s.ip), s.asn)).collect()
    }

    /// The testkit sites served on `ip`, with `*` expanded to every name.
    pub fn sites_on(&self, ip: Ipv4Addr) -> Vec<Site> {
        self.site
            .iter()
            .filter(|s| s.ip == ip)
            .map(|s| {
                let mut names: BTreeSet<String> = BTreeSet::new();
                for name in &s.names {
                    if name == EVERY_NAME {
                        names.extend(self.names());
                    } else {
                        names.insert(name.to_ascii_lowercase());
                    }
                }
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                Site::new(&refs, s.serve.behaviour()).with_cert(s.cert.kind())
            })
            .collect()
    }
}

impl Serve {
    fn behaviour(&self) -> WebBehaviour {
        match self {
            Serve::Page { title, bytes } => WebBehaviour::page(title, *bytes),
            Serve::Body { status, body } => WebBehaviour::body(*status, body),
            Serve::Redirect { location } => WebBehaviour::redirect(location),
            Serve::RedirectLoop => WebBehaviour::RedirectLoop,
            Serve::Large { bytes } => WebBehaviour::Large(*bytes),
        }
    }
}

impl Cert {
    fn kind(self) -> CertKind {
        match self {
            Cert::Valid => CertKind::Valid,
            Cert::Expired => CertKind::Expired,
            Cert::WrongName => CertKind::WrongName,
            Cert::SelfSigned => CertKind::SelfSigned,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        World::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("world.toml")).unwrap()
    }

    #[test]
    fn the_shipped_world_parses_and_resolves_its_names() {
        let w = world();
        let truth = w.truth();
        assert_eq!(truth.resolve("abs.twimg.test").unwrap(), vec![IpAddr::V4(Ipv4Addr::new(10, 77, 10, 2))]);
        assert_eq!(truth.resolve("down.test").unwrap(), vec![IpAddr::V4(Ipv4Addr::new(10, 77, 30, 9))]);
        assert!(truth.resolve("nowhere.test").is_err());
        assert!(!w.names().contains("*"));
        // A CNAME to a name without an address: no address anywhere, and no such name either.
        let err = truth.resolve("cname-only.test").unwrap_err();
        assert_eq!(format!("{err:?}"), "DnsNoAnswer");
        assert_eq!(truth.get("cname-only.test"), Some(DnsBehaviour::Cname("void.test".into())));
    }

    #[test]
    fn a_cname_to_an_unknown_name_is_rejected() {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("world.toml")).unwrap();
        let broken = text.replace("\"cname-only.test\" = \"void.test\"", "\"cname-only.test\" = \"nowhere.test\"");
        assert_ne!(broken, text);
        let err = World::parse(&broken).unwrap_err();
        assert!(err.contains("nowhere.test"), "{err}");
    }

    #[test]
    fn a_star_site_serves_every_name() {
        let w = world();
        let blockpage = w.sites_on(Ipv4Addr::new(10, 77, 66, 1));
        assert!(blockpage[0].names.iter().any(|n| n == "www.facebook.test"));
        assert!(blockpage[0].names.iter().any(|n| n == "blockpage.isp.test"));
    }

    #[test]
    fn undeclared_addresses_are_rejected() {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("world.toml")).unwrap();
        let broken = text.replace("ip = \"10.77.10.5\"\nnames", "ip = \"10.77.10.77\"\nnames");
        let err = World::parse(&broken).unwrap_err();
        assert!(err.contains("10.77.10.77"), "{err}");
    }
}
