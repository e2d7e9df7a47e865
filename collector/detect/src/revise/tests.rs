//! Tests of revisions: new, unchanged under small drift, revised with what and why, matched by
//! overlap when the id moved, retracted when no longer detected.

use super::*;
use crate::event::{Basis, Evidence, Scope};

const T: i64 = 1_740_960_000;

fn shutdown(id: &str, start: i64, end: Option<i64>, status: Status, probes: &[&str], received: i64) -> DetectedEvent {
    DetectedEvent {
        id: id.into(),
        scope: Scope { cc: "AA".into(), asn: Some(64500) },
        kind: EventType::Shutdown,
        start,
        start_uncertainty: 150,
        end,
        end_uncertainty: end.map(|_| 150),
        probes: probes.len(),
        measurements: probes.len(),
        evidence: probes
            .iter()
            .map(|p| Evidence { probe: p.to_string(), at: start, received_at: received, measurement_id: None })
            .collect(),
        confidence: 0.6,
        status,
        basis: Basis::Evidence,
        cannot_tell: Vec::new(),
        sources: Vec::new(),
    }
}

fn published(event: DetectedEvent, revision: u32, published_at: i64) -> PublishedEvent {
    PublishedEvent { event, revision, published_at }
}

const FOUR: [&str; 4] = ["a", "b", "c", "d"];

#[test]
fn new_events_are_new_and_small_drift_is_unchanged() {
    let e = shutdown("s1", T, None, Status::Provisional, &FOUR, T);
    assert_eq!(reconcile(&[], std::slice::from_ref(&e), T), vec![Change::New(e.clone())]);
    let mut drift = e.clone();
    drift.start += 20;
    drift.start_uncertainty += 5;
    drift.confidence += 0.05;
    assert_eq!(reconcile(&[published(e, 1, T)], &[drift], T + 600), vec![Change::Unchanged { id: "s1".into() }]);
}

#[test]
fn late_spooled_evidence_confirms_moves_the_start_and_ends_it_as_a_new_revision() {
    let live = shutdown("shutdown-AA-64500-aaaa", T + 3600, None, Status::Provisional, &FOUR, T + 3600);
    let pubd = published(live, 1, T + 3700);
    // The refined start falls into the previous hour: the detected id differs, the match holds.
    let late = ["a", "b", "c", "d", "a", "b"];
    let done =
        shutdown("shutdown-AA-64500-bbbb", T + 3600 - 23 * 60, Some(T + 9000), Status::Confirmed, &late, T + 9100);
    let changes = reconcile(&[pubd], &[done], T + 12_000);
    let [Change::Revised { id, revision, event, changes, reason }] = changes.as_slice() else { panic!("{changes:?}") };
    assert_eq!((id.as_str(), *revision, event.id.as_str()), ("shutdown-AA-64500-aaaa", 2, "shutdown-AA-64500-aaaa"));
    let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
    for f in ["status", "start", "end", "end_uncertainty", "probes", "measurements"] {
        assert!(fields.contains(&f), "{fields:?}");
    }
    let start = changes.iter().find(|c| c.field == "start").unwrap();
    assert_eq!((start.from.as_i64(), start.to.as_i64()), (Some(T + 3600), Some(T + 3600 - 23 * 60)));
    assert!(reason.contains("confirmed: spooled evidence arrived from 4 probes"), "{reason}");
    assert!(reason.contains("late evidence from 4 probes moved the start 23 min earlier"), "{reason}");
    assert!(reason.contains("ended"), "{reason}");
}

#[test]
fn events_no_longer_detected_are_retracted_not_dropped() {
    let a = shutdown("s1", T, None, Status::Provisional, &FOUR, T);
    let gone = published(a.clone(), 3, T);
    let mut retracted = a;
    retracted.id = "s0".into();
    retracted.status = Status::Retracted;
    let changes = reconcile(&[gone, published(retracted, 2, T)], &[], T + 7200);
    let [Change::Revised { id, revision, event, changes, reason }] = changes.as_slice() else { panic!("{changes:?}") };
    assert_eq!((id.as_str(), *revision, event.status), ("s1", 4, Status::Retracted));
    assert_eq!(changes[0].field, "status");
    assert!(reason.starts_with("retracted"), "{reason}");
}

#[test]
fn each_detected_event_revises_the_published_event_it_overlaps_most() {
    let first = shutdown("s1", T, Some(T + 3600), Status::Confirmed, &FOUR, T);
    let second = shutdown("s2", T + 7200, Some(T + 10_800), Status::Confirmed, &FOUR, T);
    let pubd = [published(first.clone(), 1, T), published(second.clone(), 1, T)];
    let mut moved = second.clone();
    moved.id = "other".into();
    moved.end = Some(T + 12_000);
    let changes = reconcile(&pubd, &[first, moved], T + 20_000);
    assert_eq!(changes[0], Change::Unchanged { id: "s1".into() });
    let Change::Revised { id, reason, .. } = &changes[1] else { panic!("{changes:?}") };
    assert_eq!(id, "s2");
    assert!(reason.contains("moved the end 20 min later"), "{reason}");
    // A blocking event never revises a shutdown, whatever the times.
    let mut block = second;
    block.kind = EventType::Blocking { platform: "whatsapp".into(), family: None, mechanism: None };
    assert!(matches!(reconcile(&pubd[1..], &[block], T + 20_000)[0], Change::New(_)));
}
