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
            // Decoys: nothing to find.
            TruthKind::Retire { .. } | TruthKind::CollectorCut | TruthKind::PowerCut { .. } => continue,
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

/// p50, p95 and max of absolute values (0 for none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spread {
    pub p50: i64,
    pub p95: i64,
    pub max: i64,
}

impl Spread {
    pub fn of(values: impl IntoIterator<Item = i64>) -> Spread {
        let mut v: Vec<i64> = values.into_iter().map(i64::abs).collect();
        if v.is_empty() {
            return Spread::default();
        }
        v.sort_unstable();
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        Spread { p50: q(0.5), p95: q(0.95), max: v[v.len() - 1] }
    }
}

/// A published event that matched no expected event at any revision: a false alarm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decoy {
    pub id: String,
    pub label: &'static str,
    pub scope: Scope,
    pub published_at: i64,
    /// Every published (non-retracted) revision rested on silence alone.
    pub silence_basis: bool,
    /// When it was retracted, and why (None: still published at the end).
    pub retracted: Option<(i64, String)>,
    /// Retraction time minus the end of the decoy truth (the probes' return, the collector
    /// reachable again) that overlaps it, when there is one.
    pub retraction_latency: Option<i64>,
}

/// An event's (probes, measurements).
pub type Counts = (usize, usize);

/// How the published history compares with the truth (the loop of `sim::live`).
#[derive(Debug, Clone, Serialize)]
pub struct LiveScore {
    /// The final publication (current revisions, retracted ones excluded) scored as by [`score`].
    pub last: Score,
    /// Per expected event, current non-retracted events of its scope and type matched to it,
    /// minus 1, summed (each event goes to the expected event it overlaps most).
    pub fragments: usize,
    /// Expected events with more than one such event: (scope, label, start, count).
    pub fragmented: Vec<(Scope, &'static str, i64, usize)>,
    /// Events published again after being retracted (a revision after a `Retracted` one).
    pub revived: Vec<String>,
    /// Current events open at the end, not `Unknown`, started more than `unknown_after` before
    /// it, with no expected event of their scope and type still going on.
    pub forever_open: Vec<String>,
    pub decoys: Vec<Decoy>,
    /// Starts moved by more than the previous revision's `start_uncertainty` after the event was
    /// confirmed: (id, move in seconds).
    pub start_moves_after_confirmation: Vec<(String, i64)>,
    /// Revisions whose probes or measurements fell: (id, (probes, measurements) before, after).
    pub counts_fell: Vec<(String, Counts, Counts)>,
    /// Ids of events retracted at the end that matched an expected event at some revision.
    pub true_retracted: Vec<String>,
}

impl LiveScore {
    /// Start and end error spreads of one event type in the final publication.
    pub fn errors(&self, label: &str) -> (Spread, Spread) {
        let of = |v: &[(&str, i64)]| Spread::of(v.iter().filter(|e| e.0 == label).map(|e| e.1));
        (of(&self.last.start_errors), of(&self.last.end_errors))
    }

