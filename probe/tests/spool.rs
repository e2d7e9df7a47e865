//! The probe's key, its store-and-forward spool and its uploads, against a fake collector on
//! loopback that checks the probe's signatures and signs its acks (with its own key, or a forged
//! one, or after a key rotation).

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use vigil_probe::identity::{self, CollectorPin};
use vigil_probe::skew::{self, WallClock};
use vigil_probe::spool::compact::{measurement_id, seal_web};
use vigil_probe::spool::{Batch, Class, Spool};
use vigil_probe::upload::{self, Collector, UploadError};
use vigil_report::protocol::{
    ApiCode, ApiError, EnrollRequest, EnrollResponse, ErrorBody, ErrorCode, ItemResult, ItemStatus, KeyRotation,
    SubmitAck, SubmitRequest,
};
use vigil_report::signed::{encode_public_key, key_id, verify_enrollment_proof};
use vigil_report::{Blocking, MEASUREMENT_FORMAT, Measurement, STATEMENT_FORMAT, Signed, WebKeys};

// ---------------------------------------------------------------- fixtures

fn web(id: &str, blocking: Blocking, accessible: Option<bool>, start: &str) -> Measurement<WebKeys> {
    let value = json!({
        "id": id, "data_format_version": "0.2.0", "measurement_start_time": start, "test_start_time": start,
        "input": "https://x.test/", "test_name": "vigil_web_connectivity", "test_version": "0.1.0",
        "software_name": "vigil-probe", "software_version": "0", "probe_asn": "AS0", "probe_cc": "ZZ",
        "resolver_ip": null, "test_runtime": 1.0,
        "test_keys": {"client_resolver": null, "queries": [], "tcp_connect": [], "tls_handshakes": [],
            "requests": [], "control": null, "control_failure": null, "dns_experiment_failure": null,
            "dns_consistency": null, "http_experiment_failure": null, "body_length_match": null,
            "body_proportion": null, "status_code_match": null, "headers_match": null, "title_match": null,
            "blocking": null, "accessible": null, "mechanism": null, "x_confirmed": false, "x_reasons": []}
    });
    let mut m: Measurement<WebKeys> = serde_json::from_value(value).unwrap();
    m.test_keys.blocking = blocking;
    m.test_keys.accessible = accessible;
    m
}

fn sealed(ids: &[String], key: &SigningKey) -> Vec<(Class, Signed)> {
    ids.iter().map(|id| seal_web(&web(id, Blocking::Dns, Some(false), "2024-01-01 00:00:00"), 65536, key)).collect()
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Every measurement id still in the spool.
fn spooled_ids(spool: &Spool) -> Vec<String> {
    let mut out = Vec::new();
    for seg in spool.segments().unwrap() {
        out.extend(spool.read_segment(&seg).unwrap().0.iter().map(measurement_id));
    }
    out
}

fn probe_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

// ---------------------------------------------------------------- fake collector

struct Inner {
    /// Signs acks.
    ack_key: Mutex<SigningKey>,
    /// Served at /api/v1/collector-keys.
    chain: Mutex<Vec<Signed>>,
    /// Returned by enrollment (the key probes pin).
    enroll_key: VerifyingKey,
    probes: Mutex<Vec<VerifyingKey>>,
    stored: Mutex<HashSet<String>>,
    /// Every id ever submitted, in order (to count what was sent twice).
    received: Mutex<Vec<String>>,
    down: AtomicBool,
    lose_ack: AtomicBool,
    /// Answer every submission with an unsigned 413, as a middlebox could.
    too_large: AtomicBool,
    /// A middlebox answering a plain 413 to any submission larger than this.
    middlebox_limit: Mutex<Option<usize>>,
    /// Submissions received (answered or not).
    requests: std::sync::atomic::AtomicUsize,
    /// The collector's body limit: a larger submission gets a 413 `body_too_large`.
    body_limit: Mutex<Option<usize>>,
    /// The collector's clock (None: the system's). When set, a measurement dated more than
    /// `FUTURE_TOLERANCE` ahead of it is rejected as `future_timestamp`, as the real one does.
    clock: Mutex<Option<OffsetDateTime>>,
    /// Reject these ids with this code (e.g. one a probe does not know).
    refuse: Mutex<Option<(HashSet<String>, String)>>,
}

const FUTURE_TOLERANCE: time::Duration = time::Duration::minutes(10);

#[derive(Clone)]
struct Fake(Arc<Inner>);

fn error(status: StatusCode, code: &str) -> Response {
    (status, Json(ErrorBody { error: ApiError { code: code.into(), message: format!("{code} (fake)") } }))
        .into_response()
}

async fn enroll_handler(State(f): State<Fake>, Json(req): Json<EnrollRequest>) -> Response {
    if req.token.as_deref() != Some("letmein") {
        return error(StatusCode::FORBIDDEN, "bad_token");
    }
    let Ok(key) = verify_enrollment_proof(&req.public_key, &req.proof) else {
        return error(StatusCode::BAD_REQUEST, "bad_proof");
    };
    f.0.probes.lock().unwrap().push(key);
    Json(EnrollResponse {
        key_id: key_id(&key),
        collector_key: encode_public_key(&f.0.enroll_key),
        collector_key_id: key_id(&f.0.enroll_key),
    })
    .into_response()
}

async fn submit_handler(State(f): State<Fake>, body: axum::body::Bytes) -> Response {
    f.0.requests.fetch_add(1, Ordering::SeqCst);
    if f.0.down.load(Ordering::SeqCst) {
        return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    }
    if f.0.too_large.load(Ordering::SeqCst) {
        return (StatusCode::PAYLOAD_TOO_LARGE, "413 Request Entity Too Large").into_response();
    }
    if f.0.middlebox_limit.lock().unwrap().is_some_and(|limit| body.len() > limit) {
        return (StatusCode::PAYLOAD_TOO_LARGE, "413 Request Entity Too Large").into_response();
    }
    if f.0.body_limit.lock().unwrap().is_some_and(|limit| body.len() > limit) {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    }
    let req: SubmitRequest = serde_json::from_slice(&body).unwrap();
    let clock = *f.0.clock.lock().unwrap();
    let refuse = f.0.refuse.lock().unwrap().clone();
    let probes = f.0.probes.lock().unwrap().clone();
    let mut results = Vec::new();
    for m in &req.measurements {
        let id = measurement_id(m);
        f.0.received.lock().unwrap().push(id.clone());
        let verified = probes.iter().any(|k| m.verify(MEASUREMENT_FORMAT, k).is_ok());
        let start = serde_json::from_str::<serde_json::Value>(&m.payload).unwrap()["measurement_start_time"]
            .as_str()
            .and_then(vigil_probe::timestamp::parse);
        let refused = refuse.as_ref().filter(|(ids, _)| ids.contains(&id)).map(|(_, code)| code.clone());
        let (status, error) = if !verified {
            (ItemStatus::Rejected, Some(ApiError { code: "bad_signature".into(), message: "no".into() }))
        } else if let Some(code) = refused {
            (ItemStatus::Rejected, Some(ApiError { code, message: "refused (fake)".into() }))
        } else if clock.is_some_and(|now| start.is_some_and(|t| t > now + FUTURE_TOLERANCE)) {
            (ItemStatus::Rejected, Some(ApiError { code: "future_timestamp".into(), message: "ahead".into() }))
        } else if f.0.stored.lock().unwrap().insert(id.clone()) {
            (ItemStatus::Accepted, None)
        } else {
            (ItemStatus::Duplicate, None)
        };
        results.push(ItemResult { id, status, error });
    }
    if f.0.lose_ack.load(Ordering::SeqCst) {
        return error(StatusCode::BAD_GATEWAY, "ack_lost");
    }
    let received_at = clock.unwrap_or_else(OffsetDateTime::now_utc).format(&Rfc3339).unwrap();
    let ack = SubmitAck { kind: "ack".into(), received_at, results };
    Json(Signed::sign_json(STATEMENT_FORMAT, &ack, &f.0.ack_key.lock().unwrap()).unwrap()).into_response()
}

async fn keys_handler(State(f): State<Fake>) -> Response {
    Json(f.0.chain.lock().unwrap().clone()).into_response()
}

/// Start a fake collector on `addr` (port 0 for any) whose key is `key`.
async fn fake_collector_on(addr: &str, key: &SigningKey) -> (Fake, String) {
    let fake = Fake(Arc::new(Inner {
        ack_key: Mutex::new(key.clone()),
        chain: Mutex::new(Vec::new()),
        enroll_key: key.verifying_key(),
        probes: Mutex::new(Vec::new()),
        stored: Mutex::new(HashSet::new()),
        received: Mutex::new(Vec::new()),
        down: AtomicBool::new(false),
        lose_ack: AtomicBool::new(false),
        too_large: AtomicBool::new(false),
        middlebox_limit: Mutex::new(None),
        requests: Default::default(),
        body_limit: Mutex::new(None),
        clock: Mutex::new(None),
        refuse: Mutex::new(None),
    }));
    let app = Router::new()
        .route("/api/v1/enroll", post(enroll_handler))
        .route("/api/v1/submit", post(submit_handler))
        .route("/api/v1/collector-keys", get(keys_handler))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (fake, url)
}

async fn fake_collector() -> (Fake, String) {
    fake_collector_on("127.0.0.1:0", &SigningKey::from_bytes(&[7; 32])).await
}

/// A spool in a temp dir, a probe enrolled with `url`, and its collector client.
async fn enrolled(dir: &Path, url: &str) -> (Spool, Collector) {
    let http = upload::http_client(&[]).unwrap();
    let pin_path = dir.join("collector.json");
    upload::enroll(&http, url, &probe_key(), Some("letmein".into()), &pin_path).await.unwrap();
    let spool = Spool::open(&dir.join("spool"), 4 * 1024 * 1024).unwrap();
    (spool, Collector::load(http, &pin_path).unwrap())
}

// ---------------------------------------------------------------- identity

#[test]
fn key_is_created_0600_reused_and_refused_when_world_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/probe.key");
    let (key, created) = identity::load_or_create(&path).unwrap();
    assert!(created);
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    let (again, created) = identity::load_or_create(&path).unwrap();
    assert!(!created);
    assert_eq!(again.to_bytes(), key.to_bytes(), "the second start reuses the key");

    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let err = identity::load_or_create(&path).unwrap_err();
    assert_eq!(err.label(), "key_permissions");
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");

    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(&path, "not a key\n").unwrap();
    assert_eq!(identity::load(&path).unwrap_err().label(), "key_invalid");
}

