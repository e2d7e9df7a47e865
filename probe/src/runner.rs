//! Runs many endpoints (a one-shot `check` or the whole battery) in parallel within a bound, and
//! summarises each platform. Wall time is about the longest timeout, not the sum.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use url::Url;
use vigil_report::{Measurement, PLATFORM_TEST_NAME, PlatformEndpoint, PlatformKeys, PlatformStatus, WebKeys};

use crate::battery::{Battery, Input, PlatformKind};
use crate::bogon::Scope;
use crate::config::{Config, parse_resolver};
use crate::dns::{self, DnsConfig};
use crate::fingerprint::FingerprintSet;
use crate::http::{BODY_CAP, HttpConfig, USER_AGENT};
use crate::measure::{Engine, Origin};
use crate::tls::{self, TlsProbeConfig};
use crate::{platform, timestamp};

/// Errors setting the engine up, each naming what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("tls_setup: {0}")]
    Tls(String),
    #[error("config_invalid: {0}")]
    Config(String),
}

impl SetupError {
    pub fn label(&self) -> &'static str {
        match self {
            SetupError::Tls(_) => "tls_setup",
            SetupError::Config(_) => "config_invalid",
        }
    }
}

/// Build the measurement engine from a validated configuration.
pub fn engine(config: &Config) -> Result<Engine, SetupError> {
    tls::install_crypto_provider();
    let verified = tls::client_config(&config.network.ca_files).map_err(|e| SetupError::Tls(e.to_string()))?;
    let client = reqwest::Client::builder()
        .use_preconfigured_tls((*verified).clone())
        .timeout(Duration::from_millis(config.network.http_timeout_ms.max(config.dns.timeout_ms)))
        .no_proxy()
        .build()
        .map_err(|e| SetupError::Tls(e.to_string()))?;
    let udp = config
        .dns
        .resolvers
        .iter()
        .map(|r| parse_resolver(r).map_err(|e| SetupError::Config(format!("dns.resolvers: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let url_or_none = |key: &str, text: &str| -> Result<Option<Url>, SetupError> {
        if text.is_empty() {
            return Ok(None);
        }
        Url::parse(text).map(Some).map_err(|e| SetupError::Config(format!("{key}: {e}")))
    };
    let lab_nets = config
        .network
        .lab_nets
        .iter()
        .map(|n| n.parse().map_err(|e| SetupError::Config(format!("network.lab_nets: {n}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let ipv6 = match config.network.ipv6.as_str() {
        "always" => true,
        "never" => false,
        _ => dns::host_has_ipv6(),
    };
    Ok(Engine {
        dns: DnsConfig {
            system: config.dns.system,
            udp,
            doh: url_or_none("dns.doh", &config.dns.doh)?,
            timeout: Duration::from_millis(config.dns.timeout_ms),
            linger: Duration::from_millis(config.dns.linger_ms),
        },
        tls: TlsProbeConfig {
            verified: verified.clone(),
            unverified: tls::no_verify_config(),
            connect_timeout: Duration::from_millis(config.network.connect_timeout_ms),
            handshake_timeout: Duration::from_millis(config.network.tls_timeout_ms),
            alpn: vec![b"http/1.1".to_vec()],
        },
        http: HttpConfig {
            timeout: Duration::from_millis(config.network.http_timeout_ms),
            body_cap: BODY_CAP,
            max_redirects: 10,
            user_agent: USER_AGENT.into(),
            tls: verified,
        },
        client,
        control: url_or_none("control.url", &config.control.url)?,
        control_key: None,
        clock: None,
        control_timeout: Duration::from_millis(
            config.dns.timeout_ms
                + config.network.connect_timeout_ms
                + config.network.tls_timeout_ms
                + config.network.http_timeout_ms,
        ),
        scope: Scope::lab(lab_nets),
        fingerprints: Arc::new(FingerprintSet::builtin()),
        swap_sni: config.network.swap_sni.clone(),
        ipv6,
        probe_cc: config.probe.country.clone(),
        probe_asn: config.probe.asn.clone(),
    })
}

/// What one run produced.
#[derive(Debug, Default)]
pub struct RunOutput {
    pub measurements: Vec<Measurement<WebKeys>>,
    pub platforms: Vec<Measurement<PlatformKeys>>,
}

/// Measure `inputs` (with their battery origin) concurrently, at most `concurrency` at once.
/// `progress` sees each measurement as it completes.
pub async fn run_inputs(
    engine: Arc<Engine>,
    inputs: Vec<(Input, Origin)>,
    concurrency: usize,
    mut progress: impl FnMut(&Measurement<WebKeys>),
) -> Vec<Measurement<WebKeys>> {
    let start = timestamp::now();
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (index, (input, origin)) in inputs.into_iter().enumerate() {
        let engine = engine.clone();
        let permits = permits.clone();
        let start = start.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore is never closed");
            (index, engine.measure(&input, &origin, &start).await)
        });
    }
    let mut done = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, m)) = joined {
            progress(&m);
            done.push((index, m));
        }
    }
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, m)| m).collect()
}

