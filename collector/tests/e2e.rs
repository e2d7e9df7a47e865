//! End to end on loopback with the real binaries: `vigil-collector serve` on an empty data dir,
//! `vigil-probe enroll`, the probe's signed request to the collector's control (enrolled probes
//! only), `vigil-probe run --once` against the testkit's fake world (a censored
//! ISP), every printed id stored and verifiable offline, no client address stored; then the
//! collector is killed, the probe measures again and keeps everything in its spool, the collector
//! comes back on the same data dir and `vigil-probe upload` drains the spool: nothing lost,
//! nothing stored twice.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use vigil_testkit::world::{FakeWorld, PlatformSpec, Profile, Timeouts, WorldOptions, parse_battery_toml};

const TOKEN: &str = "e2e-enroll-token";
const OPERATOR: &str = "e2e-operator-token-0123";
/// The subset of the built-in battery measured (the neutral controls are always added).
const PLATFORMS: [&str; 3] = ["facebook", "telegram", "vk"];
/// Documented exit codes of `vigil-probe` (`probe/src/cli.rs`).
const EXIT_OK: i32 = 0;
const EXIT_PENDING: i32 = 4;

/// `vigil-probe`, next to the collector's binary (built by `cargo test --workspace`).
fn probe_bin() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_vigil-collector")).with_file_name("vigil-probe");
    assert!(
        bin.exists(),
        "{} not found: this test runs the real probe; run `cargo build -p vigil-probe` first \
         (`cargo test --workspace` builds it)",
        bin.display()
    );
    bin
}

/// Run a binary to completion (at most 60 s).
async fn run(bin: &Path, args: &[&str]) -> Output {
    let out = Command::new(bin).args(args).stdin(Stdio::null()).kill_on_drop(true).output();
    let out = tokio::time::timeout(Duration::from_secs(60), out).await;
    out.unwrap_or_else(|_| panic!("{} {args:?} did not finish in 60 s", bin.display())).expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What a probe command did, for assertion messages.
fn show(out: &Output) -> String {
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// A running `vigil-collector serve`.
struct CollectorProcess {
    child: Child,
    /// `127.0.0.1:PORT`.
    listen: String,
}

impl CollectorProcess {
    async fn start(data: &Path, listen: &str, asn_db: &Path, log: &Path) -> CollectorProcess {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("collector log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_vigil-collector"))
            .args(["serve", "--listen", listen, "--enroll-token", TOKEN, "--operator-token", OPERATOR])
            .arg("--data-dir")
            .arg(data)
            .arg("--asn-db")
            .arg(asn_db)
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("vigil-collector starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
        let line = line.expect("the collector says it listens within 20 s").expect("read").unwrap_or_default();
        let listen = line.strip_prefix("vigil-collector listening on ").unwrap_or_else(|| panic!("{line:?}"));
        CollectorProcess { child, listen: listen.to_string() }
    }

    fn base(&self) -> String {
        format!("http://{}", self.listen)
    }

    /// SIGKILL, as a crash or a power cut would.
    async fn kill(mut self) {
        self.child.kill().await.expect("kill the collector");
    }
}

/// The built-in battery (`vigil-probe battery --toml`), cut down to `PLATFORMS` and the controls.
async fn battery_subset(probe: &Path) -> Vec<PlatformSpec> {
    let out = run(probe, &["battery", "--toml"]).await;
    assert!(out.status.success(), "{}", show(&out));
    let all = parse_battery_toml(&text(&out.stdout)).expect("the built-in battery parses");
    let subset: Vec<PlatformSpec> =
        all.into_iter().filter(|p| PLATFORMS.contains(&p.id.as_str()) || p.kind == "control").collect();
    assert_eq!(subset.iter().filter(|p| p.kind == "platform").count(), PLATFORMS.len());
    subset
}

/// The ids of the measurements a `run --once --json` printed (endpoints and platform summaries).
fn printed_ids(out: &Output) -> Vec<String> {
    let lines = text(&out.stdout);
    let values: Vec<Value> =
        lines.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    values.iter().map(|m| m["id"].as_str().expect("every measurement has an id").to_string()).collect()
}

/// Measurements in the probe's spool (`vigil-probe status --json`).
async fn spooled(probe: &Path, config: &str) -> u64 {
    let out = run(probe, &["status", "--config", config, "--json"]).await;
    assert!(out.status.success(), "{}", show(&out));
    let status: Value = serde_json::from_slice(&out.stdout).expect("status is JSON");
    status["spool"]["measurements"].as_u64().expect("spool.measurements")
}

/// Rows per id in the collector's database, with each id's start and receipt times.
fn stored(data: &Path) -> BTreeMap<String, (i64, String, String)> {
    let db = rusqlite::Connection::open(data.join("vigil.sqlite")).expect("open the database");
    let mut st = db
        .prepare("SELECT id, COUNT(*), MIN(measurement_start_time), MIN(received_at) FROM measurements GROUP BY id")
        .expect("query");
    let rows = st.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))).expect("rows");
    rows.map(|r| r.expect("row")).collect()
}

