//! A UDP DNS server answering from a [`Zone`]: the "ISP" or "public" resolver of a test, which
//! can fail, stay silent, or emulate on-path injection (a forged reply, then the real one).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::Message;
use tokio::net::UdpSocket;
use tokio::task::JoinSet;

use crate::net::{BindAddr, ServerTask, spawn_in};
use crate::zone::{DnsBehaviour, Plan, QueryLog, Zone, plan};

/// A running UDP DNS server; stops when dropped.
#[derive(Debug)]
pub struct DnsServer {
    addr: SocketAddr,
    zone: Zone,
    log: QueryLog,
    _task: ServerTask,
}

impl DnsServer {
    /// Bind on `bind` (an IP for an OS-chosen port, or a full address such as `ip:53`) and
    /// answer from `zone`. Panics if the address cannot be bound.
    pub async fn start(bind: impl BindAddr, zone: Zone) -> DnsServer {
        let bind = bind.socket_addr();
        match Self::try_start(bind, zone).await {
            Ok(server) => server,
            Err(e) => panic!("testkit: cannot bind DNS server on {bind}: {e}"),
        }
    }

    /// [`DnsServer::start`], returning the bind error instead of panicking.
    pub async fn try_start(bind: impl BindAddr, zone: Zone) -> std::io::Result<DnsServer> {
        let socket = Arc::new(UdpSocket::bind(bind.socket_addr()).await?);
        let addr = socket.local_addr()?;
        let log = QueryLog::default();
        let task = ServerTask::spawn(serve(socket, zone.clone(), log.clone()));
        Ok(DnsServer { addr, zone, log, _task: task })
    }

    /// The bound address (send queries here).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound IP.
    pub fn ip(&self) -> IpAddr {
        self.addr.ip()
    }

    /// The zone answered from (shared: changes apply to the running server).
    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// Change how `name` resolves, at runtime.
    pub fn set(&self, name: &str, behaviour: DnsBehaviour) {
        self.zone.set(name, behaviour);
    }

    /// How many queries (any type) were received for `name`.
    pub fn queries(&self, name: &str) -> usize {
        self.log.count(name)
    }
}

async fn serve(socket: Arc<UdpSocket>, zone: Zone, log: QueryLog) {
    let mut delayed = JoinSet::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            // ICMP errors from earlier replies surface here on some systems: keep serving.
            Err(_) => continue,
        };
        let Ok(request) = Message::from_vec(&buf[..len]) else {
            continue;
        };
        log.record(&request);
        match plan(&zone, &request, false) {
            Plan::Reply(response) => send(&socket, &response, peer).await,
            Plan::Silent => {}
            Plan::Inject { forged, real, delay } => {
                send(&socket, &forged, peer).await;
                let socket = socket.clone();
                spawn_in(&mut delayed, async move {
                    tokio::time::sleep(delay).await;
                    send(&socket, &real, peer).await;
                });
            }
        }
    }
}

async fn send(socket: &UdpSocket, response: &Message, peer: SocketAddr) {
    if let Ok(bytes) = response.to_vec() {
        let _ = socket.send_to(&bytes, peer).await;
    }
}
