//! Detection and publication end to end: a simulated fleet with a known ASN shutdown and a
//! platform block is replayed through the real ingest path (signature checks, the writer,
//! observations written at ingest) and detection; the real server on 127.0.0.1 then publishes
//! the events (JSON, CSV, Atom), their revision history and their signed evidence.

use std::collections::HashMap;

use serde_json::{Value, json};
use vigil_collector::{Collector, Config};
use vigil_detect::Params;
use vigil_detect::sim::{CountrySpec, FleetSpec, TruthEvent, TruthKind, simulate};
use vigil_report::Signed;
use vigil_report::signed::decode_public_key;

const T0: i64 = 1_740_960_000; // 2025-03-03 00:00 UTC
const D: i64 = 86_400;
const H: i64 = 3600;

struct Truth {
    cut: i64,
    back: i64,
    block_start: i64,
    block_end: i64,
}

/// The fleet as replay lines (probe label, arrival time, measurement), and its ground truth.
fn fleet_lines() -> (String, Truth) {
    let countries = vec![CountrySpec { cc: "AA".into(), asns: vec![100, 101] }];
    let mut spec = FleetSpec::new(11, T0, 2, 30, countries);
    spec.platforms = vec!["whatsapp".into(), "telegram".into()];
    spec.throttling = false;
    let t = Truth {
        cut: T0 + D + 10 * H + 420,
        back: T0 + D + 12 * H + 1500,
        block_start: T0 + 6 * H,
        block_end: T0 + 20 * H,
    };
    let truth = [
        TruthEvent { cc: "AA".into(), asn: Some(100), kind: TruthKind::Shutdown, start: t.cut, end: t.back },
        TruthEvent {
            cc: "AA".into(),
            asn: Some(101),
            kind: TruthKind::Block { platform: "telegram".into(), mechanism: vigil_report::Mechanism::TlsSniReset },
            start: t.block_start,
            end: t.block_end,
        },
    ];
    let fleet = simulate(&spec, &truth);
    let text = vigil_collector::demo::replay_lines(&fleet);
    (text, t)
}

async fn get(base: &str, path: &str) -> (u16, String) {
    let r = reqwest::get(format!("{base}{path}")).await.expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

fn event<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["type"] == kind && e["status"] != "retracted")
        .unwrap_or_else(|| panic!("{kind} in {events:#?}"))
}