// ---------------------------------------------------------------- spool

#[test]
fn a_crash_leaves_complete_segments_and_torn_tmp_files_are_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), 4 * 1024 * 1024).unwrap();
    let key = probe_key();
    spool.add(sealed(&ids("a", 3), &key)).unwrap();
    // A crash while writing the next segment: a torn file in tmp/ from a dead process, and junk.
    fs::write(dir.path().join("tmp/999999999-00000000deadbeef.part"), b"{\"format\":\"vigil-meas").unwrap();
    fs::write(dir.path().join("tmp/junk"), b"x").unwrap();

    let reopened = Spool::open(dir.path(), 4 * 1024 * 1024).unwrap();
    assert_eq!(reopened.recover().unwrap(), 2);
    assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    assert_eq!(spooled_ids(&reopened), ids("a", 3));
    for seg in reopened.segments().unwrap() {
        for s in reopened.read_segment(&seg).unwrap().0 {
            s.verify(MEASUREMENT_FORMAT, &key.verifying_key()).unwrap();
        }
    }
}

#[test]
fn a_partial_ack_rewrites_the_segment_with_the_rest_only() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), 4 * 1024 * 1024).unwrap();
    spool.add(sealed(&ids("m", 5), &probe_key())).unwrap();
    let segment = spool.segments().unwrap().remove(0);

    let batch = Batch::collect(&spool, 3).unwrap();
    assert_eq!(batch.len(), 3);
    // An ack that does not answer this batch changes nothing.
    let wrong: Vec<ItemResult> =
        ids("x", 3).into_iter().map(|id| ItemResult { id, status: ItemStatus::Accepted, error: None }).collect();
    assert!(batch.apply(&spool, &wrong).is_err());
    assert_eq!(spooled_ids(&spool), ids("m", 5));
    // Nor does a (replayed) ack of anonymous rejections: results must name our ids.
    let batch = Batch::collect(&spool, 3).unwrap();
    let anonymous: Vec<ItemResult> =
        (0..3).map(|_| ItemResult { id: String::new(), status: ItemStatus::Rejected, error: None }).collect();
    assert!(batch.apply(&spool, &anonymous).is_err());
    assert_eq!(spooled_ids(&spool), ids("m", 5));

    let batch = Batch::collect(&spool, 3).unwrap();
    let statuses = [ItemStatus::Accepted, ItemStatus::Duplicate, ItemStatus::Rejected];
    let results: Vec<ItemResult> =
        ids("m", 3).into_iter().zip(statuses).map(|(id, status)| ItemResult { id, status, error: None }).collect();
    let applied = batch.apply(&spool, &results).unwrap();
    assert_eq!((applied.accepted, applied.duplicate, applied.rejected), (1, 1, 1));
    let segments = spool.segments().unwrap();
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].path, segment.path, "rewritten in place");
    assert!(segments[0].bytes < segment.bytes);
    assert_eq!(spooled_ids(&spool), ["m3", "m4"]);
    assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0, "no temporary file left");
    let status = spool.status().unwrap();
    assert_eq!((status.counters.rejected, status.rejected_kept), (1, 1));
}

/// A signed line of about 3000 bytes that gzip cannot shrink much (random padding).
fn padded(id: &str, key: &SigningKey) -> Signed {
    use base64::Engine as _;
    let noise: Vec<u8> = (0..2100).map(|_| rand::random::<u8>()).collect();
    let payload = json!({"id": id, "pad": base64::engine::general_purpose::STANDARD.encode(noise)}).to_string();
    Signed::sign(MEASUREMENT_FORMAT, payload, key)
}

fn run(prefix: &str, routine: usize, evidence: usize, key: &SigningKey) -> Vec<(Class, Signed)> {
    let mut items: Vec<_> =
        ids(&format!("{prefix}r"), routine).iter().map(|id| (Class::Routine, padded(id, key))).collect();
    items.extend(ids(&format!("{prefix}e"), evidence).iter().map(|id| (Class::Evidence, padded(id, key))));
    items
}

