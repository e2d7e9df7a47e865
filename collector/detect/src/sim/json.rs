//! Realistic measurement JSON for simulated observations (the OONI-style envelope of
//! `vigil-report`), for the collector's replay and demo: what a probe would have signed.

use std::collections::BTreeMap;

use serde_json::Value;
use vigil_report::{
    Blocking, DATA_FORMAT_VERSION, Measurement, Mechanism, MechanismFamily, PLATFORM_TEST_NAME, PlatformEndpoint,
    PlatformKeys, PlatformStatus, SOFTWARE_NAME, TEST_VERSION,
};

use crate::obs::{
    HEARTBEAT_TEST_NAME, HeartbeatKeys, Observation, PlatformKind, THROTTLING_TEST_NAME, ThrottlingKeys, What,
    format_utc,
};

/// The measurement a probe would have produced for `o` (`vigil_platform`, `vigil_heartbeat` or
/// `vigil_throttling`); None for [`What::Alive`], which stands for measurements of any shape.
/// `id` is `o.measurement_id` (or empty), times are `o.at`.
pub fn measurement_json(o: &Observation) -> Option<Value> {
    let id = o.measurement_id.clone().unwrap_or_default();
    let (test_name, input, keys, runtime) = match &o.what {
        What::Alive => return None,
        What::Heartbeat => {
            let keys = HeartbeatKeys {
                spooled: o.meta.backlog.unwrap_or(0),
                uptime_s: o.meta.uptime.unwrap_or(0),
                stopping: o.meta.stopping,
                ..HeartbeatKeys::default()
            };
            (HEARTBEAT_TEST_NAME, None, serde_json::to_value(keys).ok()?, 0.05)
        }
        What::Platform { platform, kind, status, mechanism, .. } => {
            let keys = platform_keys(&id, platform, *kind, *status, *mechanism);
            (PLATFORM_TEST_NAME, Some(platform.clone()), serde_json::to_value(keys).ok()?, 4.2)
        }
        What::Throttling { platform, ratio, verdict, rate_kbps, mechanism } => {
            let control = rate_kbps.map(|r| r / ratio.max(1e-6));
            let mut keys = ThrottlingKeys::summary(platform, *ratio, *verdict, *rate_kbps, control.map(|c| c.round()));
            keys.mechanism = *mechanism;
            (THROTTLING_TEST_NAME, Some(platform.clone()), serde_json::to_value(keys).ok()?, 12.0)
        }
    };
    let start = format_utc(o.at);
    let m = Measurement {
        id,
        data_format_version: DATA_FORMAT_VERSION.to_string(),
        measurement_start_time: start.clone(),
        test_start_time: start,
        input,
        test_name: test_name.to_string(),
        test_version: TEST_VERSION.to_string(),
        software_name: SOFTWARE_NAME.to_string(),
        software_version: env!("CARGO_PKG_VERSION").to_string(),
        probe_asn: format!("AS{}", o.asn),
        probe_cc: o.cc.clone(),
        resolver_ip: None,
        test_runtime: runtime,
        annotations: BTreeMap::from([("simulated".to_string(), "true".to_string())]),
        test_keys: keys,
    };
    serde_json::to_value(m).ok()
}

fn platform_keys(
    id: &str,
    platform: &str,
    kind: PlatformKind,
    status: PlatformStatus,
    mechanism: Option<Mechanism>,
) -> PlatformKeys {
    let blocking = match (status, mechanism.map(Mechanism::family)) {
        (PlatformStatus::Ok, _) => Blocking::No,
        (PlatformStatus::Blocked, Some(MechanismFamily::Dns)) => Blocking::Dns,
        (PlatformStatus::Blocked, Some(MechanismFamily::TcpIp)) => Blocking::TcpIp,
        (PlatformStatus::Blocked, Some(MechanismFamily::Http))
            if matches!(mechanism, Some(Mechanism::HttpBlockpage | Mechanism::HttpDiff)) =>
        {
            Blocking::HttpDiff
        }
        (PlatformStatus::Blocked, _) => Blocking::HttpFailure,
        (PlatformStatus::Unknown | PlatformStatus::NetworkDown, _) => Blocking::Unknown,
    };
    let accessible = match status {
        PlatformStatus::Ok => Some(true),
        PlatformStatus::Blocked | PlatformStatus::NetworkDown => Some(false),
        PlatformStatus::Unknown => None,
    };
    let reasons = match status {
        PlatformStatus::Ok => vec![],
        PlatformStatus::Blocked => {
            vec![format!("{platform}: every endpoint of a group failed while the control succeeded")]
        }
        PlatformStatus::Unknown => vec![format!("{platform}: endpoints failed but the control failed too")],
        PlatformStatus::NetworkDown => vec!["every endpoint and every control failed: the network is down".to_string()],
    };
    PlatformKeys {
        platform: platform.to_string(),
        kind: match kind {
            PlatformKind::Platform => "platform".to_string(),
            PlatformKind::Control => "control".to_string(),
        },
        status,
        mechanism,
        endpoints: vec![PlatformEndpoint {
            input: format!("https://{platform}.example/"),
            group: "web".to_string(),
            measurement_id: format!("{id}-0"),
            blocking,
            accessible,
            mechanism,
        }],
        reasons,
    }
}
