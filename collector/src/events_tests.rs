//! Detection on stored data: simulated measurements stored as the writer stores them (payload →
//! observation), detection passes as data arrives, events and revisions in SQLite.

use super::*;
use crate::store::open_and_migrate;
use vigil_detect::obs::format_utc;
use vigil_detect::sim::{CountrySpec, FleetSpec, TruthEvent, TruthKind, measurement_json, simulate};
use vigil_detect::{EventType, Status};
use vigil_report::Mechanism;

const T0: i64 = 1_740_960_000;
const D: i64 = 86_400;
const H: i64 = 3600;

/// Store the observations that had arrived by `until` and not before `after`, through the
/// payload path (`record_observation`) when the simulator has a payload for them.
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
                assert!(record_observation(&tx, &row, true).unwrap().is_some(), "{payload}");
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
