//! Blockpage discovery end to end: probes submit signed `http-diff` measurements, the collector
//! lists the clusters, the operator promotes one, and the signed probe configuration carries it.

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use vigil_report::protocol::ProbeConfigStatement;
use vigil_report::{STATEMENT_FORMAT, Signed};

use crate::support::{OPERATOR, Server, config, error_code, key, ooni_time, sign, value};

/// A web connectivity measurement that ended on `body` (a string, or base64 of non-UTF-8 bytes).
fn web(id: &str, input: &str, body: Value, title: &str, blocking: Value, fingerprints: &[&str]) -> String {
    let start = ooni_time(OffsetDateTime::now_utc() - Duration::hours(1));
    let m = json!({
        "id": id,
        "data_format_version": "0.2.0",
        "measurement_start_time": start,
        "test_start_time": start,
        "input": input,
        "test_name": "vigil_web_connectivity",
        "test_version": "0.1.0",
        "software_name": "vigil-probe",
        "software_version": "0.1.0",
        "probe_asn": "AS0",
        "probe_cc": "ZZ",
        "resolver_ip": null,
        "test_runtime": 1.5,
        "annotations": {},
        "test_keys": {
            "blocking": blocking,
            "accessible": false,
            "x_fingerprints": fingerprints,
            "x_reasons": ["the page differs from the control's"],
            "requests": [{
                "request": {"method": "GET", "url": input, "headers": {}},
                "response": {"code": 200, "headers": {"Content-Type": "text/html"}, "body": body,
                             "body_is_truncated": false, "body_length": 100, "title": title},
                "failure": null, "t0": 0.1, "t": 0.2
            }]
        }
    });
    serde_json::to_string(&m).unwrap()
}

fn blockpage(n: u32) -> Value {
    Value::String(format!(
        "<html><head><title>Access restricted</title></head><body><h1>Access to this resource is restricted</h1>\
         <p>By decision of the National Communications Authority the page you requested is unavailable in your \
         network. Your address 192.0.2.{n} was logged, request {n}{n}7.</p><p>Questions: contact your provider.</p>\
         </body></html>"
    ))
}

fn cp1251_blockpage(n: u32) -> Value {
    let text = format!(
        "<html><head><meta charset=\"windows-1251\"></head><body><p>Доступ к ресурсу ограничен по решению суда {n}</p>\
         <p>Blocked by court order of the district</p></body></html>"
    );
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&text);
    use base64::Engine as _;
    json!({"format": "base64", "data": base64::engine::general_purpose::STANDARD.encode(&bytes)})
}

async fn submit(s: &Server, key: &SigningKey, payloads: Vec<String>) {
    let collector = s.enroll(key).await;
    let batch: Vec<Signed> = payloads.into_iter().map(|p| sign(key, p)).collect();
    let ack = s.submit_ok(&batch, &collector).await;
    assert!(ack.results.iter().all(|r| r.error.is_none()), "{:?}", ack.results);
}

fn diff() -> Value {
    json!("http-diff")
}

async fn probe_config(s: &Server, collector: &ed25519_dalek::VerifyingKey) -> ProbeConfigStatement {
    let (status, body) = s.get("/api/v1/probe-config").await;
    assert_eq!(status, 200, "{body}");
    let signed: Signed = serde_json::from_str(&body).unwrap();
    signed.verify(STATEMENT_FORMAT, collector).expect("the probe configuration is signed by the collector");
    signed.payload_as().unwrap()
}

