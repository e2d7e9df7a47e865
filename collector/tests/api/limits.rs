//! Bounds on what clients send and how often: string fields and platform ids (issue 14 item 8),
//! the oldest measurement time (item 11), per-client-network rate limits (control, enrollment,
//! heavy reads). Clients of two networks are told apart by their loopback source address:
//! 127.0.0.x and 127.0.1.x are different /24s.

use std::net::IpAddr;

use ed25519_dalek::SigningKey;
use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;
use vigil_report::limits::FIRST_TIME_TEXT;
use vigil_report::protocol::{EnrollRequest, ItemStatus};
use vigil_report::signed::{encode_public_key, enrollment_proof};

use vigil_collector::config::{ControlMode, DEFAULT_CONTROL_AUTH_FAILURES_PER_MINUTE, DEFAULT_CONTROL_PER_MINUTE};
use vigil_report::protocol::RequestSignature;

use crate::support::{Server, config, error_code, key, ooni_time, payload_at, sign, value};

/// A fixed day in the past (no test depends on the wall clock's day).
const DAY: OffsetDateTime = datetime!(2026-01-02 03:04:05 UTC);

/// A `vigil_platform` summary of `platform` at `at`.
fn summary(id: &str, platform: &str, at: OffsetDateTime) -> String {
    serde_json::to_string(&json!({
        "id": id, "data_format_version": "0.2.0",
        "measurement_start_time": ooni_time(at), "test_start_time": ooni_time(at),
        "input": null, "test_name": "vigil_platform", "test_version": "0.1.0",
        "software_name": "vigil-probe", "software_version": "0.1.0",
        "probe_asn": "AS0", "probe_cc": "ZZ", "resolver_ip": null, "test_runtime": 1.0, "annotations": {},
        "test_keys": {"platform": platform, "kind": "platform", "status": "blocked", "mechanism": null,
                      "endpoints": [], "reasons": []},
    }))
    .unwrap()
}

/// An HTTP client whose connections leave from `source` (a loopback address).
fn client_from(source: &str) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ip: IpAddr = source.parse().unwrap();
    reqwest::Client::builder().local_address(ip).build().expect("client")
}

async fn send(c: &reqwest::Client, s: &Server, method: reqwest::Method, path: &str, body: &str) -> (u16, String) {
    let resp = c
        .request(method, format!("{}{path}", s.base))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    if status == 429 {
        let after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().expect("Retry-After in seconds");
        assert!((1..=60).contains(&after), "Retry-After {after}");
    }
    (status, resp.text().await.unwrap())
}

async fn get(c: &reqwest::Client, s: &Server, path: &str) -> (u16, String) {
    send(c, s, reqwest::Method::GET, path, "").await
}

fn enrollment(key: &SigningKey, software_version: String) -> String {
    let req = EnrollRequest {
        public_key: encode_public_key(&key.verifying_key()),
        proof: enrollment_proof(key),
        token: None,
        software_version,
    };
    serde_json::to_string(&req).unwrap()
}

const TIMELINE: &str = "/api/v1/timeline?country=ZZ&from=2026-01-02T00:00:00Z&to=2026-01-03T00:00:00Z";

#[tokio::test]
async fn four_hundred_invented_platforms_are_stored_but_stay_off_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let k = key(7);
    let collector = s.enroll(&k).await;
    let mut batch: Vec<_> =
        (0..400).map(|i| sign(&k, summary(&format!("inv{i}"), &format!("made-up-{i}"), DAY))).collect();
    batch.push(sign(&k, summary("known", "telegram", DAY)));
    let ack = s.submit_ok(&batch, &collector).await;
    assert!(ack.results.iter().all(|r| r.status == ItemStatus::Accepted), "{:?}", ack.results[0]);
    assert_eq!(s.stored_count(), 401, "every summary is kept as evidence");
    let (status, body) = s.get(TIMELINE).await;
    assert_eq!(status, 200, "{body}");
    let rows: Vec<String> =
        value(&body)["rows"].as_array().unwrap().iter().map(|r| r["platform"].as_str().unwrap().into()).collect();
    assert_eq!(rows, ["telegram"], "only the battery's platforms get rows");
    assert!(body.len() < 20_000, "the answer stays small: {} bytes", body.len());
    // The invented ones are still observed as signs of life, not as platforms.
    let platforms: i64 = s
        .db()
        .query_row("SELECT COUNT(DISTINCT platform) FROM observations WHERE platform IS NOT NULL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(platforms, 1);
}

