//! HTTP(S) GET through reqwest, one hop at a time: status, headers, title, a body snapshot capped
//! at 512 KiB, and redirects followed by hand (at most 10) so every hop is recorded.
//!
//! The client never resolves names on its own: each hop connects to addresses the probe's own DNS
//! measurement produced (so a censored answer is what gets fetched, as for a real user), and only to
//! addresses the [`Scope`] allows.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::ClientConfig;
use url::Url;
use vigil_report::{DnsQuery, Failure, HttpRequest, HttpResponse, HttpTransaction, MaybeBinary};

use crate::bogon::Scope;
use crate::clock::Clock;
use crate::dns::{self, DnsConfig};
use crate::failure_map;

/// Settings for fetching.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub timeout: Duration,
    pub body_cap: usize,
    pub max_redirects: usize,
    pub user_agent: String,
    pub tls: Arc<ClientConfig>,
}

/// Body snapshot cap (OONI's 512 KiB).
pub const BODY_CAP: usize = 512 * 1024;

/// The browser-like headers OONI sends.
const ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const ACCEPT_LANGUAGE: &str = "en-US,en;q=0.9";
pub const USER_AGENT: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";

/// What a fetch recorded: the hops (newest first, as OONI orders `requests`) and the DNS queries
/// made for redirect targets on other hosts.
#[derive(Debug, Default)]
pub struct Fetch {
    pub requests: Vec<HttpTransaction>,
    pub queries: Vec<DnsQuery>,
}

/// GET `url`, connecting to `addrs` for its host and resolving other hosts met in redirects with
/// `dns` (system and UDP resolvers only).
pub async fn fetch(
    url: &Url,
    addrs: &[IpAddr],
    cfg: &HttpConfig,
    dns_cfg: &DnsConfig,
    scope: &Scope,
    clock: &Clock,
) -> Fetch {
    let mut out = Fetch::default();
    let mut current = url.clone();
    let first_host = url.host_str().unwrap_or_default().to_string();
    let hop_dns = DnsConfig { doh: None, ..dns_cfg.clone() };
    for hop in 0..=cfg.max_redirects {
        let host = current.host_str().unwrap_or_default().to_string();
        let hop_addrs: Vec<IpAddr> = if let Some(ip) = ip_literal(&current) {
            vec![ip]
        } else if host == first_host {
            addrs.to_vec()
        } else {
            let queries = dns::resolve(&host, &hop_dns, None, clock).await;
            let found: Vec<IpAddr> = queries.iter().flat_map(|q| q.answers.iter().filter_map(|a| a.ip())).collect();
            let failure = queries.iter().find_map(|q| q.failure.clone());
            out.queries.extend(queries);
            if found.is_empty() {
                let failure = failure.unwrap_or(Failure::DnsNoAnswer);
                out.requests.insert(0, failed(&current, failure, clock.elapsed(), clock));
                return out;
            }
            found
        };
        let allowed: Vec<IpAddr> = dedup(hop_addrs.into_iter().filter(|ip| scope.may_measure(*ip)));
        let t0 = clock.elapsed();
        if allowed.is_empty() {
            let failure = Failure::unknown("not measured: no public address to connect to");
            out.requests.insert(0, failed(&current, failure, t0, clock));
            return out;
        }
        let tx = get_once(&current, &allowed, cfg, clock).await;
        let location = tx
            .response
            .as_ref()
            .filter(|r| matches!(r.code, 301 | 302 | 303 | 307 | 308))
            .and_then(|r| header(&r.headers, "location"))
            .map(|v| v.text().into_owned());
        out.requests.insert(0, tx);
        let Some(location) = location else { return out };
        match current.join(&location) {
            Ok(next) if next.host_str().is_some_and(|h| !h.is_empty()) && matches!(next.scheme(), "http" | "https") => {
                if hop == cfg.max_redirects {
                    out.requests.insert(0, failed(&next, Failure::HttpTooManyRedirects, clock.elapsed(), clock));
                    return out;
                }
                current = next;
            }
            _ => {
                let failure = Failure::HttpInvalidRedirectLocationHost;
                if let Some(last) = out.requests.first_mut() {
                    last.failure = Some(failure);
                }
                return out;
            }
        }
    }
    out
}

