//! Enrollment: tokens, closed and open (rate-limited) enrollment, proofs, revoked keys.

use vigil_report::protocol::{EnrollRequest, EnrollResponse};
use vigil_report::signed::{encode_public_key, enrollment_proof, key_id};

use crate::support::{Server, TOKEN, config, error_code, key};

#[tokio::test]
async fn a_token_is_required_and_reenrolling_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let k = key(1);
    let (status, body) = s.enroll_with(&k, None).await;
    assert_eq!((status, error_code(&body).as_str()), (403, "bad_token"));
    let (status, body) = s.enroll_with(&k, Some("wrong-token-xyz")).await;
    assert_eq!((status, error_code(&body).as_str()), (403, "bad_token"));
    for _ in 0..2 {
        let (status, body) = s.enroll_with(&k, Some(TOKEN)).await;
        assert_eq!(status, 200, "{body}");
        let resp: EnrollResponse = serde_json::from_str(&body).unwrap();
        assert_eq!(resp.key_id, key_id(&k.verifying_key()));
        assert_eq!(resp.collector_key_id.len(), 32);
    }
    let probes: i64 = s.db().query_row("SELECT COUNT(*) FROM probes", [], |r| r.get(0)).unwrap();
    assert_eq!(probes, 1);
}

#[tokio::test]
async fn without_tokens_or_open_enrollment_enrollment_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.enroll_tokens.clear();
    let s = Server::start(c).await;
    let (status, body) = s.enroll_with(&key(1), Some(TOKEN)).await;
    assert_eq!((status, error_code(&body).as_str()), (403, "enrollment_closed"));
}

#[tokio::test]
async fn open_enrollment_is_rate_limited_but_known_keys_pass() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.enroll_tokens.clear();
    c.open_enrollment = true;
    c.open_enrollments_per_minute = 3;
    let s = Server::start(c).await;
    for seed in 1..=3 {
        let (status, body) = s.enroll_with(&key(seed), None).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = s.enroll_with(&key(4), None).await;
    assert_eq!((status, error_code(&body).as_str()), (429, "rate_limited"));
    let (status, body) = s.enroll_with(&key(2), None).await;
    assert_eq!(status, 200, "re-enrolling a known key is not rate-limited: {body}");
}

#[tokio::test]
async fn proofs_must_match_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let req = EnrollRequest {
        public_key: encode_public_key(&key(1).verifying_key()),
        proof: enrollment_proof(&key(2)),
        token: Some(TOKEN.into()),
        software_version: "t".into(),
    };
    let (status, body) = s.post("/api/v1/enroll", serde_json::to_string(&req).unwrap()).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "bad_proof"));
    let bad_key = EnrollRequest { public_key: "AAAA".into(), ..req.clone() };
    let (status, body) = s.post("/api/v1/enroll", serde_json::to_string(&bad_key).unwrap()).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "bad_key_encoding"));
    let (status, body) = s.post("/api/v1/enroll", "{\"public_key\": 1".into()).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "malformed_json"));
    let probes: i64 = s.db().query_row("SELECT COUNT(*) FROM probes", [], |r| r.get(0)).unwrap();
    assert_eq!(probes, 0);
}

#[tokio::test]
async fn a_revoked_key_cannot_reenroll() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let k = key(7);
    s.enroll(&k).await;
    let id = key_id(&k.verifying_key());
    let (status, body) = s.admin(reqwest::Method::POST, &format!("/api/v1/admin/probes/{id}/revoke")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.enroll_with(&k, Some(TOKEN)).await;
    assert_eq!((status, error_code(&body).as_str()), (403, "revoked_key"));
    // Still revoked after a restart (the key table is rebuilt from the database).
    s.stop().await;
    let s = Server::start(config(dir.path())).await;
    let (status, body) = s.enroll_with(&k, Some(TOKEN)).await;
    assert_eq!((status, error_code(&body).as_str()), (403, "revoked_key"));
}
