//! The heartbeat: a small signed sign of life sent straight to the collector every few minutes,
//! spooled (as routine, shed first) only when it cannot be sent; and, when it cannot, a cheap
//! check of the battery's control sites whose total failure is spooled as `network_down`
//! evidence, uploaded after restoration.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout};
use vigil_report::{
    Blocking, HEARTBEAT_TEST_NAME, HeartbeatKeys, MEASUREMENT_FORMAT, Measurement, PLATFORM_TEST_NAME,
    PlatformEndpoint, PlatformKeys, PlatformStatus, Signed,
};

use crate::battery::{Battery, PlatformKind};
use crate::bogon::Scope;
use crate::daemon::Probe;
use crate::spool::Class;
use crate::spool::compact::seal_platform;
use crate::upload::UploadError;

/// `input` and `platform` of the connectivity check spooled when everything fails.
pub use vigil_report::limits::CONNECTIVITY_CHECK;
/// Timeout of each step (DNS, TCP connect) of the connectivity check.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// `interval` randomised by ±20%.
pub fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.8 + 0.4 * rand::random::<f64>())
}

/// The heartbeat measurement (no address, only counters).
pub fn measurement(probe: &Probe, keys: HeartbeatKeys) -> Measurement<HeartbeatKeys> {
    crate::envelope(
        HEARTBEAT_TEST_NAME,
        None,
        crate::timestamp::now(),
        probe.config.probe.asn.clone(),
        probe.config.probe.country.clone(),
        keys,
    )
}

/// The keys from the spool's cheap counters (`spooled`: the caller's running count).
pub fn keys(probe: &Probe, spooled: u64, uptime: Duration) -> HeartbeatKeys {
    let counters = probe.spool.counters().unwrap_or_default();
    let spool_bytes = probe.spool.segments().map(|s| s.iter().map(|s| s.bytes).sum()).unwrap_or(0);
    HeartbeatKeys {
        spooled,
        uptime_s: uptime.as_secs(),
        spool_bytes,
        dropped_routine: counters.dropped_routine,
        dropped_evidence: counters.dropped_evidence,
        rejected: counters.rejected,
        stopping: false,
    }
}

/// The keys of the probe's last words: [`keys`] with `stopping`, so the collector reads the
/// silence after it as a stop, not as an outage.
pub fn last_keys(probe: &Probe, spooled: u64, uptime: Duration) -> HeartbeatKeys {
    HeartbeatKeys { stopping: true, ..keys(probe, spooled, uptime) }
}

/// One control endpoint to try: host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlTarget {
    pub input: String,
    pub group: String,
    pub host: String,
    pub port: u16,
}

/// Every endpoint of the battery's control platforms.
pub fn control_targets(battery: &Battery) -> Vec<ControlTarget> {
    let controls = battery.platforms.iter().filter(|p| p.kind == PlatformKind::Control);
    controls
        .flat_map(|p| &p.endpoints)
        .map(|e| ControlTarget {
            input: e.input.to_string(),
            group: e.group.clone(),
            host: e.input.host().to_string(),
            port: e.input.port(),
        })
        .collect()
}

/// Resolve and connect to one target; `Err` says which step failed, in failure labels. Also the
/// address it connected to, if it got that far (measured, so it stays in the reasons).
async fn try_target(t: ControlTarget, scope: Scope, step: Duration) -> (Option<IpAddr>, Result<(), String>) {
    let host = t.host.clone();
    let lookup = tokio::task::spawn_blocking(move || dns_lookup::lookup_host(&host).map(|a| a.collect::<Vec<_>>()));
    let addrs: Vec<SocketAddr> = match timeout(step, lookup).await {
        Ok(Ok(Ok(a))) => {
            a.into_iter().filter(|ip| scope.may_measure(*ip)).map(|ip| SocketAddr::new(ip, t.port)).collect()
        }
        Ok(Ok(Err(e))) => return (None, Err(format!("dns: {}", vigil_failure::from_getaddrinfo(e)))),
        Ok(Err(join)) => return (None, Err(format!("dns: {}", vigil_failure::from_join(&join)))),
        Err(_) => return (None, Err("dns: generic_timeout_error".into())),
    };
    let Some(addr) = addrs.first() else { return (None, Err("dns: no public address".into())) };
    let result = match timeout(step, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("tcp {addr}: {}", crate::failure_map::from_io(&e).label())),
        Err(_) => Err(format!("tcp {addr}: generic_timeout_error")),
    };
    (Some(addr.ip()), result)
}

