//! The control's HTTP fetch: a GET like a browser's (at most 10 redirects, a 512 KiB snapshot
//! for the title), that never connects to an address the policy refuses.
//!
//! Every connection reqwest opens goes either to a name, resolved by [`PolicyResolver`] (refused
//! addresses filtered out), or to an IP literal, which the first URL and each redirect are checked
//! for before reqwest may follow them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use url::{Host, Url};
use vigil_report::{ControlHttp, Failure, MaybeBinary};

use crate::ControlConfig;
use crate::failure::{TooManyRedirects, classify, title};
use crate::policy::{Refusal, TargetPolicy};
use crate::resolve::{PolicyResolver, Refused};

/// The body snapshot searched for a `<title>` (OONI's cap).
const SNAPSHOT: usize = 512 * 1024;
/// A browser's redirect limit.
const MAX_REDIRECTS: usize = 10;
/// The request headers passed on from the probe (OONI's test helper passes the same ones).
const FORWARDED_HEADERS: [&str; 3] = ["accept", "accept-language", "user-agent"];

/// GET `url`, whose host already resolved to `addrs` (all allowed by the policy).
pub(crate) async fn http(
    url: &Url,
    addrs: &[SocketAddr],
    headers: &BTreeMap<String, Vec<String>>,
    cfg: &ControlConfig,
) -> ControlHttp {
    match fetch(url, addrs, headers, cfg).await {
        Ok(http) => http,
        Err(failure) => failed(failure),
    }
}

/// The HTTP record of a fetch that did not get a response.
pub(crate) fn failed(failure: Failure) -> ControlHttp {
    ControlHttp {
        body_length: -1,
        failure: Some(failure.into()),
        title: MaybeBinary::default(),
        headers: BTreeMap::new(),
        status_code: -1,
    }
}

async fn fetch(
    url: &Url,
    addrs: &[SocketAddr],
    headers: &BTreeMap<String, Vec<String>>,
    cfg: &ControlConfig,
) -> Result<ControlHttp, Failure> {
    if let Err(why) = check_host(url, &cfg.policy) {
        return Err(crate::failure::refused(why));
    }
    let resolver = PolicyResolver { resolver: cfg.resolver.clone(), policy: cfg.policy.clone(), timeout: cfg.timeout };
    let policy = cfg.policy.clone();
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(TooManyRedirects(MAX_REDIRECTS))
        } else if let Err(why) = check_host(attempt.url(), &policy) {
            attempt.error(Refused(why))
        } else {
            attempt.follow()
        }
    });
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls((*cfg.tls).clone())
        .dns_resolver(Arc::new(resolver))
        .redirect(redirects)
        .timeout(cfg.timeout)
        .no_proxy();
    if let Some(Host::Domain(name)) = url.host() {
        // The first hop goes to the addresses the control already resolved (and checked).
        builder = builder.resolve_to_addrs(name, addrs);
    }
    let client = builder.build().map_err(|e| Failure::unknown(format!("building the HTTP client: {e}")))?;

    let mut request = client.get(url.clone());
    for (name, values) in headers {
        if FORWARDED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            for value in values {
                request = request.header(name.as_str(), value.as_str());
            }
        }
    }
    let mut response = request.send().await.map_err(|e| classify(&e))?;
    let status_code = i64::from(response.status().as_u16());
    let mut headers = BTreeMap::new();
    for (name, value) in response.headers() {
        headers.entry(name.as_str().to_string()).or_insert_with(|| MaybeBinary::from_bytes(value.as_bytes().to_vec()));
    }
    let mut body_length = 0i64;
    let mut snapshot = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
        body_length = body_length.saturating_add(i64::try_from(chunk.len()).unwrap_or(i64::MAX));
        let room = SNAPSHOT.saturating_sub(snapshot.len());
        snapshot.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    let title = title(&snapshot);
    Ok(ControlHttp { body_length, failure: None, title, headers, status_code })
}

/// Refused if `url` names an IP literal the policy refuses (names are checked when resolved).
fn check_host(url: &Url, policy: &TargetPolicy) -> Result<(), Refusal> {
    match url.host() {
        Some(Host::Ipv4(ip)) => policy.check(ip.into()),
        Some(Host::Ipv6(ip)) => policy.check(ip.into()),
        Some(Host::Domain(name)) => match name.parse::<std::net::IpAddr>() {
            Ok(ip) => policy.check(ip),
            Err(_) => Ok(()),
        },
        None => Err(Refusal::NotPublic),
    }
}