#[test]
fn the_size_bound_sheds_routine_successes_before_evidence_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let bound = 64 * 1024;
    let spool = Spool::open(dir.path(), bound).unwrap();
    let key = probe_key();
    // Each run's class is one segment of 5 measurements; 5 such segments fit, 6 do not.
    spool.add(run("A", 5, 5, &key)).unwrap();
    let segment = spool.status().unwrap().bytes / 2;
    assert_eq!(spool.segments().unwrap().len(), 2);
    assert!(5 * segment + 1024 < bound && 6 * segment > bound + 1024, "segments of {segment} bytes");

    spool.add(run("B", 5, 5, &key)).unwrap();
    spool.add(run("C", 0, 5, &key)).unwrap();
    assert_eq!(spool.counters().unwrap().dropped_routine, 0);
    // Full: new evidence pushes out the oldest routine successes first, A's then B's...
    let report = spool.add(run("D", 0, 5, &key)).unwrap();
    assert_eq!((report.dropped_routine, report.dropped_evidence), (5, 0));
    spool.add(run("E", 0, 5, &key)).unwrap();
    // ...then, with no routine success left, the oldest evidence.
    let report = spool.add(run("F", 0, 5, &key)).unwrap();
    assert_eq!((report.dropped_routine, report.dropped_evidence), (0, 5));
    // A routine success never displaces evidence: it is dropped itself.
    let report = spool.add(run("G", 5, 0, &key)).unwrap();
    assert_eq!((report.stored, report.dropped_routine), (0, 5));

    let left = spooled_ids(&spool);
    let expected: Vec<String> = ["B", "C", "D", "E", "F"].iter().flat_map(|p| ids(&format!("{p}e"), 5)).collect();
    assert_eq!(left, expected);
    let counters = spool.counters().unwrap();
    assert_eq!((counters.dropped_routine, counters.dropped_evidence), (15, 5));
    assert!(spool.status().unwrap().bytes <= bound);
    // Counters survive a restart (state.json).
    let reopened = Spool::open(dir.path(), bound).unwrap();
    assert_eq!(reopened.counters().unwrap(), counters);
}

#[test]
fn an_item_too_large_for_the_whole_spool_evicts_nothing() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let bound = 64 * 1024;
    let spool = Spool::open(dir.path(), bound).unwrap();
    let key = probe_key();
    spool.add(run("A", 5, 5, &key)).unwrap();
    let before = spooled_ids(&spool);
    // Incompressible and larger than the bound even gzipped.
    let noise: Vec<u8> = (0..2 * bound).map(|_| rand::random::<u8>()).collect();
    let huge = json!({"id": "huge", "pad": base64::engine::general_purpose::STANDARD.encode(noise)}).to_string();
    let report = spool.add(vec![(Class::Evidence, Signed::sign(MEASUREMENT_FORMAT, huge, &key))]).unwrap();
    assert_eq!((report.stored, report.dropped_routine, report.dropped_evidence), (0, 0, 1));
    assert_eq!(spooled_ids(&spool), before, "nothing older was evicted for it");
}

// ---------------------------------------------------------------- upload

#[tokio::test]
async fn an_acked_batch_is_deleted() {
    let (fake, url) = fake_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let (spool, mut collector) = enrolled(dir.path(), &url).await;
    spool.add(sealed(&ids("m", 250), &probe_key())).unwrap();

    let report = upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
    assert_eq!((report.batches, report.applied.accepted, report.remaining), (2, 250, 0));
    assert!(spool.is_empty().unwrap());
    assert_eq!(fake.0.stored.lock().unwrap().len(), 250);
    assert_eq!(fake.0.received.lock().unwrap().len(), 250, "nothing sent twice");
}

#[tokio::test]
async fn a_forged_ack_deletes_nothing() {
    let (fake, url) = fake_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let (spool, mut collector) = enrolled(dir.path(), &url).await;
    spool.add(sealed(&ids("m", 4), &probe_key())).unwrap();
    *fake.0.ack_key.lock().unwrap() = SigningKey::from_bytes(&[66; 32]);

    let err = upload::upload_pass(&spool, &mut collector, 200).await.unwrap_err();
    assert_eq!(err.label(), "bad_ack", "{err}");
    assert_eq!(spooled_ids(&spool), ids("m", 4));
    // The pin did not move.
    let pin = CollectorPin::load(&dir.path().join("collector.json")).unwrap().unwrap();
    assert_eq!(pin.collector_key_id, key_id(&SigningKey::from_bytes(&[7; 32]).verifying_key()));
}

fn rotation(old: &SigningKey, new: &SigningKey) -> Signed {
    let r = KeyRotation {
        kind: "key-rotation".into(),
        issued_at: "2024-01-01T00:00:00Z".into(),
        new_key: encode_public_key(&new.verifying_key()),
        new_key_id: key_id(&new.verifying_key()),
    };
    Signed::sign_json(STATEMENT_FORMAT, &r, old).unwrap()
}

#[tokio::test]
async fn a_signed_key_rotation_chain_is_followed_and_repinned() {
    let (fake, url) = fake_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let (spool, mut collector) = enrolled(dir.path(), &url).await;
    spool.add(sealed(&ids("m", 3), &probe_key())).unwrap();
    let (k7, k8, k9) =
        (SigningKey::from_bytes(&[7; 32]), SigningKey::from_bytes(&[8; 32]), SigningKey::from_bytes(&[9; 32]));
    // Two rotations, 7 -> 8 -> 9, plus a rotation signed by a stranger that must be ignored.
    *fake.0.chain.lock().unwrap() = vec![
        rotation(&SigningKey::from_bytes(&[1; 32]), &SigningKey::from_bytes(&[66; 32])),
        rotation(&k7, &k8),
        rotation(&k8, &k9),
    ];
    *fake.0.ack_key.lock().unwrap() = k9.clone();

    let report = upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
    assert_eq!(report.applied.accepted, 3);
    assert_eq!(report.repinned, Some(key_id(&k9.verifying_key())));
    let pin = CollectorPin::load(&dir.path().join("collector.json")).unwrap().unwrap();
    assert_eq!(pin.collector_key, encode_public_key(&k9.verifying_key()));

    // A key reached by no chain from the pin is refused.
    *fake.0.ack_key.lock().unwrap() = SigningKey::from_bytes(&[66; 32]);
    spool.add(sealed(&ids("n", 1), &probe_key())).unwrap();
    assert_eq!(upload::upload_pass(&spool, &mut collector, 200).await.unwrap_err().label(), "bad_ack");
    assert_eq!(spooled_ids(&spool), ["n0"]);
}

#[tokio::test]
async fn collector_down_then_up_drains_without_sending_twice() {
    let (fake, url) = fake_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let (spool, mut collector) = enrolled(dir.path(), &url).await;
    spool.add(sealed(&ids("m", 5), &probe_key())).unwrap();

    fake.0.down.store(true, Ordering::SeqCst);
    let err = upload::upload_pass(&spool, &mut collector, 2).await.unwrap_err();
    assert!(matches!(err, UploadError::Busy { status: 503, .. }), "{err}");
    assert!(err.is_retryable());
    assert_eq!(spooled_ids(&spool), ids("m", 5));

    fake.0.down.store(false, Ordering::SeqCst);
    let report = upload::upload_pass(&spool, &mut collector, 2).await.unwrap();
    assert_eq!((report.batches, report.applied.accepted, report.remaining), (3, 5, 0));
    // Each id reached the (up) collector exactly once.
    let received = fake.0.received.lock().unwrap().clone();
    assert_eq!(received, ids("m", 5));
    let again = upload::upload_pass(&spool, &mut collector, 2).await.unwrap();
    assert_eq!(again.batches, 0);
    assert_eq!(fake.0.received.lock().unwrap().len(), 5, "nothing re-sent after the ack");
}

