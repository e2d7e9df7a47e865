//! A fake internet on loopback for a whole battery: the ISP's resolver (applying a censor
//! profile), a DoH resolver, a control outside the censor, and web, TCP and blackhole servers
//! for every host, plus the probe configuration that points `vigil-probe` at them and the
//! verdicts a correct probe must reach. Used by the battery benchmark and the demo.
//!
//! Two views of every server (see `world/plan.rs`): the probe reaches a host at its probe-side
//! address, which the ISP resolver answers and where the censor acts (an SNI-filtering edge of the
//! same network, a blackhole, a refused port); DoH and the control know the truth, the same server
//! seen from outside. The control is asked through a front that maps probe-side addresses (IP
//! literals included) to their outside twins, so it never sees the censor.

mod censor;
mod files;
mod front;
mod plan;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use censor::{
    Censor, EndpointExpectation, PlatformExpectation, Profile, Rule, Scheme, UnknownProfile, Verdict, expect_platform,
};
pub use files::{battery_toml, parse_battery_toml};
pub use plan::Ports;

use crate::net::LOCALHOST;
use crate::{Blackhole, CertKind, ControlServer, DnsBehaviour, DnsServer, DohServer, Site, TcpServer, TestCa};
use crate::{WebBehaviour, WebServer, Zone};
use front::ControlFront;
use plan::{BLOCKPAGE_IP, Plan};

/// A platform of the battery, as the battery file writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSpec {
    pub id: String,
    pub name: String,
    /// `platform` or `control`.
    pub kind: String,
    pub endpoints: Vec<EndpointSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSpec {
    pub group: String,
    /// `https://...`, `http://...` or `tcpconnect://host:port`.
    pub input: String,
}

/// The probe's timeouts, written into its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub dns_ms: u64,
    pub connect_ms: u64,
    pub tls_ms: u64,
    pub http_ms: u64,
}

impl Default for Timeouts {
    /// The probe's defaults.
    fn default() -> Self {
        Timeouts { dns_ms: 4000, connect_ms: 10_000, tls_ms: 10_000, http_ms: 10_000 }
    }
}

impl Timeouts {
    /// One timeout for DNS, connect, TLS and HTTP (like `vigil-probe check --timeout-ms`).
    pub fn all(ms: u64) -> Self {
        Timeouts { dns_ms: ms, connect_ms: ms, tls_ms: ms, http_ms: ms }
    }

    /// The longest of them.
    pub fn longest(&self) -> Duration {
        Duration::from_millis(self.dns_ms.max(self.connect_ms).max(self.tls_ms).max(self.http_ms))
    }
}

/// How the world is set up.
#[derive(Debug, Clone, Default)]
pub struct WorldOptions {
    pub profile: Profile,
    pub timeouts: Timeouts,
    /// `network.concurrency` for the probe; the probe's default when `None`.
    pub concurrency: Option<usize>,
}

