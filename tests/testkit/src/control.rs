//! A control ("test helper") for tests: the collector's own control ([`vigil_control`]) serving
//! `POST /` on loopback, resolving from a [`Zone`]'s truth, trusting the lab CA, and allowed to
//! reach loopback (the lab's net) only.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::task::JoinSet;
use vigil_control::{ControlConfig, IpNet, Resolver, TargetPolicy};
use vigil_report::Failure;

use crate::ca::{TestCa, client_config};
use crate::net::{BindAddr, ServerTask, listen, local_addr, spawn_in};
use crate::zone::Zone;

/// Default timeout of each DNS lookup, TCP connect, TLS handshake and HTTP fetch.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A running control server; stops when dropped.
#[derive(Debug)]
pub struct ControlServer {
    addr: SocketAddr,
    config: Arc<Mutex<Arc<ControlConfig>>>,
    _task: ServerTask,
}

/// The control's resolver in tests: the uncensored truth of a [`Zone`].
#[derive(Debug, Clone)]
pub struct ZoneResolver(pub Zone);

impl Resolver for ZoneResolver {
    fn resolve(&self, host: &str) -> Pin<Box<dyn Future<Output = Result<Vec<IpAddr>, Failure>> + Send + '_>> {
        let answer = self.0.resolve(host);
        Box::pin(async move { answer })
    }
}

/// The lab's net: loopback, v4 and v6.
pub fn loopback_policy() -> TargetPolicy {
    TargetPolicy::lab(vec![
        IpNet::new_assert(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8),
        IpNet::new_assert(IpAddr::V6(Ipv6Addr::LOCALHOST), 128),
    ])
}

impl ControlServer {
    /// Serve on `bind`, resolving from `zone`, trusting `ca` (no CA: every TLS peer is
    /// `ssl_unknown_authority`), reporting ASNs from `asns` (0 when absent). Panics if the
    /// address cannot be bound.
    pub async fn start(
        bind: impl BindAddr,
        zone: Zone,
        ca: Option<&TestCa>,
        asns: HashMap<IpAddr, u32>,
    ) -> ControlServer {
        crate::init_crypto();
        let listener = listen(bind.socket_addr(), "control server").await;
        let addr = local_addr(&listener);
        let roots = ca.map(TestCa::root_store).unwrap_or_else(rustls::RootCertStore::empty);
        let config = Arc::new(ControlConfig {
            resolver: Arc::new(ZoneResolver(zone)),
            policy: loopback_policy(),
            tls: Arc::new(client_config(roots)),
            timeout: DEFAULT_TIMEOUT,
            asn_lookup: Arc::new(move |ip| asns.get(&ip).copied().unwrap_or(0)),
        });
        let config = Arc::new(Mutex::new(config));
        let current = config.clone();
        let task = ServerTask::spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((tcp, _)) = listener.accept().await {
                let current = current.clone();
                spawn_in(&mut conns, async move {
                    let service = hyper::service::service_fn(move |req| {
                        // Each request sees the configuration of the moment (see `set_timeout`).
                        let config = current.lock().unwrap_or_else(PoisonError::into_inner).clone();
                        let app = TowerToHyperService::new(vigil_control::router(config));
                        hyper::service::Service::call(&app, req)
                    });
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
                });
            }
        });
        ControlServer { addr, config, _task: task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<ip>:<port>/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Change the timeout of each operation (applies to the next requests).
    pub fn set_timeout(&self, timeout: Duration) {
        let mut config = self.config.lock().unwrap_or_else(PoisonError::into_inner);
        let mut changed = ControlConfig::clone(&config);
        changed.timeout = timeout;
        *config = Arc::new(changed);
    }
}
