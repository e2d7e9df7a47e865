//! The OpenAPI document and the server agree: route for route, error code for error code.

use std::collections::BTreeSet;

use vigil_control::ControlError;
use vigil_report::protocol::ApiCode;

use crate::support::{Server, config, error_code};

fn document() -> serde_json::Value {
    let doc: serde_json::Value = serde_json::from_str(vigil_collector::api_public::OPENAPI_JSON).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    doc
}

fn documented() -> BTreeSet<(String, String)> {
    let doc = document();
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

#[test]
fn the_documented_error_codes_are_exactly_the_codes_the_server_answers() {
    let doc = document();
    let code = &doc["components"]["schemas"]["ApiError"]["properties"]["code"];
    let documented: BTreeSet<&str> = code["enum"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let known: BTreeSet<&str> = ApiCode::ALL.iter().map(|c| c.label()).collect();
    let undocumented: Vec<_> = known.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&known).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "collector/openapi.json's ApiError.code enum and vigil_report::protocol::ApiCode disagree:\n  \
         answered but not documented: {undocumented:?}\n  documented but never answered: {unknown:?}"
    );
    // Every error in the document is that one schema: a batch item's error too.
    assert_eq!(
        doc["components"]["schemas"]["ErrorBody"]["properties"]["error"]["$ref"],
        "#/components/schemas/ApiError"
    );
    assert_eq!(
        doc["components"]["schemas"]["ItemResult"]["properties"]["error"]["$ref"],
        "#/components/schemas/ApiError"
    );
    // The control answers from its own crate: its codes are in the list too.
    for e in [
        ControlError::BadRequest("x".into()),
        ControlError::BodyTooLarge(1),
        ControlError::TargetNotPublic { host: "x".into() },
    ] {
        assert!(ApiCode::from_label(e.code()).is_some(), "the control's {} is not an ApiCode", e.code());
    }
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
    // The control is mounted: it answers its own error for an empty request.
    let (status, body) = s.post("/api/v1/control", "{}".into()).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "bad_request"));
}
