//! The disclosure cross-check end to end: a simulated fleet with known events (a telegram
//! block, an ASN shutdown, a whatsapp block, and a whatsapp block still going on) replayed
//! through the real ingest and detection; disclosure files (Vigil CSV with time zones, JSON
//! Lines, a #KeepItOn STOP export with dates only) imported by the real binary, bad rows
//! reported by line while the good ones are kept, once; then the reconciliation and the
//! scorecard from the command line and over HTTP, each row linking to verifiable evidence.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use vigil_collector::{Collector, Config};
use vigil_detect::sim::{CountrySpec, FleetSpec, TruthEvent, TruthKind, simulate};
use vigil_report::Mechanism;

const BIN: &str = env!("CARGO_BIN_EXE_vigil-collector");
const T0: i64 = 1_740_960_000; // 2025-03-03 00:00 UTC
const D: i64 = 86_400;
const H: i64 = 3600;
const TOKEN: &str = "operator-token-for-tests";

fn fleet_lines() -> String {
    let countries = vec![CountrySpec { cc: "IR".into(), asns: vec![100, 101] }];
    let mut spec = FleetSpec::new(7, T0, 2, 30, countries);
    spec.platforms = vec!["whatsapp".into(), "telegram".into()];
    spec.throttling = false;
    let block = |platform: &str, mechanism| TruthKind::Block { platform: platform.into(), mechanism };
    let ev = |asn, kind, start, end| TruthEvent { cc: "IR".into(), asn: Some(asn), kind, start, end };
    let truth = [
        ev(101, block("telegram", Mechanism::TlsSniReset), T0 + 6 * H, T0 + 20 * H),
        ev(100, TruthKind::Shutdown, T0 + D + 10 * H + 420, T0 + D + 12 * H + 1500),
        ev(101, block("whatsapp", Mechanism::DnsInjection), T0 + D + H, T0 + D + 8 * H),
        // Still going on when the recording ends.
        ev(100, block("whatsapp", Mechanism::DnsInjection), T0 + D + 14 * H, T0 + 40 * D),
    ];
    let fleet = simulate(&spec, &truth);
    vigil_collector::demo::replay_lines(&fleet)
}

fn config(dir: &Path) -> Config {
    let mut c = Config::new(dir);
    // The simulated probes stop at the end of the recording: the wall clock would call them silent.
    c.live_detection = false;
    c.operator_token = Some(TOKEN.into());
    c
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn cli(args: &[&str], dir: &Path) -> (Option<i32>, String, String) {
    let Output { status, stdout, stderr } =
        Command::new(BIN).args(args).arg("--data-dir").arg(dir).output().expect("runs vigil-collector");
    (status.code(), String::from_utf8_lossy(&stdout).into(), String::from_utf8_lossy(&stderr).into())
}

async fn get(base: &str, path: &str) -> (u16, String) {
    let r = reqwest::get(format!("{base}{path}")).await.expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

fn unix(v: &Value) -> i64 {
    vigil_collector::events::rfc3339_to_unix(v.as_str().expect("a time")).expect("RFC 3339")
}

/// The published event of this type, ASN and platform overlapping `t`.
fn find<'a>(events: &'a [Value], kind: &str, asn: u32, platform: Option<&str>, t: i64) -> &'a Value {
    events
        .iter()
        .find(|e| {
            e["type"] == kind
                && e["scope"]["asn"] == asn
                && e["platforms"].get(0).and_then(Value::as_str) == platform
                && unix(&e["start"]) <= t + 2 * H
                && e["end"].as_str().is_none_or(|_| unix(&e["end"]) >= t)
        })
        .unwrap_or_else(|| panic!("{kind} AS{asn} {platform:?} at {t} in {events:#?}"))
}

