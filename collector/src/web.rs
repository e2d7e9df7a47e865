//! The dashboard's routes: `/` (overview), `/country/{cc}`, `/asn/{asn}`, `/event/{id}`,
//! `/disclosures` and `/static/{file}`. Pages are rendered by `vigil_dashboard` from `web_data`, in the language
//! of `?lang=` or `Accept-Language`; bad parameters get an HTML error page naming them.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use vigil_dashboard::model::{DisclosureFilters, Filters};
use vigil_dashboard::{Ctx, place::KINDS, place::PERIODS};

use crate::server::AppState;
use crate::web_data;

/// The disclosures page's parameters (the reconciliation API's, and `lang`).
const DISCLOSURE_KEYS: &[&str] = &["source", "platform", "country", "from", "to", "tolerance", "outcome"];

/// No external resources, no inline script: what the pages need and nothing else.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                   form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The reader's language and the page's other parameters (for the language switcher).
fn ctx(headers: &HeaderMap, q: &HashMap<String, String>, path: &str) -> Ctx {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let mut keys: Vec<&String> = q.keys().filter(|k| *k != "lang").collect();
    keys.sort();
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for k in keys {
        s.append_pair(k, &q[k]);
    }
    Ctx::new(q.get("lang").map(String::as_str), accept, path, &s.finish())
}

fn html(status: StatusCode, ctx: &Ctx, body: String) -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_LANGUAGE, ctx.lang.code),
        (header::VARY, "Accept-Language"),
        (header::CACHE_CONTROL, "public, max-age=60"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    (status, headers, body).into_response()
}

fn error(ctx: &Ctx, status: StatusCode, detail: &str) -> Response {
    let key = if status == StatusCode::NOT_FOUND { "error_not_found" } else { "error_bad_request" };
    html(status, ctx, vigil_dashboard::event::error(ctx, key, detail))
}

fn storage(ctx: &Ctx, e: impl std::fmt::Display) -> Response {
    error(ctx, StatusCode::SERVICE_UNAVAILABLE, &format!("storage failed: {e}"))
}

/// The page for a request whose parameters are out of their bounds (`params::check`).
pub fn bad_request(headers: &HeaderMap, query: &str, path: &str, detail: &str) -> Response {
    let q: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let mut q = q;
    // The language switcher must not repeat a bad `lang`.
    if q.get("lang").is_some_and(|l| l.len() > 35) {
        q.remove("lang");
    }
    error(&ctx(headers, &q, path), StatusCode::BAD_REQUEST, detail)
}

/// Unknown parameters, named.
fn unknown(q: &HashMap<String, String>, allowed: &[&str]) -> Option<String> {
    let mut bad: Vec<&str> = q.keys().map(String::as_str).filter(|k| !allowed.contains(k)).collect();
    bad.sort_unstable();
    (!bad.is_empty()).then(|| format!("{}: unknown parameter (expected {})", bad.join(", "), allowed.join(", ")))
}

/// `GET /`.
pub async fn overview(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ctx = ctx(&headers, &q, "/");
    if let Some(why) = unknown(&q, &["lang"]) {
        return error(&ctx, StatusCode::BAD_REQUEST, &why);
    }
    let now = state.config.read_now();
    let params = state.config.detection.clone();
    match state.read(move |c| web_data::overview(c, now, &params)).await {
        Ok(o) => html(StatusCode::OK, &ctx, vigil_dashboard::overview::render(&ctx, &o)),
        Err(e) => storage(&ctx, e.message),
    }
}

