//! One control measurement: resolve the URL's host, connect (and handshake TLS) to every allowed
//! address concurrently with the HTTP fetch, and describe each address.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;
use url::{Host, Url};
use vigil_report::control::ControlDns;
use vigil_report::{ControlRequest, ControlResponse, ControlTcp, ControlTls, Failure, IpInfo};

use crate::failure::{classify, refused};
use crate::policy::{Refusal, is_non_public};
use crate::resolve::{lookup, refusal};
use crate::{ControlConfig, ControlError, fetch};

/// The most `ip:port` endpoints a probe may ask the control to connect to. Vigil's probe sends
/// the addresses it connected to, at most 6 per endpoint (`probe/src/measure.rs`); 16 leaves room
/// for a host's IPv4 and IPv6 sets without making each request a scan of many hosts.
pub const MAX_PROBE_ENDPOINTS: usize = 16;
/// The most addresses of the target's name the control itself connects to (a name may resolve
/// to hundreds; the rest are still reported in `dns.addrs`).
pub const MAX_CONTROL_ADDRESSES: usize = 8;

const FLAG_PROBE: u32 = 1;
const FLAG_CONTROL: u32 = 2;
const FLAG_BOGON: u32 = 4;
const FLAG_VALID_TLS: u32 = 8;

/// What the request asks for, once validated.
struct Target {
    url: Url,
    host: String,
    port: u16,
    /// `http` or `https`, not `tcpconnect`.
    is_web: bool,
}

/// Measure `req` from the control's vantage point.
///
/// Fails with [`ControlError::BadRequest`] on an unusable input and with
/// [`ControlError::TargetNotPublic`] or [`ControlError::TargetOwnAddress`] when the host has no
/// address the policy allows. Measurement
/// failures (DNS, TCP, TLS, HTTP) are not errors: they are in the response, as OONI labels.
pub async fn measure(req: &ControlRequest, cfg: &ControlConfig) -> Result<ControlResponse, ControlError> {
    let target = parse_target(&req.http_request)?;
    if req.tcp_connect.len() > MAX_PROBE_ENDPOINTS {
        return Err(ControlError::BadRequest(format!(
            "{} tcp_connect endpoints, at most {MAX_PROBE_ENDPOINTS} are measured",
            req.tcp_connect.len()
        )));
    }
    let probe_endpoints: BTreeSet<SocketAddr> = req.tcp_connect.iter().filter_map(|e| e.parse().ok()).collect();

    let resolved = match target.host.parse::<IpAddr>() {
        Ok(ip) => Ok(vec![ip]),
        Err(_) => lookup(cfg.resolver.as_ref(), &target.host, cfg.timeout).await,
    };
    let (dns, allowed) = match resolved {
        Ok(ips) => {
            let allowed: Vec<IpAddr> = ips.iter().copied().filter(|ip| cfg.policy.allows(*ip)).collect();
            if allowed.is_empty() {
                return Err(match refusal(&cfg.policy, ips) {
                    Refusal::OwnAddress => ControlError::TargetOwnAddress { host: target.host },
                    Refusal::NotPublic => ControlError::TargetNotPublic { host: target.host },
                });
            }
            let dns = ControlDns { failure: None, addrs: allowed.iter().map(IpAddr::to_string).collect() };
            (dns, allowed.into_iter().take(MAX_CONTROL_ADDRESSES).collect())
        }
        Err(failure) => (ControlDns { failure: Some(failure.into()), addrs: Vec::new() }, Vec::new()),
    };

    let own: Vec<SocketAddr> = allowed.iter().map(|ip| SocketAddr::new(*ip, target.port)).collect();
    let endpoints: BTreeSet<SocketAddr> = own.iter().chain(&probe_endpoints).copied().collect();
    let mut tasks = JoinSet::new();
    let mut refused_endpoints = Vec::new();
    for endpoint in endpoints {
        if let Err(why) = cfg.policy.check(endpoint.ip()) {
            refused_endpoints.push((endpoint, why));
            continue;
        }
        let tls_wanted = target.url.scheme() == "https" || (target.is_web && endpoint.port() == 443);
        let sni = tls_wanted.then(|| target.host.clone());
        let tls = cfg.tls.clone();
        let timeout = cfg.timeout;
        tasks.spawn(async move {
            let (tcp, tls) = connect(endpoint, sni.as_deref(), tls, timeout).await;
            (endpoint, tcp, tls)
        });
    }
    let http = async {
        match (&dns.failure, target.is_web) {
            (_, false) => None,
            (Some(failure), true) => Some(fetch::failed(Failure::from(failure.clone()))),
            (None, true) => Some(fetch::http(&target.url, &own, &req.http_request_headers, cfg).await),
        }
    };
    let (http_request, results) = tokio::join!(http, tasks.join_all());

    let mut response = ControlResponse { dns, http_request, ..ControlResponse::default() };
    for (endpoint, why) in refused_endpoints {
        let tcp = ControlTcp { status: false, failure: Some(refused(why).into()) };
        response.tcp_connect.insert(endpoint.to_string(), tcp);
    }
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
    response.ip_info = ip_info(&allowed, &probe_endpoints, &tls_valid, cfg);
    // No address but those measured in free text, as the probe's own records (OONI scrubs too).
    response.scrub_own_free_text();
    Ok(response)
}