fn unix(rfc3339: &Value) -> i64 {
    vigil_collector::events::rfc3339_to_unix(rfc3339.as_str().expect("a time")).expect("RFC 3339")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_fleet_is_published_with_revisions_evidence_csv_and_atom() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::open(Config::new(dir.path())).expect("opens");
    let state = collector.state().clone();

    let (text, truth) = fleet_lines();
    // Detection every 6 h of recorded time: once during the shutdown, then after restoration.
    let started = std::time::Instant::now();
    let report = vigil_collector::replay::replay(&state, &text, 6 * H).await.expect("replay");
    eprintln!("replay: {report:?} in {:?}", started.elapsed());
    assert!(report.rejected.is_empty(), "{:?}", &report.rejected[..report.rejected.len().min(5)]);
    assert_eq!(report.accepted, report.lines);
    assert!(report.new_events >= 2 && report.revisions >= 1, "{report:?}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(collector.serve(listener, async {
        let _ = stopped.await;
    }));

    // The list: type, scope, mechanism and times within the detector's tolerances.
    let (status, body) = get(&base, "/api/v1/events?country=aa").await;
    assert_eq!(status, 200, "{body}");
    let events: Vec<Value> = serde_json::from_str(&body).unwrap();
    let params = Params::default();
    let shutdown = event(&events, "shutdown");
    assert_eq!(shutdown["scope"], json!({"cc": "AA", "asn": 100}));
    assert_eq!(shutdown["platforms"], json!([]));
    assert_eq!(shutdown["status"], "confirmed");
    assert!((unix(&shutdown["start"]) - truth.cut).abs() <= 2 * params.heartbeat_interval, "{shutdown}");
    assert!((unix(&shutdown["end"]) - truth.back).abs() <= 2 * params.heartbeat_interval, "{shutdown}");
    let block = event(&events, "blocking");
    assert_eq!(block["scope"], json!({"cc": "AA", "asn": 101}));
    assert_eq!((&block["platforms"], &block["mechanism"]), (&json!(["telegram"]), &json!("tls_sni_reset")));
    assert!((unix(&block["start"]) - truth.block_start).abs() <= params.battery_interval, "{block}");
    assert!((unix(&block["end"]) - truth.block_end).abs() <= params.battery_interval, "{block}");
    assert!(block["probes"].as_u64().unwrap() >= 2 && block["measurements"].as_u64().unwrap() >= 3);
    // What each rests on, what cannot be told apart and its sources (Vigil's alone here).
    for e in [shutdown, block] {
        assert_eq!((&e["basis"], &e["cannot_tell"]), (&json!("evidence"), &json!([])), "{e}");
        assert_eq!(
            e["sources"],
            json!([{"source": "vigil", "probes": e["probes"], "measurements": e["measurements"]}])
        );
    }

    // Filters, and input errors naming the parameter.
    let (_, body) = get(&base, "/api/v1/events?type=shutdown&asn=100").await;
    let only: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert!(!only.is_empty() && only.iter().all(|e| e["type"] == "shutdown" && e["scope"]["asn"] == 100));
    let (_, body) = get(&base, "/api/v1/events?country=AA&limit=1").await;
    let first: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!((first.len(), &first[0]["id"]), (1, &events[0]["id"]), "the newest event first");
    let (_, body) = get(&base, "/api/v1/events?country=BB").await;
    assert_eq!(body, "[]");
    // Unknown is a status the filter takes (none here), and a status it does not know is a 400.
    assert_eq!(get(&base, "/api/v1/events?status=unknown").await, (200, "[]".to_string()));
    let (status, body) = get(&base, "/api/v1/events?status=maybe").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("status") && body.contains("unknown"), "{body}");
    let (_, body) = get(&base, &format!("/api/v1/events?to={}", truth.block_start - 6 * H)).await;
    assert_eq!(body, "[]", "nothing had started by then");
    for (query, name) in [
        ("country=A1", "country"),
        ("asn=x", "asn"),
        ("from=yesterday", "from"),
        ("colour=red", "colour"),
        ("limit=0", "limit"),
    ] {
        let (status, body) = get(&base, &format!("/api/v1/events?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains("bad_parameter") && body.contains(name), "{query}: {body}");
    }

    // One event with its revisions: late (spooled) evidence revised the shutdown.
    let id = shutdown["id"].as_str().unwrap();
    let (status, body) = get(&base, &format!("/api/v1/events/{id}")).await;
    assert_eq!(status, 200);
    let detail: Value = serde_json::from_str(&body).unwrap();
    let revisions = detail["revisions"].as_array().unwrap();
    assert!(revisions.len() >= 2, "{detail:#}");
    assert_eq!(detail["revision"], revisions.len());
    assert!(revisions[1..].iter().all(|r| !r["reason"].as_str().unwrap().is_empty()));
    assert!(revisions.iter().any(|r| r["reason"].as_str().unwrap().contains("confirmed")), "{revisions:#?}");
    let (status, _) = get(&base, "/api/v1/events/nope").await;
    assert_eq!(status, 404);

    // Evidence: signed envelopes that verify with the published probe keys.
    let bid = block["id"].as_str().unwrap();
    let (status, body) = get(&base, &format!("/api/v1/events/{bid}/evidence")).await;
    assert_eq!(status, 200);
    let (_, keys) = get(&base, "/api/v1/probe-keys").await;
    let keys: Vec<Value> = serde_json::from_str(&keys).unwrap();
    let keys: HashMap<&str, &str> =
        keys.iter().map(|k| (k["key_id"].as_str().unwrap(), k["public_key"].as_str().unwrap())).collect();
    let envelopes: Vec<Signed> = body.lines().map(|l| serde_json::from_str(l).expect("a Signed line")).collect();
    assert!(envelopes.len() >= block["measurements"].as_u64().unwrap() as usize, "{}", envelopes.len());
    for s in &envelopes {
        let key = decode_public_key(keys[s.key_id.as_str()]).expect("published key");
        key.verify_strict(&s.signed_message(), &s.signature().unwrap()).expect("evidence verifies");
        let m: Value = serde_json::from_str(&s.payload).unwrap();
        assert_eq!((m["test_name"].as_str(), m["input"].as_str()), (Some("vigil_platform"), Some("telegram")));
    }

    // CSV: a header and one well-formed row per event.
    let (status, csv) = get(&base, "/api/v1/events.csv?country=AA").await;
    assert_eq!(status, 200);
    let rows: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(rows[0], vigil_collector::api_events::CSV_HEADER);
    assert_eq!(rows.len(), events.len() + 1);
    assert!(rows.iter().all(|r| r.split(',').count() == 16), "{csv}");
    assert!(rows.iter().any(|r| r.starts_with(&format!("{id},")) && r.contains(",shutdown,AA,100,")), "{csv}");

    // Atom: one entry per revision, newest first.
    let (status, atom) = get(&base, "/api/v1/feed.atom").await;
    assert_eq!(status, 200);
    assert!(atom.starts_with("<?xml") && atom.trim_end().ends_with("</feed>"));
    let total: usize =
        state.read(|c| c.query_row("SELECT COUNT(*) FROM event_revisions", [], |r| r.get::<_, i64>(0))).await.unwrap()
            as usize;
    assert_eq!(atom.matches("<entry>").count(), total.min(200));
    assert_eq!(atom.matches("</entry>").count(), atom.matches("<entry>").count());
    let updated: Vec<&str> = atom.split("<updated>").skip(2).map(|s| s.split('<').next().unwrap()).collect::<Vec<_>>();
    assert!(updated.windows(2).all(|w| w[0] >= w[1]), "newest first: {updated:?}");
    assert!(atom.contains(&format!("urn:vigil:event:{id}:2")));

    drop(state);
    let _ = stop.send(());
    server.await.unwrap().expect("serve");
}

/// The fleet of [`fleet_lines`] as observations (sorted by arrival), for the incremental pass
/// tests: they go into the collector's store as ingest writes them.
fn fleet_observations() -> (Vec<vigil_detect::Observation>, Truth) {
    let countries = vec![CountrySpec { cc: "AA".into(), asns: vec![100, 101] }];
    let mut spec = FleetSpec::new(11, T0, 2, 30, countries);
    spec.platforms = vec!["whatsapp".into(), "telegram".into()];
    spec.throttling = false;
    let t = Truth { cut: T0 + D + 10 * H + 420, back: T0 + D + 12 * H + 1500, block_start: 0, block_end: 0 };
    let truth = [TruthEvent { cc: "AA".into(), asn: Some(100), kind: TruthKind::Shutdown, start: t.cut, end: t.back }];
    let mut obs = simulate(&spec, &truth).observations;
    obs.sort_by_key(|o| o.received_at);
    (obs, t)
}

/// Store the observations received in `(after, until]` as ingest does (one transaction).
fn store_rows(db: &std::path::Path, obs: &[vigil_detect::Observation], after: i64, until: i64) {
    let mut conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let tx = conn.transaction().unwrap();
    for o in obs.iter().filter(|o| o.received_at > after && o.received_at <= until) {
        vigil_collector::events::insert_observation(&tx, "vigil_heartbeat", o).unwrap();
    }
    tx.commit().unwrap();
}

/// Every stored revision, as published.
async fn revisions(state: &vigil_collector::AppState) -> Vec<(String, i64, i64, String, String, String)> {
    state
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT id, revision, changed_at, reason, changes, event FROM event_revisions ORDER BY id, revision",
            )?;
            let rows =
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
        .unwrap()
}

