//! Detection on stored data: simulated measurements stored as the writer stores them (payload →
//! observation), detection passes as data arrives, events and revisions in SQLite.

use super::*;
use crate::store::open_and_migrate;
use vigil_detect::Observation;
use vigil_detect::obs::{StoredMeasurement, format_utc};
use vigil_detect::sim::{CountrySpec, FleetSpec, TruthEvent, TruthKind, measurement_json, simulate};
use vigil_detect::{EventType, Status};
use vigil_report::Mechanism;

const T0: i64 = 1_740_960_000;
const D: i64 = 86_400;
const H: i64 = 3600;

/// Store the observations that had arrived by `until` and not before `after`, through the
/// payload path (what the writer stores: `writer::observation_of`) when the simulator has a
/// payload for them.
fn store(conn: &mut Connection, obs: &[Observation], after: i64, until: i64) -> usize {
    let tx = conn.transaction().unwrap();
    let mut n = 0;
    for o in obs.iter().filter(|o| o.received_at > after && o.received_at <= until) {
        let id = o.measurement_id.clone().unwrap();
        match measurement_json(o) {
            Some(json) => {
                let payload = json.to_string();
                let test_name = json["test_name"].as_str().unwrap().to_string();
                let start = format_utc(o.at);
                let row = StoredMeasurement {
                    id: &id,
                    key_id: &o.probe,
                    test_name: &test_name,
                    measurement_start_time: &start,
                    received_at: o.received_at,
                    asn: o.asn,
                    cc: &o.cc,
                    payload: &payload,
                };
                let o = crate::writer::observation_of(&row, None, true);
                assert!(o.is_some(), "{payload}");
                insert_observation(&tx, row.test_name, &o.unwrap()).unwrap();
            }
            None => insert_observation(&tx, "web_connectivity", o).unwrap(),
        }
        n += 1;
    }
    tx.commit().unwrap();
    n
}

