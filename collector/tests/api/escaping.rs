//! Client strings in CSV and XML output (issue 14, items 6 and 7): a formula in a platform name or
//! a disclosure source goes out neutralised in every CSV, and control characters in a platform
//! name leave the Atom feed and the SVG charts well-formed XML.

use vigil_collector::{Collector, Config};
use vigil_detect::{Change, DetectedEvent, EventType, Scope, Status};

use crate::support::{OPERATOR, Server, config};

const T0: i64 = 1_740_960_000; // 2025-03-03 00:00 UTC
const FORMULA: &str = "=cmd|' /C calc'!A0";
const HYPERLINK: &str = "=HYPERLINK(\"http://evil.example/\",\"details\")";
const CONTROLS: &str = "ctl\u{1}\u{b}plat\u{fffe}";

fn blocking(id: &str, platform: &str, asn: u32) -> DetectedEvent {
    DetectedEvent {
        id: id.into(),
        scope: Scope { cc: "AA".into(), asn: Some(asn) },
        kind: EventType::Blocking { platform: platform.into(), family: None, mechanism: None },
        start: T0 + 3600,
        start_uncertainty: 60,
        end: Some(T0 + 4 * 3600),
        end_uncertainty: Some(60),
        probes: 2,
        measurements: 3,
        evidence: vec![],
        confidence: 0.9,
        status: Status::Confirmed,
        basis: vigil_detect::Basis::Evidence,
        cannot_tell: Vec::new(),
        sources: Vec::new(),
    }
}

/// A data directory holding two events whose platforms a probe named: a formula and control
/// characters (stored as they were before names were checked, or by a probe that got through).
async fn with_hostile_events(cfg: Config) -> Server {
    let collector = Collector::open(cfg.clone()).expect("opens");
    let changes = vec![
        Change::New(blocking("blocking-AA-100-formula", FORMULA, 100)),
        Change::New(blocking("blocking-AA-101-controls", CONTROLS, 101)),
    ];
    collector.state().writer.write_events(changes, T0 + 5 * 3600).await.expect("events stored");
    tokio::task::spawn_blocking(move || collector.close()).await.unwrap();
    Server::start(cfg).await
}

/// Every cell of a CSV document, by row.
fn cells(text: &str) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
    r.records().map(|rec| rec.expect("well-formed CSV").iter().map(String::from).collect()).collect()
}

/// No cell a spreadsheet would take for a formula (a plain number is not one).
fn assert_no_formula(name: &str, text: &str) {
    for row in cells(text) {
        for cell in row {
            let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
            assert!(!risky || cell.parse::<f64>().is_ok(), "{name}: cell {cell:?} would run as a formula");
        }
    }
}

#[tokio::test]
async fn events_csv_neutralises_a_formula_in_a_platform_name() {
    let dir = tempfile::tempdir().unwrap();
    let server = with_hostile_events(config(dir.path())).await;
    let (status, body) = server.get("/api/v1/events.csv").await;
    assert_eq!(status, 200, "{body}");
    assert_no_formula("events.csv", &body);
    let rows = cells(&body);
    let platforms = rows[0].iter().position(|h| h == "platforms").expect("a platforms column");
    assert!(rows.iter().any(|r| r[platforms] == format!("'{FORMULA}")), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn reconciliation_and_scorecard_csv_neutralise_a_formula_in_a_source() {
    let dir = tempfile::tempdir().unwrap();
    let server = with_hostile_events(config(dir.path())).await;
    let line = serde_json::json!({
        "format_version": 1, "source": HYPERLINK, "platform": "telegram", "country": "AA",
        "start": "2025-03-03T06:00:00Z", "end": "2025-03-03T08:00:00Z", "type": "blocked",
    });
    let auth = format!("Bearer {OPERATOR}");
    let (status, body) = server
        .request(
            reqwest::Method::POST,
            "/api/v1/admin/disclosures?format=json",
            Some(format!("{line}\n")),
            &[("authorization", auth.as_str())],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let period = "from=2025-03-01T00:00:00Z&to=2025-03-10T00:00:00Z";
    for path in ["/api/v1/reconciliation.csv", "/api/v1/scorecard.csv"] {
        let (status, body) = server.get(&format!("{path}?{period}")).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_no_formula(path, &body);
        let rows = cells(&body);
        let source = rows[0].iter().position(|h| h == "source").expect("a source column");
        assert!(rows.iter().any(|r| r[source] == format!("'{HYPERLINK}")), "{path}: {body}");
    }
    server.stop().await;
}

#[tokio::test]
async fn control_characters_in_a_platform_name_leave_the_feed_and_charts_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    let server = with_hostile_events(config(dir.path())).await;
    let (status, feed) = server.get("/api/v1/feed.atom").await;
    assert_eq!(status, 200, "{feed}");
    let doc = roxmltree::Document::parse(&feed).unwrap_or_else(|e| panic!("feed: {e}\n{feed:?}"));
    let titles: Vec<&str> = doc.descendants().filter(|n| n.has_tag_name("title")).filter_map(|n| n.text()).collect();
    assert!(titles.iter().any(|t| t.contains("ctl\u{fffd}\u{fffd}plat\u{fffd}")), "{titles:?}");
    assert!(titles.iter().any(|t| t.contains(FORMULA)), "{titles:?}");
    let (status, svg) = server.get("/api/v1/charts/event/blocking-AA-101-controls.svg").await;
    assert_eq!(status, 200, "{svg}");
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("chart: {e}\n{svg:?}"));
    assert!(doc.descendants().any(|n| n.text().is_some_and(|t| t.contains("ctl\u{fffd}\u{fffd}plat"))), "{svg}");
    server.stop().await;
}