/// Every value of every table, except the probe-signed payloads, searched for `needle`. (The
/// payloads are what the probe signed: `verify` proves the collector added nothing to them; they
/// legitimately hold the fake world's server addresses, which are on 127.0.0.1 too.)
fn assert_not_stored(data: &Path, needle: &str) {
    let db = rusqlite::Connection::open(data.join("vigil.sqlite")).expect("open the database");
    let mut st = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").expect("tables");
    let tables: Vec<String> = st.query_map([], |r| r.get(0)).expect("tables").map(|t| t.expect("name")).collect();
    let mut seen = 0;
    for table in &tables {
        let mut st = db.prepare(&format!("SELECT * FROM \"{table}\"")).expect("select");
        let names: Vec<String> = st.column_names().map(str::to_string).collect();
        let mut rows = st.query([]).expect("rows");
        while let Some(row) = rows.next().expect("row") {
            for (i, column) in names.iter().enumerate() {
                if table == "measurements" && column == "payload" {
                    continue;
                }
                let value = match row.get_ref(i).expect("value") {
                    rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => text(b),
                    other => format!("{other:?}"),
                };
                seen += 1;
                assert!(!value.contains(needle), "{table}.{column} holds the client address: {value}");
            }
        }
    }
    assert!(seen > 100, "the scan saw the data ({seen} values)");
}