#[tokio::test]
async fn ill_formed_strings_are_refused_per_item_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let k = key(8);
    let collector = s.enroll(&k).await;
    let mut long_version: serde_json::Value = serde_json::from_str(&payload_at("v", DAY, 4)).unwrap();
    long_version["software_version"] = json!("9".repeat(65));
    let mut bad_cc: serde_json::Value = serde_json::from_str(&payload_at("cc", DAY, 4)).unwrap();
    bad_cc["probe_cc"] = json!("<script>");
    let batch = vec![
        sign(&k, summary("ctl", "ctl\u{1}\u{b}plat", DAY)),
        sign(&k, summary("csv", "=cmd|' /C calc'!A0", DAY)),
        sign(&k, summary("long", &"p".repeat(33), DAY)),
        sign(&k, long_version.to_string()),
        sign(&k, bad_cc.to_string()),
        sign(&k, payload_at("fine", DAY, 4)),
    ];
    let ack = s.submit_ok(&batch, &collector).await;
    let fields = ["test_keys.platform", "test_keys.platform", "test_keys.platform", "software_version", "probe_cc"];
    for (r, field) in ack.results.iter().zip(fields) {
        let e = r.error.as_ref().unwrap_or_else(|| panic!("{} accepted", r.id));
        assert_eq!((r.status, e.code.as_str()), (ItemStatus::Rejected, "bad_field"), "{}", r.id);
        assert!(e.message.starts_with(&format!("{field} must be")), "{}: {}", r.id, e.message);
    }
    assert_eq!(ack.results[5].status, ItemStatus::Accepted);
    assert_eq!(s.stored_count(), 1);
}

#[tokio::test]
async fn a_megabyte_software_version_is_refused_at_enrollment() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.open_enrollment = true;
    c.enroll_tokens.clear();
    let s = Server::start(c).await;
    // A megabyte is over the enrollment's body limit: refused before it is read.
    let (status, body) = s.post("/api/v1/enroll", enrollment(&key(9), "v".repeat(1 << 20))).await;
    assert_eq!((status, error_code(&body).as_str()), (413, "body_too_large"), "{body}");
    // A body within the limit whose version is too long is refused by name.
    let (status, body) = s.post("/api/v1/enroll", enrollment(&key(9), "v".repeat(65))).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "bad_field"), "{body}");
    assert!(body.contains("software_version must be at most 64 printable ASCII"), "{body}");
    let (status, body) = s.post("/api/v1/enroll", enrollment(&key(9), "0.1.0\n<b>".into())).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "bad_field"), "{body}");
    let probes: i64 = s.db().query_row("SELECT COUNT(*) FROM probes", [], |r| r.get(0)).unwrap();
    assert_eq!(probes, 0);
    let (status, body) = s.post("/api/v1/enroll", enrollment(&key(9), "0.1.0".into())).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn measurements_before_the_floor_are_refused_and_queries_share_the_floor() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let k = key(10);
    let collector = s.enroll(&k).await;
    let times = [
        datetime!(0001-01-01 00:00:00 UTC),
        datetime!(1970-01-01 00:00:00 UTC),
        datetime!(2011-12-31 23:59:59 UTC),
        datetime!(2012-01-01 00:00:00 UTC),
    ];
    let batch: Vec<_> = times.iter().enumerate().map(|(i, t)| sign(&k, payload_at(&format!("t{i}"), *t, 4))).collect();
    let ack = s.submit_ok(&batch, &collector).await;
    for r in &ack.results[..3] {
        let e = r.error.as_ref().unwrap_or_else(|| panic!("{} accepted", r.id));
        assert_eq!(e.code, "timestamp_too_old", "{}", r.id);
        assert!(e.message.contains(FIRST_TIME_TEXT), "{}", e.message);
    }
    assert_eq!(ack.results[3].status, ItemStatus::Accepted, "the floor itself is accepted");
    for path in [
        "/api/v1/measurements?since=1970-01-01T00:00:00Z",
        "/api/v1/measurements?until=0",
        "/api/v1/events?from=1325375999",
        "/api/v1/timeline?country=ZZ&from=2011-12-31T00:00:00Z",
    ] {
        let (status, body) = s.get(path).await;
        assert_eq!((status, error_code(&body).as_str()), (400, "bad_parameter"), "{path}: {body}");
        assert!(body.contains(&format!("expected a time from {FIRST_TIME_TEXT}")), "{path}: {body}");
    }
    let (status, body) = s.get("/api/v1/measurements?since=2012-01-01T00:00:00Z").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(value(&body)["results"].as_array().map(Vec::len), Some(1), "{body}");
}