fn dedup(ips: impl Iterator<Item = IpAddr>) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    for ip in ips {
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

fn ip_literal(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

fn request_record(url: &Url, user_agent: &str) -> HttpRequest {
    let mut headers = BTreeMap::new();
    headers.insert("Accept".to_string(), ACCEPT.to_string());
    headers.insert("Accept-Language".to_string(), ACCEPT_LANGUAGE.to_string());
    headers.insert("User-Agent".to_string(), user_agent.to_string());
    HttpRequest { method: "GET".into(), url: url.to_string(), headers }
}

fn failed(url: &Url, failure: Failure, t0: f64, clock: &Clock) -> HttpTransaction {
    HttpTransaction {
        request: request_record(url, USER_AGENT),
        response: None,
        failure: Some(failure),
        t0,
        t: clock.elapsed(),
    }
}

/// One GET, no redirect following.
async fn get_once(url: &Url, addrs: &[IpAddr], cfg: &HttpConfig, clock: &Clock) -> HttpTransaction {
    let t0 = clock.elapsed();
    let request = request_record(url, &cfg.user_agent);
    let result = async {
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls((*cfg.tls).clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(cfg.timeout)
            .no_proxy()
            .http1_only();
        if let Some(host) = url.host_str().filter(|_| ip_literal(url).is_none()) {
            let sockets: Vec<SocketAddr> = addrs.iter().map(|ip| SocketAddr::new(*ip, 0)).collect();
            builder = builder.resolve_to_addrs(host, &sockets);
        }
        let client = builder.build()?;
        let mut req = client.get(url.clone());
        for (name, value) in &request.headers {
            req = req.header(name, value);
        }
        let mut response = req.send().await?;
        let code = response.status().as_u16();
        let headers = canonical_headers(response.headers());
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await? {
            let room = cfg.body_cap - body.len();
            if chunk.len() >= room {
                body.extend_from_slice(&chunk[..room]);
                truncated = chunk.len() > room || response.chunk().await.ok().flatten().is_some();
                break;
            }
            body.extend_from_slice(&chunk);
        }
        // The bytes as received (OONI's base64 form when not UTF-8); the title from a text view.
        let body = MaybeBinary::from_bytes(body);
        let title = extract_title(&body.text());
        Ok::<_, reqwest::Error>(HttpResponse {
            code,
            headers,
            body_length: body.len() as u64,
            body,
            body_is_truncated: truncated,
            title,
        })
    }
    .await;
    let (response, failure) = match result {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(failure_map::from_error(&e))),
    };
    HttpTransaction { request, response, failure, t0, t: clock.elapsed() }
}

/// `content-type` → `Content-Type`, first value of each header (OONI's `headers` map), the value
/// byte for byte.
fn canonical_headers(map: &reqwest::header::HeaderMap) -> BTreeMap<String, MaybeBinary> {
    let mut out = BTreeMap::new();
    for (name, value) in map {
        let canonical = name
            .as_str()
            .split('-')
            .map(|part| {
                let mut chars = part.chars();
                chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("-");
        out.entry(canonical).or_insert_with(|| MaybeBinary::from_bytes(value.as_bytes().to_vec()));
    }
    out
}

/// Case-insensitive header lookup.
pub fn header<'a>(headers: &'a BTreeMap<String, MaybeBinary>, name: &str) -> Option<&'a MaybeBinary> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// The page's `<title>`, whitespace collapsed.
pub fn extract_title(body: &str) -> Option<String> {
    static RE: OnceLock<regex_lite::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| regex_lite::Regex::new(r"(?is)<title[^>]*>(.*?)</title>").expect("valid regex"));
    let raw = re.captures(body)?.get(1)?.as_str();
    let title = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_extracted_and_collapsed() {
        assert_eq!(extract_title("<html><TITLE lang=en>\n Hello\n  world </title>").as_deref(), Some("Hello world"));
        assert_eq!(extract_title("<html>no title</html>"), None);
    }

    #[test]
    fn headers_are_canonicalised() {
        let mut map = reqwest::header::HeaderMap::new();
        map.insert("content-type", "text/html".parse().unwrap());
        map.insert("x-fb-debug", "1".parse().unwrap());
        let out = canonical_headers(&map);
        assert_eq!(out.get("Content-Type").map(MaybeBinary::text).as_deref(), Some("text/html"));
        assert_eq!(header(&out, "X-FB-DEBUG").map(MaybeBinary::text).as_deref(), Some("1"));
    }

    #[test]
    fn header_values_that_are_not_utf8_are_kept_byte_for_byte() {
        let mut map = reqwest::header::HeaderMap::new();
        let raw = [b'n', b'a', 0xef, 0xf0, b'e'];
        map.insert("x-vendor", reqwest::header::HeaderValue::from_bytes(&raw).unwrap());
        let out = canonical_headers(&map);
        let value = header(&out, "X-Vendor").unwrap();
        assert_eq!(value.as_bytes(), &raw[..]);
        assert!(matches!(value, MaybeBinary::Binary(_)));
        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(json["X-Vendor"]["format"], "base64", "{json}");
    }
}
