//! `vigil-collector verify`: published measurements checked offline against published keys.

use std::process::Command;

use vigil_report::Signed;

use crate::support::{Server, config, key, measurement};

fn verify(file: &std::path::Path, keys: &std::path::Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil-collector"))
        .arg("verify")
        .arg(file)
        .arg("--keys")
        .arg(keys)
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn downloaded_measurements_verify_offline_and_tampering_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let (a, b) = (key(1), key(2));
    let collector = s.enroll(&a).await;
    s.enroll(&b).await;
    s.submit_ok(&[measurement(&a, "v1"), measurement(&b, "v2")], &collector).await;
    let mut downloaded = Vec::new();
    for id in ["v1", "v2"] {
        let (status, body) = s.get(&format!("/api/v1/measurements/{id}")).await;
        assert_eq!(status, 200);
        downloaded.push(body);
    }
    let (_, keys) = s.get("/api/v1/probe-keys").await;
    let work = tempfile::tempdir().unwrap();
    let keys_path = work.path().join("keys.json");
    std::fs::write(&keys_path, keys).unwrap();

    let good = work.path().join("good.jsonl");
    std::fs::write(&good, downloaded.join("\n")).unwrap();
    let (code, out) = verify(&good, &keys_path);
    assert_eq!(code, 0, "{out}");
    assert!(out.lines().any(|l| l.starts_with("ok v1")) && out.lines().any(|l| l.starts_with("ok v2")), "{out}");

    let mut envelopes: Vec<Signed> = downloaded.iter().map(|d| serde_json::from_str(d).unwrap()).collect();
    envelopes[1].payload = envelopes[1].payload.replace("\"accessible\":true", "\"accessible\":false");
    let tampered = work.path().join("tampered.json");
    std::fs::write(&tampered, serde_json::to_string(&envelopes).unwrap()).unwrap();
    let (code, out) = verify(&tampered, &keys_path);
    assert_eq!(code, 1, "{out}");
    assert!(out.lines().any(|l| l.starts_with("ok v1")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("FAIL v2") && l.contains("bad_signature")), "{out}");
}
