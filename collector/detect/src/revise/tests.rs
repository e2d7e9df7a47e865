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

#[test]
fn a_retracted_event_is_never_revised_by_a_later_outage_of_its_scope() {
    // A false alarm retracted while open (its end still open), and a real outage three days later.
    let mut false_alarm = shutdown("s-false", T, None, Status::Retracted, &FOUR, T);
    false_alarm.status = Status::Retracted;
    let pubd = [published(false_alarm.clone(), 2, T + 3600)];
    let real = shutdown("s-real", T + 3 * 86_400, None, Status::Provisional, &FOUR, T + 3 * 86_400);
    let changes = reconcile(&pubd, std::slice::from_ref(&real), T + 3 * 86_400 + 600);
    assert_eq!(changes, vec![Change::New(real)]);
    // Nor by one with its very id (the same start hour): that is new too, never a revision.
    let same_hour = shutdown("s-false", T + 600, None, Status::Provisional, &FOUR, T + 86_400);
    let changes = reconcile(&pubd, std::slice::from_ref(&same_hour), T + 86_400);
    assert_eq!(changes, vec![Change::New(same_hour)]);
    // And a retracted event is not retracted again.
    assert_eq!(reconcile(&pubd, &[], T + 86_400), vec![]);
}

#[test]
fn a_new_event_whose_id_was_retracted_gets_the_next_free_suffix() {
    let fresh = |retracted: &[&str]| fresh_id("s1", |id| Ok::<_, ()>(retracted.contains(&id))).unwrap();
    assert_eq!(fresh(&[]), ("s1".to_string(), false));
    assert_eq!(fresh(&["s1"]), ("s1-2".to_string(), true));
    assert_eq!(fresh(&["s1", "s1-2", "s1-3"]), ("s1-4".to_string(), true));
    assert_eq!(fresh_id("s1", |_| Err::<bool, _>("db")), Err("db"));
}

fn with_ids(mut e: DetectedEvent, ids: &[&str]) -> DetectedEvent {
    for (x, id) in e.evidence.iter_mut().zip(ids) {
        x.measurement_id = Some(id.to_string());
    }
    e
}

