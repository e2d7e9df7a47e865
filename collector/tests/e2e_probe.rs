//! Probe → collector end to end, with the real binaries on loopback: enroll, run the battery
//! against the fake world, upload, and check that every measurement is stored once and verifies
//! offline; then the collector goes down, the probe keeps measuring into its spool, and once the
//! collector is back the spool drains with nothing lost and nothing duplicated.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use vigil_testkit::world::{FakeWorld, Profile, Timeouts, WorldOptions, parse_battery_toml};

const COLLECTOR: &str = env!("CARGO_BIN_EXE_vigil-collector");

fn probe_bin() -> PathBuf {
    let path = Path::new(COLLECTOR).with_file_name("vigil-probe");
    assert!(path.exists(), "{} is missing: run `cargo build -p vigil-probe` first", path.display());
    path
}

/// Start `vigil-collector serve` on `listen`; returns the child and the address it bound.
async fn start_collector(data_dir: &Path, listen: &str) -> (Child, String) {
    let mut child = Command::new(COLLECTOR)
        .args(["serve", "--data-dir"])
        .arg(data_dir)
        .args(["--listen", listen, "--enroll-token", "e2e-token"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().expect("the collector prints its address");
    let addr = line.strip_prefix("vigil-collector listening on ").expect("listening line").to_string();
    (child, addr)
}

async fn probe(args: &[&str], config: &Path) -> (i32, String) {
    let out = Command::new(probe_bin()).args(args).arg("--config").arg(config).output().await.unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The ids of the measurements printed by `run --json`.
fn ids(stdout: &str) -> BTreeSet<String> {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

/// (rows, distinct ids) stored for `ids`.
fn stored(data_dir: &Path, ids: &BTreeSet<String>) -> (usize, usize) {
    let conn = rusqlite::Connection::open(data_dir.join("vigil.sqlite")).unwrap();
    let mut rows = 0;
    let mut distinct = 0;
    for id in ids {
        let n: i64 = conn.query_row("SELECT count(*) FROM measurements WHERE id = ?1", [id], |r| r.get(0)).unwrap();
        rows += n as usize;
        distinct += usize::from(n > 0);
    }
    (rows, distinct)
}

fn spool_segments(world_dir: &Path) -> usize {
    std::fs::read_dir(world_dir.join("probe-state/spool/ready")).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn enroll_run_upload_verify_then_survive_a_collector_outage() {
    vigil_testkit::init_crypto();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("collector");
    let world_dir = dir.path().join("world");
    std::fs::create_dir_all(&world_dir).unwrap();

    // A slice of the built-in battery, behind a censoring fake ISP (Facebook NXDOMAIN, X SNI reset).
    let battery = std::process::Command::new(probe_bin()).args(["battery", "--toml"]).output().unwrap();
    let keep = ["facebook", "x", "signal", "example", "wikipedia"];
    let specs: Vec<_> = parse_battery_toml(&String::from_utf8(battery.stdout).unwrap())
        .unwrap()
        .into_iter()
        .filter(|p| keep.contains(&p.id.as_str()))
        .collect();
    let options = WorldOptions { profile: Profile::Demo, timeouts: Timeouts::all(1500), concurrency: None };
    let world = FakeWorld::start(&specs, &options, &world_dir).await.unwrap();
    let config = world.config_path().to_path_buf();

    let (mut collector, addr) = start_collector(&data_dir, "127.0.0.1:0").await;
    let url = format!("http://{addr}");
    let (code, _) = probe(&["enroll", "--collector", &url, "--token", "e2e-token"], &config).await;
    assert_eq!(code, 0, "enroll");

    // 1. Measure, sign, spool, upload.
    let (code, out) = probe(&["run", "--once", "--json"], &config).await;
    assert_eq!(code, 0, "run --once");
    let first = ids(&out);
    assert!(first.len() > 20, "endpoints and platform summaries: {}", first.len());
    assert_eq!(stored(&data_dir, &first), (first.len(), first.len()), "every measurement stored once");
    assert_eq!(spool_segments(&world_dir), 0, "the spool is empty once acknowledged");

    // Every stored signature verifies offline with the published keys.
    let export = dir.path().join("stored.jsonl");
    let keys = dir.path().join("keys.json");
    let listed = Command::new(COLLECTOR)
        .args(["measurements", "--limit", "0", "--data-dir"])
        .arg(&data_dir)
        .arg("--export")
        .arg(&export)
        .arg("--export-keys")
        .arg(&keys)
        .output()
        .await
        .unwrap();
    assert!(listed.status.success());
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(table.contains("dns/dns_nxdomain"), "the censored verdicts are stored:\n{table}");
    let verified = Command::new(COLLECTOR).arg("verify").arg(&export).arg("--keys").arg(&keys).output().await.unwrap();
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    let one = first.iter().next().unwrap();
    let body = reqwest::get(format!("{url}/api/v1/measurements/{one}")).await.unwrap().text().await.unwrap();
    let envelope: vigil_report::Signed = serde_json::from_str(&body).unwrap();
    assert!(envelope.payload.contains(one.as_str()));

    // 2. The collector goes down: the probe keeps measuring into its spool.
    collector.kill().await.unwrap();
    let (code, out) = probe(&["run", "--once", "--json"], &config).await;
    assert_eq!(code, 0, "measuring does not depend on the collector");
    let second = ids(&out);
    assert!(spool_segments(&world_dir) > 0, "kept on the device");
    let (code, _) = probe(&["upload"], &config).await;
    assert_eq!(code, 4, "upload says measurements remain");

    // 3. Back up on the same address: the spool drains, nothing lost, nothing twice.
    let (_collector, _) = start_collector(&data_dir, &addr).await;
    let (code, _) = probe(&["upload"], &config).await;
    assert_eq!(code, 0, "the spool is empty after the upload");
    assert_eq!(spool_segments(&world_dir), 0);
    let all: BTreeSet<String> = first.union(&second).cloned().collect();
    assert_eq!(stored(&data_dir, &all), (all.len(), all.len()), "both runs stored, each measurement once");
}
