//! The detection input: one [`Observation`] per stored measurement, and how the collector
//! derives it from a stored row.
//!
//! Derivation ([`observe`]), from a row of the collector's `measurements` table:
//! - `at` = `measurement_start_time` (the probe's clock; detection corrects each probe's skew
//!   with the median of `received_at - at` over its live uploads), `received_at` = when the
//!   collector stored it, `probe` = the signing key id, `cc`/`asn` = the collector's own
//!   enrichment (not the probe's claim), `measurement_id` = the measurement's `id`.
//! - `vigil_platform` (a [`PlatformKeys`] summary) → [`What::Platform`], `family` taken from
//!   the mechanism. A probe whose heartbeat fails is expected to check its controls and spool
//!   the result as a `vigil_platform` measurement with `input` = [`CONNECTIVITY_CHECK`],
//!   `kind` = `control`, `status` = `network_down`: that is the spooled evidence that later
//!   confirms and refines a shutdown.
//! - `vigil_heartbeat` ([`HeartbeatKeys`]) → [`What::Heartbeat`], its `spooled`, `uptime_s` and
//!   `stopping` kept in [`Meta`] (left at their defaults when the keys do not parse: the
//!   heartbeat still counts).
//! - `vigil_throttling` ([`ThrottlingKeys`]) → [`What::Throttling`].
//! - any other test (e.g. `vigil_web_connectivity`) → [`What::Alive`]: only a sign of life.
//!
//! Every observation counts as a sign of life at `at`, except `network_down` ones, and
//! [`What::Alive`] and [`What::Heartbeat`] only when uploaded live (a heartbeat or web
//! measurement spooled during an outage proves the probe was powered, not that the network worked).

use serde::{Deserialize, Serialize};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};
/// `input`/`platform` of the connectivity check a probe spools when its heartbeat fails.
pub use vigil_report::limits::CONNECTIVITY_CHECK;
pub use vigil_report::{
    HEARTBEAT_TEST_NAME, HeartbeatKeys, THROTTLING_TEST_NAME, ThrottleMechanism, ThrottleVerdict, ThrottlingKeys,
};
use vigil_report::{Measurement, Mechanism, MechanismFamily, PLATFORM_TEST_NAME, PlatformKeys, PlatformStatus};

/// One thing a probe reported, reduced to what detection needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// `measurement_start_time`, Unix seconds, on the probe's clock.
    pub at: i64,
    /// When the collector stored it, Unix seconds, on the collector's clock.
    pub received_at: i64,
    /// The probe's key id.
    pub probe: String,
    pub cc: String,
    pub asn: u32,
    /// The measurement behind it, so events can link their evidence.
    pub measurement_id: Option<String>,
    pub what: What,
    /// Where it came from and what the probe said about itself (absent in older records).
    #[serde(default, skip_serializing_if = "Meta::is_default")]
    pub meta: Meta,
}

/// What an observation carries besides its verdict: its source, its run, and the probe's own
/// state from a heartbeat (docs/detection.md says how detection reads each).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Meta {
    pub source: Source,
    /// The run it belongs to: OONI's `report_id` (one run's URLs share it); None for Vigil,
    /// whose platform summary is already one per run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Heartbeats: measurements waiting in the probe's spool when it was made (`spooled`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backlog: Option<u64>,
    /// Heartbeats: seconds since the probe started (`uptime_s`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime: Option<u64>,
    /// Heartbeats: the probe's last words, it is stopping (`stopping`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stopping: bool,
}

impl Meta {
    pub fn is_default(&self) -> bool {
        *self == Meta::default()
    }

    /// The meta of a heartbeat with these keys.
    pub fn heartbeat(k: &HeartbeatKeys) -> Self {
        Meta { backlog: Some(k.spooled), uptime: Some(k.uptime_s), stopping: k.stopping, ..Meta::default() }
    }
}

/// Who made the measurement behind an observation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A Vigil probe: signed.
    #[default]
    Vigil,
    /// OONI's open data: imported, never signed.
    Ooni,
}