#[tokio::test]
async fn an_unreachable_collector_keeps_the_spool_until_it_comes_back() {
    // Reserve a port, then free it: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[7; 32]);
    let pin = CollectorPin {
        url: format!("http://{addr}/"),
        collector_key: encode_public_key(&key.verifying_key()),
        collector_key_id: key_id(&key.verifying_key()),
        key_id: key_id(&probe_key().verifying_key()),
    };
    let pin_path = dir.path().join("collector.json");
    pin.save(&pin_path).unwrap();
    let spool = Spool::open(&dir.path().join("spool"), 4 * 1024 * 1024).unwrap();
    spool.add(sealed(&ids("m", 3), &probe_key())).unwrap();
    let http = upload::http_client(&[]).unwrap();
    let mut collector = Collector::load(http.clone(), &pin_path).unwrap();

    let err = upload::upload_pass(&spool, &mut collector, 200).await.unwrap_err();
    assert_eq!(err.label(), "collector_unreachable", "{err}");
    assert!(err.is_retryable());
    assert_eq!(spooled_ids(&spool), ids("m", 3));

    let (fake, _) = fake_collector_on(&addr, &key).await;
    fake.0.probes.lock().unwrap().push(probe_key().verifying_key());
    let report = upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
    assert_eq!((report.applied.accepted, report.remaining), (3, 0));
}

#[tokio::test]
async fn after_a_lost_ack_the_retry_is_a_duplicate_and_is_deleted() {
    let (fake, url) = fake_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let (spool, mut collector) = enrolled(dir.path(), &url).await;
    spool.add(sealed(&ids("m", 3), &probe_key())).unwrap();

    fake.0.lose_ack.store(true, Ordering::SeqCst);
    assert!(upload::upload_pass(&spool, &mut collector, 200).await.is_err());
    assert_eq!(spooled_ids(&spool), ids("m", 3), "no ack, nothing deleted");
    fake.0.lose_ack.store(false, Ordering::SeqCst);

    let report = upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
    assert_eq!((report.applied.accepted, report.applied.duplicate, report.remaining), (0, 3, 0));
    assert_eq!(fake.0.stored.lock().unwrap().len(), 3, "stored once");
}

#[tokio::test]
async fn a_rejected_measurement_moves_aside_and_does_not_block_the_queue() {
    let (_fake, url) = fake_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let (spool, mut collector) = enrolled(dir.path(), &url).await;
    let mut items = sealed(&ids("m", 2), &probe_key());
    items.extend(sealed(&["forged".to_string()], &SigningKey::from_bytes(&[3; 32])));
    spool.add(items).unwrap();

    let report = upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
    assert_eq!((report.applied.accepted, report.applied.rejected, report.remaining), (2, 1, 0));
    let status = spool.status().unwrap();
    assert_eq!((status.counters.rejected, status.rejected_kept), (1, 1));
    let rejected = fs::read_dir(dir.path().join("spool/rejected")).unwrap().next().unwrap().unwrap().path();
    let text = fs::read_to_string(rejected).unwrap();
    assert!(text.contains("bad_signature") && text.contains("forged"), "{text}");
}

#[tokio::test]
async fn a_measurement_seven_days_old_uploads_fine() {
    let (fake, url) = fake_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let (spool, mut collector) = enrolled(dir.path(), &url).await;
    let week_ago = SystemTime::now() - Duration::from_secs(7 * 24 * 3600);
    let start = vigil_probe::timestamp::format(time::OffsetDateTime::from(week_ago));
    let m = web("old", Blocking::TcpIp, Some(false), &start);
    spool.add(vec![seal_web(&m, 65536, &probe_key())]).unwrap();
    for seg in spool.segments().unwrap() {
        fs::File::options().write(true).open(&seg.path).unwrap().set_modified(week_ago).unwrap();
    }

    let report = upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
    assert_eq!((report.applied.accepted, report.remaining), (1, 0));
    assert!(fake.0.stored.lock().unwrap().contains("old"));
}

