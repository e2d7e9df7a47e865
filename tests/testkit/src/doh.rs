//! An RFC 8484 DNS-over-HTTPS resolver answering from a [`Zone`]: the encrypted, untampered
//! reference resolver of a test (it never injects; a silent name gets SERVFAIL).

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use hickory_proto::op::Message;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::ca::TestCa;
use crate::net::{BindAddr, ServerTask, listen, local_addr, spawn_in};
use crate::zone::{Plan, QueryLog, Zone, plan};

const DNS_MESSAGE: &str = "application/dns-message";
const MAX_MESSAGE: usize = 65_535;

/// A running DoH server; stops when dropped.
#[derive(Debug)]
pub struct DohServer {
    addr: SocketAddr,
    log: QueryLog,
    _task: ServerTask,
}

impl DohServer {
    /// Serve DoH on `bind` with a certificate from `ca` for `names` plus the bound IP. Panics if
    /// the address cannot be bound.
    pub async fn start(bind: impl BindAddr, zone: Zone, ca: &TestCa, names: &[&str]) -> DohServer {
        crate::init_crypto();
        let listener = listen(bind.socket_addr(), "DoH server").await;
        let addr = local_addr(&listener);
        let ip = addr.ip().to_string();
        let mut cert_names: Vec<&str> = names.to_vec();
        cert_names.push(&ip);
        let (cert, key) = ca.leaf(&cert_names);
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("testkit: leaf from the lab CA is a valid server certificate");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let log = QueryLog::default();
        let state = Arc::new(State { zone, log: log.clone() });
        let task = ServerTask::spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, state) = (acceptor.clone(), state.clone());
                spawn_in(&mut conns, async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
                });
            }
        });
        DohServer { addr, log, _task: task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn ip(&self) -> IpAddr {
        self.addr.ip()
    }

    /// `https://<ip>:<port>/dns-query`.
    pub fn url(&self) -> String {
        format!("https://{}/dns-query", self.addr)
    }

    /// How many queries were received for `name`.
    pub fn queries(&self, name: &str) -> usize {
        self.log.count(name)
    }
}

struct State {
    zone: Zone,
    log: QueryLog,
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() != "/dns-query" {
        return Ok(plain(StatusCode::NOT_FOUND, "not found"));
    }
    let wire = match *req.method() {
        Method::GET => match dns_param(req.uri().query().unwrap_or("")) {
            Some(wire) => wire,
            None => {
                return Ok(plain(StatusCode::BAD_REQUEST, "missing or invalid dns parameter"));
            }
        },
        Method::POST => {
            let content_type = req.headers().get(hyper::header::CONTENT_TYPE);
            if content_type.and_then(|v| v.to_str().ok()) != Some(DNS_MESSAGE) {
                return Ok(plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, "want application/dns-message"));
            }
            match Limited::new(req.into_body(), MAX_MESSAGE).collect().await {
                Ok(body) => body.to_bytes().to_vec(),
                Err(_) => return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE, "body too large")),
            }
        }
        _ => return Ok(plain(StatusCode::METHOD_NOT_ALLOWED, "GET or POST")),
    };
    let Ok(request) = Message::from_vec(&wire) else {
        return Ok(plain(StatusCode::BAD_REQUEST, "not a DNS message"));
    };
    state.log.record(&request);
    let response = match plan(&state.zone, &request, true) {
        Plan::Reply(response) | Plan::Inject { real: response, .. } => response,
        Plan::Silent => return Ok(plain(StatusCode::BAD_GATEWAY, "no answer")),
    };
    let Ok(bytes) = response.to_vec() else {
        return Ok(plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode answer"));
    };
    Ok(Response::builder()
        .header(hyper::header::CONTENT_TYPE, DNS_MESSAGE)
        .body(Full::new(Bytes::from(bytes)))
        .expect("static response parts are valid"))
}

/// The `dns=` query parameter, base64url-decoded.
fn dns_param(query: &str) -> Option<Vec<u8>> {
    let value = query.split('&').find_map(|pair| pair.strip_prefix("dns="))?;
    URL_SAFE_NO_PAD.decode(value.trim_end_matches('=')).ok()
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, "text/plain")
        .body(Full::new(Bytes::from_static(text.as_bytes())))
        .expect("static response parts are valid")
}