/// Try every control at once; the network is down when none answers. Returns the
/// `network_down` summary then, None when a control answered (or there is none).
pub async fn check_controls(
    probe: &Probe,
    targets: &[ControlTarget],
    scope: &Scope,
    step: Duration,
) -> Option<Measurement<PlatformKeys>> {
    let start_time = crate::timestamp::now();
    let started = Instant::now();
    let mut set = JoinSet::new();
    for (i, t) in targets.iter().enumerate() {
        let (t, scope) = (t.clone(), scope.clone());
        set.spawn(async move { (i, try_target(t, scope, step).await) });
    }
    let mut reasons = vec![String::new(); targets.len()];
    // The targets' own addresses (published as inputs) and those connected to stay.
    let mut measured: BTreeSet<IpAddr> = targets.iter().filter_map(|t| t.host.parse().ok()).collect();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((_, (_, Ok(())))) => return None,
            Ok((i, (addr, Err(why)))) => {
                measured.extend(addr);
                reasons[i] = format!("{}: {why}", targets[i].input);
            }
            Err(e) => reasons.push(format!("check task failed: {e}")),
        }
    }
    if targets.is_empty() {
        return None;
    }
    let endpoints = targets
        .iter()
        .map(|t| PlatformEndpoint {
            input: t.input.clone(),
            group: t.group.clone(),
            measurement_id: String::new(),
            blocking: Blocking::Unknown,
            accessible: Some(false),
            mechanism: None,
        })
        .collect();
    let mut keys = PlatformKeys {
        platform: CONNECTIVITY_CHECK.into(),
        kind: "control".into(),
        status: PlatformStatus::NetworkDown,
        mechanism: None,
        endpoints,
        reasons,
    };
    // Addresses other than those connected to never enter the signed record's free text.
    keys.scrub_free_text(&measured);
    Some(Measurement {
        measurement_start_time: start_time.clone(),
        test_runtime: started.elapsed().as_secs_f64(),
        ..crate::envelope(
            PLATFORM_TEST_NAME,
            Some(CONNECTIVITY_CHECK.into()),
            start_time,
            probe.config.probe.asn.clone(),
            probe.config.probe.country.clone(),
            keys,
        )
    })
}

/// What one heartbeat did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Beat {
    /// The collector acknowledged it.
    Sent,
    /// Not enrolled: nothing sent, nothing spooled.
    NotEnrolled,
    /// It could not be sent (`error`) and was spooled; `network_down`: every control failed too
    /// and that record was spooled as evidence.
    Spooled { error: String, network_down: bool },
}

fn sign(m: &Measurement<HeartbeatKeys>, key: &SigningKey) -> Signed {
    let payload = serde_json::to_string(m).unwrap_or_else(|_| "{}".into());
    Signed::sign(MEASUREMENT_FORMAT, payload, key)
}

async fn send(probe: &Probe, signed: Signed) -> Result<(), UploadError> {
    let mut collector = probe.collector()?;
    let ack = collector.submit(vec![signed]).await?;
    // The ack is what counts: a clock.json that cannot be written loses only the correction.
    if let Some(clock) = collector.take_clock()
        && let Err(e) = probe.spool.note_clock(&clock)
    {
        eprintln!("vigil-probe: heartbeat acknowledged, but the clock correction was not kept: {e}");
    }
    match ack.results.first() {
        Some(r) if r.status.is_stored() => Ok(()),
        // Refused in a signed ack (e.g. `future_timestamp` before the clock correction is known):
        // the collector answered, so this is no sign of a network outage.
        Some(r) if let Some(e) = &r.error => Err(UploadError::Refused {
            status: 200,
            code: e.kind(),
            message: format!("the heartbeat was refused: {}", e.message),
        }),
        _ => Err(UploadError::BadAck("the heartbeat was not acknowledged".into())),
    }
}