#[tokio::test]
async fn one_network_exhausting_its_read_bucket_does_not_lock_out_another() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.reads_per_minute = 3;
    let s = Server::start(c).await;
    let (a, b) = (client_from("127.0.0.1"), client_from("127.0.1.1"));
    for _ in 0..3 {
        assert_eq!(get(&a, &s, TIMELINE).await.0, 200);
    }
    for path in [TIMELINE, "/api/v1/measurements.jsonl", "/", "/api/v1/charts/country/ZZ.svg"] {
        let (status, body) = get(&a, &s, path).await;
        assert_eq!((status, error_code(&body).as_str()), (429, "rate_limited"), "{path}");
    }
    // Another /24 has its own bucket; light reads are not limited.
    assert_eq!(get(&b, &s, TIMELINE).await.0, 200);
    assert_eq!(get(&a, &s, "/api/v1/health").await.0, 200);
    let (_, metrics) = get(&b, &s, "/metrics").await;
    assert!(metrics.contains("vigil_rate_limited_total{limit=\"read\"} 4"), "{metrics}");
}

#[tokio::test]
async fn enrollment_floods_from_one_network_do_not_block_a_volunteer_from_another() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.enroll_tokens.clear();
    c.open_enrollment = true;
    c.open_enrollments_per_minute = 3;
    let s = Server::start(c).await;
    let (attacker, volunteer) = (client_from("127.0.0.1"), client_from("127.0.1.1"));
    let post = reqwest::Method::POST;
    for seed in 20..23 {
        let (status, body) =
            send(&attacker, &s, post.clone(), "/api/v1/enroll", &enrollment(&key(seed), "x".into())).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = send(&attacker, &s, post.clone(), "/api/v1/enroll", &enrollment(&key(23), "x".into())).await;
    assert_eq!((status, error_code(&body).as_str()), (429, "rate_limited"));
    let (status, body) = send(&volunteer, &s, post, "/api/v1/enroll", &enrollment(&key(30), "0.1.0".into())).await;
    assert_eq!(status, 200, "a volunteer of another network still enrolls: {body}");
}

#[tokio::test]
async fn enrollment_and_control_requests_are_limited_per_network() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.enroll_per_minute = 2;
    c.control_auth_failures_per_minute = 2;
    let s = Server::start(c).await;
    let (a, b) = (client_from("127.0.0.1"), client_from("127.0.1.1"));
    let post = reqwest::Method::POST;
    // An empty enrollment is a bad request; an unsigned control request is refused (the control
    // serves enrolled probes only by default): both count against the network (the control's
    // refusals against the network's bucket of failed authentications).
    for (path, refused) in [("/api/v1/enroll", 400), ("/api/v1/control", 401)] {
        for _ in 0..2 {
            let (status, body) = send(&a, &s, post.clone(), path, "{}").await;
            assert_eq!(status, refused, "{path}: {body}");
        }
        let (status, body) = send(&a, &s, post.clone(), path, "{}").await;
        assert_eq!((status, error_code(&body).as_str()), (429, "rate_limited"), "{path}");
        assert!(body.contains("from your network"), "{body}");
        let (status, body) = send(&b, &s, post.clone(), path, "{}").await;
        assert_eq!(status, refused, "{path} from another network: {body}");
    }
}

