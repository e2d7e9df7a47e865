//! The collector's own downtime end to end (issue 14, item 13): a real collector restarted on a
//! data dir whose probes last reported hours ago publishes no shutdown, neither at once nor
//! while it hears no one; once the probes reconnect things are normal (a real ASN shutdown
//! later is published and confirmed); the timeline shows `collector_down` for the gap. Fixed
//! times throughout: the run's start and each pass's `now` are given, never the wall clock.

use std::collections::HashMap;

use ed25519_dalek::SigningKey;
use serde_json::Value;
use vigil_collector::api_events::rfc3339;
use vigil_collector::probe_keys::ProbeKey;
use vigil_collector::writer::NewMeasurement;
use vigil_collector::{AppState, Collector, Config};
use vigil_detect::Observation;
use vigil_detect::sim::{CountrySpec, FleetSpec, TruthEvent, TruthKind, measurement_json, simulate};
use vigil_report::signed::{encode_public_key, key_id};
use vigil_report::{MEASUREMENT_FORMAT, Signed};

const T0: i64 = 1_740_960_000; // 2025-03-03 00:00 UTC
const D: i64 = 86_400;
const H: i64 = 3600;

/// The collector stopped at the end of day 1 and is started again 6 h later; the probes
/// reconnect 2 h after that.
const STOPPED: i64 = T0 + D;
const STARTED: i64 = STOPPED + 6 * H;
const BACK: i64 = STARTED + 2 * H;
/// A real shutdown of AS 100 after the probes are back.
const CUT: i64 = BACK + 3 * H + 420;
const RESTORED: i64 = CUT + 2 * H;

/// Two days of a fleet of 30 probes in two countries, split at what the collector received
/// before it stopped and after the probes reconnected (what came in between is lost).
fn fleet() -> (Vec<Observation>, Vec<Observation>) {
    let c = |cc: &str, asns: &[u32]| CountrySpec { cc: cc.into(), asns: asns.to_vec() };
    let mut spec = FleetSpec::new(31, T0, 2, 30, vec![c("AA", &[100, 101]), c("BB", &[200, 201])]);
    spec.platforms = vec!["whatsapp".into(), "telegram".into()];
    spec.throttling = false;
    let truth = [TruthEvent { cc: "AA".into(), asn: Some(100), kind: TruthKind::Shutdown, start: CUT, end: RESTORED }];
    simulate(&spec, &truth)
        .observations
        .into_iter()
        .filter(|o| o.received_at < STOPPED || o.received_at >= BACK)
        .partition(|o| o.received_at < STOPPED)
}

/// Store the observations as the same probes' signed measurements (one key per simulated
/// probe, enrolled once), at their recorded arrival times, through the real writer; then a
/// detection pass every `step` s of recorded time. With `live_first`, the first one is a live
/// submission (no recorded time: stored at the batch's receipt time, as a probe's upload is),
/// the rest are replayed.
async fn receive(
    state: &AppState,
    obs: &[Observation],
    keys: &mut HashMap<String, SigningKey>,
    step: i64,
    live_first: bool,
) {
    for (c, chunk) in obs.chunks(2000).enumerate() {
        let mut items = Vec::new();
        for o in chunk {
            let Some(m) = measurement_json(o) else { continue };
            if !keys.contains_key(&o.probe) {
                let k = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
                let vk = k.verifying_key();
                let probe = ProbeKey { key: vk, revoked: false };
                state
                    .writer
                    .enroll(key_id(&vk), probe, encode_public_key(&vk), "t".into(), rfc3339(o.received_at))
                    .await
                    .unwrap();
                keys.insert(o.probe.clone(), k);
            }
            let signed = Signed::sign(MEASUREMENT_FORMAT, m.to_string(), &keys[&o.probe]);
            let s = |k: &str| m[k].as_str().unwrap_or_default().to_string();
            items.push(NewMeasurement {
                id: s("id"),
                key_id: signed.key_id,
                test_name: s("test_name"),
                input: m["input"].as_str().map(str::to_string),
                measurement_start_time: s("measurement_start_time"),
                asn: o.asn,
                cc: o.cc.clone(),
                claimed_asn: s("probe_asn"),
                claimed_cc: s("probe_cc"),
                format: signed.format,
                payload: signed.payload,
                signature: signed.signature,
                received_at: Some(rfc3339(o.received_at)),
                platform_known: true,
                parsed: None,
            });
        }
        if live_first && c == 0 && !items.is_empty() {
            let mut live = items.remove(0);
            live.received_at = None;
            let stored = state.writer.insert(rfc3339(chunk[0].received_at), vec![live]).await.unwrap();
            assert_eq!(stored, [vigil_collector::writer::InsertOutcome::Accepted]);
        }
        let stored = state.writer.insert(rfc3339(chunk[0].received_at), items).await.unwrap();
        assert!(stored.iter().all(|s| *s == vigil_collector::writer::InsertOutcome::Accepted));
    }
    let (first, last) = (obs[0].received_at, obs[obs.len() - 1].received_at);
    for now in (first + step..last).step_by(step as usize).chain([last + 1]) {
        vigil_collector::detection::pass(state, now).await.expect("pass");
    }
}