fn ooni_time(t: &str) -> OffsetDateTime {
    let layout = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(t, layout).unwrap_or_else(|e| panic!("{t:?}: {e}")).assume_utc()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn probe_to_collector_end_to_end_and_through_a_collector_outage() {
    let started = Instant::now();
    let probe = probe_bin();
    let collector_bin = Path::new(env!("CARGO_BIN_EXE_vigil-collector"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let (data, log, asn_db) =
        (tmp.path().join("collector"), tmp.path().join("collector.log"), tmp.path().join("asn.csv"));
    // The operator's IP-to-ASN file: loopback is a documentation AS.
    std::fs::write(&asn_db, "127.0.0.0/8,64496,ZZ\n").expect("write asn.csv");

    // A censored ISP with the platforms' servers on loopback (the demo's profile: DNS NXDOMAIN,
    // blackholes, refusals, a blockpage), with short timeouts.
    let platforms = battery_subset(&probe).await;
    let world_dir = tmp.path().join("world");
    std::fs::create_dir_all(&world_dir).expect("world dir");
    let options = WorldOptions { profile: Profile::Demo, timeouts: Timeouts::all(1500), concurrency: None };
    let world = FakeWorld::start(&platforms, &options, &world_dir).await.expect("the fake world starts");
    let config = world.config_path().display().to_string();
    let expected_per_run = world.platforms().iter().map(|p| p.endpoints.len() + 1).sum::<usize>();

    // 1. The collector on an empty data dir; 2. enrollment.
    let collector = CollectorProcess::start(&data, "127.0.0.1:0", &asn_db, &log).await;
    let (base, listen) = (collector.base(), collector.listen.clone());
    let out = run(&probe, &["enroll", "--config", &config, "--collector", &base, "--token", TOKEN]).await;
    assert_eq!(out.status.code(), Some(EXIT_OK), "{}", show(&out));
    assert!(text(&out.stdout).contains("enrolled key"), "{}", show(&out));

    // The collector's own control serves enrolled probes only (its default): the enrolled probe's
    // signed request gets through the guard to the control, which refuses its own host's address;
    // an unsigned request is refused at the guard.
    let control = format!("{base}/api/v1/control");
    let out =
        run(&probe, &["check", "--config", &config, "--control", &control, "--json", "http://127.0.0.1:9/"]).await;
    let checked: Value = serde_json::from_str(text(&out.stdout).lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("check --json prints the measurement ({e}): {}", show(&out)));
    let failure = checked["test_keys"]["control_failure"].as_str().unwrap_or_default();
    assert_eq!(failure, "unknown_failure: control answered HTTP 403 target_own_address", "{}", show(&out));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let unsigned = reqwest::Client::new().post(&control).body(r#"{"http_request":"http://127.0.0.1:9/"}"#);
    let unsigned = unsigned.send().await.expect("POST control");
    assert_eq!(unsigned.status().as_u16(), 401);
    assert!(unsigned.text().await.expect("body").contains("\"unauthorized\""));

    // 3. One battery: measured, signed, spooled, uploaded.
    let out = run(&probe, &["run", "--config", &config, "--once", "--json"]).await;
    assert_eq!(out.status.code(), Some(EXIT_OK), "{}", show(&out));
    let first = printed_ids(&out);
    assert_eq!(first.len(), expected_per_run, "one measurement per endpoint and per platform");
    let summary = format!("uploaded: {} accepted, 0 duplicate, 0 rejected; 0 remain", first.len());
    assert!(text(&out.stderr).contains(&summary), "{}", show(&out));

    // 4. Every printed id is served by the collector; the spool is empty; no client address.
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
    for id in &first {
        let resp = http.get(format!("{base}/api/v1/measurements/{id}")).send().await.expect("GET measurement");
        assert_eq!(resp.status().as_u16(), 200, "measurement {id}");
        let signed: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("a Signed envelope");
        let payload: Value = serde_json::from_str(signed["payload"].as_str().expect("payload")).expect("payload JSON");
        assert_eq!(payload["id"], Value::String(id.clone()));
    }
    assert_eq!(spooled(&probe, &config).await, 0, "the spool is empty once the collector acknowledged");
    assert_not_stored(&data, "127.0.0.1");
    let db = rusqlite::Connection::open(data.join("vigil.sqlite")).expect("open the database");
    let origins: Vec<(i64, String)> = {
        let mut st = db.prepare("SELECT DISTINCT asn, cc FROM measurements").expect("query");
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).expect("rows").map(|r| r.expect("row")).collect()
    };
    assert_eq!(origins, vec![(64496, "ZZ".to_string())], "the address became an ASN and a country");

    // 5. The collector goes down: the probe measures and keeps everything in its spool.
    collector.kill().await;
    let out = run(&probe, &["run", "--config", &config, "--once", "--json"]).await;
    // `run --once` exits 0 when the battery ran: an upload failure is reported on stderr and the
    // measurements stay spooled for `upload` or the daemon.
    assert_eq!(out.status.code(), Some(EXIT_OK), "{}", show(&out));
    assert!(text(&out.stderr).contains("stay in the spool"), "{}", show(&out));
    let second = printed_ids(&out);
    assert_eq!(second.len(), expected_per_run);
    assert!(first.iter().all(|id| !second.contains(id)), "every run has new ids");
    assert_eq!(spooled(&probe, &config).await, second.len() as u64);
    let out = run(&probe, &["upload", "--config", &config]).await;
    assert_eq!(out.status.code(), Some(EXIT_PENDING), "upload with the collector down: {}", show(&out));
    assert!(text(&out.stderr).contains("collector_unreachable"), "{}", show(&out));
    assert_eq!(spooled(&probe, &config).await, second.len() as u64, "a failed upload deletes nothing");

    // The collector comes back on the same data dir and address; the spool drains.
    let restarted_at = OffsetDateTime::now_utc();
    let collector = CollectorProcess::start(&data, &listen, &asn_db, &log).await;
    let out = run(&probe, &["upload", "--config", &config]).await;
    assert_eq!(out.status.code(), Some(EXIT_OK), "{}", show(&out));
    let summary = format!("uploaded: {} accepted, 0 duplicate, 0 rejected; 0 remain", second.len());
    assert!(text(&out.stdout).contains(&summary), "{}", show(&out));
    assert_eq!(spooled(&probe, &config).await, 0);

    // Every id of both runs stored exactly once, nothing else; the second run's arrived late.
    let rows = stored(&data);
    let all: BTreeSet<&String> = first.iter().chain(&second).collect();
    assert_eq!(all.len(), 2 * expected_per_run);
    assert_eq!(rows.keys().collect::<BTreeSet<_>>(), all, "the stored ids are exactly the printed ones");
    for (id, (count, _, _)) in &rows {
        assert_eq!(*count, 1, "{id} stored {count} times");
    }
    for id in &second {
        let (_, measured, received) = &rows[id];
        let received = OffsetDateTime::parse(received, &Rfc3339).expect("received_at is RFC 3339");
        assert!(ooni_time(measured) <= restarted_at, "{id} measured {measured}, before the collector came back");
        assert!(received >= restarted_at, "{id} received {received}, after the collector came back");
    }

    // Offline verification with the published probe keys, and a tampered copy that fails.
    let mut jsonl = String::new();
    for id in &all {
        let resp = http.get(format!("{}/api/v1/measurements/{id}", collector.base())).send().await.expect("GET");
        assert_eq!(resp.status().as_u16(), 200, "measurement {id}");
        let signed: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("JSON");
        jsonl += &(signed.to_string() + "\n");
    }
    let keys = http.get(format!("{}/api/v1/probe-keys", collector.base())).send().await.expect("GET probe-keys");
    let (file, keys_file) = (tmp.path().join("stored.jsonl"), tmp.path().join("keys.json"));
    std::fs::write(&keys_file, keys.text().await.expect("keys")).expect("write keys");
    std::fs::write(&file, &jsonl).expect("write stored.jsonl");
    let (file_arg, keys_arg) = (file.display().to_string(), keys_file.display().to_string());
    let out = run(collector_bin, &["verify", &file_arg, "--keys", &keys_arg]).await;
    assert!(out.status.success(), "{}", show(&out));
    let ok = text(&out.stdout).lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(ok, all.len(), "{}", show(&out));
    let tampered = jsonl.replacen("vigil_web_connectivity", "vigil_web_connectivitx", 1);
    assert_ne!(tampered, jsonl);
    std::fs::write(&file, tampered).expect("write tampered copy");
    let out = run(collector_bin, &["verify", &file_arg, "--keys", &keys_arg]).await;
    assert_eq!(out.status.code(), Some(1), "a tampered payload fails: {}", show(&out));
    assert_eq!(text(&out.stdout).lines().filter(|l| l.starts_with("FAIL ")).count(), 1, "{}", show(&out));

    collector.kill().await;
    drop(world);
    let took = started.elapsed();
    eprintln!("e2e: {} measurements in two runs, {:.1} s", all.len(), took.as_secs_f64());
    assert!(took < Duration::from_secs(30), "the end-to-end test took {took:?}");
}