/// The URL (`http`, `https` or `tcpconnect://host:port`) with its host and port.
fn parse_target(input: &str) -> Result<Target, ControlError> {
    let bad = |why: String| ControlError::BadRequest(why);
    let url = Url::parse(input).map_err(|e| bad(format!("invalid URL {input:?}: {e}")))?;
    let is_web = match url.scheme() {
        "http" | "https" => true,
        "tcpconnect" => false,
        other => return Err(bad(format!("unsupported scheme {other:?}: use http, https or tcpconnect"))),
    };
    let host = match url.host() {
        Some(Host::Domain(name)) => name.trim_end_matches('.').to_string(),
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(bad(format!("URL without a host: {input:?}"))),
    };
    if host.is_empty() {
        return Err(bad(format!("URL without a host: {input:?}")));
    }
    let port = url.port_or_known_default().ok_or_else(|| bad(format!("URL without a port: {input:?}")))?;
    Ok(Target { url, host, port, is_web })
}

/// TCP connect to `addr` and, with `sni`, a TLS handshake verified by `tls`.
async fn connect(
    addr: SocketAddr,
    sni: Option<&str>,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> (ControlTcp, Option<ControlTls>) {
    let tcp = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return (ControlTcp { status: false, failure: Some(classify(&e).into()) }, None),
        Err(_) => return (ControlTcp { status: false, failure: Some(Failure::GenericTimeout.into()) }, None),
    };
    let tcp_ok = ControlTcp { status: true, failure: None };
    let Some(sni) = sni else {
        return (tcp_ok, None);
    };
    let failure = match ServerName::try_from(sni.to_string()) {
        Err(e) => Some(Failure::unknown(format!("invalid server name {sni}: {e}"))),
        Ok(name) => match tokio::time::timeout(timeout, TlsConnector::from(tls).connect(name, tcp)).await {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(classify(&e)),
            Err(_) => Some(Failure::GenericTimeout),
        },
    };
    let tls =
        ControlTls { server_name: sni.to_string(), status: failure.is_none(), failure: failure.map(String::from) };
    (tcp_ok, Some(tls))
}

/// OONI's `ip_info`: the ASN and flags of every address the probe or the control saw.
fn ip_info(
    resolved: &[IpAddr],
    probe: &BTreeSet<SocketAddr>,
    tls_valid: &BTreeSet<IpAddr>,
    cfg: &ControlConfig,
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
            if is_non_public(ip) {
                flag |= FLAG_BOGON;
            }
            if tls_valid.contains(&ip) {
                flag |= FLAG_VALID_TLS;
            }
            (ip.to_string(), IpInfo { asn: (cfg.asn_lookup)(ip), flags: flag })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_parsed_and_bad_ones_refused() {
        let t = parse_target("https://Example.COM./path").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.is_web), ("example.com", 443, true));
        let t = parse_target("tcpconnect://e1.whatsapp.net:5222").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.is_web), ("e1.whatsapp.net", 5222, false));
        let t = parse_target("http://[::1]:8080/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8080));
        let t = parse_target("http://2130706433/").unwrap();
        assert_eq!(t.host, "127.0.0.1", "numeric hosts are normalised, then judged as IPs");
        for bad in ["ftp://example.com/", "file:///etc/passwd", "tcpconnect://example.com", "not a url", "http://"] {
            let err = parse_target(bad).err().unwrap_or_else(|| panic!("{bad} accepted"));
            assert_eq!(err.code(), "bad_request", "{bad}");
        }
    }
}
