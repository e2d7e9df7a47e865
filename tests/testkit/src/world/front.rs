//! The fake world's control endpoint: a front for a [`crate::ControlServer`] that puts it
//! outside the censor. On loopback the control would reach the same sockets as the probe (a
//! blackholed IP literal would time out for both, which reads as "site down"); the front
//! translates each probe-side address into the same server as seen from outside, asks the
//! control, and files the answers under the addresses the probe asked about.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::task::JoinSet;
use url::Url;
use vigil_report::{ControlRequest, ControlResponse};

use crate::net::{ServerTask, listen, local_addr, spawn_in};

const MAX_REQUEST: usize = 1024 * 1024;

/// A running front; stops when dropped.
#[derive(Debug)]
pub(super) struct ControlFront {
    addr: SocketAddr,
    _task: ServerTask,
}

struct Front {
    upstream: String,
    /// Probe-side address -> outside address.
    outside: HashMap<IpAddr, IpAddr>,
    client: reqwest::Client,
}

impl ControlFront {
    /// Listen on `bind` and forward to the control at `upstream` (`http://ip:port/`).
    pub(super) async fn start(
        bind: SocketAddr,
        upstream: String,
        outside: HashMap<IpAddr, IpAddr>,
    ) -> Result<ControlFront, reqwest::Error> {
        crate::init_crypto();
        let client = reqwest::Client::builder().no_proxy().build()?;
        let front = Arc::new(Front { upstream, outside, client });
        let listener = listen(bind, "control front").await;
        let addr = local_addr(&listener);
        let task = ServerTask::spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((tcp, _)) = listener.accept().await {
                let front = front.clone();
                spawn_in(&mut conns, async move {
                    let service = hyper::service::service_fn(move |req| handle(front.clone(), req));
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
                });
            }
        });
        Ok(ControlFront { addr, _task: task })
    }

    /// `http://<ip>:<port>/`.
    pub(super) fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

async fn handle(front: Arc<Front>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match Limited::new(req.into_body(), MAX_REQUEST).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(reply(StatusCode::PAYLOAD_TOO_LARGE, "request too large".into())),
    };
    let mut request: ControlRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return Ok(reply(StatusCode::BAD_REQUEST, format!("invalid ControlRequest: {e}"))),
    };
    let moved = translate(&mut request, &front.outside);
    let body = serde_json::to_vec(&request).expect("ControlRequest serializes");
    let upstream = front
        .client
        .post(&front.upstream)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    let mut response: ControlResponse = match upstream {
        Ok(r) if r.status().is_success() => {
            let parsed = r
                .bytes()
                .await
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()));
            match parsed {
                Ok(response) => response,
                Err(e) => return Ok(reply(StatusCode::BAD_GATEWAY, format!("control answer: {e}"))),
            }
        }
        Ok(r) => return Ok(reply(r.status(), "control refused the request".into())),
        Err(e) => return Ok(reply(StatusCode::BAD_GATEWAY, format!("control unreachable: {e}"))),
    };
    file_back(&mut response, &moved);
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

/// Addresses replaced in a request: (probe side, outside).
#[derive(Debug, Default, PartialEq)]
struct Moved {
    pairs: Vec<(IpAddr, IpAddr)>,
    /// The URL's IP-literal host was replaced.
    url_host: Option<(IpAddr, IpAddr)>,
}

/// Replace probe-side addresses (in `tcp_connect` and an IP-literal URL host) by outside ones.
fn translate(request: &mut ControlRequest, outside: &HashMap<IpAddr, IpAddr>) -> Moved {
    let mut moved = Moved::default();
    let mut note = |pair: (IpAddr, IpAddr)| {
        if !moved.pairs.contains(&pair) {
            moved.pairs.push(pair);
        }
    };
    for entry in &mut request.tcp_connect {
        if let Ok(addr) = entry.parse::<SocketAddr>()
            && let Some(out) = outside.get(&addr.ip())
        {
            note((addr.ip(), *out));
            *entry = SocketAddr::new(*out, addr.port()).to_string();
        }
    }
    if let Ok(mut url) = Url::parse(&request.http_request)
        && let Some(ip) = url.host_str().and_then(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().ok())
        && let Some(out) = outside.get(&ip)
    {
        note((ip, *out));
        moved.url_host = Some((ip, *out));
        request.http_request = match (url.scheme(), url.port()) {
            ("tcpconnect", Some(port)) => format!("tcpconnect://{}", SocketAddr::new(*out, port)),
            _ => {
                let _ = url.set_ip_host(*out);
                url.to_string()
            }
        };
    }
    moved
}

/// File every answer about an outside address also under the probe-side address it stands for.
fn file_back(response: &mut ControlResponse, moved: &Moved) {
    copy_keys(&mut response.tcp_connect, moved, true);
    copy_keys(&mut response.tls_handshake, moved, true);
    copy_keys(&mut response.ip_info, moved, false);
    if let Some((probe, out)) = moved.url_host {
        for addr in &mut response.dns.addrs {
            if *addr == out.to_string() {
                *addr = probe.to_string();
            }
        }
    }
}

fn copy_keys<V: Clone>(map: &mut BTreeMap<String, V>, moved: &Moved, with_port: bool) {
    let mut copies = Vec::new();
    for (key, value) in map.iter() {
        let (ip, port) = if with_port {
            match key.parse::<SocketAddr>() {
                Ok(a) => (a.ip(), Some(a.port())),
                Err(_) => continue,
            }
        } else {
            match key.parse::<IpAddr>() {
                Ok(ip) => (ip, None),
                Err(_) => continue,
            }
        };
        for (probe, _) in moved.pairs.iter().filter(|(_, out)| *out == ip) {
            let key = port.map_or_else(|| probe.to_string(), |p| SocketAddr::new(*probe, p).to_string());
            copies.push((key, value.clone()));
        }
    }
    map.extend(copies);
}

#[cfg(test)]
mod tests {
    use vigil_report::ControlTcp;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn literal_hosts_and_endpoints_are_asked_from_outside_and_filed_back() {
        let outside: HashMap<IpAddr, IpAddr> = [(ip("127.0.4.1"), ip("127.0.2.1"))].into();
        let mut req = ControlRequest {
            http_request: "http://127.0.4.1:8080/".into(),
            http_request_headers: BTreeMap::new(),
            tcp_connect: vec!["127.0.4.1:8080".into(), "127.0.1.1:8080".into()],
        };
        let moved = translate(&mut req, &outside);
        assert_eq!(req.http_request, "http://127.0.2.1:8080/");
        assert_eq!(req.tcp_connect, vec!["127.0.2.1:8080".to_string(), "127.0.1.1:8080".to_string()]);

        let mut resp = ControlResponse::default();
        resp.dns.addrs = vec!["127.0.2.1".into()];
        resp.tcp_connect.insert("127.0.2.1:8080".into(), ControlTcp { status: true, failure: None });
        file_back(&mut resp, &moved);
        assert_eq!(resp.tcp_connect["127.0.4.1:8080"], ControlTcp { status: true, failure: None });
        assert!(resp.tcp_connect.contains_key("127.0.2.1:8080"));
        assert_eq!(resp.dns.addrs, vec!["127.0.4.1".to_string()]);

        let mut tcp = ControlRequest { http_request: "tcpconnect://127.0.4.1:5222".into(), ..req };
        translate(&mut tcp, &outside);
        assert_eq!(tcp.http_request, "tcpconnect://127.0.2.1:5222");
    }
}
