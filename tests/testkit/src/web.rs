//! Web servers that behave like CDNs and censors: one listener serving several sites (chosen by
//! Host header or TLS SNI), each with a behaviour (page, blockpage, redirect, reset, hang...) and
//! a certificate (valid, expired, wrong name, self-signed). Also a bare TCP acceptor and a
//! closed port.

mod http;
mod tls;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rustls::server::Acceptor;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_rustls::LazyConfigAcceptor;

use crate::ca::TestCa;
use crate::net::{self, BindAddr, ServerTask, hold, listen, local_addr, spawn_in};
use crate::zone::normalize;

/// What a site does with a connection or request.
#[derive(Debug, Clone, PartialEq)]
pub enum WebBehaviour {
    /// An HTML page with `<title>`, padded to `body_len` bytes.
    Page {
        status: u16,
        title: String,
        body_len: usize,
        headers: Vec<(String, String)>,
    },
    /// A fixed body (a blockpage, a CAPTCHA page such as "Just a moment...").
    Body {
        status: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
    Redirect {
        location: String,
        status: u16,
    },
    /// Every hop redirects to `/hop/N+1`, forever.
    RedirectLoop,
    /// A streamed body of that many bytes.
    Large(usize),
    /// Reset the TCP connection (RST) once a request with this Host arrives, before answering.
    ResetOnHost,
    /// Close the connection (FIN, no TLS close_notify) once a request with this Host arrives,
    /// before answering: the client reads an unexpected end of file.
    CloseOnHost,
    /// Answer 200, then send the body a few bytes at a time, slower than any timeout (a throttled
    /// link), never finishing.
    Trickle,
    /// Reset the TCP connection after a ClientHello with this SNI.
    TlsResetOnSni,
    /// Read a ClientHello with this SNI, then never answer.
    TlsDropOnSni,
    /// Close the connection (FIN) after a ClientHello with this SNI.
    TlsFinOnSni,
    /// Accept, read the request, never answer.
    Hang,
}

impl WebBehaviour {
    /// A 200 page with `title`, `body_len` bytes long.
    pub fn page(title: &str, body_len: usize) -> Self {
        WebBehaviour::Page { status: 200, title: title.to_string(), body_len, headers: Vec::new() }
    }

    /// A fixed body with `status`.
    pub fn body(status: u16, body: &str) -> Self {
        WebBehaviour::Body { status, body: body.to_string(), headers: Vec::new() }
    }

    /// A 302 to `location`.
    pub fn redirect(location: &str) -> Self {
        WebBehaviour::Redirect { location: location.to_string(), status: 302 }
    }
}

/// The certificate a site presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertKind {
    /// Issued by the lab CA for the site's names.
    #[default]
    Valid,
    /// Issued by the lab CA for the site's names, expired.
    Expired,
    /// Issued by the lab CA for another name.
    WrongName,
    /// Self-signed for the site's names.
    SelfSigned,
}

/// One site served by a [`WebServer`].
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    /// Host names (or IP literals) the site answers for; matched case-insensitively.
    pub names: Vec<String>,
    pub behaviour: WebBehaviour,
    pub cert: CertKind,
}

impl Site {
    /// A site with a valid certificate.
    pub fn new(names: &[&str], behaviour: WebBehaviour) -> Self {
        Site { names: names.iter().map(|n| n.to_string()).collect(), behaviour, cert: CertKind::Valid }
    }

    pub fn with_cert(mut self, cert: CertKind) -> Self {
        self.cert = cert;
        self
    }
}

/// A running web server; stops when dropped.
#[derive(Debug)]
pub struct WebServer {
    addr: SocketAddr,
    tls: bool,
    state: Arc<State>,
    _task: ServerTask,
}

