//! ASN shutdowns: the probes of an ASN go silent (or report `network_down`) together; live
//! silence gives a provisional event, the probes' spooled records confirm and refine it (rules
//! in the `detect` module documentation).

use super::bracket;
use super::liveness::{Liveness, Outage};
use super::{Group, View};
use crate::event::{Basis, Cause, DetectedEvent, EventType, Scope, SetAside, Status};
use crate::stats::{median_i64, scale_i64};

/// Silence alone is weighed against the probes heard in this long before it (s).
const DAY: i64 = 86_400;

/// The ASN's shutdown events, and the clusters set aside once their probes' return explained
/// the silence (a power cut, only the collector unreachable).
pub(crate) fn detect(view: &View<'_>, group: &Group, live: &Liveness) -> (Vec<DetectedEvent>, Vec<SetAside>) {
    let p = view.params;
    let mut cands: Vec<(i64, &Outage)> = live
        .probes
        .iter()
        .flat_map(|pl| &pl.outages)
        .filter(|o| !o.habitual)
        // An outage whose beginning the window no longer holds (no sign of life before it) has
        // no known start: it starts no cluster (its event was found when its start was seen).
        .filter(|o| o.last_up.is_some())
        .filter_map(|o| Some((o.onset()?, o)))
        .collect();
    cands.sort_by_key(|&(t, o)| (t, o.probe));
    let together = p.shutdown_together_intervals * p.heartbeat_interval;
    let mut out: Vec<DetectedEvent> = Vec::new();
    let mut set_aside = Vec::new();
    // The previous event: its members, its active count and its end.
    let mut prev: Option<(Vec<Outage>, usize, Option<i64>)> = None;
    let mut i = 0;
    let mut skip_until = i64::MIN;
    while i < cands.len() {
        let onset = cands[i].0;
        if onset < skip_until {
            i += 1;
            continue;
        }
        let j = i + cands[i..].partition_point(|&(t, _)| t <= onset + together);
        let mut members: Vec<Outage> = Vec::new();
        for &(_, o) in &cands[i..j] {
            if !members.iter().any(|m| m.probe == o.probe) {
                members.push(o.clone());
            }
        }
        let active = live.active_at(onset).max(members.len());
        // Hysteresis: a cluster starting within `together` of the previous event's end, with at
        // least half of its members, carries that event on (the probes flickered back).
        if let Some((pm, pa, Some(end))) = &prev
            && onset <= end + together
            && 2 * members.iter().filter(|m| pm.iter().any(|x| x.probe == m.probe)).count() >= pm.len()
        {
            let merged = carry_on(pm, &members);
            let active = (*pa).max(merged.len());
            if let Judged::Event(e, until) = event(view, group, live, &merged, active) {
                out.pop();
                skip_until = until;
                prev = Some((merged, active, e.end));
                out.push(e);
                i = j;
                continue;
            }
        }
        let seen = live.seen_within(onset, DAY).max(active);
        if !enough_members(&members, active, seen, p) {
            i += 1;
            continue;
        }
        match event(view, group, live, &members, active) {
            Judged::Event(e, until) => {
                skip_until = until;
                prev = Some((members, active, e.end));
                out.push(e);
            }
            Judged::None(aside, until) => {
                skip_until = until;
                set_aside.extend(aside);
            }
        }
        i = j;
    }
    (out, set_aside)
}

/// The previous event's members carried on by `next`'s: a probe in both keeps its first
/// outage's start and takes the later one's end and records.
fn carry_on(prev: &[Outage], next: &[Outage]) -> Vec<Outage> {
    let mut merged: Vec<Outage> = prev.to_vec();
    for n in next {
        match merged.iter_mut().find(|m| m.probe == n.probe) {
            Some(m) => {
                m.next_up = n.next_up;
                m.downs.extend(n.downs.iter().copied());
                m.powered += n.powered;
                m.answered = if m.downs.is_empty() { m.answered + n.answered } else { 0 };
                m.rebooted = n.rebooted;
                m.stopped = n.stopped;
            }
            None => merged.push(n.clone()),
        }
    }
    merged
}

/// Enough probes out together: ≥ `shutdown_min_probes`, or ≥ `shutdown_min_fraction` of the
/// active ones (and ≥ `shutdown_min_fraction_probes`).
fn enough(n: usize, active: usize, p: &crate::Params) -> bool {
    n >= p.shutdown_min_probes || fraction(n, active, p)
}

