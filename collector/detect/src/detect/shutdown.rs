//! ASN shutdowns: the probes of an ASN go silent (or report `network_down`) together; live
//! silence gives a provisional event, the probes' spooled records confirm and refine it (rules
//! in the `detect` module documentation).

use super::bracket;
use super::liveness::{Liveness, Outage};
use super::{Group, View};
use crate::event::{Basis, DetectedEvent, EventType, Scope, Status};
use crate::stats::{median_i64, scale_i64};

pub(crate) fn detect(view: &View<'_>, group: &Group, live: &Liveness) -> Vec<DetectedEvent> {
    let p = view.params;
    let mut cands: Vec<(i64, &Outage)> = live
        .probes
        .iter()
        .flat_map(|pl| &pl.outages)
        .filter(|o| !o.habitual)
        .filter_map(|o| Some((o.onset()?, o)))
        .collect();
    cands.sort_by_key(|&(t, o)| (t, o.probe));
    let together = p.shutdown_together_intervals * p.heartbeat_interval;
    let mut out = Vec::new();
    let mut i = 0;
    let mut skip_until = i64::MIN;
    while i < cands.len() {
        let onset = cands[i].0;
        if onset < skip_until {
            i += 1;
            continue;
        }
        let j = i + cands[i..].partition_point(|&(t, _)| t <= onset + together);
        let mut members: Vec<&Outage> = Vec::new();
        for &(_, o) in &cands[i..j] {
            if !members.iter().any(|m| m.probe == o.probe) {
                members.push(o);
            }
        }
        let active = live.active_at(onset).max(members.len());
        if !enough(members.len(), active, p) {
            i += 1;
            continue;
        }
        let (event, until) = event(view, group, &members, active);
        skip_until = until;
        out.extend(event);
        i = j;
    }
    out
}

/// Enough probes out together: ≥ `shutdown_min_probes`, or ≥ `shutdown_min_fraction` of the
/// active ones (and ≥ `shutdown_min_fraction_probes`).
fn enough(n: usize, active: usize, p: &crate::Params) -> bool {
    n >= p.shutdown_min_probes
        || (n >= p.shutdown_min_fraction_probes && n as f64 >= p.shutdown_min_fraction * active as f64)
}

/// One probe's estimate of the start and end of its outage, with half-widths.
struct Estimate {
    start: (i64, i64),
    end: Option<(i64, i64)>,
}

fn estimate(o: &Outage, interval: i64) -> Estimate {
    let half = interval / 2;
    let start = match (o.last_up, o.downs.first()) {
        (Some((u, _)), Some(&(d, _))) => bracket(u, d),
        (Some((u, _)), None) => match o.heard_from {
            Some(h) => bracket(u, h),
            None => (u + half, half),
        },
        (None, Some(&(d, _))) => (d, interval),
        (None, None) => (0, interval),
    };
    let end = o.next_up.map(|n| match o.downs.last() {
        Some(&(d, _)) => bracket(d, n),
        None => ((n - half).max(start.0), half),
    });
    Estimate { start, end }
}

/// The time by which `end_ok_fraction` of the probes are back, with its uncertainty (None
/// while fewer are back).
fn end_rule(est: &[Estimate], fraction: f64) -> (Option<i64>, Option<i64>) {
    let mut ends: Vec<(i64, i64)> = est.iter().map(|e| e.end.unwrap_or((i64::MAX, 0))).collect();
    ends.sort_unstable();
    let k = ((est.len() as f64 * fraction).ceil() as usize).clamp(1, est.len().max(1));
    match ends.get(k - 1) {
        None | Some((i64::MAX, _)) => (None, None),
        Some(&(t, _)) => {
            let finite: Vec<i64> = ends.iter().filter(|e| e.0 != i64::MAX).map(|e| e.0).collect();
            let mut half: Vec<i64> = ends.iter().filter(|e| e.0 != i64::MAX).map(|e| e.1).collect();
            (Some(t), Some(median_i64(&mut half).unwrap_or(0).max(scale_i64(&finite))))
        }
    }
}

/// The event of a group of outages that started together, and the time until which later
/// outages belong to it. Members back for `spool_grace` without any record of the outage were
/// powered off, not cut off: they are set aside, and the event stands only if the others are
/// still enough (None otherwise). Confirmed when the members with spooled evidence alone are.
fn event(view: &View<'_>, group: &Group, members: &[&Outage], active: usize) -> (Option<DetectedEvent>, i64) {
    let p = view.params;
    let settled = |o: &Outage| o.next_up.is_some_and(|n| n <= view.now - p.spool_grace);
    let (excused, kept): (Vec<&Outage>, Vec<&Outage>) =
        members.iter().copied().partition(|o| o.downs.is_empty() && settled(o));
    let all: Vec<Estimate> = members.iter().map(|o| estimate(o, p.heartbeat_interval)).collect();
    if !enough(kept.len(), active, p) {
        return (None, end_rule(&all, p.end_ok_fraction).0.unwrap_or(i64::MAX));
    }
    let est: Vec<Estimate> = kept.iter().map(|o| estimate(o, p.heartbeat_interval)).collect();
    let mut starts: Vec<i64> = est.iter().map(|e| e.start.0).collect();
    let start_spread = scale_i64(&starts);
    let start = median_i64(&mut starts).unwrap_or(0);
    let mut half: Vec<i64> = est.iter().map(|e| e.start.1).collect();
    let start_uncertainty = median_i64(&mut half).unwrap_or(0).max(start_spread);
    let (end, end_uncertainty) = end_rule(&est, p.end_ok_fraction);
    let end = end.map(|e| e.max(start));

    let evidenced = kept.iter().filter(|o| !o.downs.is_empty()).count();
    let status = if enough(evidenced, active, p) { Status::Confirmed } else { Status::Provisional };
    let mut evidence_idx: Vec<usize> = kept
        .iter()
        .flat_map(|o| o.last_up.map(|(_, i)| i).into_iter().chain(o.downs.iter().map(|&(_, i)| i)))
        .collect();
    evidence_idx.sort_by_key(|&i| (view.obs[i].at, i));
    let resolved = evidenced + excused.len();
    let agreement = if resolved == 0 { 0.6 } else { evidenced as f64 / resolved as f64 };
    let support = 1.0 - 0.5f64.powi(kept.len() as i32);
    let event = DetectedEvent {
        id: String::new(),
        scope: Scope { cc: group.cc.clone(), asn: Some(group.asn) },
        kind: EventType::Shutdown,
        start,
        start_uncertainty,
        end,
        end_uncertainty,
        probes: kept.len(),
        measurements: evidence_idx.len(),
        evidence: evidence_idx.iter().map(|&i| view.evidence(i)).collect(),
        confidence: (agreement * support * 1000.0).round() / 1000.0,
        status,
        basis: Basis::Evidence,
        cannot_tell: Vec::new(),
        sources: Vec::new(),
    };
    (Some(event), end.unwrap_or(i64::MAX))
}