impl Source {
    /// The stored label (`vigil`, `ooni`).
    pub fn label(self) -> &'static str {
        match self {
            Source::Vigil => "vigil",
            Source::Ooni => "ooni",
        }
    }
}

/// What an observation says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum What {
    /// The probe is alive and can reach the collector.
    Heartbeat,
    /// One platform's (or neutral control's) status in one battery run.
    Platform {
        platform: String,
        kind: PlatformKind,
        status: PlatformStatus,
        family: Option<MechanismFamily>,
        mechanism: Option<Mechanism>,
    },
    /// One platform's throttling test in one run.
    Throttling {
        platform: String,
        /// Median goodput of the target arm over the control arm (T/C).
        ratio: f64,
        verdict: ThrottleVerdict,
        /// The throttled goodput, when throttled.
        rate_kbps: Option<f64>,
        /// How the throttle acted, as the probe labelled it (absent in older records).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mechanism: Option<ThrottleMechanism>,
    },
    /// Any other measurement: a sign of life only.
    Alive,
}

/// `kind` of a `vigil_platform` summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlatformKind {
    Platform,
    /// A neutral site: it must work for a platform failure to mean blocking.
    Control,
}

impl Observation {
    /// Everything failed, controls included.
    pub fn is_network_down(&self) -> bool {
        matches!(self.what, What::Platform { status: PlatformStatus::NetworkDown, .. })
    }

    /// Proof that the network worked at `at` (`live_window`: how soon after `at` an
    /// [`What::Alive`] must arrive to count).
    pub fn is_up(&self, live_window: i64) -> bool {
        match &self.what {
            What::Throttling { .. } => true,
            What::Platform { status, .. } => *status != PlatformStatus::NetworkDown,
            // A heartbeat spooled while the collector was unreachable proves power, not network.
            What::Heartbeat | What::Alive => self.received_at - self.at <= live_window,
        }
    }
}

/// A stored measurement row, as the collector's store holds it.
#[derive(Debug, Clone, Copy)]
pub struct StoredMeasurement<'a> {
    pub id: &'a str,
    pub key_id: &'a str,
    pub test_name: &'a str,
    /// `YYYY-MM-DD HH:MM:SS` (UTC).
    pub measurement_start_time: &'a str,
    pub received_at: i64,
    pub asn: u32,
    pub cc: &'a str,
    /// The signed JSON measurement.
    pub payload: &'a str,
}

/// Why a stored row could not become an observation.
#[derive(Debug, thiserror::Error)]
pub enum ObsError {
    #[error("measurement_start_time {0:?} is not YYYY-MM-DD HH:MM:SS")]
    BadTime(String),
    #[error("{test_name} payload does not parse: {source}")]
    BadPayload { test_name: String, source: serde_json::Error },
    #[error("{0}")]
    BadKind(vigil_report::limits::BadField),
}

/// Derive the observation of one stored measurement (see the module documentation).
pub fn observe(row: &StoredMeasurement<'_>) -> Result<Observation, ObsError> {
    let at =
        parse_utc(row.measurement_start_time).ok_or_else(|| ObsError::BadTime(row.measurement_start_time.into()))?;
    Ok(Observation {
        at,
        received_at: row.received_at,
        probe: row.key_id.to_string(),
        cc: row.cc.to_string(),
        asn: row.asn,
        measurement_id: Some(row.id.to_string()),
        what: what_of(row.test_name, row.payload)?,
        meta: meta_of(row.test_name, row.payload),
    })
}

/// The [`Meta`] of a Vigil measurement of `test_name` with this signed `payload`: a heartbeat's
/// own counters; the default for every other test, and for a heartbeat whose keys do not parse.
pub fn meta_of(test_name: &str, payload: &str) -> Meta {
    if test_name != HEARTBEAT_TEST_NAME {
        return Meta::default();
    }
    serde_json::from_str::<Measurement<HeartbeatKeys>>(payload)
        .map(|m| Meta::heartbeat(&m.test_keys))
        .unwrap_or_default()
}