/// ≥ `shutdown_min_fraction` of the active probes, and ≥ `shutdown_min_fraction_probes`.
fn fraction(n: usize, active: usize, p: &crate::Params) -> bool {
    n >= p.shutdown_min_fraction_probes && n as f64 >= p.shutdown_min_fraction * active as f64
}

/// Enough for these outages: [`enough`] when one of them has `network_down` records; silence
/// alone must be [`silent_enough`].
fn enough_members(members: &[Outage], active: usize, seen: usize, p: &crate::Params) -> bool {
    if members.iter().any(|o| !o.downs.is_empty()) {
        enough(members.len(), active, p)
    } else {
        silent_enough(members.len(), seen, p)
    }
}

/// Silence alone makes a shutdown only when it is more than `shutdown_min_fraction` of the
/// ASN's probes heard in the day before (and ≥ `shutdown_min_fraction_probes`): 3 silent while 7
/// report, or a power cut of 3 of 5 while one more is off for the night, is no shutdown of the
/// ASN.
fn silent_enough(n: usize, seen: usize, p: &crate::Params) -> bool {
    n >= p.shutdown_min_fraction_probes && n as f64 > p.shutdown_min_fraction * seen as f64
}

/// One probe's estimate of the start and end of its outage, with half-widths.
struct Estimate {
    start: (i64, i64),
    end: Option<(i64, i64)>,
}

fn estimate(o: &Outage, interval: i64) -> Estimate {
    let half = interval / 2;
    let start = match (o.last_up, o.downs.first()) {
        // A first `network_down` later than one silence threshold after the last sign of life:
        // the earliest records were shed from the spool; the silence tells the start.
        (Some((u, _)), Some(&(d, _))) if d > u + o.silence => (u + half, half),
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

/// What a member's return (or last words) says about its silence.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Member {
    /// It counts: it recorded `network_down`, or is still out, or may still upload.
    Kept,
    /// Its silence is explained, by this cause when one is known.
    Excused(Option<Cause>),
}

/// A member with `network_down` records is evidence. One without is excused when its last
/// heartbeat said it was stopping, when it rebooted on its return (a power cut), when what it
/// spooled shows its network answered (only the collector was unreachable), or when it has been
/// back `spool_grace` with nothing uploaded and its latest live heartbeat says its spool is
/// empty (or `spool_grace_max` has passed): powered off, not cut off.
fn judge(o: &Outage, live: &Liveness, now: i64, p: &crate::Params) -> Member {
    if !o.downs.is_empty() {
        return Member::Kept;
    }
    if o.stopped {
        return Member::Excused(None);
    }
    let Some(n) = o.next_up else { return Member::Kept };
    if o.rebooted {
        return Member::Excused(Some(Cause::PowerCut));
    }
    if o.answered > 0 {
        return Member::Excused(Some(Cause::CollectorUnreachable));
    }
    let drained = live.probes[o.probe].backlog.unwrap_or(0) == 0;
    if n <= now - p.spool_grace && (drained || n <= now - p.spool_grace_max) {
        return Member::Excused(None);
    }
    Member::Kept
}

/// The outcome of one cluster: an event and the time until which later outages belong to it,
/// or none (with what explained it, when known).
enum Judged {
    Event(DetectedEvent, i64),
    None(Option<SetAside>, i64),
}

/// The event of a group of outages that started together. Members whose silence is explained
/// ([`judge`]) are set aside, and the event stands only if the others are still enough;
/// otherwise the cluster is set aside with the cause most of them showed. Confirmed when the
/// members with spooled evidence alone are enough.
fn event(view: &View<'_>, group: &Group, live: &Liveness, members: &[Outage], active: usize) -> Judged {
    let p = view.params;
    let judged: Vec<(&Outage, Member)> = members.iter().map(|o| (o, judge(o, live, view.now, p))).collect();
    let kept: Vec<&Outage> = judged.iter().filter(|(_, m)| *m == Member::Kept).map(|(o, _)| *o).collect();
    let excused = judged.len() - kept.len();
    let all: Vec<Estimate> = members.iter().map(|o| estimate(o, p.heartbeat_interval)).collect();
    let evidenced = kept.iter().filter(|o| !o.downs.is_empty()).count();
    let onset = members.iter().filter_map(Outage::onset).min().unwrap_or(view.now);
    let seen = live.seen_within(onset, DAY).max(active);
    let stands = if evidenced > 0 { enough(kept.len(), active, p) } else { silent_enough(kept.len(), seen, p) };
    if kept.is_empty() || !stands {
        let until = end_rule(&all, p.end_ok_fraction).0.unwrap_or(i64::MAX);
        return Judged::None(set_aside(group, &judged, &all, until), until);
    }
    let est: Vec<Estimate> = kept.iter().map(|o| estimate(o, p.heartbeat_interval)).collect();
    let mut starts: Vec<i64> = est.iter().map(|e| e.start.0).collect();
    let start_spread = scale_i64(&starts);
    let start = median_i64(&mut starts).unwrap_or(0);
    let mut half: Vec<i64> = est.iter().map(|e| e.start.1).collect();
    let start_uncertainty = median_i64(&mut half).unwrap_or(0).max(start_spread);
    let (end, end_uncertainty) = end_rule(&est, p.end_ok_fraction);
    let end = end.map(|e| e.max(start));

    let status = if enough(evidenced, active, p) { Status::Confirmed } else { Status::Provisional };
    let mut evidence_idx: Vec<usize> = kept
        .iter()
        .flat_map(|o| o.last_up.map(|(_, i)| i).into_iter().chain(o.downs.iter().map(|&(_, i)| i)))
        .collect();
    evidence_idx.sort_by_key(|&i| (view.obs[i].at, i));
    evidence_idx.dedup();
    let resolved = evidenced + excused;
    let agreement = if resolved == 0 { 0.6 } else { evidenced as f64 / resolved as f64 };
    let support = 1.0 - 0.5f64.powi(kept.len() as i32);
    let (basis, cannot_tell) = if evidenced == 0 {
        (Basis::Silence, vec![Cause::Shutdown, Cause::PowerCut, Cause::CollectorUnreachable])
    } else {
        (Basis::Evidence, Vec::new())
    };
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
        basis,
        cannot_tell,
        sources: Vec::new(),
    };
    Judged::Event(event, end.unwrap_or(i64::MAX))
}