/// How long one heartbeat may take to be sent: half the interval, at most 10 s (a heartbeat
/// later than that is late anyway, and the outage it signals must be spooled promptly).
pub fn send_limit(interval: Duration) -> Duration {
    (interval / 2).min(Duration::from_secs(10))
}

/// How long the last heartbeat (`stopping`, sent on SIGTERM/SIGINT) may take to be sent, and
/// then the control check when it was not: a stop must never wait on an unreachable collector
/// (OpenWrt's procd kills a service 5 s after SIGTERM, systemd 90 s). With the control check
/// and the spool write, the probe exits within about twice this after the signal.
pub const STOP_LIMIT: Duration = Duration::from_millis(1500);

/// The limit of one heartbeat: [`send_limit`], or [`STOP_LIMIT`] for the last words.
pub fn limit_for(keys: &HeartbeatKeys, interval: Duration) -> Duration {
    let limit = send_limit(interval);
    if keys.stopping { limit.min(STOP_LIMIT) } else { limit }
}

/// Send one heartbeat within `limit`; when it fails, spool it and check the controls (see the
/// module doc).
pub async fn beat(
    probe: &Probe,
    keys: HeartbeatKeys,
    targets: &[ControlTarget],
    scope: &Scope,
    limit: Duration,
) -> Beat {
    // The last words must leave time for the check's two steps within the stop's bound.
    let step = if keys.stopping { limit / 2 } else { CHECK_TIMEOUT.min(limit) };
    let signed = sign(&probe.corrected(&measurement(probe, keys)), &probe.key);
    let sent = timeout(limit, send(probe, signed.clone())).await.unwrap_or_else(|_| {
        let message = format!("generic_timeout_error: no acknowledgement in {} ms", limit.as_millis());
        Err(UploadError::Unreachable { url: "the pinned collector".into(), message })
    });
    let error = match sent {
        Ok(()) => return Beat::Sent,
        Err(UploadError::NotEnrolled(_)) => return Beat::NotEnrolled,
        Err(e) => e,
    };
    let mut items = vec![(Class::Routine, signed)];
    // A collector that answered (busy, refused) proves the network works.
    let answered = matches!(error, UploadError::Busy { .. } | UploadError::Refused { .. });
    let mut network_down = false;
    if !answered && let Some(down) = check_controls(probe, targets, scope, step).await {
        items.push(seal_platform(&probe.corrected(&down), &probe.key));
        network_down = true;
    }
    let mut text = error.to_string();
    if let Err(e) = probe.spool.add(items) {
        text += &format!("; cannot spool: {e}");
    }
    Beat::Spooled { error: text, network_down }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, TcpListener};

    const LIMIT: Duration = Duration::from_secs(10);

    use axum::Json;
    use vigil_report::STATEMENT_FORMAT;
    use vigil_report::protocol::{ItemResult, ItemStatus, SubmitAck, SubmitRequest};
    use vigil_report::signed::{encode_public_key, key_id};

    use super::*;
    use crate::config::Config;
    use crate::identity::{CollectorPin, probe_key_id};
    use crate::spool::compact::measurement_id;

    fn probe(dir: &std::path::Path) -> Probe {
        let mut config = Config::default();
        config.identity.key_file = dir.join("probe.key");
        config.spool.dir = dir.join("spool");
        Probe::start(config).unwrap()
    }

    fn lab() -> Scope {
        Scope::lab(vec!["127.0.0.0/8".parse().unwrap()])
    }

    /// A loopback port nobody listens on.
    fn closed_port() -> u16 {
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
    }

    fn target(port: u16) -> ControlTarget {
        let input = format!("tcpconnect://127.0.0.1:{port}");
        ControlTarget { input, group: "web".into(), host: "127.0.0.1".into(), port }
    }

    /// Pin a collector at `url`, signing with `collector`.
    fn enroll(p: &Probe, url: &str, collector: &SigningKey) {
        let key = collector.verifying_key();
        let pin = CollectorPin {
            url: url.into(),
            collector_key: encode_public_key(&key),
            collector_key_id: key_id(&key),
            key_id: probe_key_id(&p.key),
        };
        pin.save(&p.pin_path()).unwrap();
    }

    /// A collector on loopback that acknowledges every measurement (or answers 503 when `busy`).
    async fn fake_collector(busy: bool) -> (String, SigningKey) {
        let key = SigningKey::from_bytes(&[7; 32]);
        let signer = key.clone();
        let submit = move |Json(req): Json<SubmitRequest>| async move {
            if busy {
                return Err(axum::http::StatusCode::SERVICE_UNAVAILABLE);
            }
            let results = req
                .measurements
                .iter()
                .map(|s| ItemResult { id: measurement_id(s), status: ItemStatus::Accepted, error: None })
                .collect();
            let ack = SubmitAck { kind: "ack".into(), received_at: "2026-01-01T00:00:00Z".into(), results };
            let payload = serde_json::to_string(&ack).unwrap();
            Ok(Json(Signed::sign(STATEMENT_FORMAT, payload, &signer)))
        };
        let app = axum::Router::new().route(crate::upload::SUBMIT_PATH, axum::routing::post(submit));
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, key)
    }

    fn spooled(p: &Probe) -> Vec<(Class, serde_json::Value)> {
        let mut out = Vec::new();
        for seg in p.spool.segments().unwrap() {
            for s in p.spool.read_segment(&seg).unwrap().0 {
                s.verify(MEASUREMENT_FORMAT, &p.key.verifying_key()).unwrap();
                out.push((seg.class, serde_json::from_str(&s.payload).unwrap()));
            }
        }
        out
    }

    #[test]
    fn a_heartbeat_is_small_carries_counters_and_no_address() {
        let dir = tempfile::tempdir().unwrap();
        let p = probe(dir.path());
        let m = measurement(&p, keys(&p, 3, Duration::from_secs(125)));
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["test_name"], "vigil_heartbeat");
        assert_eq!(json["software_name"], "vigil-probe");
        assert_eq!(json["software_version"], env!("CARGO_PKG_VERSION"));
        assert!(json["input"].is_null() && json["resolver_ip"].is_null());
        assert!(json.get("probe_ip").is_none());
        let k = &json["test_keys"];
        assert_eq!((k["spooled"].as_u64(), k["uptime_s"].as_u64()), (Some(3), Some(125)));
        for key in ["spool_bytes", "dropped_routine", "dropped_evidence", "rejected"] {
            assert_eq!(k[key].as_u64(), Some(0), "{key}");
        }
        assert!(serde_json::to_string(&m).unwrap().len() < 600);
        let back: Measurement<HeartbeatKeys> = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
    }

    #[tokio::test]
    async fn unreachable_controls_make_a_network_down_record_and_reachable_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let p = probe(dir.path());
        let closed = [target(closed_port()), target(closed_port())];
        let down = check_controls(&p, &closed, &lab(), CHECK_TIMEOUT).await.expect("network down");
        assert_eq!((down.test_name.as_str(), down.input.as_deref()), (PLATFORM_TEST_NAME, Some(CONNECTIVITY_CHECK)));
        let k = &down.test_keys;
        assert_eq!(
            (k.platform.as_str(), k.kind.as_str(), k.status),
            ("controls", "control", PlatformStatus::NetworkDown)
        );
        assert_eq!(k.endpoints.len(), 2);
        assert!(k.reasons.iter().all(|r| r.contains("connection_refused")), "{:?}", k.reasons);
        // Outside a lab, loopback is never a control: the check fails without connecting.
        let field = check_controls(&p, &closed, &Scope::field(), CHECK_TIMEOUT).await.unwrap();
        assert!(field.test_keys.reasons[0].contains("no public address"));

        // A name that does not resolve says so in a failure label, not in getaddrinfo's words.
        let nowhere = ControlTarget { host: "vigil-test.invalid".into(), ..target(closed_port()) };
        let unresolved = check_controls(&p, &[nowhere], &lab(), CHECK_TIMEOUT).await.unwrap();
        let reason = &unresolved.test_keys.reasons[0];
        assert!(reason.ends_with(": dns: dns_nxdomain_error") || reason.contains(": dns: dns_server_"), "{reason}");

        let open = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let one_up = [target(closed_port()), target(open.local_addr().unwrap().port())];
        assert!(check_controls(&p, &one_up, &lab(), CHECK_TIMEOUT).await.is_none());
        assert!(check_controls(&p, &[], &lab(), CHECK_TIMEOUT).await.is_none());
    }

    #[tokio::test]
    async fn a_failed_heartbeat_is_spooled_as_routine_with_signed_network_down_evidence() {
        let dir = tempfile::tempdir().unwrap();
        let p = probe(dir.path());
        let hb = HeartbeatKeys::default();
        assert_eq!(beat(&p, hb.clone(), &[], &lab(), LIMIT).await, Beat::NotEnrolled);
        enroll(&p, &format!("http://127.0.0.1:{}/", closed_port()), &SigningKey::from_bytes(&[7; 32]));
        let beat_result = beat(&p, hb.clone(), &[target(closed_port())], &lab(), LIMIT).await;
        assert!(matches!(beat_result, Beat::Spooled { network_down: true, .. }), "{beat_result:?}");
        let stored = spooled(&p);
        assert_eq!(stored.len(), 2);
        let (class, m) = stored.iter().find(|(_, m)| m["test_name"] == "vigil_heartbeat").unwrap();
        assert_eq!(*class, Class::Routine, "{m}");
        let (class, m) = stored.iter().find(|(_, m)| m["test_name"] == "vigil_platform").unwrap();
        assert_eq!(*class, Class::Evidence);
        assert_eq!((m["input"].as_str(), m["test_keys"]["status"].as_str()), (Some("controls"), Some("network_down")));

        // Controls answer: only the heartbeat is spooled.
        let open = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let up = [target(open.local_addr().unwrap().port())];
        let beat_result = beat(&p, hb, &up, &lab(), LIMIT).await;
        assert!(matches!(beat_result, Beat::Spooled { network_down: false, .. }), "{beat_result:?}");
        assert_eq!(spooled(&p).len(), 3);
    }

    #[tokio::test]
    async fn an_acknowledged_heartbeat_is_sent_even_when_the_clock_cannot_be_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = probe(dir.path());
        // clock.json cannot be written (a directory is in its place).
        std::fs::create_dir(dir.path().join("spool/clock.json")).unwrap();
        let (url, key) = fake_collector(false).await;
        enroll(&p, &url, &key);
        assert_eq!(beat(&p, HeartbeatKeys::default(), &[], &lab(), LIMIT).await, Beat::Sent);
        assert!(spooled(&p).is_empty(), "not spooled as unsent");
    }

    #[tokio::test]
    async fn a_heartbeat_the_collector_acknowledges_is_not_spooled_and_a_busy_one_skips_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let p = probe(dir.path());
        let closed = [target(closed_port())];
        let (url, key) = fake_collector(false).await;
        enroll(&p, &url, &key);
        assert_eq!(beat(&p, HeartbeatKeys::default(), &closed, &lab(), LIMIT).await, Beat::Sent);
        assert!(spooled(&p).is_empty());
        let (url, key) = fake_collector(true).await;
        enroll(&p, &url, &key);
        let result = beat(&p, HeartbeatKeys::default(), &closed, &lab(), LIMIT).await;
        assert!(matches!(result, Beat::Spooled { network_down: false, .. }), "{result:?}");
        assert_eq!(spooled(&p).len(), 1);
    }
}
