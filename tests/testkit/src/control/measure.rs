//! The control's own measurements of one URL: TCP connect, TLS handshake and HTTP fetch, each
//! failure labelled with OONI's vocabulary.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::CertificateError;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use vigil_report::{ControlHttp, ControlTcp, ControlTls, Failure};

use crate::zone::Zone;

/// The body snapshot searched for a `<title>` (OONI's cap).
const SNAPSHOT: usize = 512 * 1024;
/// A browser's redirect limit.
const MAX_REDIRECTS: usize = 10;

/// TCP connect to `addr` and, with `sni`, a TLS handshake verified by `tls`.
pub(super) async fn endpoint(
    addr: SocketAddr,
    sni: Option<&str>,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> (ControlTcp, Option<ControlTls>) {
    let tcp = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return (tcp_failed(classify(&e)), None),
        Err(_) => return (tcp_failed(Failure::GenericTimeout), None),
    };
    let tcp_ok = ControlTcp { status: true, failure: None };
    let Some(sni) = sni else {
        return (tcp_ok, None);
    };
    let failure = match ServerName::try_from(sni.to_string()) {
        Err(e) => Some(Failure::unknown(format!("invalid server name {sni}: {e}"))),
        Ok(name) => {
            let handshake = TlsConnector::from(tls).connect(name, tcp);
            match tokio::time::timeout(timeout, handshake).await {
                Ok(Ok(_)) => None,
                Ok(Err(e)) => Some(classify(&e)),
                Err(_) => Some(Failure::GenericTimeout),
            }
        }
    };
    let tls =
        ControlTls { server_name: sni.to_string(), status: failure.is_none(), failure: failure.map(String::from) };
    (tcp_ok, Some(tls))
}

fn tcp_failed(failure: Failure) -> ControlTcp {
    ControlTcp { status: false, failure: Some(failure.into()) }
}

/// What the fetch needs: where names resolve, whom TLS trusts, how long to wait.
pub(super) struct Fetch<'a> {
    pub zone: &'a Zone,
    pub tls: rustls::ClientConfig,
    pub timeout: Duration,
    pub host: &'a str,
    pub addrs: &'a [SocketAddr],
    pub headers: &'a BTreeMap<String, Vec<String>>,
}

/// GET `url` like a browser (redirects followed), resolving every name from the zone.
pub(super) async fn http(url: &str, fetch: Fetch<'_>) -> ControlHttp {
    match http_inner(url, fetch).await {
        Ok(http) => http,
        Err(failure) => ControlHttp {
            body_length: -1,
            failure: Some(failure.into()),
            title: String::new(),
            headers: BTreeMap::new(),
            status_code: -1,
        },
    }
}

async fn http_inner(url: &str, fetch: Fetch<'_>) -> Result<ControlHttp, Failure> {
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(fetch.tls)
        .dns_resolver(Arc::new(ZoneResolver(fetch.zone.clone())))
        .resolve_to_addrs(fetch.host, fetch.addrs)
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .timeout(fetch.timeout)
        .no_proxy()
        .build()
        .map_err(|e| Failure::unknown(format!("building the HTTP client: {e}")))?;
    let mut request = client.get(url);
    for (name, values) in fetch.headers {
        for value in values {
            request = request.header(name.as_str(), value.as_str());
        }
    }
    let mut response = request.send().await.map_err(|e| classify(&e))?;
    let status_code = i64::from(response.status().as_u16());
    let mut headers = BTreeMap::new();
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers.entry(name.as_str().to_string()).or_insert(value);
    }
    let mut body_length = 0i64;
    let mut snapshot = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
        body_length += chunk.len() as i64;
        let room = SNAPSHOT.saturating_sub(snapshot.len());
        snapshot.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    let title = title(&String::from_utf8_lossy(&snapshot));
    Ok(ControlHttp { body_length, failure: None, title, headers, status_code })
}

/// reqwest resolves every name (first URL and redirect targets) from the zone's truth.
struct ZoneResolver(Zone);