/// The [`What`] of a measurement of `test_name` with this signed `payload`: the one parse both
/// ingest (which checks the platform id it yields) and [`observe`] use, so what is checked is
/// what is stored. A platform summary whose `kind` is neither `platform` nor `control` is an error.
pub fn what_of(test_name: &str, payload: &str) -> Result<What, ObsError> {
    let bad = |source| ObsError::BadPayload { test_name: test_name.to_string(), source };
    Ok(match test_name {
        PLATFORM_TEST_NAME => {
            let m: Measurement<PlatformKeys> = serde_json::from_str(payload).map_err(bad)?;
            vigil_report::limits::platform_kind(&m.test_keys.kind).map_err(ObsError::BadKind)?;
            platform_what(&m.test_keys)
        }
        HEARTBEAT_TEST_NAME => What::Heartbeat,
        THROTTLING_TEST_NAME => {
            let m: Measurement<ThrottlingKeys> = serde_json::from_str(payload).map_err(bad)?;
            let k = m.test_keys;
            What::Throttling {
                platform: k.platform,
                ratio: k.ratio,
                verdict: k.verdict,
                rate_kbps: k.throttled_rate_kbps,
                mechanism: k.mechanism,
            }
        }
        _ => What::Alive,
    })
}

/// The [`What`] of a `vigil_platform` summary.
pub fn platform_what(k: &PlatformKeys) -> What {
    let kind = if k.kind == "control" { PlatformKind::Control } else { PlatformKind::Platform };
    What::Platform {
        platform: k.platform.clone(),
        kind,
        status: k.status,
        family: k.mechanism.map(Mechanism::family),
        mechanism: k.mechanism,
    }
}

/// Parse OONI's `YYYY-MM-DD HH:MM:SS` (UTC) into Unix seconds.
pub fn parse_utc(s: &str) -> Option<i64> {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(s, fmt).ok().map(|t| t.assume_utc().unix_timestamp())
}

