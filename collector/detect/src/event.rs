//! The detection output: one [`DetectedEvent`] per blocking, shutdown or throttling episode.

use serde::{Deserialize, Serialize};
use vigil_report::{Mechanism, MechanismFamily};

use crate::obs::Source;

/// An event as detection sees it now. `start`/`end` are estimates: the true time lies within
/// `start ± start_uncertainty` (the midpoint and half-width of the interval between the last
/// observation that saw things normal and the first that did not; for shutdowns the median
/// over the probes involved).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectedEvent {
    /// Deterministic from scope, type, platform and the start's hour ([`event_id`]); revisions
    /// keep the id of the published event they revise.
    pub id: String,
    pub scope: Scope,
    #[serde(flatten)]
    pub kind: EventType,
    pub start: i64,
    pub start_uncertainty: i64,
    /// None while ongoing.
    pub end: Option<i64>,
    pub end_uncertainty: Option<i64>,
    /// Distinct probes behind the event.
    pub probes: usize,
    /// Measurements behind the event (the length of `evidence`).
    pub measurements: usize,
    /// The measurements behind it, oldest first.
    pub evidence: Vec<Evidence>,
    /// 0..1; how it is computed is documented per event type in `detect`.
    pub confidence: f64,
    pub status: Status,
    /// What the event rests on: the probes' silence alone, or evidence they recorded.
    #[serde(default)]
    pub basis: Basis,
    /// While it rests on silence: the causes the evidence cannot tell apart. Empty when it can
    /// tell (and in older records).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cannot_tell: Vec<Cause>,
    /// Which sources support it, and how much (empty in older records).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceSupport>,
}

/// What an event rests on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Probes fell silent; nothing they recorded says why (yet).
    Silence,
    /// Measurements say so (blocked runs, `network_down` records, throttled runs). The default:
    /// every event detection produces today, and every older record, is read as evidenced.
    #[default]
    Evidence,
}

/// What may lie behind probes' silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The network was cut.
    Shutdown,
    /// The probes lost power (they reboot: their uptime restarts).
    PowerCut,
    /// Only the way to the collector was cut; the rest of the internet worked.
    CollectorUnreachable,
}

/// One source's support for an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSupport {
    pub source: Source,
    /// Distinct probes (Vigil) or reports (OONI) behind the event.
    pub probes: usize,
    pub measurements: usize,
}

/// A shutdown cluster detection set aside once it could tell why the probes were silent (they
/// rebooted: a power cut; they recorded that the neutral controls answered: only the collector
/// was unreachable): not an event. [`crate::revise::reconcile_with`] retracts a published event it
/// covers with `reason`, instead of a generic one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetAside {
    pub scope: Scope,
    /// The silence it was (the cluster's onset and the return that explained it).
    pub start: i64,
    pub end: i64,
    pub cause: Cause,
    /// Probes whose silence it explains.
    pub probes: usize,
    /// A sentence for the retraction, e.g. "retracted: 3 probes rebooted on their return (their
    /// uptime restarted): a power cut, not a network shutdown".
    pub reason: String,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventType {
    /// The platform fails while the controls work.
    Blocking {
        platform: String,
        family: Option<MechanismFamily>,
        /// The dominant mechanism among the blocked runs.
        mechanism: Option<Mechanism>,
    },
    /// The network is down (every platform: probes silent together, or everything failing).
    Shutdown,
    /// The platform is much slower than its baseline.
    Throttling {
        platform: String,
        /// The median throttled goodput reported by the probes.
        rate_kbps: Option<f64>,
        /// The mechanism most of the throttled runs reported (policer, shaper, handshake delay,
        /// truncation); absent when they named none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mechanism: Option<vigil_report::ThrottleMechanism>,
    },
}

impl EventType {
    pub fn label(&self) -> &'static str {
        match self {
            EventType::Blocking { .. } => "blocking",
            EventType::Shutdown => "shutdown",
            EventType::Throttling { .. } => "throttling",
        }
    }

    /// The platform concerned; None = all (a shutdown).
    pub fn platform(&self) -> Option<&str> {
        match self {
            EventType::Blocking { platform, .. } | EventType::Throttling { platform, .. } => Some(platform),
            EventType::Shutdown => None,
        }
    }
}

/// Where: a country, or one ASN in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Scope {
    pub cc: String,
    /// None = the whole country.
    pub asn: Option<u32>,
}

