//! kill -9 during ingest: every acknowledged measurement is in the database after a restart,
//! and nothing is half-written.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use vigil_report::MEASUREMENT_FORMAT;
use vigil_report::protocol::SubmitRequest;
use vigil_report::signed::{decode_public_key, key_id};

use crate::support::{TOKEN, client, key, measurement, verified_ack};

async fn spawn(dir: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil-collector"))
        .args(["serve", "--listen", "127.0.0.1:0", "--enroll-token", TOKEN, "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap().unwrap();
    let addr = line.rsplit(' ').next().unwrap().to_string();
    (child, format!("http://{addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whatever_was_acknowledged_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = spawn(dir.path()).await;
    let http = client();
    let k = key(9);
    let enroll = vigil_report::protocol::EnrollRequest {
        public_key: vigil_report::signed::encode_public_key(&k.verifying_key()),
        proof: vigil_report::signed::enrollment_proof(&k),
        token: Some(TOKEN.into()),
        software_version: "t".into(),
    };
    let resp =
        http.post(format!("{base}/api/v1/enroll")).body(serde_json::to_string(&enroll).unwrap()).send().await.unwrap();
    let enrolled: vigil_report::protocol::EnrollResponse = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    let collector = decode_public_key(&enrolled.collector_key).unwrap();

    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let mut tasks = Vec::new();
    for t in 0..4 {
        let (http, base, k, acked) = (http.clone(), base.clone(), k.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for batch in 0.. {
                let items: Vec<_> = (0..25).map(|i| measurement(&k, &format!("t{t}-b{batch}-i{i}"))).collect();
                let body = serde_json::to_string(&SubmitRequest { measurements: items }).unwrap();
                let Ok(resp) = http.post(format!("{base}/api/v1/submit")).body(body).send().await else { return };
                let Ok(text) = resp.text().await else { return };
                let ack = verified_ack(&text, &collector);
                let mut set = acked.lock().unwrap();
                for r in ack.results {
                    assert!(r.status.is_stored(), "{r:?}");
                    set.insert(r.id);
                }
            }
        }));
    }
    // Let ingest run, then kill -9 while the clients are still sending (a few hundred acks: the
    // debug build signs and verifies slowly; the window between COMMIT and ack is what matters).
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if acked.lock().unwrap().len() >= 300 {
            break;
        }
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 300);

    // Restart on the same directory: the database recovers and holds every acknowledged id.
    let (mut child, base) = spawn(dir.path()).await;
    let health = http.get(format!("{base}/api/v1/health")).send().await.unwrap().text().await.unwrap();
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    let db = rusqlite::Connection::open(dir.path().join("vigil.sqlite")).unwrap();
    let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let mut stmt = db.prepare("SELECT id, key_id, format, payload, signature FROM measurements").unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok(vigil_report::Signed { format: r.get(2)?, key_id: r.get(1)?, payload: r.get(3)?, signature: r.get(4)? })
                .map(|s| (r.get::<_, String>(0).unwrap(), s))
        })
        .unwrap();
    let mut stored = BTreeSet::new();
    for row in rows {
        let (id, signed) = row.unwrap();
        assert_eq!(signed.key_id, key_id(&k.verifying_key()));
        signed.verify(MEASUREMENT_FORMAT, &k.verifying_key()).expect("every stored row is whole");
        stored.insert(id);
    }
    let missing: Vec<_> = acked.difference(&stored).collect();
    assert!(missing.is_empty(), "{} acknowledged ids lost, e.g. {:?}", missing.len(), missing.first());
    assert_eq!(health["measurements"].as_u64().unwrap(), stored.len() as u64, "per-probe counts match the rows");

    // SIGTERM drains and exits cleanly.
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status:?}");
}
