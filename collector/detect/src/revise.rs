//! Revisions: compare a fresh detection with the published events. A published event is never
//! silently rewritten: each material change becomes a new revision saying what changed and why.
//!
//! Matching: a detected event revises the published event with the same id, else the published
//! event of the same scope, type and platform whose period (± 30 min, an open end counting as
//! `now`) overlaps it most. A retracted event is never matched: retraction is final, and a new
//! outage where one was retracted is a new event (see [`fresh_id`] for its id). Material
//! changes: status, a start or end moved by ≥ 1 min, an end appearing or disappearing,
//! mechanism, throttled rate (≥ 10 %), probes or measurements grown by ≥ 25 %, confidence
//! (≥ 0.1). Smaller drift leaves the published revision as it is (`Unchanged`); the next
//! material revision carries it. `published` must be the published events whose period overlaps
//! the detection window: those no longer detected are retracted.
//!
//! A published shutdown no longer detected is retracted with the reason detection gives when
//! it set the cluster aside as explained ([`SetAside`]: a power cut, only the collector
//! unreachable), else "the probes came back without evidence"; other events "no longer
//! supported".
//!
//! Published evidence is kept: a revision's evidence is the published evidence and the detected
//! evidence together (one entry per measurement), so its probes and measurements never fall when
//! the detection window or a shed spool no longer holds part of it. A confirmed event's start
//! moves only earlier, and only when new evidence was measured before its published
//! `start - start_uncertainty`: later re-analyses (a window that lost the first records, a spool
//! that shed them) cannot move it.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::event::{DetectedEvent, EventType, Evidence, SetAside, Status};

const SLACK: i64 = 1800;
const MIN_SHIFT: i64 = 60;

/// An event as published: its latest revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedEvent {
    pub event: DetectedEvent,
    /// 1 for the first publication.
    pub revision: u32,
    /// When this revision was published (Unix s): evidence received later is "late".
    pub published_at: i64,
}

/// What to do with one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// Publish it as revision 1.
    New(DetectedEvent),
    /// Publish `event` as revision `revision` of `id`.
    Revised { id: String, revision: u32, event: DetectedEvent, changes: Vec<FieldChange>, reason: String },
    /// Nothing material changed.
    Unchanged { id: String },
}

/// One field of a revision: its value before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub from: Value,
    pub to: Value,
}

/// Compare the detection with what was published (see the module documentation).
pub fn reconcile(published: &[PublishedEvent], detected: &[DetectedEvent], now: i64) -> Vec<Change> {
    reconcile_with(published, detected, &[], now)
}

/// [`reconcile`], told which shutdown clusters detection set aside as explained (a power cut,
/// only the collector unreachable): a published shutdown no longer detected that one of them
/// covers (same scope, periods overlapping within 30 min, the most overlapping one) is retracted
/// with its reason; others keep the generic reasons.
pub fn reconcile_with(
    published: &[PublishedEvent],
    detected: &[DetectedEvent],
    set_aside: &[SetAside],
    now: i64,
) -> Vec<Change> {
    let mut used = vec![false; published.len()];
    let mut out = Vec::new();
    for d in detected {
        let Some(k) = find_match(published, &used, d, now) else {
            out.push(Change::New(d.clone()));
            continue;
        };
        used[k] = true;
        let p = &published[k];
        let event = keep_published(&p.event, d);
        let (changes, material) = diff(&p.event, &event);
        if material.is_empty() {
            out.push(Change::Unchanged { id: event.id });
        } else {
            let reason = reason(p, &event, &material);
            out.push(Change::Revised { id: event.id.clone(), revision: p.revision + 1, event, changes, reason });
        }
    }
    for (p, _) in published.iter().zip(&used).filter(|(p, u)| !**u && p.event.status != Status::Retracted) {
        let mut event = p.event.clone();
        event.status = Status::Retracted;
        let reason = match p.event.kind {
            EventType::Shutdown => covering(set_aside, &p.event, now).map_or(
                "retracted: the probes came back without evidence of a network outage (powered off, not cut off)",
                |s| s.reason.as_str(),
            ),
            _ => "retracted: the measurements no longer support it",
        };
        out.push(Change::Revised {
            id: event.id.clone(),
            revision: p.revision + 1,
            changes: vec![field("status", json!(p.event.status), json!(Status::Retracted))],
            event,
            reason: reason.to_string(),
        });
    }
    out
}

