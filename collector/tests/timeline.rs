//! Timelines end to end: a simulated fleet with a known TLS SNI block (AS 101, telegram) and a
//! shutdown (AS 100) is replayed through the real ingest path and detection; the real server
//! on 127.0.0.1 then draws the timelines: the published events' buckets carry their state,
//! every other bucket is reachable, and the filters and input errors work.

use serde_json::{Value, json};
use vigil_collector::{Collector, Config};
use vigil_detect::sim::{CountrySpec, FleetSpec, Noise, TruthEvent, TruthKind, simulate};

const T0: i64 = 1_740_960_000; // 2025-03-03 00:00 UTC
const D: i64 = 86_400;
const H: i64 = 3600;

/// The fleet as replay lines, without random failures, nights off or churn (so that every
/// hour of every ASN has platform measurements and only the truth fails).
fn fleet_lines() -> String {
    let countries = vec![CountrySpec { cc: "AA".into(), asns: vec![100, 101] }];
    let mut spec = FleetSpec::new(7, T0, 2, 16, countries);
    spec.platforms = vec!["whatsapp".into(), "telegram".into()];
    spec.throttling = false;
    spec.noise =
        Noise { endpoint_failure: 0.0, night_off: 0.0, churn: 0.0, local_outages_per_week: 0.0, ..Noise::default() };
    let block = TruthKind::Block { platform: "telegram".into(), mechanism: vigil_report::Mechanism::TlsSniReset };
    let truth = [
        TruthEvent {
            cc: "AA".into(),
            asn: Some(100),
            kind: TruthKind::Shutdown,
            start: T0 + D + 10 * H + 420,
            end: T0 + D + 13 * H + 1500,
        },
        TruthEvent { cc: "AA".into(), asn: Some(101), kind: block, start: T0 + 6 * H, end: T0 + 20 * H },
    ];
    vigil_collector::demo::replay_lines(&simulate(&spec, &truth))
}

async fn get(base: &str, path: &str) -> (u16, Value) {
    let r = reqwest::get(format!("{base}{path}")).await.expect("request");
    let status = r.status().as_u16();
    (status, serde_json::from_str(&r.text().await.expect("body")).expect("JSON"))
}

fn unix(v: &Value) -> i64 {
    vigil_collector::events::rfc3339_to_unix(v.as_str().expect("a time")).expect("RFC 3339")
}

/// The states of one row.
fn row<'a>(t: &'a Value, platform: &str) -> Vec<&'a str> {
    let rows = t["rows"].as_array().expect("rows");
    let r = rows.iter().find(|r| r["platform"] == platform).unwrap_or_else(|| panic!("{platform} in {rows:?}"));
    r["cells"].as_array().unwrap().iter().map(|c| c["state"].as_str().unwrap()).collect()
}

/// `expected` for a blocking state: a bucket whose measurements of `platform` all succeeded
/// stays reachable under the block (nothing measured then was blocked).
fn under_block<'a>(t: &Value, platform: &str, states: Vec<&'a str>) -> Vec<&'a str> {
    let rows = t["rows"].as_array().expect("rows");
    let cells = rows.iter().find(|r| r["platform"] == platform).expect("row")["cells"].as_array().unwrap();
    let all_ok = |c: &Value| c["ok"].as_u64().unwrap() > 0 && c["failed"] == 0;
    states
        .into_iter()
        .zip(cells)
        .map(|(s, c)| if s.starts_with("blocked") && all_ok(c) { "reachable" } else { s })
        .collect()
}