#[tokio::test]
async fn unexplained_blockpages_cluster_and_a_promoted_one_reaches_the_signed_probe_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let collector = s.enroll(&key(1)).await;
    // Three probes see the same unknown blockpage on different sites; two of them a second one,
    // served in windows-1251 (base64 in the measurement).
    for (i, k) in [1u8, 2, 3].into_iter().enumerate() {
        let n = i as u32 + 1;
        let mut p = vec![web(
            &format!("a{k}"),
            &format!("https://site{k}.example/x"),
            blockpage(n),
            "Access restricted",
            diff(),
            &[],
        )];
        if k < 3 {
            p.push(web(&format!("b{k}"), "http://news.example/", cp1251_blockpage(n), "", diff(), &[]));
        }
        submit(&s, &key(k), p).await;
    }
    // Not candidates: a page a fingerprint explained, another verdict, and a one-probe page.
    submit(
        &s,
        &key(4),
        vec![
            web("c1", "https://site1.example/", blockpage(9), "Access restricted", diff(), &["ooni.zz_1"]),
            web("c2", "https://site2.example/", blockpage(9), "Access restricted", json!("dns"), &[]),
            web(
                "c3",
                "https://shop.example/",
                json!("<p>Fresh bread and coffee every morning</p>"),
                "Shop",
                diff(),
                &[],
            ),
        ],
    )
    .await;

    let (status, body) = s.get("/api/v1/blockpage-candidates").await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("192.0.2."), "addresses are never published: {body}");
    let listing = value(&body);
    assert_eq!(listing["candidates"], 6, "{body}");
    assert_eq!(listing["total"], 2, "{body}");
    let a = &listing["clusters"][0];
    assert_eq!((a["size"].as_u64(), a["probes"].as_u64()), (Some(3), Some(3)), "{body}");
    assert_eq!(a["evidence"], json!(["a1", "a2", "a3"]));
    assert_eq!(a["countries"], json!(["ZZ"]));
    assert_eq!(a["networks"], json!([{"cc": "ZZ", "asn": 0}]));
    assert_eq!(a["sample_titles"], json!(["Access restricted"]));
    assert_eq!(a["domains"], json!(["site1.example", "site2.example", "site3.example"]));
    assert_eq!(a["suggested_pattern"], "Access to this resource is restricted");
    assert!(a["excerpts"][0].as_str().unwrap().starts_with("access restricted access to this resource"), "{body}");
    let b = &listing["clusters"][1];
    assert_eq!(b["evidence"], json!(["b1", "b2"]));
    // The Cyrillic run is not in the body as the probe's matcher sees it (lossy UTF-8).
    assert_eq!(b["suggested_pattern"], "Blocked by court order of the district");
    assert!(b["excerpts"][0].as_str().unwrap().starts_with("доступ к ресурсу ограничен"), "{body}");
    let id = a["id"].as_str().unwrap().to_string();
    let promote = format!("/api/v1/admin/blockpage-candidates/{id}/promote");

    // Refusals: no token, an unknown cluster, a pattern one member lacks, an empty one.
    let (status, body) = s.post(&promote, "{}".into()).await;
    assert_eq!((status, error_code(&body).as_str()), (401, "unauthorized"));
    let auth = format!("Bearer {OPERATOR}");
    let admin = |path: String, body: &str| {
        let auth = auth.clone();
        let body = body.to_string();
        let s = &s;
        async move { s.request(reqwest::Method::POST, &path, Some(body), &[("authorization", auth.as_str())]).await }
    };
    let (status, body) = admin("/api/v1/admin/blockpage-candidates/0000000000000000/promote".into(), "{}").await;
    assert_eq!((status, error_code(&body).as_str()), (404, "not_found"));
    let (status, body) = admin(promote.clone(), r#"{"pattern": "Questions: contact your provider."}"#).await;
    assert_eq!(status, 200, "a phrase every member holds may be chosen: {body}");
    let (status, body) = admin(promote.clone(), r#"{"pattern": "ACCESS TO THIS RESOURCE"}"#).await;
    assert_eq!((status, error_code(&body).as_str()), (422, "bad_pattern"), "the probe matches case-sensitively");
    assert!(body.contains("member a1"), "the message names the member: {body}");
    let (status, body) = admin(promote.clone(), r#"{"pattern": "  "}"#).await;
    assert_eq!((status, error_code(&body).as_str()), (422, "bad_pattern"), "{body}");
    let (status, body) = admin(promote.clone(), &format!(r#"{{"pattern": "{}"}}"#, "x".repeat(201))).await;
    assert_eq!((status, error_code(&body).as_str()), (422, "bad_pattern"), "{body}");
    let (status, body) = admin(promote.clone(), r#"{"patern": "typo"}"#).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "malformed_json"), "{body}");

    // The suggested pattern (an empty body) replaces the earlier promotion.
    let (status, body) = admin(promote.clone(), "").await;
    assert_eq!(status, 200, "{body}");
    let config = probe_config(&s, &collector).await;
    assert_eq!(config.fingerprints.len(), 1);
    let fp = &config.fingerprints[0];
    assert_eq!(fp.name, format!("local.{id}"));
    assert_eq!((fp.location_found.as_str(), fp.pattern_type.as_str()), ("body", "contains"));
    assert_eq!(fp.pattern, "Access to this resource is restricted");
    assert!(fp.expected_countries.is_empty(), "ZZ (unknown) is no country: {:?}", fp.expected_countries);
    let (_, body) = s.get("/api/v1/blockpage-candidates?limit=1").await;
    assert_eq!(value(&body)["clusters"][0]["fingerprint"], json!(format!("local.{id}")));
    assert_eq!(value(&body)["clusters"].as_array().unwrap().len(), 1);

    // Withdrawn: probes no longer receive it; a second withdrawal finds nothing.
    let withdraw = format!("/api/v1/admin/blockpage-candidates/{id}/withdraw");
    let (status, body) = admin(withdraw.clone(), "").await;
    assert_eq!(status, 200, "{body}");
    assert!(probe_config(&s, &collector).await.fingerprints.is_empty());
    let (status, body) = admin(withdraw, "").await;
    assert_eq!((status, error_code(&body).as_str()), (404, "not_found"));
    s.stop().await;
}

#[tokio::test]
async fn candidates_are_capped_and_the_listing_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.blockpage_max_candidates = 3;
    let s = Server::start(c).await;
    let long = |n: u32| {
        let more = "Further information about this restriction is available from the authority. ".repeat(5);
        Value::String(format!("{}<p>{more}</p>", blockpage(n).as_str().unwrap()))
    };
    let pages = (1..=5).map(|n| web(&format!("m{n}"), "https://a.example/", long(n), "", diff(), &[])).collect();
    submit(&s, &key(1), pages).await;
    // One probe in one network: nothing is published yet (and this clustering is cached).
    let (_, body) = s.get("/api/v1/blockpage-candidates").await;
    assert_eq!((value(&body)["candidates"].as_u64(), value(&body)["total"].as_u64()), (Some(3), Some(0)), "{body}");
    let pages = (6..=7).map(|n| web(&format!("m{n}"), "https://a.example/", long(n), "", diff(), &[])).collect();
    submit(&s, &key(2), pages).await;
    let kept: Vec<String> = {
        let db = s.db();
        let mut q = db.prepare("SELECT measurement_id FROM blockpage_candidates ORDER BY seq").unwrap();
        q.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(kept, ["m5", "m6", "m7"], "the oldest are dropped past the cap");
    assert_eq!(s.stored_count(), 7, "measurements themselves are all kept");
    let (_, body) = s.get("/api/v1/blockpage-candidates").await;
    let cluster = &value(&body)["clusters"][0];
    assert_eq!(cluster["evidence"], json!(["m5", "m6", "m7"]), "{body}");
    let excerpt = cluster["excerpts"][0].as_str().unwrap();
    assert!((270..=280).contains(&excerpt.len()), "excerpts are cut at 280 bytes: {} {excerpt}", excerpt.len());
    // At most 500 active fingerprints: the 501st promotion is refused.
    {
        let db = s.db();
        for i in 0..500 {
            db.execute(
                "INSERT INTO blockpage_fingerprints (name, cluster_id, location_found, pattern_type, pattern,
                     expected_countries, promoted_at) VALUES (?1, ?2, 'body', 'contains', 'blocked page', '', 'now')",
                rusqlite::params![format!("local.f{i:015}"), format!("f{i:015}")],
            )
            .unwrap();
        }
    }
    let id = cluster["id"].as_str().unwrap();
    let (status, body) =
        s.admin(reqwest::Method::POST, &format!("/api/v1/admin/blockpage-candidates/{id}/promote")).await;
    assert_eq!((status, error_code(&body).as_str()), (409, "too_many_fingerprints"), "{body}");
    for bad in ["limit=51", "limit=0", "offset=10001", "offset=-1", "size=1"] {
        let (status, body) = s.get(&format!("/api/v1/blockpage-candidates?{bad}")).await;
        assert_eq!((status, error_code(&body).as_str()), (400, "bad_parameter"), "{bad}: {body}");
    }
    let (status, body) = s.get("/api/v1/blockpage-candidates?offset=10000").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(value(&body)["clusters"], json!([]));
    s.stop().await;
}

#[tokio::test]
async fn the_operator_page_lists_clusters_escaped_and_its_form_promotes_with_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let collector = s.enroll(&key(1)).await;
    let title = "<script>alert(1)</script> Access restricted";
    for k in [1u8, 2] {
        let p = web(&format!("p{k}"), "https://site.example/", blockpage(u32::from(k)), title, diff(), &[]);
        submit(&s, &key(k), vec![p]).await;
    }
    let (status, body) = s.get("/api/v1/blockpage-candidates").await;
    assert_eq!(status, 200);
    let id = value(&body)["clusters"][0]["id"].as_str().unwrap().to_string();

    let (status, page) = s.get("/operator/blockpages").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("<section id=\"c-{id}\">")), "{page}");
    assert!(page.contains("<a href=\"/api/v1/measurements/p1\">p1</a>"), "{page}");
    assert!(page.contains("value=\"Access to this resource is restricted\""), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.contains("<script>"), "{page}");
    assert!(!page.contains("192.0.2."), "{page}");
    let (status, _) = s.get("/operator/blockpages?offset=10001").await;
    assert_eq!(status, 400);

    let form = |token: &str| format!("token={token}&pattern=");
    let post = |body: String| {
        let s = &s;
        let path = format!("/operator/blockpages/{id}/promote");
        async move {
            let resp = s
                .http
                .post(format!("{}{path}", s.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let (status, page) = post(form("wrong")).await;
    assert_eq!(status, 401, "{page}");
    assert!(page.contains("unauthorized"), "{page}");
    assert!(probe_config(&s, &collector).await.fingerprints.is_empty());
    let (status, page) = post(format!("token={OPERATOR}&pattern=Not+in+the+pages")).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("bad_pattern") && page.contains("member p1"), "{page}");
    let (status, page) = post(form(OPERATOR)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("local.{id}")), "{page}");
    let config = probe_config(&s, &collector).await;
    assert_eq!(config.fingerprints[0].pattern, "Access to this resource is restricted");
    s.stop().await;
}

#[tokio::test]
async fn the_admin_command_lists_promotes_and_withdraws() {
    use vigil_collector::admin_client::{self, AdminError};
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    for k in [1u8, 2] {
        let p = web(&format!("q{k}"), "https://site.example/", blockpage(u32::from(k)), "", diff(), &[]);
        submit(&s, &key(k), vec![p]).await;
    }
    let listing = value(&admin_client::blockpages(&s.base, OPERATOR).await.unwrap());
    let id = listing["clusters"][0]["id"].as_str().unwrap().to_string();
    match admin_client::promote(&s.base, OPERATOR, &id, Some("absent phrase")).await {
        Err(AdminError::Api { status: 422, code, message, .. }) => {
            assert_eq!(code, "bad_pattern");
            assert!(message.contains("member q1"), "{message}");
        }
        other => panic!("expected bad_pattern, got {other:?}"),
    }
    let promoted = value(&admin_client::promote(&s.base, OPERATOR, &id, None).await.unwrap());
    assert_eq!(promoted["name"], json!(format!("local.{id}")));
    let withdrawn = value(&admin_client::withdraw(&s.base, OPERATOR, &id).await.unwrap());
    assert_eq!(withdrawn["cluster_id"], json!(id));
    s.stop().await;
}
