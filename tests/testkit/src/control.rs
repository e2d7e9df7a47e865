//! A control ("test helper") for tests: an uncensored vantage point speaking
//! [`vigil_report::ControlRequest`]/[`vigil_report::ControlResponse`] over `POST /`. It
//! resolves from a [`Zone`]'s truth, connects to every address, handshakes TLS against the lab
//! CA and fetches the URL.

mod measure;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::task::JoinSet;
use url::Url;
use vigil_report::control::ControlDns;
use vigil_report::{ControlRequest, ControlResponse, IpInfo};

use crate::ca::{TestCa, client_config};
use crate::net::{BindAddr, ServerTask, listen, local_addr, spawn_in};
use crate::zone::Zone;

/// Default timeout of each TCP connect, TLS handshake and HTTP fetch.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_REQUEST: usize = 1024 * 1024;

/// A running control server; stops when dropped.
#[derive(Debug)]
pub struct ControlServer {
    addr: SocketAddr,
    timeout: Arc<Mutex<Duration>>,
    _task: ServerTask,
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
        let timeout = Arc::new(Mutex::new(DEFAULT_TIMEOUT));
        let helper = Arc::new(Helper { zone, tls: client_config(roots), asns, timeout: timeout.clone() });
        let task = ServerTask::spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((tcp, _)) = listener.accept().await {
                let helper = helper.clone();
                spawn_in(&mut conns, async move {
                    let service = hyper::service::service_fn(move |req| handle(helper.clone(), req));
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
                });
            }
        });
        ControlServer { addr, timeout, _task: task }
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
        *self.timeout.lock().unwrap_or_else(PoisonError::into_inner) = timeout;
    }
}

struct Helper {
    zone: Zone,
    tls: rustls::ClientConfig,
    asns: HashMap<IpAddr, u32>,
    timeout: Arc<Mutex<Duration>>,
}

async fn handle(helper: Arc<Helper>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() != "/" {
        return Ok(reply(StatusCode::NOT_FOUND, "not found".into()));
    }
    if req.method() != Method::POST {
        return Ok(reply(StatusCode::METHOD_NOT_ALLOWED, "POST a ControlRequest".into()));
    }
    let body = match Limited::new(req.into_body(), MAX_REQUEST).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return Ok(reply(StatusCode::PAYLOAD_TOO_LARGE, "request too large".into()));
        }
    };
    let request: ControlRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return Ok(reply(StatusCode::BAD_REQUEST, format!("invalid ControlRequest: {e}")));
        }
    };
    let response = match helper.measure(&request).await {
        Ok(response) => response,
        Err(e) => return Ok(reply(StatusCode::BAD_REQUEST, e)),
    };
    let json = serde_json::to_vec(&response).expect("ControlResponse serializes");
    Ok(Response::builder()
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(json)))
        .expect("static response parts are valid"))
}

fn reply(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
}