/// Run a whole battery and summarise each platform.
pub async fn run_battery(
    engine: Arc<Engine>,
    battery: &Battery,
    concurrency: usize,
    progress: impl FnMut(&Measurement<WebKeys>),
) -> RunOutput {
    let started = timestamp::now();
    let inputs = battery
        .platforms
        .iter()
        .flat_map(|p| {
            p.endpoints
                .iter()
                .map(|e| (e.input.clone(), Origin { platform: Some(p.id.clone()), group: Some(e.group.clone()) }))
        })
        .collect();
    let measurements = run_inputs(engine.clone(), inputs, concurrency, progress).await;
    let platforms = summarise(&engine, battery, &measurements, &started);
    RunOutput { measurements, platforms }
}

/// One `vigil_platform` measurement per platform of the battery.
pub fn summarise(
    engine: &Engine,
    battery: &Battery,
    measurements: &[Measurement<WebKeys>],
    test_start_time: &str,
) -> Vec<Measurement<PlatformKeys>> {
    let endpoint = |m: &Measurement<WebKeys>| PlatformEndpoint {
        input: m.input.clone().unwrap_or_default(),
        group: m.test_keys.endpoint_group.clone().unwrap_or_default(),
        measurement_id: m.id.clone(),
        blocking: m.test_keys.blocking,
        accessible: m.test_keys.accessible,
        mechanism: m.test_keys.mechanism,
    };
    let all: Vec<PlatformEndpoint> = measurements.iter().map(endpoint).collect();
    let down = platform::network_down(&all);
    battery
        .platforms
        .iter()
        .map(|p| {
            let endpoints: Vec<PlatformEndpoint> = measurements
                .iter()
                .filter(|m| m.test_keys.platform.as_deref() == Some(p.id.as_str()))
                .map(endpoint)
                .collect();
            let (mut status, mut mechanism, mut reasons) = platform::summarise(&endpoints);
            if down {
                status = PlatformStatus::NetworkDown;
                mechanism = None;
                reasons.insert(0, "every endpoint failed, the neutral controls included: the network is down".into());
            }
            let runtime: f64 = measurements
                .iter()
                .filter(|m| m.test_keys.platform.as_deref() == Some(p.id.as_str()))
                .map(|m| m.test_runtime)
                .fold(0.0, f64::max);
            Measurement {
                resolver_ip: dns::system_resolver_ip().map(|ip| ip.to_string()),
                test_runtime: runtime,
                ..crate::envelope(
                    PLATFORM_TEST_NAME,
                    Some(p.id.clone()),
                    test_start_time.into(),
                    engine.probe_asn.clone(),
                    engine.probe_cc.clone(),
                    PlatformKeys {
                        platform: p.id.clone(),
                        kind: match p.kind {
                            PlatformKind::Control => "control".into(),
                            PlatformKind::Platform => "platform".into(),
                        },
                        status,
                        mechanism,
                        endpoints,
                        reasons,
                    },
                )
            }
        })
        .collect()
}
