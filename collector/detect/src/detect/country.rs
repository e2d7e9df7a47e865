//! Country shutdowns: most of a country's ASNs with probes in shutdown at once.

use std::collections::{BTreeMap, BTreeSet};

use super::View;
use super::liveness::Liveness;
use crate::event::{Basis, Cause, DetectedEvent, EventType, Scope, Status};

/// An ASN with this many active probes counts as an ASN "with probes".
const MIN_ACTIVE: usize = 2;

pub(crate) fn detect(view: &View<'_>, asn_events: &[DetectedEvent], lives: &[(&str, Liveness)]) -> Vec<DetectedEvent> {
    let mut by_cc: BTreeMap<&str, Vec<&DetectedEvent>> = BTreeMap::new();
    for e in asn_events.iter().filter(|e| matches!(e.kind, EventType::Shutdown)) {
        by_cc.entry(e.scope.cc.as_str()).or_default().push(e);
    }
    let mut out = Vec::new();
    for (cc, events) in by_cc {
        let asns: Vec<(u32, &Liveness)> =
            lives.iter().zip(view.groups).filter(|((c, _), _)| *c == cc).map(|((_, l), g)| (g.asn, l)).collect();
        out.extend(country_events(view, cc, &events, &asns));
    }
    out
}

fn end_of(e: &DetectedEvent) -> i64 {
    e.end.unwrap_or(i64::MAX)
}

/// At `t`: the ASN events in progress and the number of ASNs with probes.
fn state_at<'e>(t: i64, events: &[&'e DetectedEvent], asns: &[(u32, &Liveness)]) -> (Vec<&'e DetectedEvent>, usize) {
    let active: Vec<&DetectedEvent> = events.iter().copied().filter(|e| e.start <= t && t < end_of(e)).collect();
    let mut with_probes: BTreeSet<u32> = active.iter().filter_map(|e| e.scope.asn).collect();
    with_probes.extend(asns.iter().filter(|(_, l)| l.active_at(t) >= MIN_ACTIVE).map(|(a, _)| *a));
    (active, with_probes.len())
}

fn country_events(
    view: &View<'_>,
    cc: &str,
    events: &[&DetectedEvent],
    asns: &[(u32, &Liveness)],
) -> Vec<DetectedEvent> {
    let p = view.params;
    let mut points: Vec<i64> = events.iter().map(|e| e.start).chain(events.iter().filter_map(|e| e.end)).collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut open: Option<(i64, i64, Vec<&DetectedEvent>)> = None;
    for &t in &points {
        let (active, with_probes) = state_at(t, events, asns);
        let holds =
            active.len() >= p.country_min_asns && active.len() as f64 > p.country_min_fraction * with_probes as f64;
        match (&mut open, holds) {
            (None, true) => {
                let unc = active.iter().filter(|e| e.start == t).map(|e| e.start_uncertainty).max().unwrap_or(0);
                open = Some((t, unc, active));
            }
            (Some((_, _, involved)), true) => {
                for e in active {
                    if !involved.iter().any(|x| std::ptr::eq(*x, e)) {
                        involved.push(e);
                    }
                }
            }
            (Some(_), false) => {
                let (start, unc, involved) = open.take().expect("open");
                let end_unc = events.iter().filter(|e| e.end == Some(t)).filter_map(|e| e.end_uncertainty).max();
                out.push(summarize(cc, start, unc, Some(t), end_unc, &involved));
            }
            (None, false) => {}
        }
    }
    if let Some((start, unc, involved)) = open {
        out.push(summarize(cc, start, unc, None, None, &involved));
    }
    out
}

fn summarize(
    cc: &str,
    start: i64,
    start_uncertainty: i64,
    end: Option<i64>,
    end_uncertainty: Option<i64>,
    involved: &[&DetectedEvent],
) -> DetectedEvent {
    let confirmed = involved.iter().filter(|e| e.status == Status::Confirmed).count();
    let silence = involved.iter().all(|e| e.basis == Basis::Silence);
    let unknown = !involved.is_empty() && involved.iter().all(|e| e.status == Status::Unknown);
    let status = if unknown {
        Status::Unknown
    } else if 2 * confirmed > involved.len() {
        Status::Confirmed
    } else {
        Status::Provisional
    };
    let mut evidence: Vec<_> = involved.iter().flat_map(|e| e.evidence.iter().cloned()).collect();
    evidence.sort_by(|a, b| (a.at, &a.probe).cmp(&(b.at, &b.probe)));
    let confidence = involved.iter().map(|e| e.confidence).sum::<f64>() / involved.len().max(1) as f64;
    DetectedEvent {
        id: String::new(),
        scope: Scope { cc: cc.to_string(), asn: None },
        kind: EventType::Shutdown,
        start,
        start_uncertainty,
        end,
        end_uncertainty,
        probes: involved.iter().map(|e| e.probes).sum(),
        measurements: evidence.len(),
        evidence,
        confidence: (confidence * 1000.0).round() / 1000.0,
        status,
        basis: if silence { Basis::Silence } else { Basis::Evidence },
        cannot_tell: if silence {
            vec![Cause::Shutdown, Cause::PowerCut, Cause::CollectorUnreachable]
        } else {
            Vec::new()
        },
        sources: Vec::new(),
    }
}
