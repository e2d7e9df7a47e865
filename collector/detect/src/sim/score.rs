//! Scoring a detection against the simulator's ground truth: which events should be found,
//! how detected events are matched to them, precision, recall and start/end errors.
//!
//! Expected events: a block or throttle becomes one event per ASN it covers; a shutdown one
//! per ASN, plus one for the country when it covers the whole country. An expected event is
//! *required* (counts toward recall) when enough probes were powered at its start to meet the
//! minimum evidence: ≥ 2 in the ASN for a block or throttle, ≥ 3 for an ASN shutdown, ≥ 2 ASNs
//! with ≥ 3 for a country. Events that are not required may be found (they count as correct)
//! but are not missed.
//!
//! Matching: a detected event (retracted ones are not published, so not scored) can match an
//! expected event of the same type, scope and platform whose period overlaps its own (an open
//! end counting as +∞). Pairs are taken greedily by smallest start error, each event at most
//! once. Precision = matched detected / detected; recall = matched required / required.

use serde::Serialize;

use super::{Fleet, FleetSpec, TruthEvent, TruthKind};
use crate::event::{DetectedEvent, Scope, Status};

/// An event the detection should report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expected {
    pub scope: Scope,
    /// `blocking`, `shutdown` or `throttling` (as `EventType::label`).
    pub label: &'static str,
    pub platform: Option<String>,
    pub start: i64,
    pub end: i64,
    pub required: bool,
}

/// The expected events of a ground truth in a simulated fleet.
pub fn expected(spec: &FleetSpec, fleet: &Fleet, truth: &[TruthEvent]) -> Vec<Expected> {
    let powered =
        |cc: &str, asn: u32, t: i64| fleet.probes.iter().filter(|p| p.cc == cc && p.asn == asn && p.powered(t)).count();
    let mut out = Vec::new();
    for e in truth {
        let Some(country) = spec.countries.iter().find(|c| c.cc == e.cc) else { continue };
        let asns: Vec<u32> = country.asns.iter().copied().filter(|a| e.asn.is_none_or(|x| x == *a)).collect();
        let (label, platform, min) = match &e.kind {
            TruthKind::Block { platform, .. } => ("blocking", Some(platform.clone()), 2),
            TruthKind::Throttle { platform, .. } => ("throttling", Some(platform.clone()), 2),
            TruthKind::Shutdown => ("shutdown", None, 3),
        };
        let mut able = 0;
        for asn in asns {
            let required = powered(&e.cc, asn, e.start) >= min;
            able += usize::from(required);
            let scope = Scope { cc: e.cc.clone(), asn: Some(asn) };
            out.push(Expected { scope, label, platform: platform.clone(), start: e.start, end: e.end, required });
        }
        if e.asn.is_none() && label == "shutdown" {
            let scope = Scope { cc: e.cc.clone(), asn: None };
            out.push(Expected { scope, label, platform: None, start: e.start, end: e.end, required: able >= 2 });
        }
    }
    out
}

/// How a detection compares with the truth.
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    pub detected: usize,
    pub matched_detected: usize,
    pub required: usize,
    pub matched_required: usize,
    pub precision: f64,
    pub recall: f64,
    /// (label, detected − true start) per match.
    pub start_errors: Vec<(&'static str, i64)>,
    /// (label, detected − true end) per match whose detected event has ended.
    pub end_errors: Vec<(&'static str, i64)>,
    pub false_positives: Vec<DetectedEvent>,
    pub missed: Vec<Expected>,
}

impl Score {
    /// The largest absolute start and end errors of one event type.
    pub fn max_errors(&self, label: &str) -> (i64, i64) {
        let max = |v: &[(&str, i64)]| v.iter().filter(|e| e.0 == label).map(|e| e.1.abs()).max().unwrap_or(0);
        (max(&self.start_errors), max(&self.end_errors))
    }
}

/// Match the published (non-retracted) detected events to the expected ones.
pub fn score(expected: &[Expected], detected: &[DetectedEvent]) -> Score {
    let detected: Vec<&DetectedEvent> = detected.iter().filter(|d| d.status != Status::Retracted).collect();
    let mut pairs: Vec<(i64, usize, usize)> = Vec::new();
    for (i, d) in detected.iter().enumerate() {
        for (j, x) in expected.iter().enumerate() {
            let same = d.kind.label() == x.label && d.scope == x.scope && d.kind.platform() == x.platform.as_deref();
            if same && d.start < x.end && d.end.unwrap_or(i64::MAX) > x.start {
                pairs.push(((d.start - x.start).abs(), i, j));
            }
        }
    }
    pairs.sort_unstable();
    let (mut d_used, mut x_used) = (vec![false; detected.len()], vec![false; expected.len()]);
    let (mut start_errors, mut end_errors) = (Vec::new(), Vec::new());
    for (_, i, j) in pairs {
        if d_used[i] || x_used[j] {
            continue;
        }
        d_used[i] = true;
        x_used[j] = true;
        let (d, x) = (detected[i], &expected[j]);
        start_errors.push((x.label, d.start - x.start));
        if let Some(end) = d.end {
            end_errors.push((x.label, end - x.end));
        }
    }
    let matched_detected = d_used.iter().filter(|u| **u).count();
    let required = expected.iter().filter(|x| x.required).count();
    let matched_required = expected.iter().zip(&x_used).filter(|(x, u)| x.required && **u).count();
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    Score {
        detected: detected.len(),
        matched_detected,
        required,
        matched_required,
        precision: ratio(matched_detected, detected.len()),
        recall: ratio(matched_required, required),
        start_errors,
        end_errors,
        false_positives: detected.iter().zip(&d_used).filter(|(_, u)| !**u).map(|(d, _)| (*d).clone()).collect(),
        missed: expected.iter().zip(&x_used).filter(|(x, u)| x.required && !**u).map(|(x, _)| x.clone()).collect(),
    }
}