/// Every shutdown event ever published (retracted ones too): (scope, start, status).
async fn shutdowns(state: &AppState) -> Vec<(String, Option<u32>, i64, String)> {
    state
        .read(|c| {
            let mut s =
                c.prepare("SELECT cc, asn, start, status FROM events WHERE type = 'shutdown' ORDER BY start")?;
            let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect()
        })
        .await
        .expect("read events")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_on_old_data_publishes_no_shutdown_and_the_timeline_says_collector_down() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let (before, after) = fleet();
    let mut keys = HashMap::new();
    let before_last = before.iter().map(|o| o.received_at).max().unwrap();

    // The data dir: a day of the fleet, received by the collector until it stopped.
    let collector = Collector::open(Config::new(dir.path())).expect("opens");
    receive(collector.state(), &before, &mut keys, 6 * H, false).await;
    assert!(shutdowns(collector.state()).await.is_empty());
    tokio::task::spawn_blocking(move || collector.close()).await.unwrap();

    // Restarted 6 h later on that data dir.
    let collector = Collector::open(Config::new(dir.path())).expect("opens again");
    let state = collector.state().clone();
    // Without the collector's own downtime, every network's probes are silent: this is what
    // a pass used to publish (so this test fails without the fix).
    let obs = state.read(|c| vigil_collector::events::load_observations(c, STARTED - 14 * D)).await.unwrap();
    let blind = vigil_detect::detect(&obs, &state.config.detection, STARTED + 60);
    assert!(blind.iter().filter(|e| e.kind.label() == "shutdown" && e.scope.asn.is_some()).count() >= 4, "{blind:#?}");

    vigil_collector::uptime::start(&state, STARTED).await.expect("the run is recorded");
    // At once, during the grace, and while no one is heard (the uplink, say), nothing.
    for now in [STARTED + 60, STARTED + 600, STARTED + H, BACK - 60] {
        let s = vigil_collector::detection::pass(&state, now).await.expect("pass");
        assert_eq!((s.new, s.revised), (0, 0), "at start + {} s", now - STARTED);
        vigil_collector::uptime::alive(&state, now).await.expect("alive");
    }
    assert!(shutdowns(&state).await.is_empty());

    // The probes reconnect, the first one live: its receipt closes the quiet stretch (the
    // writer's path for live uploads), after the last tick that recorded it.
    let quiet_end = || state.read(|c| c.query_row("SELECT MAX(end) FROM collector_quiet", [], |r| r.get::<_, i64>(0)));
    assert_eq!(quiet_end().await.unwrap(), BACK - 60, "recorded by the ticks while no one is heard");
    let first_live = after[0].received_at;
    // The day goes on (passes every 30 min of recorded time), with a real shutdown of AS 100
    // while the collector is up.
    receive(&state, &after, &mut keys, 1800, true).await;
    assert_eq!(quiet_end().await.unwrap(), first_live, "the live receipt closed the quiet stretch");
    let live: i64 = state
        .read(move |c| {
            c.query_row("SELECT COUNT(*) FROM observations WHERE received_at = ?1", [first_live], |r| r.get(0))
        })
        .await
        .unwrap();
    assert!(live >= 1, "the live item is stored at its receipt time");
    let found = shutdowns(&state).await;
    assert_eq!(found.len(), 1, "only the real shutdown: {found:#?}");
    let (cc, asn, start, status) = &found[0];
    assert_eq!((cc.as_str(), *asn, status.as_str()), ("AA", Some(100), "confirmed"));
    assert!((start - CUT).abs() <= 600, "start {} s off", start - CUT);

    // The timeline: the hours the collector could not hear are collector_down, in the API's
    // JSON too (served by the real server; its own run starts at the wall clock, after all this).
    let mut config = Config::new(dir.path());
    config.live_detection = false;
    drop(state);
    tokio::task::spawn_blocking(move || collector.close()).await.unwrap();
    let collector = Collector::open(config).expect("opens a third time");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(collector.serve(listener, async {
        let _ = stopped.await;
    }));
    let url = format!("{base}/api/v1/timeline?country=BB&from={}&to={}&bucket=3600", STOPPED - 2 * H, BACK + 2 * H);
    let t: Value = serde_json::from_str(&reqwest::get(url).await.unwrap().text().await.unwrap()).expect("JSON");
    let rows = t["rows"].as_array().expect("rows");
    assert!(!rows.is_empty(), "{t}");
    for row in rows {
        let states: Vec<&str> = row["cells"].as_array().unwrap().iter().map(|c| c["state"].as_str().unwrap()).collect();
        // 22:00 and 23:00 measured; 00:00 to 07:00 the collector's (stopped, then hearing no
        // one); 08:00 and 09:00 measured again.
        assert_eq!(&states[2..10], ["collector_down"; 8], "{}: {states:?}", row["platform"]);
        assert!(states[..2].iter().chain(&states[10..]).all(|s| *s == "reachable" || *s == "anomaly"), "{states:?}");
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();

    // Serving recorded its run (the wall clock's, so only its order is checked) with the gap
    // before it, and marked it alive at the stop.
    let conn = rusqlite::Connection::open(dir.path().join("vigil.sqlite")).unwrap();
    let runs: Vec<(i64, i64, Option<i64>)> = conn
        .prepare("SELECT started_at, alive_at, heard_before FROM collector_runs ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].2, Some(before_last), "the first start knows since when it heard nothing");
    assert!(runs[1].0 > T0 + 2 * D && runs[1].1 >= runs[1].0, "{runs:?}");
}