#[derive(Debug)]
struct DnsError(Failure);

impl std::fmt::Display for DnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl StdError for DnsError {}

impl reqwest::dns::Resolve for ZoneResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let result = self.0.resolve(name.as_str());
        Box::pin(async move {
            match result {
                Ok(ips) => {
                    let addrs: reqwest::dns::Addrs =
                        Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect::<Vec<_>>().into_iter());
                    Ok(addrs)
                }
                Err(failure) => Err(Box::new(DnsError(failure)) as Box<dyn StdError + Send + Sync>),
            }
        })
    }
}

/// The OONI label for an error, from the first cause in its chain that says what happened.
pub(super) fn classify(err: &(dyn StdError + 'static)) -> Failure {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(failure) = label(e) {
            return failure;
        }
        cause = next_cause(e);
    }
    Failure::unknown(chain_text(err))
}

/// The cause of `e`. An `io::Error` wrapping another error reports that error's *source* as its
/// own, skipping the wrapped error itself; descend into it instead.
fn next_cause<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    match e.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
        Some(inner) => Some(inner),
        None => e.source(),
    }
}

fn label(e: &(dyn StdError + 'static)) -> Option<Failure> {
    if let Some(e) = e.downcast_ref::<reqwest::Error>() {
        if e.is_timeout() {
            return Some(Failure::GenericTimeout);
        }
        if e.is_redirect() {
            return Some(Failure::HttpTooManyRedirects);
        }
    }
    if let Some(DnsError(failure)) = e.downcast_ref::<DnsError>() {
        return Some(failure.clone());
    }
    if let Some(e) = e.downcast_ref::<rustls::Error>() {
        return Some(tls_failure(e));
    }
    if let Some(e) = e.downcast_ref::<std::io::Error>() {
        return io_failure(e.kind());
    }
    if let Some(e) = e.downcast_ref::<hyper::Error>() {
        if e.is_incomplete_message() {
            return Some(Failure::Eof);
        }
        if e.is_parse() {
            return Some(Failure::HttpProtocolError);
        }
    }
    None
}

fn io_failure(kind: std::io::ErrorKind) -> Option<Failure> {
    use std::io::ErrorKind::*;
    Some(match kind {
        ConnectionRefused => Failure::ConnectionRefused,
        ConnectionReset | ConnectionAborted | BrokenPipe => Failure::ConnectionReset,
        UnexpectedEof => Failure::Eof,
        TimedOut => Failure::GenericTimeout,
        HostUnreachable => Failure::HostUnreachable,
        NetworkUnreachable => Failure::NetworkUnreachable,
        _ => return None,
    })
}

fn tls_failure(e: &rustls::Error) -> Failure {
    match e {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Failure::SslInvalidHostname
            }
            CertificateError::UnknownIssuer => Failure::SslUnknownAuthority,
            _ => Failure::SslInvalidCertificate,
        },
        _ => Failure::SslFailedHandshake,
    }
}

fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = next_cause(err);
    while let Some(e) = cause {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = next_cause(e);
    }
    text
}

/// The text of the first `<title>` element, trimmed ("" when there is none).
pub(crate) fn title(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let Some(open) = lower.find("<title") else {
        return String::new();
    };
    let Some(start) = lower[open..].find('>').map(|i| open + i + 1) else {
        return String::new();
    };
    let end = lower[start..].find("</title").map_or(html.len(), |i| start + i);
    html[start..end].trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_found_case_insensitively() {
        assert_eq!(title("<html><TITLE lang=en> Just a moment... </Title>"), "Just a moment...");
        assert_eq!(title("<p>no title</p>"), "");
    }

    #[test]
    fn io_errors_map_to_ooni_labels() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(classify(&refused), Failure::ConnectionRefused);
        let expired = rustls::Error::InvalidCertificate(CertificateError::Expired);
        let wrapped = std::io::Error::new(std::io::ErrorKind::InvalidData, expired);
        assert_eq!(classify(&wrapped), Failure::SslInvalidCertificate);
    }
}