impl WebServer {
    /// Serve `sites` on `bind`: HTTPS with certificates from `tls` when given, plain HTTP
    /// otherwise. Panics if the address cannot be bound.
    pub async fn start(bind: impl BindAddr, tls: Option<&TestCa>, sites: Vec<Site>) -> WebServer {
        crate::init_crypto();
        let listener = listen(bind.socket_addr(), "web server").await;
        let addr = local_addr(&listener);
        let config = tls.map(|ca| tls::server_config(ca, &sites, addr.ip()));
        let state = Arc::new(State {
            sites,
            ip: addr.ip().to_string(),
            config,
            requests: Counter::default(),
            hellos: Counter::default(),
        });
        let conn_state = state.clone();
        let task = ServerTask::spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((tcp, _)) = listener.accept().await {
                spawn_in(&mut conns, connection(conn_state.clone(), tcp));
            }
        });
        WebServer { addr, tls: tls.is_some(), state, _task: task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn ip(&self) -> IpAddr {
        self.addr.ip()
    }

    /// `http://host:port/` or `https://host:port/` (resolve `host` to [`WebServer::addr`]).
    pub fn url_for(&self, host: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{host}:{}/", self.addr.port())
    }

    /// HTTP requests received with this Host (or, without a Host header, this SNI).
    pub fn requests(&self, host: &str) -> usize {
        self.state.requests.get(host)
    }

    /// TLS ClientHellos received with this SNI ("" for none).
    pub fn hellos(&self, sni: &str) -> usize {
        self.state.hellos.get(sni)
    }
}

#[derive(Debug)]
struct State {
    sites: Vec<Site>,
    /// The bound IP, standing in for the name when a client sends none (IP-literal URLs).
    ip: String,
    config: Option<Arc<rustls::ServerConfig>>,
    requests: Counter,
    hellos: Counter,
}

impl State {
    fn site(&self, name: Option<&str>) -> Option<&Site> {
        let name = normalize(name.unwrap_or(&self.ip));
        self.sites.iter().find(|site| site.names.iter().any(|n| normalize(n) == name))
    }
}

#[derive(Debug, Default)]
struct Counter(Mutex<HashMap<String, usize>>);

impl Counter {
    fn add(&self, name: &str) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *map.entry(normalize(name)).or_default() += 1;
    }

    fn get(&self, name: &str) -> usize {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&normalize(name)).copied().unwrap_or(0)
    }
}

async fn connection(state: Arc<State>, mut tcp: TcpStream) {
    let Some(config) = state.config.clone() else {
        if http::serve(&state, &mut tcp, None).await {
            net::reset(tcp);
        }
        return;
    };
    let Ok(start) = LazyConfigAcceptor::new(Acceptor::default(), &mut tcp).await else {
        return;
    };
    let sni = start.client_hello().server_name().map(normalize);
    state.hellos.add(sni.as_deref().unwrap_or(""));
    let behaviour = state.site(sni.as_deref()).map(|site| &site.behaviour);
    let reset = match behaviour {
        Some(WebBehaviour::TlsResetOnSni) => true,
        Some(WebBehaviour::TlsDropOnSni) => {
            drop(start);
            hold(&mut tcp).await;
            false
        }
        Some(WebBehaviour::TlsFinOnSni) => {
            drop(start);
            let _ = tcp.shutdown().await;
            hold(&mut tcp).await;
            false
        }
        _ => match start.into_stream(config).await {
            Ok(stream) => http::serve(&state, stream, sni).await,
            Err(_) => false,
        },
    };
    if reset {
        net::reset(tcp);
    }
}

/// A TCP server that accepts connections and holds them open (for `tcpconnect://` endpoints
/// such as `e1.whatsapp.net:5222`); stops when dropped.
#[derive(Debug)]
pub struct TcpServer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    _task: ServerTask,
}

impl TcpServer {
    /// Listen on `bind`. Panics if the address cannot be bound.
    pub async fn start(bind: impl BindAddr) -> TcpServer {
        let listener = listen(bind.socket_addr(), "TCP server").await;
        let addr = local_addr(&listener);
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = ServerTask::spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((tcp, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                spawn_in(&mut conns, hold(tcp));
            }
        });
        TcpServer { addr, accepted, _task: task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// An address on `ip` where nothing listens (connecting is refused): bound, noted, released.
pub fn closed_port(ip: IpAddr) -> SocketAddr {
    let listener = match std::net::TcpListener::bind(SocketAddr::new(ip, 0)) {
        Ok(listener) => listener,
        Err(e) => panic!("testkit: cannot bind a port on {ip}: {e}"),
    };
    listener.local_addr().expect("testkit: bound listener has an address")
}
