//! Platform blocking per (country, ASN, platform): the platform fails while the controls work,
//! with minimum evidence over consecutive runs (rules in the `detect` module documentation).

use std::collections::{BTreeMap, HashMap};

use vigil_report::PlatformStatus;

use super::episode::{Episode, Sample, episodes};
use super::{Group, View};
use crate::event::{Basis, DetectedEvent, EventType, Scope, Status};
use crate::obs::{PlatformKind, What};
use crate::stats::mode;

/// Controls within this many seconds of a platform's run belong to the same battery run.
const SAME_RUN: i64 = 900;

/// The blocking events of `group` that end at or after `from` (None: all), for an incremental
/// detector recomputing a scope's tail (issue 16). Today it runs the whole window's rules and
/// keeps those events; the tail's own state (a carried baseline, episodes open at `from`) comes
/// with the incremental engine.
pub(crate) fn detect_tail(view: &View<'_>, group: &Group, from: Option<i64>) -> Vec<DetectedEvent> {
    let mut events = detect(view, group);
    if let Some(from) = from {
        events.retain(|e| e.end.is_none_or(|end| end >= from));
    }
    events
}

pub(crate) fn detect(view: &View<'_>, group: &Group) -> Vec<DetectedEvent> {
    let controls = controls_by_probe(view, group);
    let mut by_platform: BTreeMap<&str, Vec<Sample<'_>>> = BTreeMap::new();
    for &i in &group.idx {
        let o = &view.obs[i];
        let What::Platform { platform, kind: PlatformKind::Platform, status, .. } = &o.what else { continue };
        let hit = match status {
            PlatformStatus::Blocked if controls_ok(controls.get(o.probe.as_str()), view.t[i]) => true,
            PlatformStatus::Ok => false,
            // Blocked while the controls failed says nothing about the platform.
            PlatformStatus::Blocked | PlatformStatus::Unknown | PlatformStatus::NetworkDown => continue,
        };
        by_platform.entry(platform).or_default().push(Sample { t: view.t[i], probe: &o.probe, hit, idx: i });
    }
    let p = view.params;
    let mut out = Vec::new();
    for (platform, samples) in by_platform {
        for ep in episodes(&samples, p.end_ok_fraction, p.report_window) {
            if let Some(e) = event(view, group, platform, &ep) {
                out.push(e);
            }
        }
    }
    out
}

/// Each probe's control runs: (time, worked).
fn controls_by_probe<'a>(view: &View<'a>, group: &Group) -> HashMap<&'a str, Vec<(i64, bool)>> {
    let mut m: HashMap<&str, Vec<(i64, bool)>> = HashMap::new();
    for &i in &group.idx {
        let o = &view.obs[i];
        if let What::Platform { kind: PlatformKind::Control, status, .. } = &o.what {
            m.entry(o.probe.as_str()).or_default().push((view.t[i], *status == PlatformStatus::Ok));
        }
    }
    m
}

/// The run at `t` had working controls: one of its controls worked, or it reported none
/// (the platform verdict itself already compared with the control helper).
fn controls_ok(controls: Option<&Vec<(i64, bool)>>, t: i64) -> bool {
    let Some(c) = controls else { return true };
    let from = c.partition_point(|&(ct, _)| ct < t - SAME_RUN);
    let near: Vec<bool> = c[from..].iter().take_while(|&&(ct, _)| ct <= t + SAME_RUN).map(|&(_, ok)| ok).collect();
    near.is_empty() || near.iter().any(|&ok| ok)
}

/// Minimum evidence: enough probes with enough consecutive blocked runs.
pub(crate) fn enough(ep: &Episode<'_>, min_probes: usize, min_consecutive: usize, min_single: usize) -> bool {
    let streaks = ep.streaks();
    streaks.values().filter(|&&n| n >= min_consecutive).count() >= min_probes
        || streaks.values().any(|&n| n >= min_single)
}

fn event(view: &View<'_>, group: &Group, platform: &str, ep: &Episode<'_>) -> Option<DetectedEvent> {
    let p = view.params;
    if !enough(ep, p.block_min_probes, p.block_min_consecutive, p.block_min_measurements) {
        return None;
    }
    let hits: Vec<usize> = ep.hits().map(|s| s.idx).collect();
    let mechanisms = hits.iter().filter_map(|&i| match &view.obs[i].what {
        What::Platform { mechanism, .. } => *mechanism,
        _ => None,
    });
    let mechanism = mode(mechanisms);
    let families = hits.iter().filter_map(|&i| match &view.obs[i].what {
        What::Platform { family, mechanism, .. } => family.or(mechanism.map(|m| m.family())),
        _ => None,
    });
    let family = mode(families);
    let kind = EventType::Blocking { platform: platform.to_string(), family, mechanism };
    Some(summarize(view, group, ep, kind, twice_the_minimum(ep, p)))
}

fn twice_the_minimum(ep: &Episode<'_>, p: &crate::Params) -> bool {
    enough(ep, 2 * p.block_min_probes, p.block_min_consecutive, 2 * p.block_min_measurements)
}

/// The event of a qualified episode (shared with throttling): times from the episode's
/// brackets, evidence = its hits, confidence = agreement × support.
pub(crate) fn summarize(
    view: &View<'_>,
    group: &Group,
    ep: &Episode<'_>,
    kind: EventType,
    strong: bool,
) -> DetectedEvent {
    let p = view.params;
    let (start, start_uncertainty) = ep.start(p.battery_interval);
    let (end, end_uncertainty) = ep.end_estimate();
    let hits: Vec<&Sample<'_>> = ep.hits().collect();
    let oks = ep.samples.iter().filter(|s| !s.hit && end.is_none_or(|e| s.t <= e)).count();
    let mut probes: Vec<&str> = hits.iter().map(|s| s.probe).collect();
    probes.sort_unstable();
    probes.dedup();
    let agreement = hits.len() as f64 / (hits.len() + oks) as f64;
    let support = 1.0 - (-(hits.len() as f64) / 4.0).exp();
    let status = if end.is_some() || strong { Status::Confirmed } else { Status::Provisional };
    DetectedEvent {
        id: String::new(),
        scope: Scope { cc: group.cc.clone(), asn: Some(group.asn) },
        kind,
        start,
        start_uncertainty,
        end,
        end_uncertainty,
        probes: probes.len(),
        measurements: hits.len(),
        evidence: hits.iter().map(|s| view.evidence(s.idx)).collect(),
        confidence: (agreement * support * 1000.0).round() / 1000.0,
        status,
        basis: Basis::Evidence,
        cannot_tell: Vec::new(),
        sources: Vec::new(),
    }
}
