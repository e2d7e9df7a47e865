//! Shared helpers: a running collector, an HTTP client, probe keys and signed measurements.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;
use tokio::sync::oneshot;
use vigil_collector::{Collector, Config};
use vigil_report::protocol::{EnrollRequest, EnrollResponse, ErrorBody, SubmitAck, SubmitRequest};
use vigil_report::signed::{decode_public_key, encode_public_key, enrollment_proof};
use vigil_report::{MEASUREMENT_FORMAT, STATEMENT_FORMAT, Signed};

pub const TOKEN: &str = "enroll-token-123";
pub const OPERATOR: &str = "operator-token-0123456789";

/// A collector serving on loopback until dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub base: String,
    pub dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub http: reqwest::Client,
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client")
}

/// A configuration in `dir` with an enroll token and an operator token.
pub fn config(dir: &Path) -> Config {
    let mut c = Config::new(dir);
    c.enroll_tokens = vec![TOKEN.into()];
    c.operator_token = Some(OPERATOR.into());
    c
}

impl Server {
    pub async fn start(config: Config) -> Server {
        let dir = config.data_dir.clone();
        let collector = Collector::open(config).expect("collector opens");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            collector
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .expect("serve");
        });
        Server { addr, base: format!("http://{addr}"), dir, stop: Some(stop), task: Some(task), http: client() }
    }

    /// Stop gracefully and wait for the writer to finish.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("server task");
        }
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        self.request(reqwest::Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: String) -> (u16, String) {
        self.request(reqwest::Method::POST, path, Some(body), &[]).await
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str) -> (u16, String) {
        let auth = format!("Bearer {OPERATOR}");
        self.request(method, path, None, &[("authorization", auth.as_str())]).await
    }

    pub async fn enroll_with(&self, key: &SigningKey, token: Option<&str>) -> (u16, String) {
        let req = EnrollRequest {
            public_key: encode_public_key(&key.verifying_key()),
            proof: enrollment_proof(key),
            token: token.map(str::to_string),
            software_version: "test".into(),
        };
        self.post("/api/v1/enroll", serde_json::to_string(&req).unwrap()).await
    }

    /// Enroll with the test token; the collector's key.
    pub async fn enroll(&self, key: &SigningKey) -> VerifyingKey {
        let (status, body) = self.enroll_with(key, Some(TOKEN)).await;
        assert_eq!(status, 200, "{body}");
        let resp: EnrollResponse = serde_json::from_str(&body).unwrap();
        decode_public_key(&resp.collector_key).unwrap()
    }

    /// Submit a batch; the ack statement (checked to verify with `collector`) or the error.
    pub async fn submit(&self, batch: &[Signed]) -> (u16, String) {
        let body = serde_json::to_string(&SubmitRequest { measurements: batch.to_vec() }).unwrap();
        self.post("/api/v1/submit", body).await
    }

    pub async fn submit_ok(&self, batch: &[Signed], collector: &VerifyingKey) -> SubmitAck {
        let (status, body) = self.submit(batch).await;
        assert_eq!(status, 200, "{body}");
        verified_ack(&body, collector)
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.join("vigil.sqlite")).unwrap()
    }

    pub fn stored_count(&self) -> i64 {
        self.db().query_row("SELECT COUNT(*) FROM measurements", [], |r| r.get(0)).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub fn verified_ack(body: &str, collector: &VerifyingKey) -> SubmitAck {
    let signed: Signed = serde_json::from_str(body).unwrap();
    signed.verify(STATEMENT_FORMAT, collector).expect("the ack is signed by the collector");
    signed.payload_as().unwrap()
}

pub fn error_code(body: &str) -> String {
    serde_json::from_str::<ErrorBody>(body).unwrap_or_else(|e| panic!("not an error body ({e}): {body}")).error.code
}

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub fn ooni_time(t: OffsetDateTime) -> String {
    t.format(format_description!("[year]-[month]-[day] [hour]:[minute]:[second]")).unwrap()
}

/// A measurement payload with `id`, started at `start`, padded with about `pad` bytes of test keys.
pub fn payload_at(id: &str, start: OffsetDateTime, pad: usize) -> String {
    let m = json!({
        "id": id,
        "data_format_version": "0.2.0",
        "measurement_start_time": ooni_time(start),
        "test_start_time": ooni_time(start),
        "input": "https://example.org/",
        "test_name": "vigil_web_connectivity",
        "test_version": "0.1.0",
        "software_name": "vigil-probe",
        "software_version": "0.1.0",
        "probe_asn": "AS0",
        "probe_cc": "ZZ",
        "resolver_ip": null,
        "test_runtime": 1.5,
        "annotations": {},
        "test_keys": {"blocking": false, "accessible": true, "x_reasons": ["x".repeat(pad)]},
    });
    serde_json::to_string(&m).unwrap()
}

pub fn payload(id: &str) -> String {
    payload_at(id, OffsetDateTime::now_utc(), 16)
}

pub fn sign(key: &SigningKey, payload: String) -> Signed {
    Signed::sign(MEASUREMENT_FORMAT, payload, key)
}

pub fn measurement(key: &SigningKey, id: &str) -> Signed {
    sign(key, payload(id))
}

pub fn value(body: &str) -> Value {
    serde_json::from_str(body).unwrap()
}