/// An `open` control counts every request against the client's network.
#[tokio::test]
async fn an_open_control_is_limited_per_network() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.control_mode = ControlMode::Open;
    c.control_per_minute = 2;
    let s = Server::start(c).await;
    let (a, b) = (client_from("127.0.0.1"), client_from("127.0.1.1"));
    let body = control_request();
    for _ in 0..2 {
        let (status, answer) = send(&a, &s, reqwest::Method::POST, CONTROL, &body).await;
        assert_eq!((status, error_code(&answer).as_str()), (403, "target_not_public"), "{answer}");
    }
    let (status, answer) = send(&a, &s, reqwest::Method::POST, CONTROL, &body).await;
    assert_eq!((status, error_code(&answer).as_str()), (429, "rate_limited"), "{answer}");
    assert_eq!(send(&b, &s, reqwest::Method::POST, CONTROL, &body).await.0, 403, "another network");
}

const CONTROL: &str = "/api/v1/control";

/// A control request the control refuses at once (a documentation address), without a network.
fn control_request() -> String {
    json!({"http_request": "http://192.0.2.1:1/", "tcp_connect": []}).to_string()
}

/// POST `body` to the control from `c`, signed by `key` now.
async fn send_signed(c: &reqwest::Client, s: &Server, key: &SigningKey, body: &str) -> (u16, String) {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut req = c.post(format!("{}{CONTROL}", s.base)).header("content-type", "application/json");
    for (name, value) in RequestSignature::sign(key, "POST", CONTROL, now, body.as_bytes()).headers() {
        req = req.header(name, value);
    }
    let resp = req.body(body.to_string()).send().await.expect("request");
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// Review of item 5: strangers behind the same /24 (a CGNAT) cannot use up the control of the
/// enrolled probes there: refused requests have a bucket of their own, and authenticated ones
/// are limited per key, with room for several runs of the built-in battery a minute.
#[tokio::test]
async fn unsigned_floods_do_not_limit_enrolled_probes_of_the_same_network() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let (p1, p2) = (key(41), key(42));
    s.enroll(&p1).await;
    s.enroll(&p2).await;
    let cgnat = client_from("127.0.0.1");
    let body = control_request();
    let mut refused = std::collections::BTreeMap::<u16, u32>::new();
    for _ in 0..DEFAULT_CONTROL_PER_MINUTE + 10 {
        *refused.entry(send(&cgnat, &s, reqwest::Method::POST, CONTROL, &body).await.0).or_default() += 1;
    }
    let failures = DEFAULT_CONTROL_AUTH_FAILURES_PER_MINUTE;
    assert_eq!(refused, [(401, failures), (429, DEFAULT_CONTROL_PER_MINUTE + 10 - failures)].into(), "{refused:?}");
    // Two probes behind it each run the built-in battery (98 endpoints, a control request each)
    // twice: none of it is limited.
    for probe in [&p1, &p2] {
        for i in 0..2 * 98 {
            let (status, answer) = send_signed(&cgnat, &s, probe, &body).await;
            assert_eq!((status, error_code(&answer).as_str()), (403, "target_not_public"), "request {i}: {answer}");
        }
    }
}

#[tokio::test]
async fn authenticated_control_requests_are_limited_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.control_per_key_per_minute = 3;
    let s = Server::start(c).await;
    let (p1, p2) = (key(43), key(44));
    s.enroll(&p1).await;
    s.enroll(&p2).await;
    let (a, b) = (client_from("127.0.0.1"), client_from("127.0.1.1"));
    let body = control_request();
    for _ in 0..3 {
        assert_eq!(send_signed(&a, &s, &p1, &body).await.0, 403);
    }
    let (status, answer) = send_signed(&b, &s, &p1, &body).await;
    assert_eq!((status, error_code(&answer).as_str()), (429, "rate_limited"), "the key's, from any network");
    assert!(
        answer.contains(&format!("signed by key {}", vigil_report::signed::key_id(&p1.verifying_key()))),
        "{answer}"
    );
    assert_eq!(send_signed(&a, &s, &p2, &body).await.0, 403, "another key of the same network");
    let (_, metrics) = s.get("/metrics").await;
    assert!(metrics.contains("vigil_rate_limited_total{limit=\"control_key\"} 1"), "{metrics}");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_network_is_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.trust_proxy = true;
    c.reads_per_minute = 1;
    let s = &Server::start(c).await;
    let from = |xff: &'static str| async move {
        s.request(reqwest::Method::GET, TIMELINE, None, &[("x-forwarded-for", xff)]).await
    };
    assert_eq!(from("203.0.113.5").await.0, 200);
    assert_eq!(from("198.51.100.7, 203.0.113.9").await.0, 429, "the proxy's entry, same /24");
    assert_eq!(from("203.0.113.9, 198.51.100.7").await.0, 200, "another /24");
}

