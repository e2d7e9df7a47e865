//! The OpenAPI document and the server agree: route for route, error code for error code.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use vigil_collector::params;

use vigil_control::ControlError;
use vigil_report::protocol::ApiCode;

use crate::support::{Server, config, error_code};

fn document() -> Value {
    let doc: Value = serde_json::from_str(vigil_collector::api_public::OPENAPI_JSON).unwrap();
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

/// (in, name) → (required, schema without its description), of one operation in the document.
type Params = BTreeMap<(String, String), (bool, Value)>;

fn documented_params(doc: &Value, method: &str, path: &str) -> Params {
    let op = &doc["paths"][path][method.to_lowercase()];
    let mut out = Params::new();
    for p in op["parameters"].as_array().into_iter().flatten() {
        let mut schema = p["schema"].clone();
        if let Some(o) = schema.as_object_mut() {
            o.remove("description");
        }
        let key = (p["in"].as_str().unwrap().to_string(), p["name"].as_str().unwrap().to_string());
        out.insert(key, (p["required"].as_bool().unwrap_or(false), schema));
    }
    out
}

fn served_params(method: &str, path: &str) -> Params {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    params::of(&method, path)
        .iter()
        .map(|p| ((p.at.label().to_string(), p.name.to_string()), (p.required, p.schema())))
        .collect()
}

#[test]
fn every_parameter_is_documented_with_the_bounds_the_server_checks() {
    let doc = document();
    let mut wrong = Vec::new();
    let mut expected = serde_json::Map::new();
    for (method, path) in vigil_collector::routes::table() {
        let (method, path) = (method.to_string(), path.to_string());
        let (served, documented) = (served_params(&method, &path), documented_params(&doc, &method, &path));
        for key in served.keys().chain(documented.keys()).collect::<BTreeSet<_>>() {
            let (s, d) = (served.get(key), documented.get(key));
            if s != d {
                wrong.push(format!("{method} {path} {}={}: served {s:?}, documented {d:?}", key.0, key.1));
            }
        }
        let all: Vec<Value> = served.iter().map(|((at, name), (req, schema))| {
            serde_json::json!({"in": at, "name": name, "required": req, "schema": schema})
        }).collect();
        expected.insert(format!("{method} {path}"), Value::Array(all));
    }
    // No stale rows: every route of the parameter table is served.
    let served: BTreeSet<(String, String)> =
        vigil_collector::routes::table().into_iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    for (m, p, _) in params::ROUTES {
        assert!(served.contains(&(m.to_string(), p.to_string())), "params::ROUTES has {m} {p}, which is not served");
    }
    if !wrong.is_empty() {
        eprintln!("the parameters as served: {}", Value::Object(expected));
    }
    assert!(wrong.is_empty(), "collector/openapi.json and collector/src/params.rs disagree:\n{}", wrong.join("\n"));
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
