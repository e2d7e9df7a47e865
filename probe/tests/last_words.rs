//! The probe's last words, with the real `vigil-probe run` binary: on SIGTERM (`systemctl stop`,
//! procd's stop) the daemon sends one last heartbeat with `stopping` to the collector on loopback
//! and exits 0 within the bound; when the collector is unreachable, that heartbeat is spooled
//! (signed, `stopping`) and the stop still ends within the bound.

use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::{Json, Router};
use ed25519_dalek::SigningKey;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use vigil_probe::daemon::LAST_WORDS_MAX;
use vigil_probe::identity::{self, CollectorPin, probe_key_id};
use vigil_probe::spool::Spool;
use vigil_probe::spool::compact::measurement_id;
use vigil_report::protocol::{ItemResult, ItemStatus, SubmitAck, SubmitRequest};
use vigil_report::signed::{encode_public_key, key_id};
use vigil_report::{MEASUREMENT_FORMAT, STATEMENT_FORMAT, Signed};

/// Heartbeats the collector received, as verified payloads.
type Received = Arc<Mutex<Vec<serde_json::Value>>>;

/// A collector on loopback that verifies and acknowledges every measurement.
async fn collector(probe: ed25519_dalek::VerifyingKey) -> (String, SigningKey, Received) {
    let key = SigningKey::from_bytes(&[9; 32]);
    let received: Received = Arc::default();
    let state = (key.clone(), probe, received.clone());
    type St = (SigningKey, ed25519_dalek::VerifyingKey, Received);
    async fn submit(State((key, probe, received)): State<St>, Json(req): Json<SubmitRequest>) -> Json<Signed> {
        let mut results = Vec::new();
        for s in &req.measurements {
            s.verify(MEASUREMENT_FORMAT, &probe).expect("signed by the probe");
            received.lock().unwrap().push(serde_json::from_str(&s.payload).unwrap());
            results.push(ItemResult { id: measurement_id(s), status: ItemStatus::Accepted, error: None });
        }
        let now = OffsetDateTime::now_utc().format(&Rfc3339).unwrap();
        let ack = SubmitAck { kind: "ack".into(), received_at: now, results };
        Json(Signed::sign(STATEMENT_FORMAT, serde_json::to_string(&ack).unwrap(), &key))
    }
    let app = Router::new().route(vigil_probe::upload::SUBMIT_PATH, axum::routing::post(submit)).with_state(state);
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, key, received)
}

/// A loopback port nobody listens on.
fn closed_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
}

