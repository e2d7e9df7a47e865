//! The OpenAPI document and the server agree: route for route, error code for error code.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use vigil_collector::api_measurements::Cursor;
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
    for (method, path) in vigil_collector::routes::table() {
        let (method, path) = (method.to_string(), path.to_string());
        let (served, documented) = (served_params(&method, &path), documented_params(&doc, &method, &path));
        // A query out of its bounds is a 400 before the handler runs: the document must say so.
        let op = &doc["paths"][&path][method.to_lowercase()];
        if served.keys().any(|(at, _)| at == "query") && op["responses"].get("400").is_none() {
            wrong.push(format!("{method} {path}: its query is checked, but no 400 is documented"));
        }
        for key in served.keys().chain(documented.keys()).collect::<BTreeSet<_>>() {
            let (s, d) = (served.get(key), documented.get(key));
            if s != d {
                let show = |p: Option<&(bool, Value)>| {
                    p.map_or("nothing".into(), |(required, schema)| format!("required {required}, schema {schema}"))
                };
                wrong.push(format!(
                    "{method} {path} {} {}:\n  served {}\n  documented {}",
                    key.0,
                    key.1,
                    show(s),
                    show(d)
                ));
            }
        }
    }
    // No stale rows: every route of the parameter table is served.
    let served: BTreeSet<(String, String)> =
        vigil_collector::routes::table().into_iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    for (m, p, _) in params::ROUTES {
        assert!(served.contains(&(m.to_string(), p.to_string())), "params::ROUTES has {m} {p}, which is not served");
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
    // The control is mounted, behind its guard: an unsigned request is refused.
    let (status, body) = s.post("/api/v1/control", "{}".into()).await;
    assert_eq!((status, error_code(&body).as_str()), (401, "unauthorized"));
}

/// A value inside `p`'s bound, at its edge where it has one.
fn inside(p: &params::Param) -> Vec<String> {
    use params::Bound;
    match p.bound {
        Bound::Text { pattern: Some(params::ASN_PATTERN), .. } => {
            vec!["AS64500".into(), "4294967295".into(), "0".into()]
        }
        Bound::Text { pattern: Some(pat), .. } => vec![match pat {
            params::COUNTRY_PATTERN | params::PAGE_COUNTRY_PATTERN => "xa".into(),
            params::TIME_PATTERN => "2026-01-02T03:04:05.5+01:00".into(),
            params::PAGE_TIME_PATTERN => "2026-01-02".into(),
            "^(|[0-9]{1,7})$" => "60".into(),
            params::CURSOR_PATTERN => Cursor { start: "2026-01-02 03:04:05".into(), seq: 7 }.encode(),
            p if p.contains("(AS)?") => "64500.svg".into(),
            p if p.contains("[A-Za-z]{2}") => "XA.svg".into(),
            _ => "x.svg".into(),
        }],
        Bound::Text { min, max, .. } => vec!["a".repeat(max), "a".repeat(min.max(1))],
        Bound::Int { min, max, step, .. } => vec![min.to_string(), (max / step * step).to_string()],
        Bound::OneOf(words) => words.iter().map(|w| w.to_string()).collect(),
    }
}

/// Values outside `p`'s bound.
fn outside(p: &params::Param) -> Vec<String> {
    use params::Bound;
    match p.bound {
        Bound::Text { min, max, pattern } => {
            let mut v = vec!["a".repeat(max + 1)];
            if min > 0 {
                v.push(String::new());
            }
            if pattern.is_some() {
                v.push("!".into());
            }
            if pattern == Some(params::ASN_PATTERN) {
                v.extend(["4294967296".into(), "ASAS1".into(), "-1".into()]);
            }
            v
        }
        Bound::Int { min, max, step, .. } => {
            let mut v = vec![(min - 1).to_string(), (max + 1).to_string(), "1.5".into(), "x".into()];
            if step > 1 {
                v.push((min + 1).to_string());
            }
            v
        }
        Bound::OneOf(_) => vec!["nope".into()],
    }
}

fn url(path: &str, path_value: Option<(&str, &str)>, query: &[(&str, String)]) -> String {
    let mut p = path.to_string();
    if let Some((name, v)) = path_value {
        let v: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
        p = p.replace(&format!("{{{name}}}"), &v);
    }
    let q = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
    if q.is_empty() { p } else { format!("{p}?{q}") }
}

/// The server refuses every value outside a documented bound (400 naming the parameter) and
/// takes the values at its edges, route by route from the parameter table.
#[tokio::test]
async fn the_server_refuses_what_the_document_excludes_and_takes_what_it_allows() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let mut checked = 0;
    for (method, path, ps) in params::ROUTES {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        // The path's own parameters take a value inside, and required ones are given.
        let path_values: Vec<(&str, String)> =
            ps.iter().filter(|p| p.at == params::In::Path).map(|p| (p.name, inside(p).remove(0))).collect();
        let mut base = path.to_string();
        for (name, v) in &path_values {
            base = url(&base, Some((name, v)), &[]);
        }
        let required: Vec<(&str, String)> = ps
            .iter()
            .filter(|p| p.at == params::In::Query && p.required)
            .map(|p| (p.name, inside(p).remove(0)))
            .collect();
        // The control's signature headers are checked by its own tests (tests/api/control.rs).
        for p in ps.iter().filter(|p| p.at != params::In::Header) {
            let with = |v: &str| {
                let mut q: Vec<(&str, String)> = required.iter().filter(|(n, _)| *n != p.name).cloned().collect();
                q.push((p.name, v.to_string()));
                q
            };
            let page = !path.starts_with("/api/");
            for v in inside(p) {
                let target = match p.at {
                    params::In::Query => url(&base, None, &with(&v)),
                    params::In::Path => url(path, Some((p.name, &v)), &required),
                    params::In::Header => unreachable!("headers are filtered out above"),
                };
                let (status, body) = s.request(method.clone(), &target, None, &[]).await;
                assert_ne!(status, 400, "{method} {target}: {} = {v:?} is inside its bound: {body}", p.name);
                checked += 1;
            }
            for v in outside(p) {
                let target = match p.at {
                    params::In::Query => url(&base, None, &with(&v)),
                    params::In::Path => url(path, Some((p.name, &v)), &required),
                    params::In::Header => unreachable!("headers are filtered out above"),
                };
                let (status, body) = s.request(method.clone(), &target, None, &[]).await;
                match p.at {
                    params::In::Query if page => {
                        assert_eq!(status, 400, "{target}: {body}");
                        assert!(body.contains(p.name), "{target}: the page names {}: {body}", p.name);
                    }
                    params::In::Query => {
                        assert_eq!((status, error_code(&body).as_str()), (400, "bad_parameter"), "{method} {target}");
                        assert!(
                            body.contains(&format!("{}: ", p.name)),
                            "{target}: the error names {}: {body}",
                            p.name
                        );
                    }
                    params::In::Path | params::In::Header => {
                        assert!((400..500).contains(&status), "{method} {target}: {status} {body}")
                    }
                }
                checked += 1;
            }
        }
        for p in ps.iter().filter(|p| p.required && p.at == params::In::Query) {
            let (status, body) = s.request(method.clone(), &base, None, &[]).await;
            assert_eq!((status, error_code(&body).as_str()), (400, "bad_parameter"), "{path} without {}", p.name);
        }
    }
    assert!(checked > 300, "{checked} requests");
    s.stop().await;
}