/// Why the world could not start.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("input {input:?}: {why}")]
    Input { input: String, why: String },
    #[error("more than 254 addresses needed in 127.0.{role}.0/24")]
    TooManyAddresses { role: u8 },
    #[error("no port is free on every address of the world after {0} tries")]
    Ports(usize),
    #[error("blackhole on {addr}: {source}")]
    Blackhole { addr: SocketAddr, source: std::io::Error },
    #[error("control front: {0}")]
    Front(#[from] reqwest::Error),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// The running world; every server stops when it is dropped.
#[derive(Debug)]
pub struct FakeWorld {
    platforms: Vec<PlatformSpec>,
    endpoints: Vec<EndpointExpectation>,
    expected: Vec<PlatformExpectation>,
    ports: Ports,
    resolver: SocketAddr,
    doh_url: String,
    control_url: String,
    config: PathBuf,
    battery: PathBuf,
    ca: PathBuf,
    _servers: Servers,
}

#[derive(Debug)]
struct Servers {
    _web: Vec<WebServer>,
    _tcp: Vec<TcpServer>,
    _holes: Vec<Blackhole>,
    _dns: DnsServer,
    _doh: DohServer,
    _control: ControlServer,
    _front: ControlFront,
}

/// Wait this long before the real answer to an injected query (the probe listens 500 ms).
const INJECTION_DELAY: Duration = Duration::from_millis(100);
/// A page's length: a title and a few KB of body.
const PAGE_LEN: usize = 4096;
/// ASN of the ISP's blockpage server; a platform's servers are in `PLATFORM_ASN + index`.
const ISP_ASN: u32 = 64_999;
const PLATFORM_ASN: u32 = 65_000;
const RU_BLOCKPAGE: &str = "<!DOCTYPE html><html><head><title>Доступ ограничен</title></head><body>\
<h1>Доступ к сайту ограничен в соответствии с Федеральными законами</h1>\
<p>Access to this resource is restricted by your ISP.</p></body></html>";

impl FakeWorld {
    /// Start servers for every host of `platforms` and write `ca.pem`, `battery.toml` (the
    /// inputs rewritten to the fakes) and `probe.toml` into `dir`.
    pub async fn start(
        platforms: &[PlatformSpec],
        options: &WorldOptions,
        dir: &Path,
    ) -> Result<FakeWorld, WorldError> {
        crate::init_crypto();
        let plan = Plan::new(platforms, options.profile)?;
        let ports = free_ports(&plan.listening_ips())?;
        let ca = TestCa::new();

        let mut rewritten = Vec::with_capacity(platforms.len());
        let mut endpoints = Vec::new();
        for p in platforms {
            let mut spec = PlatformSpec { endpoints: Vec::new(), ..p.clone() };
            for e in &p.endpoints {
                let parsed = plan::parse(&e.input)?;
                let host = plan.host(&parsed);
                let input = plan::rewrite(&parsed, host, ports);
                endpoints.push(EndpointExpectation {
                    platform: p.id.clone(),
                    group: e.group.clone(),
                    original: e.input.clone(),
                    input: input.clone(),
                    censor: host.censor,
                    verdict: host.censor.map_or(Verdict::clean(), |c| c.verdict(parsed.scheme)),
                });
                spec.endpoints.push(EndpointSpec { group: e.group.clone(), input });
            }
            rewritten.push(spec);
        }
        let expected = platforms.iter().map(|p| expect_platform(&p.id, &endpoints)).collect();

        let (web, tcp, holes) = start_servers(&plan, &ca, ports).await?;
        let (isp, truth) = zones(&plan);
        let dns = DnsServer::start(LOCALHOST, isp).await;
        let doh = DohServer::start(LOCALHOST, truth.clone(), &ca, &["doh.lab.test"]).await;
        let control = ControlServer::start(LOCALHOST, truth, Some(&ca), asns(&plan)).await;
        control.set_timeout(Duration::from_millis(options.timeouts.connect_ms).min(crate::control::DEFAULT_TIMEOUT));
        let front = ControlFront::start(SocketAddr::new(LOCALHOST, 0), control.url(), plan.outside_map()).await?;

        let world = FakeWorld {
            platforms: rewritten,
            endpoints,
            expected,
            ports,
            resolver: dns.addr(),
            doh_url: doh.url(),
            control_url: front.url(),
            config: dir.join("probe.toml"),
            battery: dir.join("battery.toml"),
            ca: dir.join("ca.pem"),
            _servers: Servers {
                _web: web,
                _tcp: tcp,
                _holes: holes,
                _dns: dns,
                _doh: doh,
                _control: control,
                _front: front,
            },
        };
        files::write(&world.ca, &ca.cert_pem())?;
        files::write(&world.battery, &battery_toml(&world.platforms))?;
        files::write(&world.config, &files::probe_toml(&world, options))?;
        Ok(world)
    }

    /// The battery with every input rewritten to the fakes (what `battery.toml` holds).
    pub fn platforms(&self) -> &[PlatformSpec] {
        &self.platforms
    }

    /// The verdict a correct probe reaches on each endpoint, in battery order.
    pub fn endpoints(&self) -> &[EndpointExpectation] {
        &self.endpoints
    }

    /// The status a correct probe gives each platform, in battery order.
    pub fn expected(&self) -> &[PlatformExpectation] {
        &self.expected
    }

    pub fn ports(&self) -> Ports {
        self.ports
    }

    /// The ISP's resolver (UDP).
    pub fn resolver(&self) -> SocketAddr {
        self.resolver
    }

    pub fn doh_url(&self) -> &str {
        &self.doh_url
    }

    /// The control as the probe should ask it (outside the censor).
    pub fn control_url(&self) -> &str {
        &self.control_url
    }

    /// `probe.toml`: run `vigil-probe run --config <this> --once`.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    pub fn battery_path(&self) -> &Path {
        &self.battery
    }

    /// The lab CA (PEM) every fake certificate comes from.
    pub fn ca_path(&self) -> &Path {
        &self.ca
    }

    /// The expected platform verdicts as a table, for people.
    pub fn summary(&self) -> String {
        let mut out = format!("{:<12} {:<8} {:<18} how\n", "platform", "expected", "mechanism");
        for p in &self.expected {
            let mechanism = p.mechanism.map(|m| m.label()).unwrap_or_else(|| "-".into());
            let status = serde_json::to_value(p.status).ok().and_then(|v| v.as_str().map(String::from));
            out += &format!("{:<12} {:<8} {:<18} {}\n", p.id, status.unwrap_or_default(), mechanism, p.how);
        }
        out
    }
}

/// The zones: the ISP resolver (probe-side addresses, the censor's DNS rules) and the truth
/// that DoH and the control answer from (outside addresses).
fn zones(plan: &Plan) -> (Zone, Zone) {
    let (isp, truth) = (Zone::new(), Zone::new());
    for (host, h) in &plan.hosts {
        let plan::Host::Name(name) = host else { continue };
        truth.set(name, DnsBehaviour::Answer(vec![IpAddr::V4(h.outside_ip)]));
        let probe = vec![IpAddr::V4(h.probe_ip)];
        let censored = match h.censor {
            Some(Censor::DnsNxdomain) => DnsBehaviour::NxDomain,
            Some(Censor::DnsInjection) => {
                DnsBehaviour::Inject { forged: vec![BLOCKPAGE_IP.into()], real: probe, delay: INJECTION_DELAY }
            }
            Some(Censor::DnsBlockpage) => DnsBehaviour::Answer(vec![BLOCKPAGE_IP.into()]),
            _ => DnsBehaviour::Answer(probe),
        };
        isp.set(name, censored);
    }
    (isp, truth)
}

