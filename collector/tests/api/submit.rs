//! Submission: acks, duplicates, every bad input with its code, mixed batches, time limits.

use time::{Duration, OffsetDateTime};
use vigil_report::protocol::{ItemStatus, SubmitRequest};
use vigil_report::{STATEMENT_FORMAT, Signed};

use crate::support::{Server, config, error_code, key, measurement, payload_at, sign};

fn codes(ack: &vigil_report::protocol::SubmitAck) -> Vec<(String, String)> {
    ack.results
        .iter()
        .map(|r| {
            let code = r.error.as_ref().map(|e| e.code.clone()).unwrap_or_else(|| format!("{:?}", r.status));
            (r.id.clone(), code)
        })
        .collect()
}

#[tokio::test]
async fn accepted_once_then_acknowledged_as_duplicate_and_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let k = key(1);
    let collector = s.enroll(&k).await;
    let batch = vec![measurement(&k, "m1"), measurement(&k, "m2")];
    let ack = s.submit_ok(&batch, &collector).await;
    assert_eq!(ack.kind, "ack");
    assert_eq!(ack.results.iter().map(|r| r.status).collect::<Vec<_>>(), [ItemStatus::Accepted; 2]);
    assert_eq!(ack.results[0].id, "m1");
    let ack = s.submit_ok(&batch[..1], &collector).await;
    assert_eq!(ack.results[0].status, ItemStatus::Duplicate);
    assert!(ack.results[0].status.is_stored());
    assert_eq!(s.stored_count(), 2);
    // The stored envelope is byte for byte what the probe signed.
    let (status, body) = s.get("/api/v1/measurements/m1").await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Signed>(&body).unwrap(), batch[0]);
    let (status, body) = s.get("/api/v1/measurements/nope").await;
    assert_eq!((status, error_code(&body).as_str()), (404, "not_found"));
    let (_, health) = s.get("/api/v1/health").await;
    let health = crate::support::value(&health);
    assert_eq!(health["measurements"], 2);
    assert_eq!(health["probes"], 1);
}

#[tokio::test]
async fn every_bad_item_is_rejected_with_its_code_and_good_items_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let (k, other, stranger) = (key(1), key(2), key(3));
    let collector = s.enroll(&k).await;
    s.enroll(&other).await;
    s.submit_ok(&[measurement(&other, "taken")], &collector).await;

    let now = OffsetDateTime::now_utc();
    let mut tampered = measurement(&k, "tampered");
    tampered.payload = tampered.payload.replace("example.org", "example.net");
    let mut relabelled = measurement(&k, "relabelled");
    relabelled.format = STATEMENT_FORMAT.into();
    let mut bad_encoding = measurement(&k, "encoding");
    bad_encoding.signature = "!!".into();
    let batch = vec![
        measurement(&k, "good1"),
        measurement(&stranger, "stranger"),
        tampered,
        relabelled,
        bad_encoding,
        sign(&k, r#"{"id":"x","hello":"world"}"#.into()),
        sign(&k, "not json".into()),
        sign(&k, payload_at("future", now + Duration::hours(1), 8)),
        sign(&k, payload_at("week-old", now - Duration::days(7), 8)),
        sign(&k, payload_at("skewed", now + Duration::minutes(5), 8)),
        measurement(&k, "taken"),
        measurement(&k, "good2"),
        measurement(&k, "good2"),
    ];
    let ack = s.submit_ok(&batch, &collector).await;
    let got = codes(&ack);
    let want = [
        ("good1", "Accepted"),
        ("stranger", "unknown_key"),
        ("tampered", "bad_signature"),
        ("relabelled", "bad_format"),
        ("encoding", "bad_signature_encoding"),
        ("", "bad_payload"),
        ("", "bad_payload"),
        ("future", "future_timestamp"),
        ("week-old", "Accepted"),
        ("skewed", "Accepted"),
        ("taken", "id_conflict"),
        ("good2", "Accepted"),
        ("good2", "Duplicate"),
    ];
    let want: Vec<(String, String)> = want.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    assert_eq!(got, want);
    let stored: Vec<String> = {
        let db = s.db();
        let mut st = db.prepare("SELECT id FROM measurements ORDER BY id").unwrap();
        st.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
    };
    assert_eq!(stored, ["good1", "good2", "skewed", "taken", "week-old"]);
    let owner: String =
        s.db().query_row("SELECT key_id FROM measurements WHERE id = 'taken'", [], |r| r.get(0)).unwrap();
    assert_eq!(owner, vigil_report::signed::key_id(&other.verifying_key()));
    let (_, metrics) = s.get("/metrics").await;
    assert!(metrics.contains(r#"vigil_measurements_total{code="unknown_key",status="rejected"} 1"#), "{metrics}");
    assert!(metrics.contains("vigil_ingest_seconds_count 2"), "{metrics}");
}

#[tokio::test]
async fn whole_request_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.max_body_bytes = 64 * 1024;
    c.max_batch = 5;
    let s = Server::start(c).await;
    let k = key(1);
    s.enroll(&k).await;

    let (status, body) = s.post("/api/v1/submit", "{\"measurements\": [\n  {\"format\": 3}]}".into()).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "malformed_json"));
    assert!(body.contains("line 2"), "the message says where: {body}");
    let (status, body) = s.post("/api/v1/submit", "{\"measurements\": [], \"extra\": 1}".into()).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "malformed_json"));

    let six: Vec<Signed> = (0..6).map(|i| measurement(&k, &format!("b{i}"))).collect();
    let (status, body) = s.submit(&six).await;
    assert_eq!((status, error_code(&body).as_str()), (413, "batch_too_large"));

    let big = vec![sign(&k, crate::support::payload_at("big", OffsetDateTime::now_utc(), 70 * 1024))];
    let (status, body) =
        s.post("/api/v1/submit", serde_json::to_string(&SubmitRequest { measurements: big }).unwrap()).await;
    assert_eq!((status, error_code(&body).as_str()), (413, "body_too_large"));
    assert_eq!(s.stored_count(), 0);

    let (status, body) = s.get("/api/v1/submit").await;
    assert_eq!((status, error_code(&body).as_str()), (405, "method_not_allowed"));
    let (status, body) = s.get("/api/v1/nothing-here").await;
    assert_eq!((status, error_code(&body).as_str()), (404, "not_found"));
}

#[tokio::test]
async fn the_default_body_limit_is_8_mib() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let body = format!("{{\"measurements\": [], \"pad\": \"{}\"}}", "x".repeat(8 * 1024 * 1024));
    let (status, body) = s.post("/api/v1/submit", body).await;
    assert_eq!((status, error_code(&body).as_str()), (413, "body_too_large"));
}

#[tokio::test]
async fn the_probe_configuration_is_signed_and_names_the_control() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.public_url = Some("https://collector.example".into());
    c.battery_toml = Some("[[platform]]\n".into());
    let s = Server::start(c).await;
    let collector = s.enroll(&key(1)).await;
    let (status, body) = s.get("/api/v1/probe-config").await;
    assert_eq!(status, 200);
    let signed: Signed = serde_json::from_str(&body).unwrap();
    signed.verify(STATEMENT_FORMAT, &collector).unwrap();
    let cfg: vigil_report::protocol::ProbeConfigStatement = signed.payload_as().unwrap();
    assert_eq!(cfg.kind, "probe-config");
    assert_eq!(cfg.interval_minutes, 60);
    assert_eq!(cfg.control_url.as_deref(), Some("https://collector.example/api/v1/control"));
    assert_eq!(cfg.battery_toml.as_deref(), Some("[[platform]]\n"));
}
