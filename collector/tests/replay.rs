//! `replay` on a real SQLite file: detection passes run only once something was accepted, an
//! id conflict is reported with its id, OONI lines go to the OONI import (never signed), and a
//! file replayed from disk (indexed, read back line by line) gives what the same text gives.

use std::path::Path;

use serde_json::json;
use vigil_collector::replay::{ReplayOptions, ReplayReport, replay, replay_file};
use vigil_collector::{Collector, Config};
use vigil_detect::obs::{Meta, Observation, What};
use vigil_detect::sim::measurement_json;
use vigil_detect::sim::{CountrySpec, FleetSpec, simulate};

const T0: i64 = 1_740_960_000; // 2025-03-03 00:00 UTC
const H: i64 = 3600;

fn heartbeat(id: &str, at: i64) -> serde_json::Value {
    let o = Observation {
        at,
        received_at: at,
        probe: "p".into(),
        cc: "AA".into(),
        asn: 100,
        measurement_id: Some(id.into()),
        what: What::Heartbeat,
        meta: Meta::default(),
    };
    measurement_json(&o).expect("a heartbeat measurement")
}

async fn with_collector<T>(dir: &Path, f: impl AsyncFnOnce(&vigil_collector::server::AppState) -> T) -> T {
    let collector = Collector::open(Config::new(dir)).expect("opens");
    let state = collector.state().clone();
    let out = f(&state).await;
    drop(state);
    tokio::task::spawn_blocking(move || collector.close()).await.unwrap();
    out
}