/// How settled an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Evidence is still arriving (e.g. a live silence whose probes have not uploaded yet).
    Provisional,
    /// The evidence is in (e.g. the probes' spooled records of the outage arrived).
    Confirmed,
    /// Withdrawn by a later revision: the evidence no longer supports it.
    Retracted,
    /// Not final: the probes have been silent long with nothing saying why (retired, powered off
    /// or cut off cannot be told apart); evidence may still confirm it. Not produced yet (issue
    /// 16); until then every `match` treats it like [`Status::Provisional`].
    Unknown,
}

/// One measurement behind an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub probe: String,
    /// When it was measured (the probe's `measurement_start_time`).
    pub at: i64,
    pub received_at: i64,
    pub measurement_id: Option<String>,
}

/// The stable id of an event: `<type>-<cc>-<asn|all>-<16 hex>` where the hex is a 64-bit
/// FNV-1a hash of scope, type, platform and the hour the event started in.
pub fn event_id(scope: &Scope, kind: &EventType, start: i64) -> String {
    let asn = scope.asn.map_or_else(|| "all".to_string(), |a| a.to_string());
    let key =
        format!("{}|{}|{}|{}|{}", kind.label(), scope.cc, asn, kind.platform().unwrap_or("*"), start.div_euclid(3600));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{}-{}-{}-{h:016x}", kind.label(), scope.cc, asn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_within_the_start_hour_and_differ_by_scope_type_and_platform() {
        let s = Scope { cc: "IR".into(), asn: Some(44244) };
        let wa = EventType::Blocking { platform: "whatsapp".into(), family: None, mechanism: None };
        let tg = EventType::Blocking { platform: "telegram".into(), family: None, mechanism: None };
        let t = 1_740_960_000;
        assert_eq!(event_id(&s, &wa, t + 10), event_id(&s, &wa, t + 3500));
        assert!(event_id(&s, &wa, t).starts_with("blocking-IR-44244-"));
        assert_ne!(event_id(&s, &wa, t), event_id(&s, &tg, t));
        assert_ne!(event_id(&s, &wa, t), event_id(&s, &wa, t + 3600));
        assert_ne!(
            event_id(&s, &EventType::Shutdown, t),
            event_id(&Scope { asn: None, ..s.clone() }, &EventType::Shutdown, t)
        );
    }

    #[test]
    fn new_event_fields_round_trip_and_older_records_read_with_defaults() {
        let e = DetectedEvent {
            id: "x".into(),
            scope: Scope { cc: "UG".into(), asn: Some(20294) },
            kind: EventType::Shutdown,
            start: 1,
            start_uncertainty: 2,
            end: Some(3),
            end_uncertainty: Some(4),
            probes: 2,
            measurements: 5,
            evidence: vec![],
            confidence: 0.5,
            status: Status::Unknown,
            basis: Basis::Silence,
            cannot_tell: vec![Cause::Shutdown, Cause::PowerCut, Cause::CollectorUnreachable],
            sources: vec![SourceSupport { source: Source::Ooni, probes: 1, measurements: 8 }],
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!((v["status"].as_str(), v["basis"].as_str()), (Some("unknown"), Some("silence")));
        assert_eq!(v["cannot_tell"], serde_json::json!(["shutdown", "power_cut", "collector_unreachable"]));
        assert_eq!(v["sources"][0]["source"], "ooni");
        assert_eq!(serde_json::from_value::<DetectedEvent>(v.clone()).unwrap(), e);
        let mut old = v;
        for k in ["basis", "cannot_tell", "sources"] {
            old.as_object_mut().unwrap().remove(k);
        }
        let back: DetectedEvent = serde_json::from_value(old).unwrap();
        assert_eq!((back.basis, back.cannot_tell.len(), back.sources.len()), (Basis::Evidence, 0, 0));
    }

    #[test]
    fn event_json_is_flat_with_a_type_tag() {
        let e = DetectedEvent {
            id: "x".into(),
            scope: Scope { cc: "RU".into(), asn: Some(12389) },
            kind: EventType::Throttling { platform: "twitter".into(), rate_kbps: Some(140.0), mechanism: None },
            start: 1,
            start_uncertainty: 2,
            end: None,
            end_uncertainty: None,
            probes: 3,
            measurements: 9,
            evidence: vec![],
            confidence: 0.9,
            status: Status::Provisional,
            basis: Basis::Evidence,
            cannot_tell: vec![],
            sources: vec![],
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "throttling");
        assert_eq!(v["platform"], "twitter");
        assert_eq!(v["status"], "provisional");
        assert_eq!(serde_json::from_value::<DetectedEvent>(v).unwrap(), e);
    }
}
