//! Measures one endpoint end to end: DNS with every resolver, then TCP/TLS to each address (with
//! the SNI-swap control), the HTTP fetch and the control query concurrently, then the verdict.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use url::Url;
use vigil_report::{Blocking, ControlRequest, ControlResponse, DnsQuery, Measurement, WEB_TEST_NAME, WebKeys};

use crate::battery::Input;
use crate::bogon::Scope;
use crate::classify::{self, Context, FingerprintLookup, Target};
use crate::clock::Clock;
use crate::dns::{self, DnsConfig};
use crate::http::{self, HttpConfig};
use crate::tls::{self, TlsProbeConfig};
use crate::{failure_map, timestamp};

/// At most this many addresses per endpoint are connected to (CDNs return many).
const MAX_ADDRESSES: usize = 6;

/// Everything needed to measure endpoints; built once per run and shared.
pub struct Engine {
    pub dns: DnsConfig,
    pub tls: TlsProbeConfig,
    pub http: HttpConfig,
    /// Client for DoH and the control (trusts the configured roots).
    pub client: reqwest::Client,
    pub control: Option<Url>,
    /// How long the control may take: it runs the same steps as the probe.
    pub control_timeout: std::time::Duration,
    pub scope: Scope,
    pub fingerprints: &'static (dyn FingerprintLookup + Send + Sync),
    /// The innocuous SNI of the SNI-swap control.
    pub swap_sni: String,
    pub ipv6: bool,
    pub probe_cc: String,
    pub probe_asn: String,
}

/// Where an endpoint sits in the battery (absent for one-shot checks).
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub platform: Option<String>,
    pub group: Option<String>,
}

impl Engine {
    /// Measure one endpoint. `test_start_time` is the run's start (OONI layout).
    pub async fn measure(&self, input: &Input, origin: &Origin, test_start_time: &str) -> Measurement<WebKeys> {
        let start_wall = timestamp::now();
        let clock = Clock::start();
        let (target, host, port, url) = match input {
            Input::Url(url) => {
                let https = url.scheme() == "https";
                let port = url.port_or_known_default().unwrap_or(if https { 443 } else { 80 });
                (
                    if https { Target::Https } else { Target::Http },
                    url.host_str().unwrap_or_default().to_string(),
                    port,
                    Some(url),
                )
            }
            Input::Tcp { host, port } => (Target::Tcp, host.clone(), *port, None),
        };
        let literal: Option<IpAddr> = host.trim_matches(|c| c == '[' || c == ']').parse().ok();

        // 1. DNS.
        let queries: Vec<DnsQuery> = match literal {
            Some(_) => Vec::new(),
            None => dns::resolve(&host, &self.dns, Some(&self.client), &clock).await,
        };
        let probe_view = probe_addresses(&queries, literal);
        let mut to_connect = probe_view.clone();
        for ip in queries.iter().filter(|q| q.engine == "doh").flat_map(|q| q.answers.iter().filter_map(|a| a.ip())) {
            if !to_connect.contains(&ip) {
                to_connect.push(ip);
            }
        }
        let to_connect: Vec<IpAddr> = to_connect
            .into_iter()
            .filter(|ip| self.scope.may_measure(*ip) && (self.ipv6 || ip.is_ipv4()))
            .take(MAX_ADDRESSES)
            .collect();

        // 2. Connect, fetch and ask the control, concurrently.
        let sni = host.clone();
        let connects = futures_util::future::join_all(to_connect.iter().map(|ip| {
            let addr = SocketAddr::new(*ip, port);
            let sni = &sni;
            let clock = &clock;
            async move {
                match target {
                    Target::Https => tls::probe_address(addr, sni, &self.swap_sni, &self.tls, clock).await,
                    _ => {
                        let (record, _stream) = tls::tcp_connect(addr, self.tls.connect_timeout, clock).await;
                        tls::AddressResult { tcp: vec![record], tls: Vec::new() }
                    }
                }
            }
        }));
        let fetch_addrs: Vec<IpAddr> = probe_view.iter().copied().filter(|ip| self.ipv6 || ip.is_ipv4()).collect();
        let fetch = async {
            match url {
                Some(url) if !fetch_addrs.is_empty() => {
                    Some(http::fetch(url, &fetch_addrs, &self.http, &self.dns, &self.scope, &clock).await)
                }
                _ => None,
            }
        };
        let control_req = ControlRequest {
            http_request: input.to_string(),
            http_request_headers: BTreeMap::new(),
            tcp_connect: to_connect.iter().map(|ip| SocketAddr::new(*ip, port).to_string()).collect(),
        };
        let control = async {
            match &self.control {
                Some(url) => Some(self.ask_control(url, &control_req).await),
                None => None,
            }
        };
        let (connects, fetch, control) = tokio::join!(connects, fetch, control);

        // 3. Record and classify.
        let mut keys = empty_keys(origin, queries);
        for result in connects {
            keys.tcp_connect.extend(result.tcp);
            keys.tls_handshakes.extend(result.tls);
        }
        if let Some(fetch) = fetch {
            keys.http_experiment_failure = fetch.requests.first().and_then(|t| t.failure.clone());
            keys.requests = fetch.requests;
            keys.queries.extend(fetch.queries);
        }
        match control {
            Some(Ok(response)) => keys.control = Some(response),
            Some(Err(failure)) => keys.control_failure = Some(failure),
            None => {}
        }
        keys.client_resolver = dns::system_resolver_ip().map(|ip| ip.to_string());
        let ctx = Context {
            target,
            host: literal.is_none().then_some(host.as_str()),
            port,
            probe_cc: &self.probe_cc,
            fingerprints: self.fingerprints,
            scope: &self.scope,
        };
        classify::apply(&mut keys, &ctx);
        if keys.control_failure.is_some() && keys.blocking == Blocking::Unknown {
            keys.x_reasons.push(format!("control failed: {}", keys.control_failure.as_deref().unwrap_or("")));
        }
        Measurement {
            measurement_start_time: start_wall,
            resolver_ip: keys.client_resolver.clone(),
            test_runtime: clock.elapsed(),
            ..crate::envelope(
                WEB_TEST_NAME,
                Some(input.to_string()),
                test_start_time.to_string(),
                self.probe_asn.clone(),
                self.probe_cc.clone(),
                keys,
            )
        }
    }