/// Every server's ASN: a platform's addresses (both views) share one; the blockpage is the ISP's.
fn asns(plan: &Plan) -> HashMap<IpAddr, u32> {
    let mut asns: HashMap<IpAddr, u32> = HashMap::from([(BLOCKPAGE_IP.into(), ISP_ASN)]);
    for h in plan.hosts.values() {
        let asn = PLATFORM_ASN + u32::try_from(h.owner).unwrap_or(0);
        asns.insert(h.probe_ip.into(), asn);
        asns.insert(h.outside_ip.into(), asn);
    }
    asns
}

type Started = (Vec<WebServer>, Vec<TcpServer>, Vec<Blackhole>);

async fn start_servers(plan: &Plan, ca: &TestCa, ports: Ports) -> Result<Started, WorldError> {
    let (mut web, mut tcp, mut holes) = (Vec::new(), Vec::new(), Vec::new());
    let at = |ip: Ipv4Addr, port| SocketAddr::new(ip.into(), port);
    let page = |owner: usize| WebBehaviour::page(&plan.titles[owner], PAGE_LEN);
    // Clean servers (a platform's edge, an IP literal's server) and SNI-filtering edges.
    let clean = plan.served_at(|h| Some(h.outside_ip));
    let sni =
        plan.served_at(|h| matches!(h.censor, Some(Censor::TlsSniReset | Censor::TlsSniDrop)).then_some(h.probe_ip));
    for (ip, served) in clean.iter().chain(&sni) {
        let names: Vec<&str> = served.names.iter().map(String::as_str).collect();
        let tls_behaviour = match served.censor {
            Some(Censor::TlsSniReset) if ip.octets()[2] == plan::CENSOR => WebBehaviour::TlsResetOnSni,
            Some(Censor::TlsSniDrop) if ip.octets()[2] == plan::CENSOR => WebBehaviour::TlsDropOnSni,
            _ => page(served.owner),
        };
        web.push(WebServer::start(at(*ip, ports.https), Some(ca), vec![Site::new(&names, tls_behaviour)]).await);
        web.push(WebServer::start(at(*ip, ports.http), None, vec![Site::new(&names, page(served.owner))]).await);
        tcp.push(TcpServer::start(at(*ip, ports.tcp)).await);
    }
    let blackholed = plan.served_at(|h| (h.censor == Some(Censor::TcpBlackhole)).then_some(h.probe_ip));
    for ip in blackholed.keys() {
        for port in [ports.https, ports.http, ports.tcp] {
            let hole = Blackhole::start((*ip).into(), port)
                .map_err(|source| WorldError::Blackhole { addr: at(*ip, port), source })?;
            holes.push(hole);
        }
    }
    let blockpage = plan
        .served_at(|h| matches!(h.censor, Some(Censor::DnsInjection | Censor::DnsBlockpage)).then_some(BLOCKPAGE_IP));
    if let Some(served) = blockpage.get(&BLOCKPAGE_IP) {
        let names: Vec<&str> = served.names.iter().map(String::as_str).collect();
        let body = WebBehaviour::body(200, RU_BLOCKPAGE);
        let https = Site::new(&names, body.clone()).with_cert(CertKind::SelfSigned);
        web.push(WebServer::start(at(BLOCKPAGE_IP, ports.https), Some(ca), vec![https]).await);
        web.push(WebServer::start(at(BLOCKPAGE_IP, ports.http), None, vec![Site::new(&names, body)]).await);
    }
    Ok((web, tcp, holes))
}

/// Three ports (HTTPS, HTTP, TCP) free on every address in `ips`. Ports are first taken on
/// the first address, so two worlds running at once never pick the same ones.
fn free_ports(ips: &[Ipv4Addr]) -> Result<Ports, WorldError> {
    const TRIES: usize = 50;
    let Some((first, rest)) = ips.split_first() else {
        return Err(WorldError::Ports(0));
    };
    'retry: for _ in 0..TRIES {
        let mut held = Vec::new();
        let mut ports = Vec::new();
        for _ in 0..3 {
            let Ok(anchor) = std::net::TcpListener::bind((*first, 0)) else { continue 'retry };
            let Ok(port) = anchor.local_addr().map(|a| a.port()) else { continue 'retry };
            held.push(anchor);
            for ip in rest {
                match std::net::TcpListener::bind((*ip, port)) {
                    Ok(listener) => held.push(listener),
                    Err(_) => continue 'retry,
                }
            }
            ports.push(port);
        }
        return Ok(Ports { https: ports[0], http: ports[1], tcp: ports[2] });
    }
    Err(WorldError::Ports(TRIES))
}