/// What the row must be: `state` in the buckets overlapping `[start, end)`, reachable elsewhere.
fn expected(t: &Value, state: &'static str, start: i64, end: i64) -> Vec<&'static str> {
    let (from, to, bucket) = (t["from"].as_i64().unwrap(), t["to"].as_i64().unwrap(), t["bucket"].as_i64().unwrap());
    (from..to)
        .step_by(bucket as usize)
        .map(|a| if start < a + bucket && end > a { state } else { "reachable" })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn timelines_show_the_published_block_and_shutdown_in_their_buckets() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::open(Config::new(dir.path())).expect("opens");
    let state = collector.state().clone();
    let started = std::time::Instant::now();
    let report = vigil_collector::replay::replay(&state, &fleet_lines(), 6 * H).await.expect("replay");
    eprintln!("replay: {report:?} in {:?}", started.elapsed());
    assert_eq!(report.accepted, report.lines);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(collector.serve(listener, async {
        let _ = stopped.await;
    }));

    // The published events: exactly the truth's two.
    let (_, events) = get(&base, "/api/v1/events?country=AA").await;
    let live: Vec<&Value> = events.as_array().unwrap().iter().filter(|e| e["status"] != "retracted").collect();
    assert_eq!(live.len(), 2, "{events:#}");
    let find = |kind: &str| *live.iter().find(|e| e["type"] == kind).unwrap_or_else(|| panic!("{kind}: {events:#}"));
    let (block, shutdown) = (find("blocking"), find("shutdown"));
    assert_eq!((&block["scope"]["asn"], &shutdown["scope"]["asn"]), (&json!(101), &json!(100)));
    let (b0, b1) = (unix(&block["start"]), unix(&block["end"]));
    let (s0, s1) = (unix(&shutdown["start"]), unix(&shutdown["end"]));
    let period = format!("from={T0}&to={}&bucket=3600", T0 + 2 * D);

    // AS 101: telegram blocked exactly in the block's buckets; whatsapp reachable throughout.
    let (status, t) = get(&base, &format!("/api/v1/timeline?country=aa&asn=101&{period}")).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(
        (t["scope"].clone(), t["from"].as_i64(), t["bucket"].as_i64()),
        (json!({"cc": "AA", "asn": 101}), Some(T0), Some(H))
    );
    assert_eq!(t["rows"].as_array().unwrap().len(), 2);
    let blocked = under_block(&t, "telegram", expected(&t, "blocked_tls_sni", b0, b1));
    assert!(blocked.iter().filter(|s| **s == "blocked_tls_sni").count() >= 12, "{blocked:?}");
    assert_eq!(row(&t, "telegram"), blocked);
    assert_eq!(row(&t, "whatsapp"), expected(&t, "reachable", 0, 0));
    assert_eq!(t["events"].as_array().unwrap().iter().map(|e| &e["id"]).collect::<Vec<_>>(), [&block["id"]]);
    assert!(t["probes"].as_u64().unwrap() >= 2);
    let cell = &t["rows"][0]["cells"][0];
    assert!(cell["ok"].as_u64().unwrap() >= 1 && cell["failed"] == 0, "{cell}");

    // AS 100: the shutdown's buckets for every platform.
    let (_, t) = get(&base, &format!("/api/v1/timeline?country=AA&asn=AS100&{period}")).await;
    assert_eq!(row(&t, "whatsapp"), expected(&t, "shutdown", s0, s1));
    assert_eq!(row(&t, "telegram"), expected(&t, "shutdown", s0, s1));

    // The country: both (an ASN's event marks the country's cells); one platform only.
    let (_, t) = get(&base, &format!("/api/v1/timeline?country=AA&platform=whatsapp&{period}")).await;
    assert_eq!(t["rows"].as_array().unwrap().len(), 1);
    assert_eq!(row(&t, "whatsapp"), expected(&t, "shutdown", s0, s1));
    assert_eq!(t["events"].as_array().unwrap().len(), 1, "the telegram block is not whatsapp's");
    let (_, t) = get(&base, &format!("/api/v1/timeline?country=AA&{period}")).await;
    let tg = row(&t, "telegram");
    let block_only = under_block(&t, "telegram", expected(&t, "blocked_tls_sni", b0, b1));
    let shut_only = expected(&t, "shutdown", s0, s1);
    let both: Vec<&str> =
        block_only.iter().zip(&shut_only).map(|(b, s)| if *s == "shutdown" { *s } else { *b }).collect();
    assert_eq!(tg, both);
    assert_eq!(t["events"].as_array().unwrap().len(), 2);
    // Each event is one network's of the two: its cells say so (where the other measured).
    let cells = t["rows"].as_array().unwrap().iter().find(|r| r["platform"] == "telegram").unwrap()["cells"].clone();
    let evented: Vec<&Value> = cells.as_array().unwrap().iter().filter(|c| c["state"] != "reachable").collect();
    assert!(!evented.is_empty());
    for c in &evented {
        assert_eq!(
            (&c["affected_networks"], &c["networks"], &c["partial"]),
            (&json!(1), &json!(2), &json!(true)),
            "{c}"
        );
    }
    let plain = cells.as_array().unwrap().iter().find(|c| c["state"] == "reachable").unwrap();
    assert!(
        plain.get("partial").is_none() && plain.get("networks").is_none(),
        "no event: the old fields only: {plain}"
    );
    let (_, t) = get(&base, &format!("/api/v1/timeline?country=AA&asn=101&{period}")).await;
    let any_scope = t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["cells"].as_array().unwrap())
        .any(|c| c.get("partial").is_some());
    assert!(!any_scope, "an ASN's own timeline is unchanged");

    // Defaults (the last week up to now: nothing then) and bigger buckets.
    let (status, t) = get(&base, "/api/v1/timeline?country=AA").await;
    assert_eq!(
        (status, t["bucket"].as_i64(), t["to"].as_i64().unwrap() - t["from"].as_i64().unwrap()),
        (200, Some(H), 7 * D)
    );
    assert_eq!(t["probes"], 0);
    let (_, t) =
        get(&base, &format!("/api/v1/timeline?country=AA&asn=101&platform=telegram&from={T0}&to={}", T0 + 2 * D)).await;
    assert_eq!((t["bucket"].as_i64(), row(&t, "telegram").len()), (Some(H), 48));
    let (_, t) = get(
        &base,
        &format!("/api/v1/timeline?country=AA&asn=101&from=2025-03-03T00:00:00Z&to={}&bucket=86400", T0 + 2 * D),
    )
    .await;
    assert_eq!(row(&t, "telegram"), ["blocked_tls_sni", "reachable"]);
    assert_eq!(row(&t, "whatsapp"), ["reachable", "reachable"]);

    // Input errors name the parameter.
    for (query, name) in [
        ("asn=100", "country"),
        ("country=A1", "country"),
        ("country=AA&asn=x", "asn"),
        ("country=AA&bucket=1800", "bucket"),
        ("country=AA&from=1325376000&to=1333376000&bucket=3600", "bucket"),
        ("country=AA&from=yesterday", "from"),
        ("country=AA&from=1325376200&to=1325376100", "from"),
        // Times that would overflow the bucket arithmetic (a panic aborts a release collector).
        ("country=AA&from=-9223372036854774000&to=1325376100", "from"),
        ("country=AA&from=1325376000&to=9223372036854775807", "to"),
        ("country=AA&from=0", "from"),
        ("country=AA&colour=red", "colour"),
    ] {
        let (status, body) = get(&base, &format!("/api/v1/timeline?{query}")).await;
        assert_eq!((status, &body["error"]["code"]), (400, &json!("bad_parameter")), "{query}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().starts_with(name), "{query}: {body}");
    }

    drop(state);
    let _ = stop.send(());
    server.await.unwrap().expect("serve");
}