    async fn ask_control(&self, url: &Url, req: &ControlRequest) -> Result<ControlResponse, String> {
        let body = serde_json::to_vec(req).map_err(|e| format!("unknown_failure: {e}"))?;
        let response = self
            .client
            .post(url.clone())
            .timeout(self.control_timeout)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| failure_map::from_error(&e).to_string())?;
        if !response.status().is_success() {
            return Err(format!("unknown_failure: control answered HTTP {}", response.status().as_u16()));
        }
        let bytes = response.bytes().await.map_err(|e| failure_map::from_error(&e).to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| format!("unknown_failure: control answer is not valid: {e}"))
    }
}

/// The addresses a user of this network would connect to: the system resolver's answers first,
/// then the UDP resolvers', in order, without duplicates.
fn probe_addresses(queries: &[DnsQuery], literal: Option<IpAddr>) -> Vec<IpAddr> {
    if let Some(ip) = literal {
        return vec![ip];
    }
    let mut out: Vec<IpAddr> = Vec::new();
    for engine in ["system", "udp"] {
        for ip in queries.iter().filter(|q| q.engine == engine).flat_map(|q| q.answers.iter().filter_map(|a| a.ip())) {
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    out
}

fn empty_keys(origin: &Origin, queries: Vec<DnsQuery>) -> WebKeys {
    WebKeys {
        platform: origin.platform.clone(),
        endpoint_group: origin.group.clone(),
        client_resolver: None,
        queries,
        tcp_connect: Vec::new(),
        tls_handshakes: Vec::new(),
        requests: Vec::new(),
        control: None,
        control_failure: None,
        dns_experiment_failure: None,
        dns_consistency: None,
        http_experiment_failure: None,
        body_length_match: None,
        body_proportion: None,
        status_code_match: None,
        headers_match: None,
        title_match: None,
        blocking: Blocking::Unknown,
        accessible: None,
        mechanism: None,
        x_confirmed: false,
        x_fingerprints: Vec::new(),
        x_reasons: Vec::new(),
    }
}