#[tokio::test]
async fn enrollment_pins_the_collector_and_refusals_carry_their_code() {
    let (fake, url) = fake_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let http = upload::http_client(&[]).unwrap();
    let pin_path = dir.path().join("collector.json");
    let err = upload::enroll(&http, &url, &probe_key(), Some("wrong".into()), &pin_path).await.unwrap_err();
    assert!(
        matches!(&err, UploadError::Refused { status: 403, code: ErrorCode::Known(ApiCode::BadToken), .. }),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert!(!pin_path.exists());

    let pin = upload::enroll(&http, &url, &probe_key(), Some("letmein".into()), &pin_path).await.unwrap();
    assert_eq!(pin.key_id, key_id(&probe_key().verifying_key()));
    assert_eq!(CollectorPin::load(&pin_path).unwrap(), Some(pin));
    assert_eq!(fake.0.probes.lock().unwrap().len(), 1);
}

// ---------------------------------------------------------------- daemon and command line

fn config_for(dir: &Path) -> vigil_probe::config::Config {
    let mut config = vigil_probe::config::Config::default();
    config.identity.key_file = dir.join("id/probe.key");
    config.spool.dir = dir.join("spool");
    config
}

fn platform_ok(id: &str) -> Measurement<vigil_report::PlatformKeys> {
    let mut value = serde_json::to_value(web(id, Blocking::No, Some(true), "2024-01-01 00:00:00")).unwrap();
    value["test_name"] = json!("vigil_platform");
    value["test_keys"] =
        json!({"platform": "x", "kind": "platform", "status": "ok", "mechanism": null, "endpoints": [], "reasons": []});
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn the_daemon_spools_uploads_and_stops_on_shutdown() {
    let (fake, url) = fake_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let probe = vigil_probe::daemon::Probe::start(config_for(dir.path())).unwrap();
    assert!(probe.key_created);
    upload::enroll(&probe.http, &url, &probe.key, Some("letmein".into()), &probe.pin_path()).await.unwrap();

    let measure = || async {
        vigil_probe::runner::RunOutput {
            measurements: vec![
                web("ok1", Blocking::No, Some(true), "2024-01-01 00:00:00"),
                web("dns1", Blocking::Dns, Some(false), "2024-01-01 00:00:00"),
            ],
            platforms: vec![platform_ok("p1")],
        }
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    let watcher = {
        let fake = fake.clone();
        let spool = Spool::open(&dir.path().join("spool"), 4 * 1024 * 1024).unwrap();
        tokio::spawn(async move {
            // Stop once the collector has everything and the probe has applied its ack.
            while fake.0.stored.lock().unwrap().len() < 3 || !spool.is_empty().unwrap() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = stop.send(());
        })
    };
    let shutdown = async move {
        let _ = stopped.await;
    };
    tokio::time::timeout(
        Duration::from_secs(20),
        vigil_probe::daemon::run_forever(&probe, measure, shutdown, move |line| log2.lock().unwrap().push(line)),
    )
    .await
    .expect("the daemon stops on shutdown");
    watcher.await.unwrap();
    assert!(probe.spool.is_empty().unwrap());
    let log = log.lock().unwrap().join("\n");
    assert!(log.contains("spooled 3 signed measurements"), "{log}");
    assert!(log.contains("3 accepted"), "{log}");
    assert!(log.ends_with("stopping"), "{log}");
}

async fn cli(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_vigil-probe")).args(args).output().await.unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn enroll_upload_and_status_commands_and_their_exit_codes() {
    let (fake, url) = fake_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path());
    let config_path = dir.path().join("vigil.toml");
    fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();
    let c = config_path.to_str().unwrap();

    let (code, out, _) = cli(&["status", "--config", c]).await;
    assert_eq!(code, 0);
    assert!(out.contains("none yet") && out.contains("not enrolled"), "{out}");

    let (code, _, err) = cli(&["enroll", "--config", c, "--collector", &url, "--token", "nope"]).await;
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("bad_token"), "{err}");
    let (code, out, err) = cli(&["enroll", "--config", c, "--collector", &url, "--token", "letmein"]).await;
    assert_eq!(code, 0, "{err}");
    let key = identity::load(&config.identity.key_file).unwrap();
    assert!(out.contains(&identity::probe_key_id(&key)), "{out}");

    let (code, _, err) = cli(&["upload", "--config", c]).await;
    assert_eq!(code, 0, "empty spool: {err}");

    let spool = Spool::open(&config.spool.dir, config.spool.max_bytes).unwrap();
    spool.add(sealed(&ids("m", 2), &key)).unwrap();
    fake.0.down.store(true, Ordering::SeqCst);
    let (code, _, err) = cli(&["upload", "--config", c]).await;
    assert_eq!(code, 4, "measurements remain: {err}");
    assert!(err.contains("collector_busy"), "{err}");

    let (code, out, _) = cli(&["status", "--config", c, "--json"]).await;
    assert_eq!(code, 0);
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["spool"]["measurements"], 2);
    assert_eq!(status["key_id"], identity::probe_key_id(&key));

    fake.0.down.store(false, Ordering::SeqCst);
    let (code, out, err) = cli(&["upload", "--config", c]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 accepted"), "{out}");
}

#[tokio::test]
async fn an_unsigned_413_for_everything_sets_nothing_aside() {
    let (fake, url) = fake_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let (spool, mut collector) = enrolled(dir.path(), &url).await;
    spool.add(sealed(&ids("big", 40), &probe_key())).unwrap();

    // A middlebox answering 413 to everything: measurements are tried alone, none is
    // acknowledged, so the 413 proves nothing about their sizes: all stay, none set aside, and
    // the pass ends after 16 in a row (4 -> 2 -> 1, then one request each).
    fake.0.too_large.store(true, Ordering::SeqCst);
    let report = upload::upload_pass(&spool, &mut collector, 4).await.unwrap();
    assert_eq!((report.applied.set_aside, report.applied.deferred, report.remaining), (0, 16, 40));
    assert!(report.retry_later());
    assert_eq!(fake.0.requests.load(Ordering::SeqCst), 18);
    assert_eq!(spooled_ids(&spool), ids("big", 40), "kept: only a signed ack may discard");

    fake.0.too_large.store(false, Ordering::SeqCst);
    let report = upload::upload_pass(&spool, &mut collector, 4).await.unwrap();
    assert_eq!((report.applied.accepted, report.remaining), (40, 0));
    assert_eq!(spool.status().unwrap().counters.set_aside, 0);
}

// ---------------------------------------------------------------- transient refusals, clock, size

/// The collector's clock in these tests, and the probe's: 20 minutes fast.
const COLLECTOR_NOW: OffsetDateTime = datetime!(2026-03-01 10:00:00 UTC);
const PROBE_NOW: OffsetDateTime = datetime!(2026-03-01 10:20:00 UTC);

fn sealed_at(ids: &[String], start: &str, key: &SigningKey) -> Vec<(Class, Signed)> {
    ids.iter().map(|id| seal_web(&web(id, Blocking::Dns, Some(false), start), 65536, key)).collect()
}

fn files_in(dir: &Path) -> usize {
    fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test]
async fn a_future_timestamp_is_retried_until_accepted_and_only_a_bad_item_is_rejected() {
    let (fake, url) = fake_collector().await;
    *fake.0.clock.lock().unwrap() = Some(COLLECTOR_NOW);
    let dir = tempfile::tempdir().unwrap();
    let (spool, collector) = enrolled(dir.path(), &url).await;
    let mut collector = collector.with_wall(WallClock::new(|| PROBE_NOW));
    // Two measurements by the fast clock, one in time, one forged (permanently bad).
    let mut items = sealed_at(&ids("fast", 2), "2026-03-01 10:20:00", &probe_key());
    items.extend(sealed_at(&["ontime".to_string()], "2026-03-01 09:59:00", &probe_key()));
    items.extend(sealed_at(&["forged".to_string()], "2026-03-01 09:59:00", &SigningKey::from_bytes(&[3; 32])));
    spool.add(items).unwrap();

    let first = upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
    let a = &first.applied;
    assert_eq!((a.accepted, a.rejected, a.deferred, first.remaining), (1, 1, 2, 2), "{first:?}");
    assert!(first.retry_later());
    assert_eq!(spooled_ids(&spool), ids("fast", 2), "future_timestamp stays in the queue");
    let status = spool.status().unwrap();
    assert_eq!((status.counters.rejected, status.rejected_kept), (1, 1), "only the forged one");
    let rejected = fs::read_dir(dir.path().join("spool/rejected")).unwrap().next().unwrap().unwrap().path();
    let text = fs::read_to_string(rejected).unwrap();
    assert!(text.contains("forged") && !text.contains("fast"), "{text}");

    // Still early: kept again, each sent once per pass.
    *fake.0.clock.lock().unwrap() = Some(COLLECTOR_NOW + time::Duration::minutes(5));
    let second = upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
    assert_eq!((second.applied.deferred, second.remaining), (2, 2));
    // The collector's clock passes the measurements' time (within its tolerance): accepted.
    *fake.0.clock.lock().unwrap() = Some(COLLECTOR_NOW + time::Duration::minutes(11));
    let third = upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
    assert_eq!((third.applied.accepted, third.applied.deferred, third.remaining), (2, 0, 0));
    assert!(!third.retry_later());
    assert!(fake.0.stored.lock().unwrap().is_superset(&HashSet::from(["fast0".into(), "fast1".into()])));
    assert_eq!(spool.status().unwrap().counters.rejected, 1, "nothing more in rejected/");
    let sent: Vec<String> = fake.0.received.lock().unwrap().iter().filter(|i| i.starts_with("fast")).cloned().collect();
    assert_eq!(sent.len(), 6, "three passes, each sent them once: {sent:?}");
}

#[tokio::test]
async fn an_unknown_code_is_retried_a_bounded_number_of_times() {
    let (fake, url) = fake_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let (spool, mut collector) = enrolled(dir.path(), &url).await;
    spool.add(sealed(&ids("m", 2), &probe_key())).unwrap();
    *fake.0.refuse.lock().unwrap() = Some((HashSet::from(["m1".to_string()]), "quota_exceeded_v9".into()));

    for pass in 1..vigil_probe::spool::batch::MAX_UNKNOWN_ATTEMPTS {
        let report = upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
        assert_eq!((report.applied.deferred, report.applied.rejected, report.remaining), (1, 0, 1), "pass {pass}");
    }
    let last = upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
    assert_eq!((last.applied.deferred, last.applied.rejected, last.remaining), (0, 1, 0));
    assert_eq!(spool.status().unwrap().rejected_kept, 1);
}

#[tokio::test]
async fn an_oversized_item_at_the_head_is_set_aside_and_the_rest_uploads_in_the_same_pass() {
    let (fake, url) = fake_collector().await;
    *fake.0.body_limit.lock().unwrap() = Some(100 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let (spool, mut collector) = enrolled(dir.path(), &url).await;
    let mut huge = web("huge", Blocking::Dns, Some(false), "2024-01-01 00:00:00");
    huge.annotations.insert("pad".into(), "x".repeat(200 * 1024));
    spool.add(vec![seal_web(&huge, 65536, &probe_key())]).unwrap();
    spool.add(sealed(&ids("m", 30), &probe_key())).unwrap();
    assert_eq!(spooled_ids(&spool)[0], "huge", "at the head of the spool");

    let report = upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
    let a = &report.applied;
    assert_eq!((a.accepted, a.set_aside, a.deferred, report.remaining), (30, 1, 0, 0), "{report:?}");
    assert!(spool.is_empty().unwrap());
    let status = spool.status().unwrap();
    assert_eq!((status.counters.set_aside, status.set_aside_kept, status.counters.rejected), (1, 1, 0));
    assert_eq!(files_in(&dir.path().join("spool/aside")), 1);
    assert!(!fake.0.stored.lock().unwrap().contains("huge"));

    // The next pass does not send it again.
    let before = fake.0.received.lock().unwrap().len();
    spool.add(sealed(&ids("n", 1), &probe_key())).unwrap();
    let again = upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
    assert_eq!((again.applied.accepted, again.applied.set_aside), (1, 0));
    assert_eq!(fake.0.received.lock().unwrap().len(), before + 1);

    // An item over the limit the probe knows is set aside without being sent at all.
    let mut collector = collector.with_max_body(100 * 1024);
    spool.add(vec![seal_web(&huge, 65536, &probe_key())]).unwrap();
    spool.add(sealed(&ids("o", 2), &probe_key())).unwrap();
    let known = upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
    assert_eq!((known.applied.accepted, known.applied.set_aside, known.remaining), (2, 1, 0));
    assert_eq!(fake.0.received.lock().unwrap().len(), before + 3, "the huge one was not sent");
    assert_eq!(spool.status().unwrap().counters.set_aside, 2);
}

fn payload(s: &Signed) -> serde_json::Value {
    serde_json::from_str(&s.payload).unwrap()
}

fn spooled(spool: &Spool) -> Vec<Signed> {
    spool.segments().unwrap().iter().flat_map(|seg| spool.read_segment(seg).unwrap().0).collect()
}

#[tokio::test]
async fn a_skewed_clock_is_measured_from_the_signed_ack_applied_to_new_measurements_and_kept() {
    let (fake, url) = fake_collector().await;
    *fake.0.clock.lock().unwrap() = Some(COLLECTOR_NOW);
    let dir = tempfile::tempdir().unwrap();
    let mut probe = vigil_probe::daemon::Probe::start(config_for(dir.path())).unwrap();
    probe.wall = WallClock::new(|| PROBE_NOW);
    upload::enroll(&probe.http, &url, &probe.key, Some("letmein".into()), &probe.pin_path()).await.unwrap();
    let run = |id: &str, start: &str| vigil_probe::runner::RunOutput {
        measurements: vec![web(id, Blocking::Dns, Some(false), start)],
        platforms: vec![],
    };

    // Before any ack: no correction; the measurement is 20 minutes ahead of the collector.
    probe.spool_run(&run("before", "2026-03-01 10:20:00")).unwrap();
    let signed_before = spooled(&probe.spool);
    assert!(payload(&signed_before[0])["annotations"].get(skew::ANNOTATION).is_none());
    let report = probe.upload().await.unwrap();
    assert_eq!((report.applied.deferred, report.remaining), (1, 1), "future_timestamp: kept");
    let clock = report.clock.expect("the ack gave a clock sample");
    assert_eq!((clock.measured_offset_ms, clock.correction_s, clock.ignored), (1_200_000, -1200, false));
    assert_eq!(spooled(&probe.spool), signed_before, "the signed measurement is never changed");

    // New measurements are corrected, say so, and are accepted at once.
    probe.spool_run(&run("after", "2026-03-01 10:20:05")).unwrap();
    let after = spooled(&probe.spool).into_iter().find(|s| measurement_id(s) == "after").unwrap();
    after.verify(MEASUREMENT_FORMAT, &probe.key.verifying_key()).unwrap();
    let p = payload(&after);
    assert_eq!(p["measurement_start_time"], "2026-03-01 10:00:05");
    assert_eq!(p["test_start_time"], "2026-03-01 10:00:05");
    assert_eq!(p["annotations"][skew::ANNOTATION], "-1200");
    let report = probe.upload().await.unwrap();
    assert_eq!((report.applied.accepted, report.applied.deferred), (1, 1));

    // A restart keeps the correction.
    drop(probe);
    let probe = vigil_probe::daemon::Probe::start(config_for(dir.path())).unwrap();
    assert_eq!(probe.spool.status().unwrap().clock.correction_s, -1200);
    probe.spool_run(&run("restarted", "2026-03-01 10:30:00")).unwrap();
    let restarted = spooled(&probe.spool).into_iter().find(|s| measurement_id(s) == "restarted").unwrap();
    assert_eq!(payload(&restarted)["measurement_start_time"], "2026-03-01 10:10:00");

    // A clock days off is not corrected (and the estimate says so).
    *fake.0.clock.lock().unwrap() = Some(COLLECTOR_NOW - time::Duration::days(3));
    let mut collector = probe.collector().unwrap().with_wall(WallClock::new(|| PROBE_NOW));
    let report = upload::upload_pass(&probe.spool, &mut collector, 200).await.unwrap();
    let clock = report.clock.unwrap();
    assert_eq!((clock.correction_s, clock.ignored), (0, true));
    assert_eq!(probe.spool.clock(), clock);
}

#[tokio::test]
async fn the_upload_command_sets_an_oversized_head_aside_and_status_shows_it() {
    let (fake, url) = fake_collector().await;
    *fake.0.body_limit.lock().unwrap() = Some(100 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path());
    let config_path = dir.path().join("vigil.toml");
    fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();
    let c = config_path.to_str().unwrap();
    let (code, _, err) = cli(&["enroll", "--config", c, "--collector", &url, "--token", "letmein"]).await;
    assert_eq!(code, 0, "{err}");
    let key = identity::load(&config.identity.key_file).unwrap();
    let spool = Spool::open(&config.spool.dir, config.spool.max_bytes).unwrap();
    let mut huge = web("huge", Blocking::Dns, Some(false), "2024-01-01 00:00:00");
    huge.annotations.insert("pad".into(), "x".repeat(200 * 1024));
    spool.add(vec![seal_web(&huge, 65536, &key)]).unwrap();
    spool.add(sealed(&ids("m", 3), &key)).unwrap();

    // Once, this pass stopped at the head (exit 4) and nothing behind it was ever sent.
    let (code, out, err) = cli(&["upload", "--config", c]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("3 accepted") && out.contains("1 set aside"), "{out}");
    assert_eq!(fake.0.stored.lock().unwrap().len(), 3);

    let (code, out, _) = cli(&["status", "--config", c]).await;
    assert_eq!(code, 0);
    assert!(out.contains("set aside:  1 too large for the collector (1 kept in aside/"), "{out}");
    let (_, out, _) = cli(&["status", "--config", c, "--json"]).await;
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (status["spool"]["counters"]["set_aside"].as_u64(), status["spool"]["measurements"].as_u64()),
        (Some(1), Some(0))
    );
}

#[tokio::test]
async fn the_daemon_retries_a_future_timestamp_after_a_backoff_without_a_busy_loop() {
    let (fake, url) = fake_collector().await;
    *fake.0.clock.lock().unwrap() = Some(COLLECTOR_NOW);
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(dir.path());
    (config.upload.backoff_base_s, config.upload.backoff_max_s) = (1, 1);
    let mut probe = vigil_probe::daemon::Probe::start(config).unwrap();
    probe.wall = WallClock::new(|| PROBE_NOW);
    upload::enroll(&probe.http, &url, &probe.key, Some("letmein".into()), &probe.pin_path()).await.unwrap();
    let measure = || async {
        vigil_probe::runner::RunOutput {
            measurements: vec![web("fast", Blocking::Dns, Some(false), "2026-03-01 10:20:00")],
            platforms: vec![],
        }
    };
    let beat = |_| async { vigil_probe::heartbeat::Beat::Sent };
    let cadence =
        vigil_probe::daemon::Cadence { battery: Duration::from_secs(3600), heartbeat: Duration::from_secs(3600) };
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    let stop = {
        let fake = fake.clone();
        let spool = &probe.spool;
        async move {
            // Refused for 2 s, then the collector's clock has passed the measurement's time.
            tokio::time::sleep(Duration::from_secs(2)).await;
            *fake.0.clock.lock().unwrap() = Some(COLLECTOR_NOW + time::Duration::minutes(11));
            // Stored by the collector, and the probe has read the acknowledgement (its spool is
            // empty): stopping at the first alone raced the probe's bookkeeping.
            while !fake.0.stored.lock().unwrap().contains("fast") || spool.status().unwrap().measurements > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    tokio::time::timeout(
        Duration::from_secs(20),
        vigil_probe::daemon::run_loop(&probe, cadence, measure, beat, stop, move |l| log2.lock().unwrap().push(l)),
    )
    .await
    .expect("accepted once the collector's clock passed it");
    let log = log.lock().unwrap().join("\n");
    let tries = fake.0.received.lock().unwrap().iter().filter(|id| *id == "fast").count();
    // Waits are uniform in [0, 1 s]: a handful of tries in 2 s, not a busy loop.
    assert!((2..=40).contains(&tries), "{tries} tries\n{log}");
    assert!(log.contains("kept 1 measurements for a later try"), "{log}");
    let status = probe.spool.status().unwrap();
    assert_eq!((status.measurements, status.counters.rejected, status.rejected_kept), (0, 0, 0));
}

// ---------------------------------------------------------------- review fixes (issue 14 item 9)

/// An evidence measurement of about `pad` bytes of JSON.
fn big_evidence(id: &str, pad: usize, key: &SigningKey) -> (Class, Signed) {
    let mut m = web(id, Blocking::Dns, Some(false), "2024-01-01 00:00:00");
    m.annotations.insert("pad".into(), "x".repeat(pad));
    seal_web(&m, 65536, key)
}

/// The measurement ids of every line in `aside/`.
fn aside_ids(dir: &Path) -> Vec<String> {
    use std::io::Read as _;
    let mut out = Vec::new();
    let mut files: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in files {
        let raw = fs::read(&path).unwrap();
        let mut text = String::new();
        if path.to_string_lossy().ends_with(".gz") {
            flate2::read::GzDecoder::new(raw.as_slice()).read_to_string(&mut text).unwrap();
        } else {
            text = String::from_utf8(raw).unwrap();
        }
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let s: Signed = serde_json::from_value(v["measurement"].clone()).unwrap();
            out.push(measurement_id(&s));
        }
    }
    out
}

#[tokio::test]
async fn a_middlebox_413_to_large_requests_never_deletes_the_large_evidence() {
    let (fake, url) = fake_collector().await;
    // Plain (unsigned) 413 for any request over 10 KB; smaller ones reach the collector.
    *fake.0.middlebox_limit.lock().unwrap() = Some(10 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let (_, mut collector) = enrolled(dir.path(), &url).await;
    // A small spool: aside/'s rolling bound (an eighth) is 8 KiB, less than two large items.
    let spool = Spool::open(&dir.path().join("spool"), 64 * 1024).unwrap();
    for i in 0..3 {
        spool.add(vec![big_evidence(&format!("large{i}"), 20 * 1024, &probe_key())]).unwrap();
        spool.add(sealed(&ids(&format!("s{i}-"), 3), &probe_key())).unwrap();
    }

    let report = upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
    assert_eq!((report.applied.accepted, report.applied.set_aside, report.remaining), (9, 3, 0), "{report:?}");
    let status = spool.status().unwrap();
    assert_eq!((status.counters.set_aside, status.counters.set_aside_discarded), (3, 0), "nothing deleted");
    assert_eq!(aside_ids(&dir.path().join("spool/aside")), ["large0", "large1", "large2"]);
    // Later signed set-asides and passes keep them too.
    spool.set_aside(&[(big_evidence("signed", 20 * 1024, &probe_key()).1, "signed".into())]).unwrap();
    spool.set_aside(&[(big_evidence("signed2", 20 * 1024, &probe_key()).1, "signed".into())]).unwrap();
    upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
    let kept = aside_ids(&dir.path().join("spool/aside"));
    for id in ["large0", "large1", "large2"] {
        assert!(kept.contains(&id.to_string()), "{id} kept: {kept:?}");
    }
    assert_eq!(spool.held().unwrap().len(), 3);
}

#[tokio::test]
async fn a_full_retries_table_makes_an_unknown_code_final_and_stale_ids_are_forgotten() {
    let (fake, url) = fake_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let (spool, mut collector) = enrolled(dir.path(), &url).await;
    let stale: std::collections::BTreeMap<String, u32> =
        (0..vigil_probe::spool::MAX_TRACKED_RETRIES).map(|i| (format!("gone{i}"), 5)).collect();
    spool.save_unknown_attempts(&stale).unwrap();
    spool.add(sealed(&ids("m", 1), &probe_key())).unwrap();

    // The table is full and m0 is not in it: its passes cannot be counted, so it is final now.
    let batch = Batch::collect(&spool, 10).unwrap();
    let error = ApiError { code: "quota_exceeded_v9".into(), message: "new".into() };
    let results = vec![ItemResult { id: "m0".into(), status: ItemStatus::Rejected, error: Some(error) }];
    let applied = batch.apply(&spool, &results).unwrap();
    assert_eq!((applied.rejected, applied.deferred), (1, 0));
    assert!(spool.is_empty().unwrap());

    // A pass forgets every id no longer in the spool, and tracks the one it deferred.
    spool.add(sealed(&ids("n", 1), &probe_key())).unwrap();
    *fake.0.refuse.lock().unwrap() = Some((HashSet::from(["n0".to_string()]), "quota_exceeded_v9".into()));
    let report = upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
    assert_eq!((report.applied.deferred, report.remaining), (1, 1));
    let attempts = spool.unknown_attempts().unwrap();
    assert_eq!(attempts.into_iter().collect::<Vec<_>>(), [("n0".to_string(), 1)]);
    // Gone from the spool (here: deleted by hand), it is forgotten by the next pass.
    for seg in spool.segments().unwrap() {
        fs::remove_file(seg.path).unwrap();
    }
    upload::upload_pass(&spool, &mut collector, 200).await.unwrap();
    assert!(spool.unknown_attempts().unwrap().is_empty());
}

#[tokio::test]
async fn after_a_413_the_batch_never_grows_back_to_a_refused_size() {
    let (fake, url) = fake_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let (spool, mut collector) = enrolled(dir.path(), &url).await;
    spool.add(sealed(&ids("m", 40), &probe_key())).unwrap();
    let sizes: Vec<usize> = spooled(&spool).iter().map(vigil_probe::spool::batch::item_bytes).collect();
    let (small, large) = (*sizes.iter().min().unwrap(), *sizes.iter().max().unwrap());
    // Five measurements fit, six do not (a persistent limit).
    let limit = vigil_probe::spool::batch::REQUEST_OVERHEAD + 5 * large + 8;
    assert!(6 * small + vigil_probe::spool::batch::REQUEST_OVERHEAD > limit);
    *fake.0.body_limit.lock().unwrap() = Some(limit);

    let report = upload::upload_pass(&spool, &mut collector, 8).await.unwrap();
    assert_eq!((report.applied.accepted, report.remaining), (40, 0));
    let requests = fake.0.requests.load(Ordering::SeqCst);
    let refused = requests - report.batches;
    // Doubling back to 8 after every ack would cost a refusal per ack (20 requests, 10 refused):
    // 8, 7 and 6 are refused once each, then batches of 5.
    assert_eq!((refused, requests), (3, 12), "{report:?}");
}

#[tokio::test]
async fn a_clock_correction_expires_without_a_fresh_sample_and_a_fresh_one_keeps_it() {
    let (fake, url) = fake_collector().await;
    *fake.0.clock.lock().unwrap() = Some(COLLECTOR_NOW);
    let dir = tempfile::tempdir().unwrap();
    let mut probe = vigil_probe::daemon::Probe::start(config_for(dir.path())).unwrap();
    let wall = Arc::new(Mutex::new(PROBE_NOW));
    let w = wall.clone();
    probe.wall = WallClock::new(move || *w.lock().unwrap());
    upload::enroll(&probe.http, &url, &probe.key, Some("letmein".into()), &probe.pin_path()).await.unwrap();
    probe.spool.add(sealed(&ids("m", 1), &probe.key)).unwrap();
    let report = probe.upload().await.unwrap();
    assert_eq!(report.clock.unwrap().correction_s, -1200);
    let start_of = |id: &str, start: &str| {
        let run = vigil_probe::runner::RunOutput {
            measurements: vec![web(id, Blocking::Dns, Some(false), start)],
            platforms: vec![],
        };
        probe.spool_run(&run).unwrap();
        let s = spooled(&probe.spool).into_iter().find(|s| measurement_id(s) == id).unwrap();
        let p = payload(&s);
        (p["measurement_start_time"].as_str().unwrap().to_string(), p["annotations"].get(skew::ANNOTATION).cloned())
    };
    // Within a day of the sample (by the corrected clock): corrected.
    assert_eq!(start_of("soon", "2026-03-02 10:10:00").0, "2026-03-02 09:50:00");
    // More than a day later with no fresh sample (the probe was offline; NTP may have fixed the
    // clock meanwhile): the old correction is not applied.
    assert_eq!(start_of("days", "2026-03-03 10:30:00"), ("2026-03-03 10:30:00".into(), None));
    // Well before the sample: the clock was stepped back since it was measured.
    assert_eq!(start_of("back", "2026-03-01 08:00:00"), ("2026-03-01 08:00:00".into(), None));

    // An ack two hours later confirming the same correction refreshes it (clock.json rewritten
    // with the new sample's time), so it does not expire while acks keep confirming it.
    *fake.0.clock.lock().unwrap() = Some(COLLECTOR_NOW + time::Duration::hours(2));
    *wall.lock().unwrap() = PROBE_NOW + time::Duration::hours(2);
    probe.spool.add(sealed(&ids("n", 1), &probe.key)).unwrap();
    probe.upload().await.unwrap();
    assert_eq!(probe.spool.clock().measured_at, "2026-03-01T12:00:00Z");
    assert_eq!(start_of("later", "2026-03-02 12:10:00").0, "2026-03-02 11:50:00");
}

#[test]
fn a_corrupt_clock_file_cannot_make_the_probe_panic() {
    let dir = tempfile::tempdir().unwrap();
    let probe = vigil_probe::daemon::Probe::start(config_for(dir.path())).unwrap();
    let clock_path = dir.path().join("spool/clock.json");
    let run = |start: &str| vigil_probe::runner::RunOutput {
        measurements: vec![web("x", Blocking::Dns, Some(false), start)],
        platforms: vec![platform_ok("p")],
    };
    // A correction no sample makes (over a day): ignored on load.
    fs::write(&clock_path, r#"{"correction_s": 9223372036854775807, "measured_at": "2026-03-01T10:00:00Z"}"#).unwrap();
    assert_eq!(probe.spool.clock().correction_s, 0);
    probe.spool_run(&run("2026-03-01 10:00:00")).unwrap();
    // A valid correction that would carry a timestamp past year 9999: not applied.
    fs::write(&clock_path, r#"{"correction_s": 3600, "measured_at": "9999-12-31T23:00:00Z"}"#).unwrap();
    probe.spool_run(&run("9999-12-31 23:30:00")).unwrap();
    for s in spooled(&probe.spool) {
        let p = payload(&s);
        assert!(p["annotations"].get(skew::ANNOTATION).is_none(), "{p}");
        assert!(
            ["2024-01-01 00:00:00", "2026-03-01 10:00:00", "9999-12-31 23:30:00"]
                .contains(&p["measurement_start_time"].as_str().unwrap())
        );
    }
}

#[test]
fn held_measurements_count_against_the_spool_bound_and_go_only_by_the_drop_policy() {
    let dir = tempfile::tempdir().unwrap();
    let bound = 64 * 1024;
    let spool = Spool::open(dir.path(), bound).unwrap();
    let key = probe_key();
    // Five held evidence measurements (one file, about one segment's size: 5 fit, 6 do not).
    let held: Vec<(Signed, String)> = run("H", 0, 5, &key).into_iter().map(|(_, s)| (s, "413".into())).collect();
    spool.hold(&held, Class::Evidence).unwrap();
    let total = |s: &Spool| -> u64 { s.held().unwrap().iter().chain(&s.segments().unwrap()).map(|g| g.bytes).sum() };
    // Routine successes fill the rest, then shed each other: never the held evidence.
    for p in ["A", "B", "C", "D", "E"] {
        spool.add(run(p, 5, 0, &key)).unwrap();
        assert!(total(&spool) <= bound);
    }
    assert_eq!(spool.counters().unwrap().dropped_routine, 5, "the held file took one segment's room");
    assert_eq!(spool.held().unwrap().len(), 1);
    // Newer evidence sheds every routine success first, then the oldest evidence: the held file.
    for p in ["F", "G", "H", "I"] {
        spool.add(run(p, 0, 5, &key)).unwrap();
        assert!(total(&spool) <= bound);
    }
    assert_eq!(spool.held().unwrap().len(), 1, "still kept while routine successes were left");
    spool.add(run("J", 0, 5, &key)).unwrap();
    assert!(spool.held().unwrap().is_empty());
    let c = spool.counters().unwrap();
    assert_eq!((c.dropped_routine, c.dropped_evidence, c.set_aside_discarded), (25, 5, 0));
}