fn count(dir: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(dir.join("vigil.sqlite")).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_whose_lines_are_all_rejected_runs_no_detection_pass() {
    // Two days of measurements from before the oldest time the collector accepts, at step 300:
    // every line is refused (timestamp_too_old), so no step has anything to detect.
    let t = 1_293_840_000; // 2011-01-01
    let text: String = (0..96)
        .map(|i| format!("{}\n", json!({"probe": "old", "measurement": heartbeat(&format!("old-{i}"), t + i * 1800)})))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let r = with_collector(dir.path(), async |s| replay(s, &text, 300).await.expect("replays")).await;
    assert_eq!((r.lines, r.accepted, r.rejected.len()), (96, 0, 96), "{r:?}");
    assert!(r.rejected[0].contains("timestamp_too_old"), "{:?}", r.rejected[0]);
    assert_eq!(r.passes, 0, "no detection pass over a file of rejected lines: {r:?}");
    assert_eq!(r.skipped_steps, 95 * 1800 / 300 - 1, "every step is skipped: {r:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_id_conflict_is_reported_with_the_id() {
    let m = heartbeat("shared-id-1", T0);
    let text = format!("{}\n{}\n", json!({"probe": "a", "measurement": m}), json!({"probe": "b", "measurement": m}));
    let dir = tempfile::tempdir().unwrap();
    let r = with_collector(dir.path(), async |s| replay(s, &text, 3600).await.expect("replays")).await;
    assert_eq!(r.accepted, 1, "{r:?}");
    assert_eq!(r.rejected, vec!["shared-id-1: id_conflict: the id is stored under another key".to_string()]);
    // Something was accepted: the final pass runs.
    assert_eq!(r.passes, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn ooni_lines_in_a_replay_are_imported_apart_and_never_signed() {
    let im = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ooni/im.jsonl")).unwrap();
    let t = 1_709_366_400; // 2024-03-02 08:00, the fixtures' morning
    let text = format!("{}\n{im}", json!({"probe": "v", "measurement": heartbeat("vigil-1", t)}));
    let dir = tempfile::tempdir().unwrap();
    let r = with_collector(dir.path(), async |s| replay(s, &text, 3600).await.expect("replays")).await;
    assert_eq!((r.lines, r.accepted, r.ooni_imported, r.ooni_skipped), (9, 1, 8, 0), "{r:?}");
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM measurements"), 1, "only the Vigil line is signed");
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM ooni_measurements"), 8);
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM observations WHERE source = 'ooni'"), 8);
    let again = with_collector(dir.path(), async |s| replay(s, &text, 3600).await.expect("replays")).await;
    assert_eq!((again.ooni_imported, again.ooni_duplicates), (0, 8), "{again:?}");
}

/// Lines without `received_at` (bare measurements, as the simulator writes them) arrive at their
/// measurement's start: stored so, and seen by the step passes, not only at the end.
#[tokio::test(flavor = "multi_thread")]
async fn a_line_without_received_at_arrives_at_its_start() {
    let text: String = (0..12).map(|i| format!("{}\n", heartbeat(&format!("bare-{i}"), T0 + i * 300))).collect();
    let dir = tempfile::tempdir().unwrap();
    let r = with_collector(dir.path(), async |s| replay(s, &text, 300).await.expect("replays")).await;
    assert_eq!((r.accepted, r.rejected.len()), (12, 0), "{r:?}");
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM observations WHERE received_at = at"), 12);
    let first: String = rusqlite::Connection::open(dir.path().join("vigil.sqlite"))
        .unwrap()
        .query_row("SELECT received_at FROM measurements WHERE id = 'bare-0'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(first, "2025-03-03T00:00:00Z");
    // 55 minutes of lines at step 300: ten steps before the last line, each with lines, and the end.
    assert_eq!(r.passes, 11, "{r:?}");
}

fn fleet_text() -> String {
    let countries = vec![CountrySpec { cc: "AA".into(), asns: vec![100, 101] }];
    let mut spec = FleetSpec::new(5, T0, 2, 12, countries);
    spec.platforms = vec!["whatsapp".into()];
    spec.throttling = false;
    vigil_collector::demo::replay_lines(&simulate(&spec, &[]))
}

fn comparable(r: &ReplayReport) -> (usize, usize, usize, usize, usize, usize) {
    (r.lines, r.accepted, r.rejected.len(), r.passes, r.new_events, r.revisions)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_replayed_from_disk_gives_what_its_text_gives() {
    let text = fleet_text();
    let a = tempfile::tempdir().unwrap();
    let from_text = with_collector(a.path(), async |s| replay(s, &text, 6 * H).await.expect("replays")).await;
    let b = tempfile::tempdir().unwrap();
    let file = b.path().join("fleet.jsonl");
    std::fs::write(&file, &text).unwrap();
    let opts = ReplayOptions { step: 6 * H, source: "replay", progress: false };
    let from_file = with_collector(b.path(), async |s| replay_file(s, &file, opts).await.expect("replays")).await;
    assert!(from_text.accepted > 1000, "{from_text:?}");
    assert_eq!(comparable(&from_file), comparable(&from_text));
    let events = "SELECT COUNT(*) FROM events";
    assert_eq!(count(b.path(), events), count(a.path(), events));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_line_is_named_before_anything_is_stored() {
    let text = format!("{}\nnot json\n", json!({"probe": "v", "measurement": heartbeat("v-1", T0)}));
    let dir = tempfile::tempdir().unwrap();
    let e = with_collector(dir.path(), async |s| replay(s, &text, 3600).await.expect_err("refused")).await;
    assert!(e.to_string().starts_with("line 2: not JSON"), "{e}");
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM measurements"), 0);
}

/// A line that only the full parse refuses (a signed envelope without its key) stops the replay
/// at its own step, while the next step is prepared ahead: the steps before it are stored (and
/// their passes ran), nothing of its step or after it is.
#[tokio::test(flavor = "multi_thread")]
async fn a_line_refused_while_prepared_ahead_stops_at_its_step_with_the_steps_before_stored() {
    let line = |id: &str, at: i64| format!("{}\n", json!({"probe": "v", "measurement": heartbeat(id, at)}));
    let payload = json!({"measurement_start_time": vigil_detect::obs::format_utc(T0 + 3 * H + 60)}).to_string();
    let text = [
        line("v-1", T0),
        line("v-2", T0 + H),
        line("v-3", T0 + 2 * H),
        format!("{}\n", json!({"signature": "x", "payload": payload})),
        line("v-5", T0 + 4 * H),
    ]
    .concat();
    let dir = tempfile::tempdir().unwrap();
    let e = with_collector(dir.path(), async |s| replay(s, &text, H).await.expect_err("refused")).await;
    assert!(e.to_string().starts_with("line 4: not a signed envelope"), "{e}");
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM measurements"), 3);
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM observations"), 3);
}