#[tokio::test]
async fn the_tracked_networks_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.trust_proxy = true;
    c.reads_per_minute = 1;
    c.max_tracked_networks = 100;
    let s = &Server::start(c).await;
    // A valid (cheap: empty database) read: a query refused by its parameters' bounds is
    // answered 400 before it reaches the limit, so it would not count.
    let from = |xff: String| async move {
        s.request(reqwest::Method::GET, TIMELINE, None, &[("x-forwarded-for", &xff)]).await.0
    };
    assert_eq!(from("192.0.2.1".into()).await, 200);
    assert_eq!(from("192.0.2.1".into()).await, 429);
    // 99 more networks fill the table; the 900 after them share one overflow bucket (a bucket
    // that has not refilled is never dropped for a newcomer).
    let mut served = 0;
    for i in 0..1000u32 {
        served += usize::from(from(format!("10.{}.{}.1", i >> 8, i & 255)).await == 200);
    }
    assert_eq!(served, 99 + 1, "the tracked networks, then one overflow token");
    let (_, metrics) = s.get("/metrics").await;
    assert!(metrics.contains("vigil_rate_limit_networks{limit=\"read\"} 100"), "{metrics}");
    // Cycling through 1000 networks did not reset the first one's bucket.
    assert_eq!(from("192.0.2.1".into()).await, 429);
}

#[tokio::test]
async fn twin_routes_are_limited_alike() {
    let limited = vigil_collector::routes::rate_limited();
    let class = |path: &str| limited.iter().find(|(m, p, _)| m == reqwest::Method::GET && *p == path).map(|l| l.2);
    let routes = vigil_collector::routes::table();
    let mut twins = vec![("/api/v1/disclosures", "/disclosures".to_string())];
    for (_, path) in &routes {
        if let Some(json) = path.strip_suffix(".csv").filter(|j| routes.iter().any(|(_, p)| p == j)) {
            twins.push((json, path.to_string()));
        }
    }
    assert!(twins.len() >= 4, "{twins:?}");
    for (a, b) in &twins {
        assert_eq!(class(a), class(b), "{a} and {b} are limited unevenly");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.reads_per_minute = 1;
    let s = Server::start(c).await;
    for path in ["/api/v1/events", "/api/v1/disclosures"] {
        let client = client_from(if path == "/api/v1/events" { "127.0.2.1" } else { "127.0.3.1" });
        assert_eq!(get(&client, &s, path).await.0, 200, "{path}");
        let (status, body) = get(&client, &s, path).await;
        assert_eq!((status, error_code(&body).as_str()), (429, "rate_limited"), "{path}: {body}");
    }
}

#[test]
fn rate_limited_routes_and_new_codes_are_documented() {
    let doc: serde_json::Value = serde_json::from_str(vigil_collector::api_public::OPENAPI_JSON).unwrap();
    let codes = doc["components"]["schemas"]["ApiError"]["properties"]["code"]["enum"].as_array().unwrap();
    for code in ["bad_field", "timestamp_too_old", "rate_limited"] {
        assert!(codes.iter().any(|c| c == code), "{code} missing from ApiError.code");
    }
    for (method, path, _) in vigil_collector::routes::rate_limited() {
        let op = &doc["paths"][path][method.as_str().to_lowercase()];
        assert!(op["responses"]["429"].is_object(), "{method} {path} does not document its 429");
    }
}
