//! `vigil-collector demo`, the real binary: a small simulated fleet (2 days, ending at a fixed
//! `--end`, so the test holds whatever the day and hour) replayed
//! into a temp data dir; the summary's precision and recall; the stored events of every kind;
//! and the refusal of a data dir that holds a real probe's measurements.

use std::process::Command;

use vigil_collector::api_events::{EventFilter, list};
use vigil_collector::{Collector, Config};

const BIN: &str = env!("CARGO_BIN_EXE_vigil-collector");
/// The simulated period's end (the time at which the dashboard test once failed).
const END: &str = "2026-12-07T09:40:00Z";

fn demo(dir: &std::path::Path) -> std::process::Output {
    // Small enough for a debug build: 20 probes, detection every 12 h of simulated time.
    Command::new(BIN)
        .args(["demo", "--no-serve", "--end", END, "--days", "2", "--probes", "20", "--step", "43200", "--data-dir"])
        .arg(dir)
        .output()
        .expect("runs vigil-collector")
}

fn ratio(summary: &str, name: &str) -> f64 {
    let after = summary.split(&format!("{name} ")).nth(1).unwrap_or_else(|| panic!("{name} in {summary}"));
    after.split_whitespace().next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_publishes_every_kind_of_event_and_refuses_real_data() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = demo(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("demo in {:?}\n{stdout}", started.elapsed());
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("% done") && stderr.contains("/s)"), "progress on stderr: {stderr}");
    let (precision, recall) = (ratio(&stdout, "precision"), ratio(&stdout, "recall"));
    assert!(precision >= 0.95 && recall >= 0.95, "precision {precision}, recall {recall}");
    assert!(!stdout.contains("MISSED"), "{stdout}");
    // The period ends at --end: the ongoing signal block started on 2026-12-06 (at 75 % of it).
    assert!(
        stdout.contains("blocking signal by tcp_ip_blackhole, XA (national), 2026-12-06 21:40 .. ongoing"),
        "{stdout}"
    );
    for url in [
        "/",
        "/country/XA",
        "/api/v1/events.csv",
        "/api/v1/feed.atom",
        "/api/v1/timeline?country=XB",
        "/api/v1/charts/country/XC.svg",
    ] {
        assert!(stdout.contains(&format!("http://127.0.0.1:8080{url}")), "{url} in {stdout}");
    }

    // The demo's disclosures were imported: the cross-check shows every outcome.
    assert!(stdout.contains("Disclosures: ") && stdout.contains("http://127.0.0.1:8080/disclosures"), "{stdout}");
    let out =
        Command::new(BIN).args(["disclosures", "reconcile", "--csv", "--data-dir"]).arg(dir.path()).output().unwrap();
    let csv = String::from_utf8_lossy(&out.stdout);
    for outcome in ["matched", "undisclosed", "unconfirmed_no_coverage", "unconfirmed_no_event"] {
        assert!(csv.lines().any(|l| l.starts_with(&format!("{outcome},"))), "{outcome}: {csv}");
    }

    // What was stored: every kind of event, in demo countries only.
    let collector = Collector::open(Config::new(dir.path())).expect("opens");
    let state = collector.state().clone();
    let events = state.read(|c| list(c, &EventFilter::default())).await.unwrap();
    drop(state);
    tokio::task::spawn_blocking(move || collector.close()).await.unwrap();
    let has = |f: &dyn Fn(&vigil_collector::api_events::EventRecord) -> bool| events.iter().any(f);
    assert!(events.iter().all(|e| ["XA", "XB", "XC"].contains(&e.scope.cc.as_str())));
    for family in ["dns", "tcp_ip", "tls_sni", "http"] {
        assert!(has(&|e| e.kind == "blocking" && e.family.as_deref() == Some(family)), "{family}: {events:#?}");
    }
    assert!(has(&|e| e.kind == "blocking" && e.end.is_none()), "an ongoing block");
    assert!(has(&|e| e.kind == "shutdown" && e.scope.asn.is_some()), "an ASN shutdown");
    assert!(has(&|e| e.kind == "shutdown" && e.scope.asn.is_none()), "a national shutdown");
    assert!(has(&|e| e.kind == "throttling"), "throttling");
    let curfew_nights = events.iter().filter(|e| e.kind == "shutdown" && e.scope.cc == "XB" && e.scope.asn.is_none());
    assert!(curfew_nights.count() >= 1, "the curfew");

    // A second demo into the same dir adds demo data to demo data: fine. A real probe's
    // measurement there (any key not enrolled by the demo) makes it refuse.
    let db = rusqlite::Connection::open(dir.path().join("vigil.sqlite")).unwrap();
    db.execute("UPDATE probes SET software_version = 'vigil-probe 0.1.0' WHERE key_id = (SELECT key_id FROM measurements LIMIT 1)", [])
        .unwrap();
    drop(db);
    let out = demo(dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("real_data") && stderr.contains("real probes"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_bad_end_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for (end, says) in [
        ("1999-12-31T23:59:59Z", "--end 1999-12-31T23:59:59Z: expected a time in years 2000 to 2099"),
        ("last tuesday", "--end last tuesday: expected RFC 3339 or Unix seconds"),
        ("2099-12-31T00:00:00Z", "--end 2099-12-31T00:00:00Z: in the future"),
    ] {
        let out = Command::new(BIN)
            .args(["demo", "--no-serve", "--end", end, "--data-dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("bad_option") && stderr.contains(says), "{stderr}");
    }
    assert!(!dir.path().join("vigil.sqlite").exists(), "nothing written");
}

#[test]
fn a_detection_file_with_an_unknown_key_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("detection.toml");
    std::fs::write(&file, "block_min_probes = 3\nshutdown_min_probez = 2\n").unwrap();
    for command in ["serve", "demo"] {
        let out = Command::new(BIN)
            .args([command, "--listen", "127.0.0.1:0", "--detection"])
            .arg(&file)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        assert!(stderr.contains("shutdown_min_probez") && stderr.contains("detection.toml"), "{command}: {stderr}");
        assert!(stderr.contains("config_invalid"), "{command}: {stderr}");
    }
}