fn rows_for<'a>(rows: &'a [Value], outcome: &str, source: &str, event: Option<&str>) -> Vec<&'a Value> {
    rows.iter()
        .filter(|r| r["outcome"] == outcome && r["source"] == source && event.is_none_or(|e| r["event"] == e))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn disclosures_are_reconciled_with_a_replayed_fleet() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let collector = Collector::open(config(dir.path())).expect("opens");
    let state = collector.state().clone();
    let report = vigil_collector::replay::replay(&state, &fleet_lines(), 6 * H).await.expect("replay");
    assert!(report.rejected.is_empty() && report.new_events >= 4, "{report:?}");
    drop(state);
    tokio::task::spawn_blocking(move || collector.close()).await.unwrap();
    eprintln!("replay in {:?}", started.elapsed());

    // Import: bad rows by line and field, good rows stored; exit 3 says some rows were bad.
    let meta = data("disclosures-meta.csv");
    let (code, out, err) = cli(&["disclosures", "import", meta.to_str().unwrap()], dir.path());
    assert_eq!(code, Some(3), "{out}{err}");
    assert!(
        out.starts_with("7 records: 4 disclosures stored (4 new, 0 updated, 0 already stored), 3 bad rows"),
        "{out}"
    );
    assert!(
        out.contains("bad row: line 6: start: \"2025-03-03T01:00:00\": expected RFC 3339 with a UTC offset"),
        "{out}"
    );
    assert!(out.contains("bad row: line 7: country: \"IRAN\": expected an ISO 3166-1 alpha-2 code"), "{out}");
    assert!(out.contains("bad row: line 8: type: \"blocked-ish\""), "{out}");
    let tg = data("disclosures-telegram.jsonl");
    let (code, out, _) = cli(&["disclosures", "import", tg.to_str().unwrap()], dir.path());
    assert_eq!(code, Some(3));
    assert!(out.contains("line 2: end: 2025-03-03T04:30:00Z is before the start 2025-03-03T06:00:00Z"), "{out}");
    assert!(out.contains("line 3: format_version: \"2\" is not supported"), "{out}");
    let stop = data("stop-sample.csv");
    let (code, out, _) = cli(&["disclosures", "import", stop.to_str().unwrap(), "--format", "stop"], dir.path());
    assert_eq!(code, Some(3));
    assert!(out.starts_with("5 records: 4 disclosures stored (4 new,"), "{out}");
    assert!(
        out.contains("line 4: country: \"Atlantis\"") && out.contains("line 5: start_date: \"31/31/2025\""),
        "{out}"
    );
    // Re-importing stores nothing twice.
    let (_, out, _) = cli(&["disclosures", "import", meta.to_str().unwrap()], dir.path());
    assert!(out.starts_with("7 records: 4 disclosures stored (0 new, 0 updated, 4 already stored)"), "{out}");
    let (code, _, err) = cli(&["disclosures", "import", "/nonexistent.txt"], dir.path());
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bad_usage") && err.contains("--format"), "{err}");

    // The command line: text and CSV.
    let (code, text, err) = cli(&["disclosures", "reconcile", "--country", "IR"], dir.path());
    assert_eq!(code, Some(0), "{err}");
    eprintln!("{text}");
    assert!(text.contains("Scorecard:") && text.contains("unconfirmed_no_event") && text.contains("(dates)"), "{text}");
    // Nothing was disclosed about x (Twitter) itself: only the disclosures about every platform.
    let (_, csv, _) = cli(&["disclosures", "reconcile", "--csv", "--platform", "Twitter"], dir.path());
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(vigil_collector::api_disclosures::ROWS_CSV_HEADER.join(",").as_str()));
    let platforms: Vec<&str> = lines.map(|l| l.split(',').nth(2).unwrap()).collect();
    assert!(!platforms.is_empty() && platforms.iter().all(|p| *p == "all"), "{csv}");
    let (_, csv, _) = cli(&["disclosures", "reconcile", "--csv", "--scorecard", "--source", "meta"], dir.path());
    assert!(csv.starts_with("source,platform,country,measured_events"), "{csv}");
    let (code, _, err) = cli(&["disclosures", "reconcile", "--from", "last week"], dir.path());
    assert_eq!(code, Some(2));
    assert!(err.contains("--from: expected Unix seconds or RFC 3339"), "{err}");

    // Over HTTP.
    let collector = Collector::open(config(dir.path())).expect("opens");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(collector.serve(listener, async {
        let _ = stopped.await;
    }));
    let (_, body) = get(&base, "/api/v1/events?country=IR").await;
    let events: Vec<Value> = serde_json::from_str(&body).unwrap();
    let events: Vec<Value> = events.into_iter().filter(|e| e["status"] != "retracted").collect();
    let telegram = find(&events, "blocking", 101, Some("telegram"), T0 + 7 * H);
    let shutdown = find(&events, "shutdown", 100, None, T0 + D + 11 * H);
    let wa_101 = find(&events, "blocking", 101, Some("whatsapp"), T0 + D + 2 * H);
    let wa_open = find(&events, "blocking", 100, Some("whatsapp"), T0 + D + 15 * H);
    assert!(wa_open["end"].is_null(), "still going on: {wa_open}");
    let id = |e: &Value| e["id"].as_str().unwrap().to_string();

    let (status, body) = get(&base, "/api/v1/reconciliation").await;
    assert_eq!(status, 200, "{body}");
    let r: Value = serde_json::from_str(&body).unwrap();
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(r["tolerance"], 7200);

    // Matched, minute-granular, written at +03:30: normalised to UTC, timing against the event.
    let m = rows_for(rows, "matched", "telegram", Some(&id(telegram)));
    assert_eq!(m.len(), 1, "{rows:#?}");
    assert_eq!((&m[0]["disclosure_start"], &m[0]["granularity"]), (&json!("2025-03-03T06:00:00Z"), &json!("second")));
    assert_eq!(m[0]["start_difference"], T0 + 6 * H - unix(&telegram["start"]));
    assert_eq!(m[0]["end_difference"], T0 + 20 * H - unix(&telegram["end"]));
    assert_eq!(m[0]["disclosure_delay"], T0 + 21 * H - unix(&telegram["start"]));
    assert_eq!(m[0]["evidence"], format!("/api/v1/events/{}/evidence", id(telegram)));

    // Day-granular STOP rows against minute-granular events: the shutdown within its date.
    let m = rows_for(rows, "matched", "accessnow-stop", Some(&id(shutdown)));
    assert_eq!(m.len(), 1, "{rows:#?}");
    assert_eq!((&m[0]["platform"], &m[0]["granularity"]), (&json!("all"), &json!("day")));
    assert_eq!((&m[0]["start_difference"], &m[0]["end_difference"]), (&json!(0), &json!(0)));
    assert_eq!((&m[0]["disclosure_start"], &m[0]["disclosure_end"]), (&json!("2025-03-04"), &json!("2025-03-04")));
    assert!(m[0]["disclosure_delay"].is_null(), "STOP has no publication time");
    // One ongoing STOP disclosure (whatsapp since 3 March) matches two events, the ongoing one too.
    let stop_wa: Vec<&Value> =
        rows_for(rows, "matched", "accessnow-stop", None).into_iter().filter(|r| r["platform"] == "whatsapp").collect();
    let events_of: std::collections::BTreeSet<&str> = stop_wa.iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(events_of, [id(wa_101).as_str(), id(wa_open).as_str()].into_iter().collect());
    assert_eq!(
        stop_wa.iter().map(|r| r["disclosure"].as_str().unwrap()).collect::<std::collections::BTreeSet<_>>().len(),
        1
    );
    assert!(stop_wa.iter().all(|r| r["disclosure_end"].is_null()));
    // The ongoing event is matched by two of meta's disclosures (one written at -04:00).
    let meta_open = rows_for(rows, "matched", "meta", Some(&id(wa_open)));
    assert_eq!(meta_open.len(), 2, "{rows:#?}");
    assert!(meta_open.iter().all(|r| r["event_end"].is_null() && r["end_difference"].is_null()));
    assert!(meta_open.iter().any(|r| r["disclosure_start"] == "2025-03-04T14:00:00Z"));
    // Undisclosed: what meta did not disclose about whatsapp (its block on AS101, the shutdown).
    for e in [wa_101, shutdown] {
        assert_eq!(rows_for(rows, "undisclosed", "meta", Some(&id(e))).len(), 1, "{e}");
    }
    assert!(rows_for(rows, "undisclosed", "meta", Some(&id(telegram))).is_empty(), "not meta's platform");
    assert!(rows_for(rows, "undisclosed", "accessnow-stop", Some(&id(shutdown))).is_empty());
    // Unconfirmed: no probes in PK; probes in IR AS100 and nothing happened there.
    let none_there: Vec<&Value> = rows.iter().filter(|r| r["outcome"] == "unconfirmed_no_coverage").collect();
    assert_eq!(none_there.len(), 2, "meta's and STOP's Pakistan rows: {none_there:#?}");
    assert!(none_there.iter().all(|r| r["country"] == "PK" && r["probes"] == 0));
    let no_event = rows_for(rows, "unconfirmed_no_event", "meta", None);
    assert_eq!(no_event.len(), 1, "{rows:#?}");
    assert_eq!((&no_event[0]["asn"], &no_event[0]["disclosure_start"]), (&json!(100), &json!("2025-03-03T01:00:00Z")));
    assert!(no_event[0]["probes"].as_u64().unwrap() >= 3, "{}", no_event[0]);

    // The scorecard: distinct events, computed here from the event list.
    let concerns = |e: &&Value, p: &str| e["type"] == "shutdown" || e["platforms"][0] == p;
    let card = |source: &str, platform: &str, cc: Option<&str>| {
        r["scorecard"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["source"] == source && s["platform"] == platform && s["country"].as_str() == cc)
            .unwrap_or_else(|| panic!("{source} {platform} {cc:?}: {:#}", r["scorecard"]))
            .clone()
    };
    let meta = card("meta", "whatsapp", None);
    let measured = events.iter().filter(|e| concerns(e, "whatsapp")).count();
    assert_eq!(meta["measured_events"], measured);
    assert_eq!(meta["disclosed_events"], 1, "the ongoing block, matched twice, counted once: {meta}");
    assert_eq!(meta["undisclosed_events"], measured - 1);
    assert_eq!(meta["median_disclosure_delay"], T0 + D + 18 * H - unix(&wa_open["start"]), "the earlier publication");
    assert_eq!((&meta["disclosures"], &meta["matched_disclosures"]), (&json!(4), &json!(2)));
    assert_eq!((&meta["unconfirmed_no_coverage"], &meta["unconfirmed_no_event"]), (&json!(1), &json!(1)));
    assert_eq!(card("meta", "whatsapp", Some("PK"))["unconfirmed_no_coverage"], 1);
    let stop_wa = card("accessnow-stop", "whatsapp", Some("IR"));
    assert_eq!(stop_wa["measured_events"], measured);
    assert!(stop_wa["disclosed_events"].as_u64().unwrap() >= 3, "both blocks and the shutdown (as all): {stop_wa}");

    // Filters, CSV with evidence links that verify, bad parameters named.
    let (_, body) = get(&base, "/api/v1/reconciliation?source=telegram&outcome=matched").await;
    let only: Value = serde_json::from_str(&body).unwrap();
    assert!(only["rows"].as_array().unwrap().iter().all(|r| r["source"] == "telegram" && r["outcome"] == "matched"));
    let (status, csv) = get(&base, "/api/v1/reconciliation.csv?country=IR&outcome=matched").await;
    assert_eq!(status, 200);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let evidence = header.iter().position(|h| h == "evidence").unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(!records.is_empty() && records.iter().all(|r| r.len() == header.len() && r[0] == *"matched"));
    let link = records[0][evidence].to_string();
    let (status, lines) = get(&base, &link).await;
    assert_eq!(status, 200, "{link}");
    assert!(
        lines.lines().count() >= 1 && lines.lines().all(|l| serde_json::from_str::<vigil_report::Signed>(l).is_ok())
    );
    let (status, csv) = get(&base, "/api/v1/scorecard.csv?platform=whatsapp&country=IR").await;
    assert_eq!(status, 200);
    assert!(csv.starts_with(&vigil_collector::api_disclosures::SCORECARD_CSV_HEADER.join(",")), "{csv}");
    assert!(csv.lines().skip(1).all(|l| l.contains(",whatsapp,IR,")), "{csv}");
    let (_, body) = get(&base, "/api/v1/scorecard?source=meta").await;
    assert!(serde_json::from_str::<Vec<Value>>(&body).unwrap().iter().all(|s| s["source"] == "meta"));
    let (_, body) = get(&base, "/api/v1/disclosures?source=accessnow-stop").await;
    let listed: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(listed.len(), 4, "{body}");
    assert!(listed.iter().all(|d| d["key"].as_str().unwrap().starts_with("d-") && d["format_version"] == 1));
    for (query, name) in [
        ("tolerance=-1", "tolerance"),
        ("outcome=late", "outcome"),
        ("country=IRN", "country"),
        ("to=soon", "to"),
        ("colour=red", "colour"),
        ("limit=0", "limit: expected an integer from 1 to 10000"),
        ("limit=10001", "limit: expected an integer from 1 to 10000"),
        ("offset=-1", "offset: expected an integer from 0 to 10000000"),
        ("offset=10000001", "offset: expected an integer from 0 to 10000000"),
    ] {
        let (status, body) = get(&base, &format!("/api/v1/reconciliation?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains("bad_parameter") && body.contains(name), "{query}: {body}");
    }
    // The rows in windows (offset, limit), each answer counting them all; without a window, all.
    let total = rows.len();
    assert!(total > 3 && r["total_rows"] == total, "{r}");
    let mut windowed = Vec::new();
    for offset in (0..total + 3).step_by(3) {
        let (status, body) = get(&base, &format!("/api/v1/reconciliation?offset={offset}&limit=3")).await;
        assert_eq!(status, 200, "{body}");
        let w: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(w["total_rows"], total);
        windowed.extend(w["rows"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(&windowed, rows, "the windows hold every row once, in order");
    let (_, csv) = get(&base, "/api/v1/reconciliation.csv?offset=1&limit=2").await;
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let (status, _) = get(&base, "/api/v1/scorecard?outcome=matched").await;
    assert_eq!(status, 400);

    // The page (the dashboard's): the same reconciliation as HTML, rows linking to the event's
    // page, its evidence and the CSV of the same query.
    let r = reqwest::get(format!("{base}/disclosures?country=IR&source=")).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let html = r.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<h2 id=\"score-h\">Scorecard</h2>"), "{html}");
    let t = id(telegram);
    assert!(html.contains(&format!(
        "<a href=\"/api/v1/events/{t}/evidence\" type=\"application/x-ndjson\">signed evidence</a>"
    )));
    assert!(html.contains(&format!("<a href=\"/event/{t}\">")), "the event's page");
    assert!(html.contains("href=\"/api/v1/reconciliation.csv?country=IR\""), "the empty field is left out");
    assert!(html.contains("unconfirmed: probes there, no event") && html.contains("(whole days, no time of day)"));
    assert_eq!(html.matches("<tr data-outcome=").count(), rows.iter().filter(|r| r["country"] == "IR").count());
    let r = reqwest::get(format!("{base}/disclosures?outcome=%3Cb%3E")).await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("outcome: expected") && !html.contains("<b>"), "{html}");

    // The operator's import over HTTP: token required, idempotent, bad rows by line.
    let client = reqwest::Client::new();
    let url = format!("{base}/api/v1/admin/disclosures?format=stop");
    let body = std::fs::read_to_string(&stop).unwrap();
    let r = client.post(&url).body(body.clone()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = client.post(&url).bearer_auth(TOKEN).body(body).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let report: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!((&report["inserted"], &report["unchanged"]), (&json!(0), &json!(4)), "{report}");
    assert_eq!(
        report["errors"][0],
        json!({"line": 4, "field": "country", "reason": "\"Atlantis\": not a country this importer knows"})
    );
    let r = client
        .post(format!("{base}/api/v1/admin/disclosures"))
        .bearer_auth(TOKEN)
        .body("a,b\n1,2\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("bad_file"));

    let _ = stop_tx.send(());
    server.await.unwrap().expect("serve");
    eprintln!("test in {:?}", started.elapsed());
}

#[test]
fn a_large_file_shows_progress_and_imports_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.csv");
    let mut text = String::from("format_version,source,platform,country,start,end,type\n");
    for i in 0..25_000 {
        let day = 1 + i % 28;
        text.push_str(&format!("1,registry,all,IR,2025-02-{day:02}T{:02}:00:00Z,,shutdown\n", i % 24));
        if i == 12_345 {
            text.push_str("1,registry,all,IR,2025-02-30,,shutdown\n");
        }
    }
    std::fs::write(&file, text).unwrap();
    let started = std::time::Instant::now();
    let (code, out, err) = cli(&["disclosures", "import", file.to_str().unwrap()], &dir.path().join("data"));
    eprintln!("25,001 rows in {:?}", started.elapsed());
    assert_eq!(code, Some(3), "{out}{err}");
    assert!(err.contains("read 10000 records") && err.contains("read 20000 records"), "{err}");
    // 25,000 rows, 168 distinct ones (day and hour repeat together every 168 rows).
    assert!(
        out.starts_with(
            "25001 records: 25000 disclosures stored (168 new, 0 updated, 24832 already stored), 1 bad rows"
        ),
        "{out}"
    );
    assert!(out.contains("bad row: line 12348: start: no such date"), "{out}");
}