/// The set-aside cluster of `e`'s scope whose silence overlaps `e` most (± 30 min, an open end
/// counting as `now`), if any.
fn covering<'a>(set_aside: &'a [SetAside], e: &DetectedEvent, now: i64) -> Option<&'a SetAside> {
    let (a0, a1) = (e.start - SLACK, e.end.unwrap_or(now).max(e.start) + SLACK);
    set_aside
        .iter()
        .enumerate()
        .filter(|(_, s)| s.scope == e.scope)
        .map(|(k, s)| (a1.min(s.end.max(s.start) + SLACK) - a0.max(s.start - SLACK), k, s))
        .filter(|&(overlap, ..)| overlap > 0)
        .max_by_key(|&(overlap, k, _)| (overlap, std::cmp::Reverse(k)))
        .map(|(.., s)| s)
}

fn find_match(published: &[PublishedEvent], used: &[bool], d: &DetectedEvent, now: i64) -> Option<usize> {
    let same = |p: &PublishedEvent| {
        p.event.scope == d.scope
            && p.event.kind.label() == d.kind.label()
            && p.event.kind.platform() == d.kind.platform()
    };
    // A retracted event is final: nothing detected later revises it (`load_published` leaves
    // them out too; this holds for any caller).
    let free = |k: &usize| !used[*k] && published[*k].event.status != Status::Retracted && same(&published[*k]);
    if let Some(k) = (0..published.len()).filter(free).find(|&k| published[k].event.id == d.id) {
        return Some(k);
    }
    let span = |e: &DetectedEvent| (e.start - SLACK, e.end.unwrap_or(now).max(e.start) + SLACK);
    let (a0, a1) = span(d);
    (0..published.len())
        .filter(free)
        .map(|k| {
            let (b0, b1) = span(&published[k].event);
            (a1.min(b1) - a0.max(b0), k)
        })
        .filter(|&(overlap, _)| overlap > 0)
        .max_by_key(|&(overlap, k)| (overlap, std::cmp::Reverse(k)))
        .map(|(_, k)| k)
}

/// The id a new event is published under: `id`, or when `id` belongs to a retracted (final)
/// event, the first of `id-2`, `id-3`, ... that does not (`retracted(id)` says whether an id is
/// taken by a retracted event; its error is returned). The flag says whether the id was changed.
pub fn fresh_id<E>(id: &str, mut retracted: impl FnMut(&str) -> Result<bool, E>) -> Result<(String, bool), E> {
    if !retracted(id)? {
        return Ok((id.to_string(), false));
    }
    let mut n = 2u32;
    loop {
        let candidate = format!("{id}-{n}");
        if !retracted(&candidate)? {
            return Ok((candidate, true));
        }
        n += 1;
    }
}

/// The reason of a new event's first publication under a [`fresh_id`].
pub const REASON_AFTER_RETRACTION: &str = "new event; an earlier one here was retracted";

/// Evidence's identity: its measurement, else (for records without one) its probe and time.
fn evidence_key(e: &Evidence) -> (Option<&str>, &str, i64) {
    match e.measurement_id.as_deref() {
        Some(m) => (Some(m), "", 0),
        None => (None, e.probe.as_str(), e.at),
    }
}

/// The detected event `d` as a revision of the published `p`: `p`'s id, its evidence and the
/// detected evidence together (probes and measurements never fall), and for a confirmed `p` its
/// start unless new evidence lies before its published interval (module documentation).
fn keep_published(p: &DetectedEvent, d: &DetectedEvent) -> DetectedEvent {
    let mut event = d.clone();
    event.id = p.id.clone();
    let known: HashSet<_> = p.evidence.iter().map(evidence_key).collect();
    let new: Vec<&Evidence> = d.evidence.iter().filter(|e| !known.contains(&evidence_key(e))).collect();
    let mut evidence = p.evidence.clone();
    evidence.extend(new.iter().map(|e| (*e).clone()));
    evidence.sort_by(|a, b| (a.at, &a.measurement_id, &a.probe).cmp(&(b.at, &b.measurement_id, &b.probe)));
    let probes: HashSet<&str> = evidence.iter().map(|e| e.probe.as_str()).collect();
    event.probes = d.probes.max(p.probes).max(probes.len());
    event.measurements = d.measurements.max(p.measurements).max(evidence.len());
    event.evidence = evidence;
    if p.status == Status::Confirmed {
        let low = p.start - p.start_uncertainty;
        let earlier = new.iter().any(|e| e.at < low);
        if !(earlier && d.start < low) {
            event.start = p.start;
            event.start_uncertainty = p.start_uncertainty;
        }
    }
    event
}

fn field(name: &str, from: Value, to: Value) -> FieldChange {
    FieldChange { field: name.to_string(), from, to }
}