/// Format Unix seconds as OONI's `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn format_utc(t: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp(t).ok().and_then(|d| d.format(fmt).ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_and_bad_times_are_rejected() {
        assert_eq!(parse_utc("2025-03-03 00:00:00"), Some(1_740_960_000));
        assert_eq!(format_utc(1_740_960_000 + 3661), "2025-03-03 01:01:01");
        assert_eq!(parse_utc("2025-03-03T00:00:00Z"), None);
        let row = StoredMeasurement {
            id: "m1",
            key_id: "k",
            test_name: HEARTBEAT_TEST_NAME,
            measurement_start_time: "yesterday",
            received_at: 0,
            asn: 1,
            cc: "ZZ",
            payload: "{}",
        };
        assert!(matches!(observe(&row), Err(ObsError::BadTime(_))));
    }

    #[test]
    fn a_probe_throttling_run_becomes_a_throttling_observation() {
        // The probe's full record (arms, transfers) and an older summary-only one both parse.
        let mut keys = ThrottlingKeys::summary("x", 0.0061, ThrottleVerdict::Throttled, Some(126.0), Some(20_600.0));
        keys.severe = true;
        keys.mechanism = Some(vigil_report::ThrottleMechanism::Policer);
        keys.confirmed = true;
        keys.bytes_received = 700_000;
        let mut m: Measurement<serde_json::Value> = serde_json::from_str(
            r#"{"id":"m1","data_format_version":"0.2.0","measurement_start_time":"2025-03-03 00:00:00",
                "test_start_time":"2025-03-03 00:00:00","input":"x","test_name":"vigil_throttling",
                "test_version":"0.1.0","software_name":"vigil-probe","software_version":"0.1.0",
                "probe_asn":"AS0","probe_cc":"ZZ","resolver_ip":null,"test_runtime":9.0,"test_keys":{}}"#,
        )
        .unwrap();
        for (k, mechanism) in [
            (serde_json::to_value(&keys).unwrap(), Some(vigil_report::ThrottleMechanism::Policer)),
            (
                serde_json::json!({"platform": "x", "ratio": 0.0061,
                "verdict": "throttled", "throttled_rate_kbps": 126.0, "control_goodput_kbps": 20600.0}),
                None,
            ),
        ] {
            m.test_keys = k;
            let payload = serde_json::to_string(&m).unwrap();
            let row = StoredMeasurement {
                id: "m1",
                key_id: "k",
                test_name: THROTTLING_TEST_NAME,
                measurement_start_time: "2025-03-03 00:00:00",
                received_at: 1_740_960_001,
                asn: 64510,
                cc: "IR",
                payload: &payload,
            };
            let o = observe(&row).unwrap();
            assert_eq!(
                o.what,
                What::Throttling {
                    platform: "x".into(),
                    ratio: 0.0061,
                    verdict: ThrottleVerdict::Throttled,
                    rate_kbps: Some(126.0),
                    mechanism,
                }
            );
        }
    }

    #[test]
    fn a_heartbeat_keeps_its_counters_in_meta_and_older_records_read_as_vigil() {
        let payload = |keys: &str| {
            format!(
                r#"{{"id":"m1","data_format_version":"0.2.0","measurement_start_time":"2025-03-03 00:00:00",
                "test_start_time":"2025-03-03 00:00:00","input":null,"test_name":"vigil_heartbeat",
                "test_version":"0.1.0","software_name":"vigil-probe","software_version":"0.1.0",
                "probe_asn":"AS0","probe_cc":"ZZ","resolver_ip":null,"test_runtime":0.1,"test_keys":{keys}}}"#
            )
        };
        let row = |payload| StoredMeasurement {
            id: "m1",
            key_id: "k",
            test_name: HEARTBEAT_TEST_NAME,
            measurement_start_time: "2025-03-03 00:00:00",
            received_at: 1_740_960_001,
            asn: 1,
            cc: "ZZ",
            payload,
        };
        let last = payload(r#"{"spooled":7,"uptime_s":3600,"stopping":true}"#);
        let o = observe(&row(&last)).unwrap();
        let want = Meta { backlog: Some(7), uptime: Some(3600), stopping: true, ..Meta::default() };
        assert_eq!((o.what.clone(), o.meta.clone()), (What::Heartbeat, want));
        // Keys that do not parse leave the meta empty; the heartbeat still counts.
        let odd = payload(r#"{"spooled":"many"}"#);
        assert_eq!(observe(&row(&odd)).unwrap().meta, Meta::default());
        // A stored observation from before `meta` reads as Vigil's, and an empty meta is not written.
        let old =
            r#"{"at":1,"received_at":2,"probe":"p","cc":"ZZ","asn":1,"measurement_id":null,"what":{"type":"alive"}}"#;
        let o: Observation = serde_json::from_str(old).unwrap();
        assert_eq!((o.meta.source, serde_json::to_string(&o).unwrap()), (Source::Vigil, old.to_string()));
        let keys = HeartbeatKeys { stopping: false, ..HeartbeatKeys::default() };
        assert!(!serde_json::to_string(&keys).unwrap().contains("stopping"), "absent unless stopping");
    }

    #[test]
    fn network_down_is_not_a_sign_of_life_and_spooled_alive_is_not_either() {
        let mut o = Observation {
            at: 1000,
            received_at: 1003,
            probe: "p".into(),
            cc: "ZZ".into(),
            asn: 1,
            measurement_id: None,
            what: What::Alive,
            meta: Meta::default(),
        };
        assert!(o.is_up(600));
        o.received_at = 9000;
        assert!(!o.is_up(600));
        o.what = What::Heartbeat;
        assert!(!o.is_up(600), "a heartbeat spooled through an outage is not a sign of network");
        o.received_at = 1003;
        assert!(o.is_up(600));
        o.what = What::Platform {
            platform: CONNECTIVITY_CHECK.into(),
            kind: PlatformKind::Control,
            status: PlatformStatus::NetworkDown,
            family: None,
            mechanism: None,
        };
        assert!(o.is_network_down() && !o.is_up(600));
    }
}
