//! The OpenAPI document and the router agree, route for route.

use std::collections::BTreeSet;

use crate::support::{Server, config, error_code};

fn documented() -> BTreeSet<(String, String)> {
    let doc: serde_json::Value = serde_json::from_str(vigil_collector::api_public::OPENAPI_JSON).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

#[test]
fn every_served_route_is_documented_and_every_documented_route_served() {
    let served: BTreeSet<(String, String)> =
        vigil_collector::routes::table().into_iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(served, documented());
}

#[tokio::test]
async fn every_documented_route_answers_from_its_handler() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    for (method, path) in documented() {
        let path = path.replace("{id}", "x").replace("{key_id}", "x");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let (status, body) = s.request(method.clone(), &path, Some("{}".into()), &[]).await;
        let unrouted = (status == 404 && body.contains("no such route")) || status == 405;
        assert!(!unrouted, "{method} {path} is not served: {status} {body}");
    }
    let (status, body) = s.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(body, vigil_collector::api_public::OPENAPI_JSON);
    // The control is mounted, behind its guard: an unsigned request is refused.
    let (status, body) = s.post("/api/v1/control", "{}".into()).await;
    assert_eq!((status, error_code(&body).as_str()), (401, "unauthorized"));
}
