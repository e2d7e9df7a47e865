//! Admin: operator token, probe list, revocation, collector key rotation.

use reqwest::Method;
use vigil_collector::store::ProbeRow;
use vigil_report::protocol::{ItemStatus, KeyRotation, PublishedKey};
use vigil_report::signed::{decode_public_key, key_id};
use vigil_report::{STATEMENT_FORMAT, Signed};

use crate::support::{Server, config, error_code, key, measurement, verified_ack};

#[tokio::test]
async fn admin_needs_the_operator_token_and_is_off_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.operator_token = None;
    let s = Server::start(c).await;
    let (status, body) = s.admin(Method::GET, "/api/v1/admin/probes").await;
    assert_eq!((status, error_code(&body).as_str()), (403, "admin_disabled"));
    s.stop().await;

    let s = Server::start(config(dir.path())).await;
    let (status, body) =
        s.request(Method::GET, "/api/v1/admin/probes", None, &[("authorization", "Bearer not-the-token")]).await;
    assert_eq!((status, error_code(&body).as_str()), (401, "unauthorized"));
    let (status, body) = s.request(Method::POST, "/api/v1/admin/rotate-key", None, &[]).await;
    assert_eq!((status, error_code(&body).as_str()), (401, "unauthorized"));

    let k = key(1);
    let collector = s.enroll(&k).await;
    s.submit_ok(&[measurement(&k, "m1"), measurement(&k, "m2")], &collector).await;
    let (status, body) = s.admin(Method::GET, "/api/v1/admin/probes").await;
    assert_eq!(status, 200, "{body}");
    let probes: Vec<ProbeRow> = serde_json::from_str(&body).unwrap();
    assert_eq!(probes.len(), 1);
    assert_eq!(probes[0].key_id, key_id(&k.verifying_key()));
    assert_eq!(probes[0].measurements, 2);
    assert!(probes[0].last_seen.is_some());
    assert!(!probes[0].revoked);
}

#[tokio::test]
async fn a_revoked_key_cannot_submit_and_is_published_as_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let k = key(1);
    let collector = s.enroll(&k).await;
    s.submit_ok(&[measurement(&k, "before")], &collector).await;
    let id = key_id(&k.verifying_key());
    let (status, body) = s.admin(Method::POST, &format!("/api/v1/admin/probes/{id}/revoke")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.admin(Method::POST, "/api/v1/admin/probes/0000/revoke").await;
    assert_eq!((status, error_code(&body).as_str()), (404, "not_found"));

    let ack = s.submit_ok(&[measurement(&k, "after")], &collector).await;
    assert_eq!(ack.results[0].status, ItemStatus::Rejected);
    assert_eq!(ack.results[0].error.as_ref().unwrap().code, "revoked_key");
    assert_eq!(s.stored_count(), 1);

    let (_, body) = s.get("/api/v1/probe-keys").await;
    let keys: Vec<PublishedKey> = serde_json::from_str(&body).unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].revoked_at.is_some());
    assert_eq!(decode_public_key(&keys[0].public_key).unwrap(), k.verifying_key());
}

#[tokio::test]
async fn rotation_is_signed_by_the_old_key_and_acks_by_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let k = key(1);
    let old = s.enroll(&k).await;
    let (_, body) = s.get("/api/v1/collector-keys").await;
    assert_eq!(body, "[]");

    let (status, body) = s.admin(Method::POST, "/api/v1/admin/rotate-key").await;
    assert_eq!(status, 200, "{body}");
    let statement: Signed = serde_json::from_str(&body).unwrap();
    statement.verify(STATEMENT_FORMAT, &old).expect("the rotation is signed by the old key");
    let rotation: KeyRotation = statement.payload_as().unwrap();
    assert_eq!(rotation.kind, "key-rotation");
    let new = decode_public_key(&rotation.new_key).unwrap();
    assert_eq!(rotation.new_key_id, key_id(&new));
    assert_ne!(new, old);

    let (status, body) = s.submit(&[measurement(&k, "r1")]).await;
    assert_eq!(status, 200);
    verified_ack(&body, &new);
    let signed: Signed = serde_json::from_str(&body).unwrap();
    assert!(signed.verify(STATEMENT_FORMAT, &old).is_err(), "no longer signed by the old key");

    let (_, body) = s.get("/api/v1/collector-keys").await;
    assert_eq!(serde_json::from_str::<Vec<Signed>>(&body).unwrap(), vec![statement.clone()]);
    // Re-enrolling pins the new key; the old key is kept in the database.
    let (_, body) = s.enroll_with(&k, Some(crate::support::TOKEN)).await;
    assert_eq!(crate::support::value(&body)["collector_key_id"], rotation.new_key_id);
    let kept: i64 = s.db().query_row("SELECT COUNT(*) FROM collector_keys", [], |r| r.get(0)).unwrap();
    assert_eq!(kept, 2);

    // The new key survives a restart.
    s.stop().await;
    let s = Server::start(config(dir.path())).await;
    let (status, body) = s.submit(&[measurement(&k, "r2")]).await;
    assert_eq!(status, 200);
    verified_ack(&body, &new);
    assert!(!dir.path().join("collector.key.new").exists());
}