#[test]
fn stored_measurements_become_events_with_revisions_when_late_evidence_arrives() {
    let countries = vec![CountrySpec { cc: "AA".into(), asns: vec![100, 101] }];
    let mut spec = FleetSpec::new(11, T0, 2, 30, countries);
    spec.platforms = vec!["whatsapp".into(), "telegram".into()];
    spec.throttling = false;
    let (cut, back) = (T0 + D + 10 * H + 420, T0 + D + 12 * H + 1500);
    let (block_start, block_end) = (T0 + 6 * H, T0 + 20 * H);
    let truth = [
        TruthEvent { cc: "AA".into(), asn: Some(100), kind: TruthKind::Shutdown, start: cut, end: back },
        TruthEvent {
            cc: "AA".into(),
            asn: Some(101),
            kind: TruthKind::Block { platform: "telegram".into(), mechanism: Mechanism::TlsSniReset },
            start: block_start,
            end: block_end,
        },
    ];
    let fleet = simulate(&spec, &truth);
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open_and_migrate(&dir.path().join("v.sqlite")).unwrap();
    let params = Params::default();

    // Pass 1: one hour into the shutdown, before the spooled evidence has arrived.
    let t1 = cut + H;
    assert!(store(&mut conn, &fleet.observations, i64::MIN, t1) > 1000);
    let s1 = run_detection(&mut conn, &params, t1, DEFAULT_WINDOW).unwrap();
    assert!(s1.new >= 2, "{s1:?}");
    let live = load_published(&conn, 0).unwrap();
    let shutdown = live.iter().find(|p| matches!(p.event.kind, EventType::Shutdown)).expect("shutdown published");
    assert_eq!(shutdown.event.scope.asn, Some(100));
    assert_eq!(shutdown.event.end, None, "ongoing at the first pass");
    let shutdown_id = shutdown.event.id.clone();

    // Pass 2: after restoration, everything (spooled evidence included) has arrived.
    let t2 = spec.end() + 2 * H;
    store(&mut conn, &fleet.observations, t1, t2);
    let s2 = run_detection(&mut conn, &params, t2, DEFAULT_WINDOW).unwrap();
    assert!(s2.revised >= 1, "{s2:?}");
    // Pass 3 with nothing new changes nothing.
    let s3 = run_detection(&mut conn, &params, t2, DEFAULT_WINDOW).unwrap();
    assert_eq!((s3.new, s3.revised), (0, 0), "{s3:?}");

    let (event, revisions) = event_with_revisions(&conn, &shutdown_id).unwrap().expect("stored");
    assert_eq!(event.status, Status::Confirmed);
    let interval = params.heartbeat_interval;
    assert!((event.start - cut).abs() <= 2 * interval, "start off by {}", event.start - cut);
    assert!((event.end.expect("ended") - back).abs() <= 2 * interval);
    assert!(revisions.len() >= 2);
    assert_eq!(revisions[0].revision, 1);
    assert!(revisions.windows(2).all(|w| w[1].revision == w[0].revision + 1));
    assert!(revisions[1..].iter().all(|r| !r.reason.is_empty() && r.changes.as_array().is_some_and(|c| !c.is_empty())));
    let stored_rev: u32 =
        conn.query_row("SELECT revision FROM events WHERE id = ?1", [&shutdown_id], |r| r.get(0)).unwrap();
    assert_eq!(stored_rev as usize, revisions.len());

    // The block: its platform, mechanism, ASN and times; evidence rows link measurements.
    let block = load_published(&conn, 0)
        .unwrap()
        .into_iter()
        .find(|p| matches!(p.event.kind, EventType::Blocking { .. }) && p.event.status != Status::Retracted)
        .expect("block published");
    let EventType::Blocking { platform, mechanism, .. } = &block.event.kind else { unreachable!() };
    assert_eq!(
        (platform.as_str(), *mechanism, block.event.scope.asn),
        ("telegram", Some(Mechanism::TlsSniReset), Some(101))
    );
    assert!((block.event.start - block_start).abs() <= params.battery_interval, "{}", block.event.start - block_start);
    assert!((block.event.end.expect("ended") - block_end).abs() <= params.battery_interval);
    let (mech, evidence): (String, i64) = conn
        .query_row(
            "SELECT mechanism, (SELECT COUNT(*) FROM event_evidence WHERE event_id = events.id) FROM events WHERE id = ?1",
            [&block.event.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(mech, "tls_sni_reset");
    assert!(evidence as usize >= block.event.measurements.min(1));

    // As the events age out of the window, passes leave them exactly as published (the
    // detector no longer sees their beginning: it could only truncate or retract them).
    let before: Vec<(String, u32, String)> = events_table(&conn);
    for days in [12, 13, 14, 15, 20] {
        let s = run_detection(&mut conn, &params, t2 + days * 86_400, DEFAULT_WINDOW).unwrap();
        assert_eq!((s.new, s.revised), (0, 0), "{days} days later: {s:?}");
    }
    assert_eq!(events_table(&conn), before);

    // A "new" event whose id is already published becomes its next revision, not an error.
    let last = event_with_revisions(&conn, &block.event.id).unwrap().unwrap().1.len() as u32;
    let tx = conn.transaction().unwrap();
    write_changes(&tx, &[vigil_detect::Change::New(block.event.clone())], t2 + 21 * 86_400).expect("no conflict");
    tx.commit().unwrap();
    let revisions = event_with_revisions(&conn, &block.event.id).unwrap().unwrap().1;
    assert_eq!((revisions.len() as u32, revisions.last().unwrap().reason.as_str()), (last + 1, "detected again"));
}

fn events_table(conn: &rusqlite::Connection) -> Vec<(String, u32, String)> {
    let mut stmt = conn.prepare("SELECT id, revision, event FROM events ORDER BY id").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
}

/// Every revision of every stored event: (id, revision, status, reason).
fn revisions_table(conn: &rusqlite::Connection) -> Vec<(String, u32, String, String)> {
    let mut stmt = conn
        .prepare("SELECT r.id, r.revision, json_extract(r.event, '$.status'), r.reason FROM event_revisions r ORDER BY r.id, r.revision")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(Result::unwrap).collect()
}

/// The shutdowns of ASN 100 as stored: (id, status, final, start).
fn shutdowns(conn: &rusqlite::Connection) -> Vec<(String, String, i64, i64)> {
    let mut stmt = conn
        .prepare("SELECT id, status, final, start FROM events WHERE type = 'shutdown' AND asn = 100 ORDER BY start, id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(Result::unwrap).collect()
}

#[test]
fn a_retracted_false_alarm_stays_retracted_and_later_outages_of_its_asn_are_new_events() {
    // Issue 16 (D2): a power cut of ASN 100's probes is published as a shutdown while they are
    // silent and retracted when they come back without records; a real shutdown days later
    // must be a new event, never a revision of the retraction (an open retraction used to
    // overlap everything after it), and so must one that starts in the false alarm's hour (same
    // id: it used to be written "detected again" over the retracted row).
    let countries = vec![CountrySpec { cc: "AA".into(), asns: vec![100, 101] }];
    let mut spec = FleetSpec::new(7, T0, 6, 30, countries);
    spec.platforms = vec!["whatsapp".into()];
    spec.throttling = false;
    spec.noise.night_off = 0.0;
    spec.noise.churn = 0.0;
    let real = (T0 + 4 * D + 10 * H + 600, T0 + 4 * D + 12 * H);
    let second_off = (T0 + 5 * D + 14 * H + 120, T0 + 5 * D + 14 * H + 720);
    let second_real = (T0 + 5 * D + 14 * H + 3360, T0 + 5 * D + 16 * H);
    let truth = [real, second_real].map(|(start, end)| TruthEvent {
        cc: "AA".into(),
        asn: Some(100),
        kind: TruthKind::Shutdown,
        start,
        end,
    });
    let fleet = simulate(&spec, &truth);
    // The power cuts: ASN 100's probes are switched off, so they record (and spool) nothing.
    let first_off = (T0 + D + 10 * H + 180, T0 + D + 10 * H + 1500);
    let off = |o: &Observation| o.asn == 100 && [first_off, second_off].iter().any(|&(a, b)| o.at >= a && o.at < b);
    let obs: Vec<Observation> = fleet.observations.iter().filter(|o| !off(o)).cloned().collect();
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open_and_migrate(&dir.path().join("v.sqlite")).unwrap();
    let params = Params::default();
    let mut stored = i64::MIN;
    let mut pass = |conn: &mut Connection, t: i64| {
        store(conn, &obs, stored, t);
        stored = t;
        run_detection(conn, &params, t, DEFAULT_WINDOW).unwrap()
    };

    // The first false alarm: published while silent, retracted once they are back.
    pass(&mut conn, first_off.0 + 900);
    let alarm = shutdowns(&conn);
    assert_eq!(alarm.len(), 1, "published while silent: {alarm:?}");
    pass(&mut conn, first_off.1 + 2 * H);
    let after = shutdowns(&conn);
    assert_eq!((after[0].1.as_str(), after[0].2), ("retracted", 1), "{after:?}");
    let false_id = after[0].0.clone();

    // The real shutdown three days later: provisional while it lasts, confirmed after.
    pass(&mut conn, real.0 + H);
    pass(&mut conn, real.1 + 2 * H);
    // The second false alarm, retracted before the real shutdown that starts in its hour.
    pass(&mut conn, second_off.0 + 540);
    assert_eq!(shutdowns(&conn).len(), 3, "{:?}", shutdowns(&conn));
    pass(&mut conn, second_off.0 + 2880);
    pass(&mut conn, second_real.0 + H);
    pass(&mut conn, second_real.1 + 2 * H);

    let all = shutdowns(&conn);
    let revisions = revisions_table(&conn);
    let history = |id: &str| revisions.iter().filter(|r| r.0 == id).collect::<Vec<_>>();
    // The first false alarm's history ends with its retraction.
    let first = history(&false_id);
    assert_eq!(first.last().unwrap().2, "retracted", "{first:?}");
    assert_eq!(first.iter().filter(|r| r.2 == "retracted").count(), 1, "{first:?}");
    let live: Vec<_> = all.iter().filter(|e| e.1 != "retracted").collect();
    assert_eq!(live.len(), 2, "two real shutdowns: {all:?}\n{revisions:#?}");
    let interval = params.heartbeat_interval;
    assert!((live[0].3 - real.0).abs() <= 2 * interval, "{all:?}");
    assert_eq!(live[0].1, "confirmed", "{all:?}");
    assert_eq!(history(&live[0].0)[0].3, "first publication");
    // The second real one starts in the second false alarm's hour: a fresh id, said why.
    let second_false = all
        .iter()
        .find(|e| e.1 == "retracted" && e.0 != false_id)
        .unwrap_or_else(|| panic!("second false alarm: {all:?}\n{revisions:#?}"));
    assert_eq!(second_false.2, 1);
    assert_eq!(second_false.3.div_euclid(H), second_real.0.div_euclid(H), "{all:?}");
    assert_eq!(live[1].0, format!("{}-2", second_false.0), "{all:?}");
    assert_eq!(history(&live[1].0)[0].3, vigil_detect::revise::REASON_AFTER_RETRACTION);
    assert!((live[1].3 - second_real.0).abs() <= 2 * interval, "{all:?}");
    // Every retracted event's history ends at its retraction.
    for (id, ..) in all.iter().filter(|e| e.1 == "retracted") {
        let h = history(id);
        assert_eq!(h.iter().position(|r| r.2 == "retracted"), Some(h.len() - 1), "{h:?}");
    }
}

#[test]
fn write_rules_give_a_new_event_on_a_retracted_id_the_next_free_suffix_and_keep_retractions_final() {
    use vigil_detect::{Basis, Evidence, Scope};
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open_and_migrate(&dir.path().join("v.sqlite")).unwrap();
    let e = DetectedEvent {
        id: "shutdown-AA-100-x".into(),
        scope: Scope { cc: "AA".into(), asn: Some(100) },
        kind: EventType::Shutdown,
        start: T0,
        start_uncertainty: 150,
        end: None,
        end_uncertainty: None,
        probes: 1,
        measurements: 1,
        evidence: vec![Evidence { probe: "p".into(), at: T0, received_at: T0, measurement_id: Some("m1".into()) }],
        confidence: 0.6,
        status: Status::Provisional,
        basis: Basis::Silence,
        cannot_tell: Vec::new(),
        sources: Vec::new(),
    };
    let retract = |id: &str, revision: u32| {
        let mut r = e.clone();
        r.id = id.into();
        r.status = Status::Retracted;
        Change::Revised { id: id.into(), revision, event: r, changes: Vec::new(), reason: "retracted".into() }
    };
    let write = |conn: &mut Connection, changes: &[Change], now: i64| {
        let tx = conn.transaction().unwrap();
        write_changes(&tx, changes, now).unwrap();
        tx.commit().unwrap();
    };
    let row = |conn: &Connection, id: &str| -> (u32, String, i64) {
        conn.query_row("SELECT revision, status, final FROM events WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
    };
    let first_reason = |conn: &Connection, id: &str| -> String {
        conn.query_row("SELECT reason FROM event_revisions WHERE id = ?1 AND revision = 1", [id], |r| r.get(0)).unwrap()
    };
    write(&mut conn, &[Change::New(e.clone())], T0);
    write(&mut conn, &[retract(&e.id, 2)], T0 + H);
    assert_eq!(row(&conn, &e.id), (2, "retracted".into(), 1));
    assert!(load_published(&conn, 0).unwrap().is_empty(), "a final event is not loaded for matching");
    assert_eq!(load_stored(&conn, 0).unwrap().len(), 1);
    // The same id detected again: a new event `-2`, the retraction untouched.
    write(&mut conn, &[Change::New(e.clone())], T0 + 2 * H);
    assert_eq!(row(&conn, &e.id), (2, "retracted".into(), 1));
    let second = format!("{}-2", e.id);
    assert_eq!(row(&conn, &second), (1, "provisional".into(), 0));
    assert_eq!(first_reason(&conn, &second), vigil_detect::revise::REASON_AFTER_RETRACTION);
    let stored = event_with_revisions(&conn, &second).unwrap().unwrap().0;
    assert_eq!(stored.id, second, "the stored event carries its new id");
    let evidence: i64 =
        conn.query_row("SELECT COUNT(*) FROM event_evidence WHERE event_id = ?1", [&second], |r| r.get(0)).unwrap();
    assert_eq!(evidence, 1);
    // `-2` retracted too: the next one is `-3`.
    write(&mut conn, &[retract(&second, 2)], T0 + 3 * H);
    write(&mut conn, &[Change::New(e.clone())], T0 + 4 * H);
    assert_eq!(row(&conn, &format!("{}-3", e.id)), (1, "provisional".into(), 0));
    // A revision of a final event that reached the writer anyway is not written: the history
    // ends at the retraction, `final` stays.
    let mut revived = e.clone();
    revived.status = Status::Confirmed;
    let change =
        Change::Revised { id: e.id.clone(), revision: 3, event: revived, changes: Vec::new(), reason: "x".into() };
    write(&mut conn, &[change], T0 + 5 * H);
    assert_eq!(row(&conn, &e.id), (2, "retracted".into(), 1));
}
