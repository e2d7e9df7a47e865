//! Measures one endpoint end to end: DNS with every resolver, then TCP/TLS to each address (with
//! the SNI-swap control), the HTTP fetch and the control query concurrently, then the verdict.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use ed25519_dalek::SigningKey;
use url::Url;
use vigil_report::protocol::{ErrorBody, RequestSignature};
use vigil_report::{Blocking, ControlRequest, ControlResponse, DnsQuery, Failure, Measurement, WEB_TEST_NAME, WebKeys};

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
#[derive(Clone)]
pub struct Engine {
    pub dns: DnsConfig,
    pub tls: TlsProbeConfig,
    pub http: HttpConfig,
    /// Client for DoH and the control (trusts the configured roots).
    pub client: reqwest::Client,
    pub control: Option<Url>,
    /// The probe's key: control requests are signed with it (a collector's control serves
    /// enrolled probes only); none sends them unsigned (an open control).
    pub control_key: Option<SigningKey>,
    /// The spool whose `clock.json` holds the probe's clock correction (measured against the
    /// collector's signed time): control requests are signed with the corrected time, as
    /// measurements are stamped with it. None signs with the raw clock.
    pub clock: Option<crate::spool::Spool>,
    /// How long the control may take: it runs the same steps as the probe.
    pub control_timeout: std::time::Duration,
    pub scope: Scope,
    /// The built-in fingerprints and the local ones from the signed probe configuration.
    pub fingerprints: std::sync::Arc<dyn FingerprintLookup + Send + Sync>,
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
            fingerprints: &*self.fingerprints,
            scope: &self.scope,
        };
        classify::apply(&mut keys, &ctx);
        if keys.control_failure.is_some() && keys.blocking == Blocking::Unknown {
            keys.x_reasons.push(format!("control failed: {}", keys.control_failure.as_deref().unwrap_or("")));
        }
        // No address but those measured may appear in free text (OONI scrubs its failures too).
        keys.scrub_free_text();
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

    /// The time (Unix seconds) a control request made at `now` (the probe's clock) is signed
    /// with: corrected as new measurements are (`ClockState::correction_at`), so a probe whose
    /// clock is off but corrected is not refused `clock_skew`.
    fn signing_time(&self, now: time::OffsetDateTime) -> i64 {
        let correction = self.clock.as_ref().and_then(|spool| spool.clock().correction_at(now));
        now.unix_timestamp().saturating_add(correction.unwrap_or(0))
    }

    async fn ask_control(&self, url: &Url, req: &ControlRequest) -> Result<ControlResponse, String> {
        let body = serde_json::to_vec(req).map_err(|e| Failure::unknown(e).to_string())?;
        let mut request =
            self.client.post(url.clone()).timeout(self.control_timeout).header("content-type", "application/json");
        if let Some(key) = &self.control_key {
            let unix_time = self.signing_time(time::OffsetDateTime::now_utc());
            for (name, value) in RequestSignature::sign(key, "POST", url.path(), unix_time, &body).headers() {
                request = request.header(name, value);
            }
        }
        let response = request.body(body).send().await.map_err(|e| failure_map::from_error(&e).to_string())?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            // The collector's stable code says why (`unauthorized`, `unknown_key`, `clock_skew`...).
            let code = match response.bytes().await {
                Ok(bytes) => serde_json::from_slice::<ErrorBody>(&bytes).map(|b| format!(" {}", b.error.code)).ok(),
                Err(_) => None,
            };
            return Err(Failure::unknown(format!("control answered HTTP {status}{}", code.unwrap_or_default())).into());
        }
        let bytes = response.bytes().await.map_err(|e| failure_map::from_error(&e).to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| Failure::unknown(format!("control answer is not valid: {e}")).into())
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    use vigil_report::protocol::{REQUEST_KEY_HEADER, REQUEST_SIGNATURE_HEADER, REQUEST_TIME_HEADER};

    use super::*;

    type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

    /// A control that records what it is sent and refuses it as a collector would.
    async fn recording_control() -> (Url, Seen) {
        let seen: Seen = Arc::default();
        let log = seen.clone();
        let app = axum::Router::new().route(
            "/api/v1/control",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| async move {
                log.lock().unwrap().push((headers, body));
                let error = r#"{"error":{"code":"unknown_key","message":"key x is not enrolled"}}"#;
                (StatusCode::UNAUTHORIZED, [("content-type", "application/json")], error)
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/api/v1/control", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, seen)
    }

    #[tokio::test]
    async fn control_requests_are_signed_with_the_probe_key_and_refusals_name_their_code() {
        let (url, seen) = recording_control().await;
        let key = SigningKey::from_bytes(&[9; 32]);
        let mut engine = crate::runner::engine(&crate::config::Config::default()).unwrap();
        engine.control_key = Some(key.clone());
        let req = ControlRequest {
            http_request: "https://example.com/".into(),
            http_request_headers: BTreeMap::new(),
            tcp_connect: vec!["192.0.2.1:443".into()],
        };
        let failure = engine.ask_control(&url, &req).await.unwrap_err();
        assert_eq!(failure, "unknown_failure: control answered HTTP 401 unknown_key");

        let (headers, body) = seen.lock().unwrap().pop().unwrap();
        let header = |name: &str| headers[name].to_str().unwrap().to_string();
        let signature = RequestSignature {
            key_id: header(REQUEST_KEY_HEADER),
            unix_time: header(REQUEST_TIME_HEADER).parse().unwrap(),
            signature: header(REQUEST_SIGNATURE_HEADER),
        };
        assert_eq!(signature.key_id, vigil_report::signed::key_id(&key.verifying_key()));
        signature.verify(&key.verifying_key(), "POST", "/api/v1/control", &body).expect("a valid signature");
        assert_eq!(serde_json::from_slice::<ControlRequest>(&body).unwrap(), req);

        engine.control_key = None;
        let _ = engine.ask_control(&url, &req).await;
        let (headers, _) = seen.lock().unwrap().pop().unwrap();
        assert!(headers.get(REQUEST_SIGNATURE_HEADER).is_none(), "no key, no signature");
    }

    /// Review of item 5: a probe whose clock is 20 minutes fast, corrected against the
    /// collector's signed time, signs its control requests with the corrected time (the
    /// collector allows 600 s either way), as it stamps its measurements.
    #[tokio::test]
    async fn control_requests_are_signed_with_the_corrected_clock() {
        let (url, seen) = recording_control().await;
        let dir = tempfile::tempdir().unwrap();
        let spool = crate::spool::Spool::open(dir.path(), 1 << 20).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let sample = crate::skew::Sample { offset_ms: 1_200_000, rtt_ms: 50, collector_time: now };
        spool.save_clock(&crate::skew::ClockState::from_sample(&sample)).unwrap();
        let mut engine = crate::runner::engine(&crate::config::Config::default()).unwrap();
        engine.control_key = Some(SigningKey::from_bytes(&[9; 32]));
        engine.clock = Some(spool);
        let req = ControlRequest {
            http_request: "https://example.com/".into(),
            http_request_headers: BTreeMap::new(),
            tcp_connect: Vec::new(),
        };
        let before = time::OffsetDateTime::now_utc().unix_timestamp();
        let _ = engine.ask_control(&url, &req).await;
        let after = time::OffsetDateTime::now_utc().unix_timestamp();
        let (headers, _) = seen.lock().unwrap().pop().unwrap();
        let signed: i64 = headers[REQUEST_TIME_HEADER].to_str().unwrap().parse().unwrap();
        assert!((before - 1200..=after - 1200).contains(&signed), "signed {signed}, clock {before}..{after}");
        // The measurement stamp and the signature use the one correction.
        assert_eq!(engine.signing_time(now), now.unix_timestamp() - 1200);
        engine.clock = None;
        assert_eq!(engine.signing_time(now), now.unix_timestamp(), "without a spool, the raw clock");
    }
}