/// Every field that differs, and the names of the material ones.
fn diff(old: &DetectedEvent, new: &DetectedEvent) -> (Vec<FieldChange>, Vec<&'static str>) {
    let (o, n) = (json!(old), json!(new));
    let mut changes = Vec::new();
    let mut material = Vec::new();
    let fields = [
        "status",
        "start",
        "start_uncertainty",
        "end",
        "end_uncertainty",
        "family",
        "mechanism",
        "rate_kbps",
        "probes",
        "measurements",
        "confidence",
    ];
    for f in fields {
        if o[f] != n[f] {
            changes.push(field(f, o[f].clone(), n[f].clone()));
        }
    }
    let moved = |a: i64, b: i64| (a - b).abs() >= MIN_SHIFT;
    // Evidence is material when it grew (it never falls: `keep_published`).
    let grew = |a: usize, b: usize| a > b && (a - b) as f64 >= 0.25 * (b.max(1) as f64);
    if old.status != new.status {
        material.push("status");
    }
    if moved(old.start, new.start) {
        material.push("start");
    }
    match (old.end, new.end) {
        (Some(a), Some(b)) if moved(a, b) => material.push("end"),
        (None, Some(_)) | (Some(_), None) => material.push("end"),
        _ => {}
    }
    if o["mechanism"] != n["mechanism"] || o["family"] != n["family"] {
        material.push("mechanism");
    }
    if let (Some(a), Some(b)) = (o["rate_kbps"].as_f64(), n["rate_kbps"].as_f64()) {
        if (a - b).abs() >= 0.1 * a.abs() {
            material.push("rate_kbps");
        }
    } else if o["rate_kbps"] != n["rate_kbps"] {
        material.push("rate_kbps");
    }
    if grew(new.probes, old.probes) || grew(new.measurements, old.measurements) {
        material.push("evidence");
    }
    if (old.confidence - new.confidence).abs() >= 0.1 {
        material.push("confidence");
    }
    (changes, material)
}

/// Why, in words: one clause per material change.
fn reason(p: &PublishedEvent, new: &DetectedEvent, material: &[&str]) -> String {
    let old = &p.event;
    let mut late: Vec<&str> =
        new.evidence.iter().filter(|e| e.received_at > p.published_at).map(|e| e.probe.as_str()).collect();
    late.sort_unstable();
    late.dedup();
    let source =
        if late.is_empty() { "re-analysis".to_string() } else { format!("late evidence from {} probes", late.len()) };
    let shift = |what: &str, a: i64, b: i64| {
        let dir = if b < a { "earlier" } else { "later" };
        format!("{source} moved the {what} {} min {dir}", ((a - b).abs() + 30) / 60)
    };
    let mut parts = Vec::new();
    for m in material {
        let part = match *m {
            "status" => match (new.status, &new.kind) {
                (Status::Confirmed, EventType::Shutdown) => {
                    format!("confirmed: spooled evidence arrived from {} probes", late.len())
                }
                (Status::Confirmed, _) => {
                    format!("confirmed: {} probes, {} measurements", new.probes, new.measurements)
                }
                (Status::Unknown, _) => {
                    let silent = new.end.map(|e| format!(" {} h", (e - new.start).max(0) / 3600)).unwrap_or_default();
                    format!(
                        "unknown: the probes have been silent{silent} with no record of an outage and no silence \
                         elsewhere: retired, powered off or cut off cannot be told apart"
                    )
                }
                (Status::Provisional, _) => "provisional again: the evidence is incomplete".to_string(),
                (Status::Retracted, _) => "retracted".to_string(),
            },
            "start" => shift("start", old.start, new.start),
            // An unknown event's end is when it lapsed into unknown: its status clause says so.
            "end" if new.status == Status::Unknown && material.contains(&"status") => continue,
            "end" => match (old.end, new.end) {
                (None, Some(_)) => "ended: at least half of the probes see it normal again".to_string(),
                (Some(_), None) => "reopened: the latest measurements show it again".to_string(),
                (Some(a), Some(b)) => shift("end", a, b),
                (None, None) => continue,
            },
            "mechanism" => {
                format!("mechanism is now {} (the dominant mechanism changed)", json!(new.kind)["mechanism"])
            }
            "rate_kbps" => format!("throttled rate is now {} kbit/s", json!(new.kind)["rate_kbps"]),
            "evidence" => format!(
                "more evidence: {} probes, {} measurements (was {}, {})",
                new.probes, new.measurements, old.probes, old.measurements
            ),
            "confidence" => format!("confidence {:.2} -> {:.2}", old.confidence, new.confidence),
            _ => continue,
        };
        parts.push(part);
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests;