    /// Signed median start and end errors of one event type (for a systematic shift).
    pub fn median_errors(&self, label: &str) -> (i64, i64) {
        let median = |v: &[(&str, i64)]| {
            let mut x: Vec<i64> = v.iter().filter(|e| e.0 == label).map(|e| e.1).collect();
            x.sort_unstable();
            if x.is_empty() { 0 } else { x[x.len() / 2] }
        };
        (median(&self.last.start_errors), median(&self.last.end_errors))
    }
}

fn same(d: &DetectedEvent, x: &Expected) -> bool {
    d.kind.label() == x.label && d.scope == x.scope && d.kind.platform() == x.platform.as_deref()
}

fn overlap(d: &DetectedEvent, x: &Expected, now: i64) -> i64 {
    let end = d.end.unwrap_or(now).max(d.start + 1);
    (end.min(x.end) - d.start.max(x.start)).max(0)
}

/// Score a published history (`sim::live::publish`) against the truth.
pub fn live(
    expected: &[Expected],
    truth: &[TruthEvent],
    published: &super::live::Published,
    params: &crate::Params,
) -> LiveScore {
    let end = published.end;
    let current: Vec<DetectedEvent> = published.current().iter().map(|r| r.event.clone()).collect();
    let last = score(expected, &current);
    let live: Vec<&DetectedEvent> = current.iter().filter(|d| d.status != Status::Retracted).collect();
    let mut counts = vec![0usize; expected.len()];
    for d in &live {
        let best = expected
            .iter()
            .enumerate()
            .filter(|(_, x)| same(d, x))
            .map(|(j, x)| (overlap(d, x, end), j))
            .filter(|(o, _)| *o > 0)
            .max();
        if let Some((_, j)) = best {
            counts[j] += 1;
        }
    }
    let fragments = counts.iter().map(|c| c.saturating_sub(1)).sum();
    let fragmented = expected
        .iter()
        .zip(&counts)
        .filter(|(_, c)| **c > 1)
        .map(|(x, c)| (x.scope.clone(), x.label, x.start, *c))
        .collect();
    let mut revived = Vec::new();
    let mut decoys = Vec::new();
    let mut start_moves_after_confirmation = Vec::new();
    let mut counts_fell = Vec::new();
    let mut true_retracted = Vec::new();
    for h in &published.histories {
        let revs = &h.revisions;
        if let Some(k) = revs.iter().position(|r| r.event.status == Status::Retracted)
            && k + 1 < revs.len()
        {
            revived.push(h.id.clone());
        }
        let mut confirmed = false;
        for w in revs.windows(2) {
            let (a, b) = (&w[0].event, &w[1].event);
            confirmed |= a.status == Status::Confirmed;
            if confirmed && b.status != Status::Retracted && (b.start - a.start).abs() > a.start_uncertainty {
                start_moves_after_confirmation.push((h.id.clone(), b.start - a.start));
            }
            if b.status != Status::Retracted && (b.probes < a.probes || b.measurements < a.measurements) {
                counts_fell.push((h.id.clone(), (a.probes, a.measurements), (b.probes, b.measurements)));
            }
        }
        // A revision's open end reaches its publication time, not the end of the run.
        let matched = revs.iter().any(|r| expected.iter().any(|x| same(&r.event, x) && overlap(&r.event, x, r.at) > 0));
        let retracted = (h.last().event.status == Status::Retracted).then(|| (h.last().at, h.last().reason.clone()));
        if matched {
            if retracted.is_some() {
                true_retracted.push(h.id.clone());
            }
            continue;
        }
        let first = &revs[0].event;
        let decoy_end = truth
            .iter()
            .filter(|t| t.kind.is_decoy() && t.cc == first.scope.cc)
            .filter(|t| first.scope.asn.is_none_or(|a| t.asn.is_none_or(|x| x == a)))
            .filter(|t| t.start <= first.end.unwrap_or(revs[0].at) && first.start <= t.end)
            .map(|t| t.end)
            .max();
        decoys.push(Decoy {
            id: h.id.clone(),
            label: first.kind.label(),
            scope: first.scope.clone(),
            published_at: revs[0].at,
            silence_basis: revs
                .iter()
                .filter(|r| r.event.status != Status::Retracted)
                .all(|r| r.event.basis == crate::event::Basis::Silence),
            retraction_latency: retracted.as_ref().zip(decoy_end).map(|((at, _), e)| at - e),
            retracted,
        });
    }
    let forever_open = live
        .iter()
        .filter(|d| d.end.is_none() && d.status != Status::Unknown && d.start + params.unknown_after < end)
        .filter(|d| !expected.iter().any(|x| same(d, x) && x.end > end))
        .map(|d| d.id.clone())
        .collect();
    LiveScore {
        last,
        fragments,
        fragmented,
        revived,
        forever_open,
        decoys,
        start_moves_after_confirmation,
        counts_fell,
        true_retracted,
    }
}

impl LiveScore {
    /// One paragraph of the figures, for test output.
    pub fn report(&self, name: &str) -> String {
        let s = &self.last;
        let (start, end) = self.errors("shutdown");
        let mut out = format!(
            "{name}: detected {} (matched {}), required {} (found {}), precision {:.3}, recall {:.3}, fragments {}, \
             shutdown start |err| p50/p95/max {}/{}/{} s, end {}/{}/{} s, revived {}, forever-open {}, decoys {} \
             ({} still published), start moves after confirmation {}, counts fell {}, true events retracted {}",
            s.detected,
            s.matched_detected,
            s.required,
            s.matched_required,
            s.precision,
            s.recall,
            self.fragments,
            start.p50,
            start.p95,
            start.max,
            end.p50,
            end.p95,
            end.max,
            self.revived.len(),
            self.forever_open.len(),
            self.decoys.len(),
            self.decoys.iter().filter(|d| d.retracted.is_none()).count(),
            self.start_moves_after_confirmation.len(),
            self.counts_fell.len(),
            self.true_retracted.len(),
        );
        for (scope, label, start, n) in &self.fragmented {
            out += &format!("\n  fragmented: {label} {scope:?} starting {start}: {n} events");
        }
        for d in &self.decoys {
            out += &format!(
                "\n  decoy: {} {:?} published {} silence-basis {} retracted {:?} latency {:?}",
                d.label, d.scope, d.published_at, d.silence_basis, d.retracted, d.retraction_latency
            );
        }
        out
    }
}