/// A probe configuration in `dir` (heartbeat every 2 s, one control on a closed loopback port),
/// enrolled with `url` signed by `collector`; returns the config path and the probe's key.
fn setup(dir: &Path, url: &str, collector: &SigningKey) -> (String, SigningKey) {
    let mut config = vigil_probe::config::Config::default();
    config.identity.key_file = dir.join("id/probe.key");
    config.spool.dir = dir.join("spool");
    config.schedule.heartbeat_seconds = 2;
    config.network.lab_nets = vec!["127.0.0.0/8".into()];
    let battery = format!(
        "[[platform]]\nid = \"neutral\"\nname = \"Neutral\"\nkind = \"control\"\n[[platform.endpoint]]\n\
         group = \"web\"\ninput = \"tcpconnect://127.0.0.1:{}\"\n",
        closed_port()
    );
    std::fs::write(dir.join("battery.toml"), battery).unwrap();
    config.battery.file = Some(dir.join("battery.toml"));
    let (key, _) = identity::load_or_create(&config.identity.key_file).unwrap();
    let verifying = collector.verifying_key();
    let pin = CollectorPin {
        url: url.into(),
        collector_key: encode_public_key(&verifying),
        collector_key_id: key_id(&verifying),
        key_id: probe_key_id(&key),
    };
    pin.save(&config.identity.collector_path()).unwrap();
    let path = dir.join("vigil.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    (path.display().to_string(), key)
}

/// `vigil-probe run --config CONFIG`, its stderr lines sent to the returned channel.
fn start(config: &str) -> (Child, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_vigil-probe"))
        .args(["run", "--config", config])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Wait (at most 20 s) for a stderr line containing `needle`; every line read so far on failure.
async fn wait_line(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>, needle: &str, seen: &mut Vec<String>) {
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = rx.recv().await {
            seen.push(line);
            if seen.last().unwrap().contains(needle) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "no line with {needle:?}:\n{}", seen.join("\n"));
}

/// SIGTERM the probe; its exit code and how long it took to exit.
async fn terminate(child: &mut Child) -> (Option<i32>, Duration) {
    let pid = child.id().unwrap().to_string();
    let sent = Instant::now();
    let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait()).await.expect("exits").unwrap();
    (exit.code(), sent.elapsed())
}

fn is_heartbeat(m: &serde_json::Value) -> bool {
    m["test_name"] == "vigil_heartbeat"
}

#[tokio::test]
async fn on_sigterm_the_probe_sends_its_last_words_and_exits_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    // The collector verifies with the probe's key (`setup` reuses it).
    let (key, _) = identity::load_or_create(&dir.path().join("id/probe.key")).unwrap();
    let (url, collector_key, received) = collector(key.verifying_key()).await;
    let (config, _) = setup(dir.path(), &url, &collector_key);

    let (mut child, mut rx) = start(&config);
    // Running, its signal handlers installed, and a first heartbeat delivered.
    let started = Instant::now();
    while !received.lock().unwrap().iter().any(is_heartbeat) {
        assert!(started.elapsed() < Duration::from_secs(20), "no heartbeat");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, took) = terminate(&mut child).await;
    let mut seen = Vec::new();
    while let Ok(line) = rx.try_recv() {
        seen.push(line);
    }
    let log = seen.join("\n");
    assert_eq!(code, Some(0), "{log}");
    assert!(took < LAST_WORDS_MAX, "the stop took {took:?}\n{log}");
    let beats: Vec<_> = received.lock().unwrap().iter().filter(|m| is_heartbeat(m)).cloned().collect();
    let stopping: Vec<bool> = beats.iter().map(|m| m["test_keys"]["stopping"] == true).collect();
    assert_eq!(stopping.last(), Some(&true), "the last heartbeat says stopping: {beats:#?}");
    assert_eq!(stopping.iter().filter(|s| **s).count(), 1, "{beats:#?}");
    assert!(log.contains("last heartbeat (stopping) sent"), "{log}");
    assert!(Spool::open(&dir.path().join("spool"), 1 << 22).unwrap().is_empty().unwrap(), "nothing spooled");
}

#[tokio::test]
async fn with_the_collector_unreachable_the_last_words_are_spooled_and_the_stop_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    // Pinned to a port nobody listens on.
    let url = format!("http://127.0.0.1:{}/", closed_port());
    let (config, key) = setup(dir.path(), &url, &SigningKey::from_bytes(&[9; 32]));
    let (mut child, mut rx) = start(&config);
    let mut seen = Vec::new();
    wait_line(&mut rx, "heartbeat not sent", &mut seen).await;
    let (code, took) = terminate(&mut child).await;
    while let Some(line) = rx.recv().await {
        seen.push(line);
    }
    let log = seen.join("\n");
    assert_eq!(code, Some(0), "{log}");
    assert!(took < LAST_WORDS_MAX, "the stop took {took:?}\n{log}");
    assert!(log.contains("last heartbeat (stopping) not sent"), "{log}");

    let spool = Spool::open(&dir.path().join("spool"), 1 << 22).unwrap();
    let mut beats = Vec::new();
    for seg in spool.segments().unwrap() {
        for s in spool.read_segment(&seg).unwrap().0 {
            s.verify(MEASUREMENT_FORMAT, &key.verifying_key()).unwrap();
            let m: serde_json::Value = serde_json::from_str(&s.payload).unwrap();
            if is_heartbeat(&m) {
                beats.push(m["test_keys"]["stopping"] == true);
            }
        }
    }
    assert!(beats.len() >= 2, "{beats:?}");
    assert_eq!(beats.iter().filter(|s| **s).count(), 1, "one spooled heartbeat says stopping: {beats:?}");
}
