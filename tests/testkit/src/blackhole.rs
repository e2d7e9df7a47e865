//! A TCP address whose SYNs are silently dropped (connect times out), on loopback, without root:
//! a listener with a backlog of 0 whose accept queue is filled by one parked connection. Linux
//! then drops further SYNs, as a censor's blackhole would.

use std::net::{IpAddr, SocketAddr, TcpStream};

use socket2::{Domain, Socket, Type};

/// Holds the listener and the connection that fills its queue; dropping it frees the port.
#[derive(Debug)]
pub struct Blackhole {
    _listener: Socket,
    _filler: TcpStream,
    addr: SocketAddr,
}

impl Blackhole {
    /// Bind `ip:port` (port 0 for any) and fill its accept queue.
    pub fn start(ip: IpAddr, port: u16) -> std::io::Result<Blackhole> {
        let addr = SocketAddr::new(ip, port);
        let listener = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        listener.set_reuse_address(true)?;
        listener.bind(&addr.into())?;
        listener.listen(0)?;
        let addr = listener
            .local_addr()?
            .as_socket()
            .ok_or_else(|| std::io::Error::other("listener has no socket address"))?;
        let filler = TcpStream::connect(addr)?;
        Ok(Blackhole { _listener: listener, _filler: filler, addr })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn connects_time_out() {
        let hole = Blackhole::start("127.0.0.1".parse().unwrap(), 0).unwrap();
        let started = Instant::now();
        let err = TcpStream::connect_timeout(&hole.addr(), Duration::from_millis(300)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(250));
    }
}