/// Run the passes at `times` on a collector in `dir`, storing before each the rows received up
/// to 30 min after it (those received later than the pass stay pending); when `restart` is
/// given, the collector saves its checkpoint after that pass, stops and a new one opens on the
/// same data dir. Each pass must read exactly the rows that became due since the previous one.
async fn run_passes(
    dir: &std::path::Path,
    obs: &[vigil_detect::Observation],
    times: &[i64],
    restart: Option<usize>,
) -> (Vec<(String, i64, i64, String, String, String)>, Vec<usize>) {
    let config = Config::new(dir);
    let db = config.db_path();
    let mut collector = Collector::open(config.clone()).expect("opens");
    let mut state = collector.state().clone();
    let mut reads = Vec::new();
    let mut stored = i64::MIN;
    let mut due = i64::MIN;
    for (k, &now) in times.iter().enumerate() {
        store_rows(&db, obs, stored, now + 1800);
        stored = now + 1800;
        let summary = vigil_collector::detection::pass(&state, now).await.expect("pass");
        let first = k == 0;
        let expected = obs.iter().filter(|o| o.received_at > due && o.received_at <= now).count();
        if !first {
            assert_eq!(summary.observations, expected, "pass {k} at {now} read only the rows due since the last");
        }
        reads.push(summary.observations);
        due = now;
        if restart == Some(k) {
            assert!(vigil_collector::detection::save_checkpoint(&state).await.unwrap());
            drop(state);
            tokio::task::spawn_blocking(move || collector.close()).await.unwrap();
            collector = Collector::open(config.clone()).expect("reopens");
            state = collector.state().clone();
        }
    }
    let out = revisions(&state).await;
    if restart.is_some() {
        assert!(state.detector.lock().await.as_ref().unwrap().restored, "the restarted collector restored");
    }
    drop(state);
    tokio::task::spawn_blocking(move || collector.close()).await.unwrap();
    (out, reads)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collector_restarted_from_its_checkpoint_publishes_what_one_that_never_stopped_publishes() {
    // Issue 16 (D7, M1): the pass reads only the rows stored since its cursor (counted), keeps
    // the detector between passes, and a restart restores it from the checkpoint.
    let (obs, truth) = fleet_observations();
    let times: Vec<i64> = (1..=24).map(|k| T0 + k * 2 * H).collect();
    let restart_at = times.iter().position(|&t| t > truth.cut).unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (never_stopped, reads) = run_passes(a.path(), &obs, &times, None).await;
    let (restarted, _) = run_passes(b.path(), &obs, &times, Some(restart_at)).await;
    eprintln!("rows read per pass: {reads:?} ({} rows in all)", obs.len());
    assert!(never_stopped.iter().any(|r| r.5.contains("\"shutdown\"")), "the shutdown was published");
    assert_eq!(restarted.len(), never_stopped.len());
    for (x, y) in restarted.iter().zip(&never_stopped) {
        assert_eq!(x, y);
    }
    // A pass reads the new rows only: every pass after the first far fewer than the window holds.
    assert!(reads[1..].iter().all(|&n| n * 10 < obs.len()), "{reads:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_with_other_detection_parameters_rebuilds_from_the_window() {
    let (obs, _) = fleet_observations();
    let dir = tempfile::tempdir().unwrap();
    let now = T0 + D;
    let config = Config::new(dir.path());
    let db = config.db_path();
    let collector = Collector::open(config.clone()).expect("opens");
    store_rows(&db, &obs, i64::MIN, now);
    let state = collector.state().clone();
    let first = vigil_collector::detection::pass(&state, now).await.unwrap();
    assert_eq!(first.observations, obs.iter().filter(|o| o.received_at <= now).count());
    let again = vigil_collector::detection::pass(&state, now + 60).await.unwrap();
    assert_eq!(again.observations, 0, "nothing new");
    assert!(vigil_collector::detection::save_checkpoint(&state).await.unwrap());
    // The checkpoint is the cursor alone (`Checkpoint` holds nothing else, however large the
    // fleet): a restart reads the window's rows up to it from the store again.
    let cp = state.read(vigil_collector::detect_store::load).await.unwrap().expect("saved");
    assert!(cp.last_rowid as usize >= first.observations, "{:?}", cp.last_rowid);
    drop(state);
    tokio::task::spawn_blocking(move || collector.close()).await.unwrap();
    // Same parameters: restored, reads nothing. Other parameters: rebuilt from the window.
    for (spool_grace, restored, read) in [(0, true, 0), (1, false, first.observations)] {
        let mut config = config.clone();
        config.detection.spool_grace += spool_grace;
        let collector = Collector::open(config).expect("reopens");
        let state = collector.state().clone();
        let s = vigil_collector::detection::pass(&state, now + 120).await.unwrap();
        assert_eq!(s.observations, read);
        assert_eq!(state.detector.lock().await.as_ref().unwrap().restored, restored);
        drop(state);
        tokio::task::spawn_blocking(move || collector.close()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ooni_evidence_links_to_ooni_explorer_and_is_never_served_as_signed_evidence() {
    // Issue 16 (item 8): an event resting on OONI measurements (probe `ooni:<report_id>`) links
    // each to OONI Explorer; `/evidence` lists only Vigil's signed measurements.
    use vigil_detect::{Basis, Change, DetectedEvent, EventType, Evidence, Scope, Source, SourceSupport, Status};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::open(Config::new(dir.path())).expect("opens");
    let state = collector.state().clone();
    let report = "20250303T101500Z_webconnectivity_UG_20294_n1_abcdef";
    let uid = "20250303T101512.123456Z_webconnectivity_UG_20294_n1_q1w2e3r4t5y6u7i8";
    let derived = "ooni-5f2b0c";
    let ev = |id: &str, at| Evidence {
        probe: format!("ooni:{report}"),
        at,
        received_at: at + 60,
        measurement_id: Some(id.into()),
    };
    let e = DetectedEvent {
        id: "blocking-UG-20294-x".into(),
        scope: Scope { cc: "UG".into(), asn: Some(20294) },
        kind: EventType::Blocking { platform: "twitter".into(), family: None, mechanism: None },
        start: T0,
        start_uncertainty: 600,
        end: None,
        end_uncertainty: None,
        probes: 1,
        measurements: 2,
        evidence: vec![ev(uid, T0 + 912), ev(derived, T0 + 4000)],
        confidence: 0.6,
        status: Status::Provisional,
        basis: Basis::Evidence,
        cannot_tell: Vec::new(),
        sources: vec![SourceSupport { source: Source::Ooni, probes: 1, measurements: 2 }],
    };
    let row = vigil_collector::ooni_store::OoniRow {
        uid: derived.into(),
        report_id: report.into(),
        test_name: "web_connectivity".into(),
        input: Some("https://twitter.com/?a=1&b=2".into()),
        measurement_start_time: "2025-03-03 01:06:40".into(),
        probe_cc: "UG".into(),
        probe_asn: 20294,
        payload: "{}".into(),
        observation: None,
    };
    state.writer.import_ooni(vec![row], T0).await.expect("stored");
    state.writer.write_events(vec![Change::New(e.clone())], T0 + 5000).await.expect("stored");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    drop(state);
    let server = tokio::spawn(collector.serve(listener, async {
        let _ = stopped.await;
    }));
    let (status, body) = get(&base, &format!("/api/v1/events/{}", e.id)).await;
    assert_eq!(status, 200, "{body}");
    let detail: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(detail["sources"], json!([{"source": "ooni", "probes": 1, "measurements": 2}]));
    assert_eq!(detail["ooni_evidence_total"], 2);
    assert_eq!(
        detail["ooni_evidence"],
        json!([
            {"measurement_uid": uid, "report_id": report, "measured_at": "2025-03-03T00:15:12Z",
             "url": format!("https://explorer.ooni.org/m/{uid}")},
            {"measurement_uid": null, "report_id": report, "measured_at": "2025-03-03T01:06:40Z",
             "url": format!("https://explorer.ooni.org/measurement/{report}?input=https%3A%2F%2Ftwitter.com%2F%3Fa%3D1%26b%3D2")},
        ])
    );
    // Never served as signed evidence.
    let (status, body) = get(&base, &format!("/api/v1/events/{}/evidence", e.id)).await;
    assert_eq!((status, body.as_str()), (200, ""));
    // The dashboard's event page links them to OONI Explorer and names the sources.
    let (status, html) = get(&base, &format!("/event/{}", e.id)).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("href=\"https://explorer.ooni.org/m/{uid}\"")), "{html}");
    assert!(html.contains("OONI: 1 report, 2 measurements"), "{html}");
    assert!(html.contains("This event rests on 0 measurements"), "signed ones only: {html}");
    let _ = stop.send(());
    server.await.unwrap().expect("serve");
}

/// Measurement (prints figures, asserts only that both passes publish the same): the cost of a
/// pass every 5 minutes over a week of a 60-probe fleet, the incremental pass (rows since the
/// cursor) against the full-window pass (`events::plan_full`, 14 days read and parsed per pass).
/// `cargo test --release -p vigil-collector --test events -- --ignored pass_cost --nocapture`
/// Issue 16 M1, on 2 shared cores: 139,591 observations; incremental 0.120 s per pass reading 71
/// rows, full window 0.716 s reading 139,244 rows (the detection itself still runs over the
/// whole window: M2/M3 make that incremental too).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "measurement: run by hand in release"]
async fn pass_cost_incremental_against_full_window() {
    let countries = vec![CountrySpec { cc: "AA".into(), asns: vec![100, 101, 102] }];
    let mut spec = FleetSpec::new(5, T0, 7, 60, countries);
    spec.platforms = vec!["whatsapp".into(), "telegram".into()];
    spec.throttling = false;
    let truth = [TruthEvent {
        cc: "AA".into(),
        asn: Some(100),
        kind: TruthKind::Shutdown,
        start: T0 + 5 * D + 3 * H,
        end: T0 + 5 * D + 6 * H,
    }];
    let mut obs = simulate(&spec, &truth).observations;
    obs.sort_by_key(|o| o.received_at);
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new(dir.path());
    let db = config.db_path();
    let collector = Collector::open(config).expect("opens");
    let state = collector.state().clone();
    let start = T0 + 6 * D;
    store_rows(&db, &obs, i64::MIN, start);
    let params = Params::default();
    let (mut inc_t, mut full_t, mut inc_rows, mut full_rows) = (Vec::new(), Vec::new(), 0, 0);
    let mut prev = start;
    for k in 0..12 {
        let now = start + k * 300;
        store_rows(&db, &obs, prev, now);
        prev = now;
        let t = std::time::Instant::now();
        let s = vigil_collector::detection::pass(&state, now).await.unwrap();
        if k > 0 {
            inc_t.push(t.elapsed().as_secs_f64());
            inc_rows += s.observations;
        }
        let p = params.clone();
        let t = std::time::Instant::now();
        let (f, _) = state
            .read(move |c| {
                vigil_collector::events::plan_full(c, &p, now, vigil_collector::events::DEFAULT_WINDOW, None)
            })
            .await
            .unwrap();
        if k > 0 {
            full_t.push(t.elapsed().as_secs_f64());
            full_rows += f.observations;
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    eprintln!(
        "{} observations stored; per pass (median of {}): incremental {:.3} s reading {} rows, full window {:.3} s \
         reading {} rows",
        obs.iter().filter(|o| o.received_at <= prev).count(),
        inc_t.len(),
        median(&mut inc_t),
        inc_rows / inc_t.len(),
        median(&mut full_t),
        full_rows / full_t.len()
    );
    drop(state);
    tokio::task::spawn_blocking(move || collector.close()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_retired_by_their_operator_leave_no_shutdown_behind() {
    // Issue 16 (D4): the operator revokes every probe of AS100 as the network is cut; their
    // silence after that is no outage (a retire is the probes' last words), while the same
    // data with the probes kept publishes the shutdown.
    let (obs, truth) = fleet_observations();
    let now = truth.back - 1800; // the probes are still silent
    let mut published = Vec::new();
    for revoke in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path());
        let db = config.db_path();
        let collector = Collector::open(config).expect("opens");
        store_rows(&db, &obs, i64::MIN, now);
        let state = collector.state().clone();
        if revoke {
            let at = vigil_collector::api_events::rfc3339(truth.cut - 60);
            let mut probes: Vec<&str> = obs.iter().filter(|o| o.asn == 100).map(|o| o.probe.as_str()).collect();
            probes.sort_unstable();
            probes.dedup();
            for p in probes {
                let vk = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
                let key = vigil_collector::probe_keys::ProbeKey { key: vk, revoked: false };
                let public = vigil_report::signed::encode_public_key(&vk);
                state.writer.enroll(p.to_string(), key, public, "t".into(), at.clone()).await.unwrap();
                assert!(state.writer.revoke(p.to_string(), at.clone()).await.unwrap().is_some());
            }
        }
        vigil_collector::detection::pass(&state, now).await.expect("pass");
        let shutdowns = revisions(&state).await.iter().filter(|r| r.5.contains("\"shutdown\"")).count();
        published.push(shutdowns);
        drop(state);
        tokio::task::spawn_blocking(move || collector.close()).await.unwrap();
    }
    assert!(published[0] > 0, "kept: the shutdown is published");
    assert_eq!(published[1], 0, "retired: nothing published");
}