/// The filters of a country or network page, checked.
fn filters(q: &HashMap<String, String>) -> Result<Filters, String> {
    if let Some(why) = unknown(q, &["lang", "days", "end", "platform", "type"]) {
        return Err(why);
    }
    let days = match q.get("days").filter(|d| !d.is_empty()) {
        Some(d) => match d.parse::<i64>() {
            Ok(n) if PERIODS.contains(&n) => n,
            _ => return Err(format!("days: expected one of {PERIODS:?}")),
        },
        None => 7,
    };
    let platform = q.get("platform").filter(|p| !p.is_empty()).cloned();
    if platform.as_ref().is_some_and(|p| p.len() > 100) {
        return Err("platform: expected a platform name (e.g. telegram)".into());
    }
    let kind = q.get("type").filter(|k| !k.is_empty()).cloned();
    if kind.as_deref().is_some_and(|k| !KINDS.contains(&k)) {
        return Err(format!("type: expected one of {}", KINDS.join(", ")));
    }
    let end = match q.get("end").filter(|e| !e.is_empty()) {
        // A day (2026-12-01) means its midnight, UTC.
        Some(e) if e.len() == 10 => Some(crate::api_events::parse_time("end", &format!("{e}T00:00:00Z"))),
        Some(e) => Some(crate::api_events::parse_time("end", e)),
        None => None,
    };
    let end = end.transpose().map_err(|e| e.message)?;
    Ok(Filters { days, end, platform, kind })
}

async fn place_page(state: AppState, ctx: Ctx, q: HashMap<String, String>, cc: String, asn: Option<u32>) -> Response {
    let f = match filters(&q) {
        Ok(f) => f,
        Err(why) => return error(&ctx, StatusCode::BAD_REQUEST, &why),
    };
    let now = state.config.read_now();
    let params = state.config.detection.clone();
    match state.read(move |c| web_data::place(c, now, &cc, asn, f, &params)).await {
        Ok(p) => html(StatusCode::OK, &ctx, vigil_dashboard::place::render(&ctx, &p)),
        Err(e) => storage(&ctx, e.message),
    }
}

/// `GET /country/{cc}`.
pub async fn country(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(cc): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ctx = ctx(&headers, &q, &format!("/country/{cc}"));
    if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_alphabetic()) {
        return error(&ctx, StatusCode::BAD_REQUEST, "country: expected a two-letter country code (e.g. /country/XA)");
    }
    let cc = cc.to_ascii_uppercase();
    place_page(state, ctx, q, cc, None).await
}

/// `GET /asn/{asn}`.
pub async fn asn(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(asn): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ctx = ctx(&headers, &q, &format!("/asn/{asn}"));
    let Ok(number) = asn.trim_start_matches("AS").parse::<u32>() else {
        return error(&ctx, StatusCode::BAD_REQUEST, "asn: expected an AS number (e.g. /asn/64500)");
    };
    let cc = match state.read(move |c| crate::api_charts::asn_country(c, number)).await {
        Ok(Some(cc)) => cc,
        Ok(None) => return error(&ctx, StatusCode::NOT_FOUND, &format!("no measurements from AS{number}")),
        Err(e) => return storage(&ctx, e.message),
    };
    place_page(state, ctx, q, cc, Some(number)).await
}

/// `GET /event/{id}`.
pub async fn event(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ctx = ctx(&headers, &q, &format!("/event/{id}"));
    if let Some(why) = unknown(&q, &["lang"]) {
        return error(&ctx, StatusCode::BAD_REQUEST, &why);
    }
    let base = match &state.config.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1:8080");
            format!("http://{host}")
        }
    };
    let wanted = id.clone();
    let now = state.config.read_now();
    let params = state.config.detection.clone();
    match state.read(move |c| web_data::event_page(c, now, &wanted, base, &params)).await {
        Ok(Some(p)) => html(StatusCode::OK, &ctx, vigil_dashboard::event::render(&ctx, &p)),
        Ok(None) => error(&ctx, StatusCode::NOT_FOUND, &format!("no event with id {id:?}")),
        Err(e) => storage(&ctx, e.message),
    }
}

/// The disclosures page's parameters: the API's (empty form fields left out, a date `from`
/// meaning its 00:00 UTC and a date `to` its end), the form's values as given, and the page's
/// own query without `page` (for its page links).
fn disclosure_query(q: &HashMap<String, String>) -> (HashMap<String, String>, DisclosureFilters, String, String) {
    let mut given: HashMap<String, String> = q
        .iter()
        .filter(|(k, v)| !v.is_empty() && *k != "lang" && *k != "page")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let filters = DisclosureFilters {
        platform: given.get("platform").cloned(),
        country: given.get("country").map(|c| c.to_ascii_uppercase()),
        from: given.get("from").cloned(),
        to: given.get("to").cloned(),
    };
    let page_query = encode(&given);
    for (k, time) in [("from", "T00:00:00Z"), ("to", "T23:59:59Z")] {
        if let Some(v) = given.get_mut(k)
            && v.len() == 10
            && v.as_bytes()[4] == b'-'
        {
            v.push_str(time);
        }
    }
    let api_query = encode(&given);
    (given, filters, api_query, page_query)
}

