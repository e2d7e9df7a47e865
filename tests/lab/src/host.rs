//! `vigil-lab host`: the servers of one lab namespace, started with `ip netns exec`. In `inet`:
//! the lab CA, every site (HTTPS :443 and HTTP :80, several names per IP), the TCP endpoints, the
//! public and authoritative resolvers, the DoH resolver and the control (the collector's own
//! `vigil-control` code, allowed into the lab net). In `isp`: the ISP's resolver and the censor
//! program. The host prints `ready` once everything is bound, and exits when its stdin closes
//! (the harness died or finished) or on SIGTERM.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use vigil_control::{ControlConfig, TargetPolicy};
use vigil_testkit::control::ZoneResolver;
use vigil_testkit::{DnsServer, DohServer, TcpServer, TestCa, WebServer};

use crate::LabError;
use crate::censor::{Censor, Program};
use crate::scenario::lying_zone;
use crate::world::{ISP_IP, LAB_NET, World};

/// What a host needs to know, written by the harness as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostSpec {
    pub world: World,
    /// The run directory: `inet` writes `ca.pem` here.
    pub dir: PathBuf,
    /// The ISP resolver's lies (see [`crate::Scenario::isp_resolver`]).
    pub isp_resolver: BTreeMap<String, String>,
    pub inject: Vec<Program>,
    /// Timeout of each step of the control (ms).
    pub control_timeout_ms: u64,
}

/// Which namespace a host serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HostRole {
    Inet,
    Isp,
}

/// The CA certificate the probe must trust, in the run directory.
pub fn ca_path(dir: &Path) -> PathBuf {
    dir.join("ca.pem")
}

/// Start `role`'s servers from the spec file, print `ready`, serve until stdin closes.
pub async fn serve(spec_file: &Path, role: HostRole) -> Result<(), LabError> {
    let text =
        std::fs::read_to_string(spec_file).map_err(|e| LabError::io(format!("read {}", spec_file.display()), e))?;
    let spec: HostSpec = serde_json::from_str(&text)
        .map_err(|e| LabError::Parse { file: spec_file.display().to_string(), message: e.to_string() })?;
    vigil_testkit::init_crypto();
    let servers = match role {
        HostRole::Inet => Servers::Inet(start_inet(&spec).await?),
        HostRole::Isp => Servers::Isp(start_isp(&spec).await?),
    };
    println!("ready");
    // Until the harness closes our stdin (or dies) or SIGTERM arrives.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| LabError::io("install SIGTERM handler", e))?;
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    loop {
        tokio::select! {
            read = stdin.read(&mut buf) => if !matches!(read, Ok(n) if n > 0) { break },
            _ = term.recv() => break,
        }
    }
    drop(servers);
    Ok(())
}

/// Running servers, kept alive by being held.
#[allow(dead_code)]
enum Servers {
    Inet(Vec<Box<dyn std::any::Any + Send>>),
    Isp(DnsServer),
}

fn bind_err(what: &str, addr: SocketAddr, e: std::io::Error) -> LabError {
    LabError::io(format!("bind {what} on {addr}"), e)
}

async fn start_inet(spec: &HostSpec) -> Result<Vec<Box<dyn std::any::Any + Send>>, LabError> {
    let world = &spec.world;
    let ca = TestCa::new();
    let pem = ca_path(&spec.dir);
    std::fs::write(&pem, ca.cert_pem()).map_err(|e| LabError::io(format!("write {}", pem.display()), e))?;
    let mut held: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
    for server in &world.server {
        let ip = IpAddr::V4(server.ip);
        let sites = world.sites_on(server.ip);
        if !sites.is_empty() {
            held.push(Box::new(WebServer::start(SocketAddr::new(ip, 443), Some(&ca), sites.clone()).await));
            held.push(Box::new(WebServer::start(SocketAddr::new(ip, 80), None, sites).await));
        }
        for port in &server.tcp_ports {
            held.push(Box::new(TcpServer::start(SocketAddr::new(ip, *port)).await));
        }
    }
    let truth = world.truth();
    let services = &world.services;
    for resolver in [services.public_resolver, services.authoritative] {
        let addr = SocketAddr::new(IpAddr::V4(resolver), 53);
        let dns = DnsServer::try_start(addr, truth.clone()).await.map_err(|e| bind_err("DNS", addr, e))?;
        held.push(Box::new(dns));
    }
    let doh = SocketAddr::new(IpAddr::V4(services.doh), 443);
    held.push(Box::new(DohServer::start(doh, truth.clone(), &ca, &["doh.lab.test"]).await));

    let asns = world.asns();
    let lab_net = LAB_NET.parse().map_err(|e| LabError::Other(format!("lab net: {e}")))?;
    let config = ControlConfig {
        resolver: Arc::new(ZoneResolver(truth)),
        policy: TargetPolicy::lab(vec![lab_net]),
        tls: Arc::new(ca.client_config()),
        timeout: Duration::from_millis(spec.control_timeout_ms),
        asn_lookup: Arc::new(move |ip| asns.get(&ip).copied().unwrap_or(0)),
    };
    let control = SocketAddr::new(IpAddr::V4(services.control), 80);
    let listener = tokio::net::TcpListener::bind(control).await.map_err(|e| bind_err("control", control, e))?;
    let app = vigil_control::router(Arc::new(config));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    held.push(Box::new(AbortOnDrop(task)));
    Ok(held)
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn start_isp(spec: &HostSpec) -> Result<DnsServer, LabError> {
    let zone = lying_zone(&spec.world.truth(), &spec.isp_resolver);
    let addr = SocketAddr::new(IpAddr::V4(ISP_IP), 53);
    let dns = DnsServer::try_start(addr, zone).await.map_err(|e| bind_err("ISP resolver", addr, e))?;
    if !spec.inject.is_empty() {
        let censor = Censor::bind(spec.inject.clone()).map_err(|e| LabError::io("bind NFQUEUE and a raw socket", e))?;
        std::thread::spawn(move || {
            let e = censor.run();
            eprintln!("vigil-lab censor stopped: {e}");
        });
    }
    Ok(dns)
}
