//! Plumbing shared by the servers: bind addresses, tasks that stop on drop, TCP resets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::TcpStream;
use tokio::task::{JoinHandle, JoinSet};

/// Where a server binds: an IP (port chosen by the OS) or a full socket address (a fixed port,
/// e.g. 53 or 443 in a network-namespace lab).
pub trait BindAddr {
    fn socket_addr(self) -> SocketAddr;
}

impl BindAddr for SocketAddr {
    fn socket_addr(self) -> SocketAddr {
        self
    }
}

impl BindAddr for IpAddr {
    fn socket_addr(self) -> SocketAddr {
        SocketAddr::new(self, 0)
    }
}

impl BindAddr for Ipv4Addr {
    fn socket_addr(self) -> SocketAddr {
        SocketAddr::new(self.into(), 0)
    }
}

impl BindAddr for Ipv6Addr {
    fn socket_addr(self) -> SocketAddr {
        SocketAddr::new(self.into(), 0)
    }
}

/// 127.0.0.1, the default bind IP.
pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A server's main task; aborted when dropped. Tasks it spawned live in a [`JoinSet`] it owns,
/// so they are aborted with it.
#[derive(Debug)]
pub(crate) struct ServerTask(JoinHandle<()>);

impl ServerTask {
    pub(crate) fn spawn(fut: impl Future<Output = ()> + Send + 'static) -> Self {
        ServerTask(tokio::spawn(fut))
    }
}

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Spawn `fut` into `set` after reaping the tasks that already finished.
pub(crate) fn spawn_in(set: &mut JoinSet<()>, fut: impl Future<Output = ()> + Send + 'static) {
    while set.try_join_next().is_some() {}
    set.spawn(fut);
}

/// Close `tcp` with a RST instead of a FIN (SO_LINGER 0, then drop), as censors do.
pub(crate) fn reset(tcp: TcpStream) {
    let _ = tcp.set_zero_linger();
    drop(tcp);
}

/// Bind a TCP listener, panicking with the address on failure (a broken test setup).
pub(crate) async fn listen(addr: SocketAddr, what: &str) -> tokio::net::TcpListener {
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => panic!("testkit: cannot bind {what} on {addr}: {e}"),
    }
}

/// The address a listener is bound to.
pub(crate) fn local_addr(listener: &tokio::net::TcpListener) -> SocketAddr {
    listener.local_addr().expect("testkit: bound listener has an address")
}

/// Hold `tcp` open, discarding what the peer sends, until it closes (or the task is aborted).
pub(crate) async fn hold(mut tcp: impl tokio::io::AsyncRead + Unpin) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    while let Ok(n) = tcp.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}