#[test]
fn published_evidence_is_kept_so_probes_and_measurements_never_fall() {
    // Published with evidence from 4 probes; the window (or a shed spool) now holds only 2 of them.
    let old = with_ids(shutdown("s1", T, Some(T + 7200), Status::Confirmed, &FOUR, T), &["m1", "m2", "m3", "m4"]);
    let pubd = published(old.clone(), 1, T + 7300);
    let fewer = with_ids(shutdown("s1", T, Some(T + 7200), Status::Confirmed, &["c", "d"], T), &["m3", "m4"]);
    assert_eq!(reconcile(std::slice::from_ref(&pubd), &[fewer], T + 9000), vec![Change::Unchanged { id: "s1".into() }]);
    // The same measurements detected again are not counted twice.
    let again = with_ids(shutdown("s1", T, Some(T + 7200), Status::Confirmed, &FOUR, T), &["m4", "m3", "m2", "m1"]);
    assert_eq!(reconcile(std::slice::from_ref(&pubd), &[again], T + 9000), vec![Change::Unchanged { id: "s1".into() }]);
    // Four new measurements from new probes: more evidence, counted over the union.
    let more = with_ids(
        shutdown("s1", T, Some(T + 7200), Status::Confirmed, &["a", "e", "f", "g", "h"], T + 8000),
        &["m1", "m5", "m6", "m7", "m8"],
    );
    let changes = reconcile(std::slice::from_ref(&pubd), &[more], T + 9000);
    let [Change::Revised { event, reason, .. }] = changes.as_slice() else { panic!("{changes:?}") };
    assert_eq!((event.probes, event.measurements, event.evidence.len()), (8, 8, 8));
    let mut ids: Vec<&str> = event.evidence.iter().filter_map(|e| e.measurement_id.as_deref()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"]);
    assert!(reason.contains("more evidence: 8 probes, 8 measurements (was 4, 4)"), "{reason}");
}

#[test]
fn the_reason_never_says_more_evidence_when_counts_fell_in_the_detection() {
    // The detection re-derived fewer measurements (5256 -> 1215 in the issue): kept at 5256 and
    // only the end is news.
    let mut old = shutdown("s1", T, None, Status::Confirmed, &FOUR, T);
    old.measurements = 5256;
    let mut now = shutdown("s1", T, Some(T + 86_400), Status::Confirmed, &["a"], T);
    now.measurements = 1215;
    let changes = reconcile(&[published(old, 3, T + 600)], &[now], T + 90_000);
    let [Change::Revised { event, reason, .. }] = changes.as_slice() else { panic!("{changes:?}") };
    assert_eq!((event.probes, event.measurements), (4, 5256));
    assert!(!reason.contains("evidence"), "{reason}");
    assert!(reason.contains("ended"), "{reason}");
}

#[test]
fn a_confirmed_start_moves_only_for_new_evidence_before_its_published_interval() {
    let old = with_ids(shutdown("s1", T, None, Status::Confirmed, &FOUR, T), &["m1", "m2", "m3", "m4"]);
    let pubd = published(old, 2, T + 600);
    // Shed records: the detection now starts two days later, from the same evidence. Kept.
    let later = with_ids(shutdown("s1", T + 2 * 86_400, None, Status::Confirmed, &["c", "d"], T), &["m3", "m4"]);
    let changes = reconcile(std::slice::from_ref(&pubd), &[later], T + 3 * 86_400);
    assert_eq!(changes, vec![Change::Unchanged { id: "s1".into() }]);
    // Earlier, but with no new evidence before `start - uncertainty`: kept.
    let early_no_evidence =
        with_ids(shutdown("s1", T - 3600, None, Status::Confirmed, &FOUR, T), &["m1", "m2", "m3", "m4"]);
    let changes = reconcile(std::slice::from_ref(&pubd), &[early_no_evidence], T + 86_400);
    assert_eq!(changes, vec![Change::Unchanged { id: "s1".into() }]);
    // A new record measured an hour before the published interval: the start moves earlier.
    let mut earlier = with_ids(shutdown("s1", T - 3600, None, Status::Confirmed, &["e"], T + 86_000), &["m9"]);
    earlier.evidence[0].at = T - 3500;
    let changes = reconcile(std::slice::from_ref(&pubd), &[earlier], T + 86_400);
    let [Change::Revised { event, reason, .. }] = changes.as_slice() else { panic!("{changes:?}") };
    assert_eq!(event.start, T - 3600);
    assert!(reason.contains("moved the start 60 min earlier"), "{reason}");
    // A provisional event's start follows the detection as before.
    let mut prov = pubd.clone();
    prov.event.status = Status::Provisional;
    let later = with_ids(shutdown("s1", T + 7200, None, Status::Provisional, &FOUR, T), &["m1", "m2", "m3", "m4"]);
    let changes = reconcile(&[prov], &[later], T + 86_400);
    let [Change::Revised { event, .. }] = changes.as_slice() else { panic!("{changes:?}") };
    assert_eq!(event.start, T + 7200);
}

#[test]
fn an_event_lapsing_into_unknown_says_what_cannot_be_told_apart() {
    let open = shutdown("s1", T, None, Status::Provisional, &["a", "b"], T);
    let mut lapsed = open.clone();
    lapsed.status = Status::Unknown;
    lapsed.end = Some(T + 86_400);
    let changes = reconcile(&[published(open, 1, T + 600)], &[lapsed], T + 90_000);
    let [Change::Revised { event, reason, .. }] = changes.as_slice() else { panic!("{changes:?}") };
    assert_eq!((event.status, event.end), (Status::Unknown, Some(T + 86_400)));
    assert!(reason.starts_with("unknown: the probes have been silent 24 h"), "{reason}");
    assert!(reason.contains("retired, powered off or cut off cannot be told apart"), "{reason}");
    assert!(!reason.contains("ended"), "{reason}");
    // Unknown is not final: later evidence still revises it (here, confirms it).
    let unknown = published(event.clone(), 2, T + 90_000);
    let mut back = event.clone();
    back.status = Status::Confirmed;
    back.end = Some(T + 100_000);
    let changes = reconcile(&[unknown], &[back], T + 110_000);
    assert!(
        matches!(&changes[..], [Change::Revised { event, .. }] if event.status == Status::Confirmed),
        "{changes:?}"
    );
}

fn set_aside(scope_asn: Option<u32>, start: i64, end: i64, reason: &str) -> SetAside {
    SetAside {
        scope: Scope { cc: "AA".into(), asn: scope_asn },
        start,
        end,
        cause: crate::event::Cause::PowerCut,
        probes: 3,
        reason: reason.into(),
    }
}

fn retraction_reason(changes: &[Change]) -> Vec<(&str, &str)> {
    changes
        .iter()
        .map(|c| match c {
            Change::Revised { id, event, reason, .. } if event.status == Status::Retracted => {
                (id.as_str(), reason.as_str())
            }
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn a_shutdown_detection_set_aside_is_retracted_with_the_reason_detection_gave() {
    // Issue 16 (D5): published from silence, then explained on the probes' return (they
    // rebooted: a power cut). The retraction says so, not the generic "came back without evidence".
    let open = shutdown("s1", T, None, Status::Provisional, &FOUR, T);
    let pubd = [published(open.clone(), 1, T + 600)];
    let power = "retracted: 4 probes rebooted on their return (their uptime restarted): a power cut";
    let other_scope = set_aside(Some(64501), T, T + 3600, "retracted: elsewhere");
    let elsewhere_in_time = set_aside(Some(64500), T + 86_400, T + 90_000, "retracted: another day");
    let covering = set_aside(Some(64500), T + 60, T + 3000, power);
    let changes = reconcile_with(&pubd, &[], &[other_scope.clone(), elsewhere_in_time.clone(), covering], T + 3600);
    assert_eq!(retraction_reason(&changes), [("s1", power)]);
    // No set-aside of its scope and time: the generic reason.
    let changes = reconcile_with(&pubd, &[], &[other_scope, elsewhere_in_time], T + 3600);
    let [(_, reason)] = retraction_reason(&changes)[..] else { panic!() };
    assert!(reason.contains("came back without evidence"), "{reason}");
    // Of two covering it, the one overlapping most; a country's set-aside does not cover an ASN's.
    let closed = shutdown("s2", T, Some(T + 7200), Status::Provisional, &FOUR, T);
    let pubd = [published(closed, 1, T + 600)];
    let small = set_aside(Some(64500), T + 6000, T + 7000, "retracted: small");
    let big = set_aside(Some(64500), T, T + 7000, "retracted: big");
    let country = set_aside(None, T, T + 7200, "retracted: country");
    let changes = reconcile_with(&pubd, &[], &[small, country, big], T + 9000);
    assert_eq!(retraction_reason(&changes), [("s2", "retracted: big")]);
    // A blocking event is never retracted with a shutdown's reason.
    let mut block = open;
    block.kind = EventType::Blocking { platform: "whatsapp".into(), family: None, mechanism: None };
    let changes = reconcile_with(&[published(block, 1, T)], &[], &[set_aside(Some(64500), T, T + 600, "x")], T + 900);
    let [(_, reason)] = retraction_reason(&changes)[..] else { panic!() };
    assert!(reason.contains("no longer support"), "{reason}");
    // A still-detected event is not retracted whatever is set aside.
    let e = shutdown("s3", T, None, Status::Provisional, &FOUR, T);
    let changes =
        reconcile_with(&[published(e.clone(), 1, T)], &[e], &[set_aside(Some(64500), T, T + 600, "x")], T + 900);
    assert_eq!(changes, [Change::Unchanged { id: "s3".into() }]);
}