/// `k=v&...`, sorted by key.
fn encode(q: &HashMap<String, String>) -> String {
    let mut keys: Vec<&String> = q.keys().collect();
    keys.sort();
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for k in keys {
        s.append_pair(k, &q[k]);
    }
    s.finish()
}

/// `page`: a whole number from 1 (its upper bound, the number of pages, is checked with the rows).
fn page_number(q: &HashMap<String, String>) -> Result<usize, String> {
    match q.get("page").map(String::as_str) {
        None | Some("") => Ok(1),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n as usize),
            _ => Err("page: expected a whole number from 1".to_string()),
        },
    }
}

/// `GET /disclosures`: the disclosure cross-check (scorecard and reconciliation rows, in pages).
pub async fn disclosures(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ctx = ctx(&headers, &q, "/disclosures");
    let (given, filters, api_query, page_query) = disclosure_query(&q);
    let page = match page_number(&q) {
        Ok(p) => p,
        Err(why) => return error(&ctx, StatusCode::BAD_REQUEST, &why),
    };
    let r = match crate::api_disclosures::reconciled(&state, &given, DISCLOSURE_KEYS).await {
        Ok(r) => r,
        Err(e) => {
            return error(&ctx, StatusCode::from_u16(e.status.as_u16()).unwrap_or(StatusCode::BAD_REQUEST), &e.message);
        }
    };
    match state.read(crate::web_disclosures::choices).await {
        Ok(choices) => match crate::web_disclosures::page(&r, filters, api_query, choices, (page, page_query)) {
            Ok(page) => html(StatusCode::OK, &ctx, vigil_dashboard::disclosures::render(&ctx, &page)),
            // A page number within its documented bound that this query's rows do not reach.
            Err(why) => error(&ctx, StatusCode::NOT_FOUND, &why),
        },
        Err(e) => storage(&ctx, e.message),
    }
}

/// `GET /static/{file}`: the embedded stylesheet and script.
pub async fn asset(Path(file): Path<String>) -> Response {
    match vigil_dashboard::assets::get(&file) {
        Some((content_type, body)) => {
            ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=86400")], body)
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "no such file\n")
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn filters_are_checked_and_empty_choices_mean_all() {
        let f = filters(&q(&[("days", "14"), ("platform", ""), ("type", "shutdown"), ("lang", "ar")])).unwrap();
        assert_eq!(f, Filters { days: 14, end: None, platform: None, kind: Some("shutdown".into()) });
        assert_eq!(filters(&q(&[("end", "2025-03-03")])).unwrap().end, Some(1_740_960_000));
        assert_eq!(filters(&q(&[("end", "2025-03-03T01:00:00Z")])).unwrap().end, Some(1_740_963_600));
        assert_eq!(filters(&q(&[])).unwrap().days, 7);
        for (pairs, name) in [
            (&[("days", "3")][..], "days"),
            (&[("days", "x")][..], "days"),
            (&[("type", "outage")][..], "type"),
            (&[("end", "yesterday")][..], "end"),
            (&[("colour", "red")][..], "colour"),
        ] {
            let e = filters(&q(pairs)).unwrap_err();
            assert!(e.starts_with(name), "{pairs:?}: {e}");
        }
    }

    #[test]
    fn the_language_switcher_keeps_the_other_parameters() {
        let headers = HeaderMap::new();
        let c = ctx(&headers, &q(&[("type", "blocking"), ("lang", "ar"), ("days", "2")]), "/country/XA");
        assert_eq!((c.lang.code, c.explicit, c.query.as_str()), ("ar", true, "days=2&type=blocking"));
        assert_eq!(c.href("/event/x"), "/event/x?lang=ar");
    }
}