impl Helper {
    async fn measure(&self, request: &ControlRequest) -> Result<ControlResponse, String> {
        let url =
            Url::parse(&request.http_request).map_err(|e| format!("invalid URL {:?}: {e}", request.http_request))?;
        let host = url.host_str().ok_or("URL without a host")?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let is_web = matches!(url.scheme(), "http" | "https");
        let port = url.port_or_known_default().ok_or("URL without a port")?;
        let timeout = *self.timeout.lock().unwrap_or_else(PoisonError::into_inner);

        let (dns, resolved) = self.resolve(&host);
        let probe_endpoints: BTreeSet<SocketAddr> = request.tcp_connect.iter().filter_map(|e| e.parse().ok()).collect();
        let own: Vec<SocketAddr> = resolved.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
        let endpoints: BTreeSet<SocketAddr> = own.iter().copied().chain(probe_endpoints.iter().copied()).collect();

        let mut tasks = JoinSet::new();
        for endpoint in endpoints {
            let tls_wanted = url.scheme() == "https" || (is_web && endpoint.port() == 443);
            let sni = tls_wanted.then(|| host.clone());
            let tls = Arc::new(self.tls.clone());
            tasks.spawn(async move {
                let (tcp, tls) = measure::endpoint(endpoint, sni.as_deref(), tls, timeout).await;
                (endpoint, tcp, tls)
            });
        }
        let http = async {
            if !is_web {
                return None;
            }
            if let Some(failure) = &dns.failure {
                return Some(vigil_report::ControlHttp {
                    body_length: -1,
                    failure: Some(failure.clone()),
                    title: String::new(),
                    headers: BTreeMap::new(),
                    status_code: -1,
                });
            }
            let fetch = measure::Fetch {
                zone: &self.zone,
                tls: self.tls.clone(),
                timeout,
                host: &host,
                addrs: &own,
                headers: &request.http_request_headers,
            };
            Some(measure::http(url.as_str(), fetch).await)
        };
        let (http_request, results) = tokio::join!(http, tasks.join_all());

        let mut response = ControlResponse { dns, http_request, ..ControlResponse::default() };
        let mut tls_valid = BTreeSet::new();
        for (endpoint, tcp, tls) in results {
            let key = endpoint.to_string();
            if let Some(tls) = tls {
                if tls.status {
                    tls_valid.insert(endpoint.ip());
                }
                response.tls_handshake.insert(key.clone(), tls);
            }
            response.tcp_connect.insert(key, tcp);
        }
        response.ip_info = self.ip_info(&resolved, &probe_endpoints, &tls_valid);
        Ok(response)
    }

    /// The control's DNS view of `host`: an IP literal is its own answer.
    fn resolve(&self, host: &str) -> (ControlDns, Vec<IpAddr>) {
        let result = match host.parse::<IpAddr>() {
            Ok(ip) => Ok(vec![ip]),
            Err(_) => self.zone.resolve(host),
        };
        match result {
            Ok(ips) => {
                let addrs = ips.iter().map(IpAddr::to_string).collect();
                (ControlDns { failure: None, addrs }, ips)
            }
            Err(failure) => {
                let dns = ControlDns { failure: Some(failure.into()), addrs: Vec::new() };
                (dns, Vec::new())
            }
        }
    }

    fn ip_info(
        &self,
        resolved: &[IpAddr],
        probe: &BTreeSet<SocketAddr>,
        tls_valid: &BTreeSet<IpAddr>,
    ) -> BTreeMap<String, IpInfo> {
        let mut flags: BTreeMap<IpAddr, u32> = BTreeMap::new();
        for endpoint in probe {
            *flags.entry(endpoint.ip()).or_default() |= FLAG_PROBE;
        }
        for ip in resolved {
            *flags.entry(*ip).or_default() |= FLAG_CONTROL;
        }
        flags
            .into_iter()
            .map(|(ip, mut flag)| {
                if is_bogon(ip) {
                    flag |= FLAG_BOGON;
                }
                if tls_valid.contains(&ip) {
                    flag |= FLAG_VALID_TLS;
                }
                let asn = self.asns.get(&ip).copied().unwrap_or(0);
                (ip.to_string(), IpInfo { asn, flags: flag })
            })
            .collect()
    }
}

const FLAG_PROBE: u32 = 1;
const FLAG_CONTROL: u32 = 2;
const FLAG_BOGON: u32 = 4;
const FLAG_VALID_TLS: u32 = 8;

/// Addresses that are not routable on the internet (RFC 6890 and friends).
pub fn is_bogon(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || v6.to_ipv4_mapped().is_some_and(|v4| is_bogon(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bogons_are_recognised() {
        for ip in ["10.10.34.35", "127.0.0.1", "100.64.1.1", "192.168.1.1", "0.1.2.3", "::1", "fd00::1", "fe80::1"] {
            assert!(is_bogon(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "157.240.1.35", "2a03:2880::1", "100.128.0.1"] {
            assert!(!is_bogon(ip.parse().unwrap()), "{ip}");
        }
    }
}