/// The cluster set aside with the cause most of its excused members showed (None when no
/// cause is known: powered off, or stopped).
fn set_aside(group: &Group, judged: &[(&Outage, Member)], all: &[Estimate], until: i64) -> Option<SetAside> {
    let count = |c| judged.iter().filter(|(_, m)| *m == Member::Excused(Some(c))).count();
    let (power, collector) = (count(Cause::PowerCut), count(Cause::CollectorUnreachable));
    if power + collector == 0 {
        return None;
    }
    let mut starts: Vec<i64> = all.iter().map(|e| e.start.0).collect();
    let start = median_i64(&mut starts).unwrap_or(0);
    let asn = group.asn;
    let (cause, probes, reason) = if collector >= power {
        let reason = format!(
            "retracted: {collector} probe(s) of AS{asn} recorded during their silence that the neutral controls \
             answered: only the collector was unreachable from the network, not a network shutdown"
        );
        (Cause::CollectorUnreachable, collector, reason)
    } else {
        let reason = format!(
            "retracted: {power} probe(s) of AS{asn} rebooted on their return (their uptime restarted during the \
             silence): a power cut, not a network shutdown"
        );
        (Cause::PowerCut, power, reason)
    };
    let end = if until == i64::MAX { start } else { until.max(start) };
    Some(SetAside { scope: Scope { cc: group.cc.clone(), asn: Some(group.asn) }, start, end, cause, probes, reason })
}

/// Open shutdowns resting on silence alone age into [`Status::Unknown`] (ended at the lapse):
/// after `unknown_after` when fewer than `shutdown_min_probes` probes are silent and no other
/// ASN of the country is in shutdown meanwhile (retired, powered off or cut off cannot be told
/// apart), and every one after `silence_max`. Evidence that arrives later confirms them again.
pub(crate) fn age(view: &View<'_>, events: &mut [DetectedEvent]) {
    let p = view.params;
    let spans: Vec<(String, Option<u32>, i64, i64)> =
        events.iter().map(|e| (e.scope.cc.clone(), e.scope.asn, e.start, e.end.unwrap_or(view.now))).collect();
    for (k, e) in events.iter_mut().enumerate() {
        if e.basis != Basis::Silence || e.end.is_some() || !matches!(e.kind, EventType::Shutdown) {
            continue;
        }
        let elsewhere = spans.iter().enumerate().any(|(j, (cc, asn, s, end))| {
            j != k && *cc == e.scope.cc && *asn != e.scope.asn && *s < view.now && *end > e.start
        });
        let lapse = if view.now - e.start > p.silence_max {
            Some(e.start + p.silence_max)
        } else if view.now - e.start > p.unknown_after && e.probes < p.shutdown_min_probes && !elsewhere {
            Some(e.start + p.unknown_after)
        } else {
            None
        };
        if let Some(at) = lapse {
            e.status = Status::Unknown;
            e.end = Some(at);
        }
    }
}
