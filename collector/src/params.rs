//! The query and path parameters of every route with their bounds: one table the server checks
//! each API request's query against before the handler runs (`check_query`), and a test compares
//! with `collector/openapi.json` (each [`Param::schema`] is the document's schema, exactly).

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::api_blockpages::{
    CLUSTER_ID_PATTERN, DEFAULT_LIMIT as BP_LIMIT, MAX_LIMIT as BP_MAX_LIMIT, MAX_OFFSET as BP_MAX_OFFSET,
};
use crate::api_disclosures::{MAX_ROWS_LIMIT, MAX_ROWS_OFFSET, MAX_TOLERANCE};
use crate::api_events::{DEFAULT_EVENT_LIMIT, MAX_EVENT_LIMIT};
use crate::api_measurements::{EXPORT_LIMIT, LIST_LIMIT};
use crate::disclosures_reconcile::DEFAULT_TOLERANCE;
use crate::error::{ApiCode, HttpError};
use crate::timeline::HOUR;

/// Where a parameter is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    Query,
    Path,
    /// Checked by the route itself (the control's signature headers), not by [`check_query`].
    Header,
}

impl In {
    pub fn label(self) -> &'static str {
        match self {
            In::Query => "query",
            In::Path => "path",
            In::Header => "header",
        }
    }
}

/// What values a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Text of `min..=max` characters matching `pattern` (a regular expression), if any.
    Text { min: usize, max: usize, pattern: Option<&'static str> },
    /// A decimal integer in `min..=max`, a multiple of `step`; `default` when not given.
    Int { min: i64, max: i64, step: i64, default: Option<i64> },
    /// One of these words.
    OneOf(&'static [&'static str]),
}

/// One parameter of one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub at: In,
    pub required: bool,
    pub bound: Bound,
}

impl Param {
    const fn query(name: &'static str, bound: Bound) -> Param {
        Param { name, at: In::Query, required: false, bound }
    }

    const fn path(name: &'static str, bound: Bound) -> Param {
        Param { name, at: In::Path, required: true, bound }
    }

    const fn header(name: &'static str, bound: Bound) -> Param {
        Param { name, at: In::Header, required: false, bound }
    }

    const fn required(self) -> Param {
        Param { required: true, ..self }
    }

    /// The JSON Schema of the parameter, as `collector/openapi.json` must give it.
    pub fn schema(&self) -> Value {
        match self.bound {
            Bound::Text { min, max, pattern } => {
                let mut s = json!({"type": "string"});
                if min > 0 {
                    s["minLength"] = json!(min);
                }
                s["maxLength"] = json!(max);
                if let Some(p) = pattern {
                    s["pattern"] = json!(p);
                }
                s
            }
            Bound::Int { min, max, step, default } => {
                let mut s = json!({"type": "integer", "minimum": min, "maximum": max});
                if step != 1 {
                    s["multipleOf"] = json!(step);
                }
                if let Some(d) = default {
                    s["default"] = json!(d);
                }
                s
            }
            Bound::OneOf(words) => json!({"type": "string", "enum": words}),
        }
    }

    /// Whether `value` is within the bound; else why not (for a message naming the parameter).
    pub fn check(&self, value: &str) -> Result<(), String> {
        match self.bound {
            Bound::Text { min, max, pattern } => {
                let n = value.chars().count();
                let fits = (min..=max).contains(&n);
                match pattern {
                    Some(p) if !fits || !regex(p).is_match(value) => Err(format!("expected {}", words(p))),
                    None if !fits => Err(format!("expected {min} to {max} characters")),
                    _ => Ok(()),
                }
            }
            Bound::Int { min, max, step, .. } => {
                let digits = value.strip_prefix('-').unwrap_or(value);
                let n = (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| value.parse::<i64>().ok())
                    .flatten();
                match n {
                    Some(n) if (min..=max).contains(&n) && n % step == 0 => Ok(()),
                    _ if step == 1 => Err(format!("expected an integer from {min} to {max}")),
                    _ => Err(format!("expected an integer from {min} to {max}, a multiple of {step}")),
                }
            }
            Bound::OneOf(words) if words.contains(&value) => Ok(()),
            Bound::OneOf(words) => Err(format!("expected one of {}", words.join(", "))),
        }
    }
}

/// What a pattern means, for the error message.
fn words(pattern: &str) -> String {
    let known = [
        (COUNTRY_PATTERN, "a two-letter country code (e.g. XA)"),
        (PAGE_COUNTRY_PATTERN, "a two-letter country code (e.g. XA)"),
        (ASN_PATTERN, "an AS number (e.g. 64500 or AS64500)"),
        (TIME_PATTERN, "Unix seconds or RFC 3339"),
        (PAGE_TIME_PATTERN, "a day (2026-12-01), Unix seconds or RFC 3339"),
        (CURSOR_PATTERN, "a cursor from a previous `next`"),
        (CLUSTER_ID_PATTERN, "a cluster id (16 hexadecimal digits)"),
    ];
    known.iter().find(|(p, _)| *p == pattern).map_or_else(|| format!("text matching {pattern}"), |(_, w)| w.to_string())
}

/// The compiled patterns of the table (each compiled once).
fn regex(pattern: &'static str) -> &'static regex_lite::Regex {
    static CACHE: OnceLock<HashMap<&'static str, regex_lite::Regex>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| {
        ROUTES
            .iter()
            .flat_map(|(_, _, params)| params.iter())
            .filter_map(|p| match p.bound {
                Bound::Text { pattern: Some(p), .. } => Some(p),
                _ => None,
            })
            .map(|p| (p, regex_lite::Regex::new(p).expect("a valid pattern in the parameter table")))
            .collect()
    });
    &cache[pattern]
}

/// A two-letter country code (either case).
pub const COUNTRY_PATTERN: &str = "^[A-Za-z]{2}$";
/// The same, or an empty form field.
pub const PAGE_COUNTRY_PATTERN: &str = "^(|[A-Za-z]{2})$";
/// A decimal AS number, 0 to 4294967295, without leading zeros.
macro_rules! asn_number {
    () => {
        "(0|[1-9][0-9]{0,8}|[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}|4294[0-8][0-9]{5}|\
         42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[01][0-9]{2}|42949672[0-8][0-9]|429496729[0-5])"
    };
}
/// An AS number, with or without `AS`.
pub const ASN_PATTERN: &str = concat!("^(AS)?", asn_number!(), "$");
/// An AS number's chart (the handler refuses numbers past 4294967295: an exact pattern here
/// overflows schemathesis' recursion on Python 3.11).
pub const ASN_CHART_PATTERN: &str = "^(AS)?[0-9]{1,10}\\.(svg|png)$";
/// A time: Unix seconds or RFC 3339 (years 1970..9999: the handler says so past them).
pub const TIME_PATTERN: &str =
    "^([0-9]{1,12}|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2}))$";
/// The dashboard's forms: a time, a day (`2026-12-01`), or an empty field.
pub const PAGE_TIME_PATTERN: &str = "^(|[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{1,12}|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2}))$";
/// An opaque cursor (unpadded URL-safe base64) from a previous page's `next`.
pub const CURSOR_PATTERN: &str = "^[A-Za-z0-9_-]+$";
/// A platform id (`vigil_report::limits::platform_id`).
pub const PLATFORM_ID_PATTERN: &str = "^[a-z0-9_.-]{1,32}$";
/// A platform name as the dashboard and the disclosures take it.
pub const MAX_PLATFORM_LEN: usize = 100;
/// A disclosure's source, as a filter.
pub const MAX_SOURCE_LEN: usize = 200;
/// A measurement's `input` (a URL), as a filter.
pub const MAX_INPUT_LEN: usize = 4096;
/// A test name or a probe key id, as a filter.
pub const MAX_NAME_LEN: usize = 128;
/// A timeline bucket: whole hours, at most about 100 years.
pub const MAX_BUCKET: i64 = 876_600 * HOUR;

const fn text(max: usize) -> Bound {
    Bound::Text { min: 1, max, pattern: None }
}

const fn pattern(max: usize, p: &'static str) -> Bound {
    Bound::Text { min: 1, max, pattern: Some(p) }
}

const COUNTRY: Param = Param::query("country", pattern(2, COUNTRY_PATTERN));
const ASN: Param = Param::query("asn", pattern(12, ASN_PATTERN));
const fn time(name: &'static str) -> Param {
    Param::query(name, pattern(40, TIME_PATTERN))
}
const PLATFORM: Param = Param::query("platform", text(MAX_PLATFORM_LEN));
/// A platform id as probes report it (`vigil_report::limits::platform_id`).
const PLATFORM_ID: Param = Param::query("platform", pattern(32, PLATFORM_ID_PATTERN));
const BUCKET: Param = Param::query("bucket", Bound::Int { min: HOUR, max: MAX_BUCKET, step: HOUR, default: None });

const fn measurement_filters(limit: (usize, usize)) -> [Param; 9] {
    [
        COUNTRY,
        ASN,
        Param::query("test_name", text(MAX_NAME_LEN)),
        Param::query("input", text(MAX_INPUT_LEN)),
        Param::query("probe", text(MAX_NAME_LEN)),
        time("since"),
        time("until"),
        Param::query("limit", Bound::Int { min: 1, max: limit.1 as i64, step: 1, default: Some(limit.0 as i64) }),
        Param::query("cursor", pattern(200, CURSOR_PATTERN)),
    ]
}

const EVENT_FILTERS: [Param; 8] = [
    COUNTRY,
    ASN,
    PLATFORM,
    Param::query("type", Bound::OneOf(&["blocking", "shutdown", "throttling"])),
    Param::query("status", Bound::OneOf(&["provisional", "confirmed", "retracted", "unknown"])),
    time("from"),
    time("to"),
    Param::query(
        "limit",
        Bound::Int { min: 1, max: MAX_EVENT_LIMIT as i64, step: 1, default: Some(DEFAULT_EVENT_LIMIT as i64) },
    ),
];

const SOURCE: Param = Param::query("source", text(MAX_SOURCE_LEN));
const TOLERANCE: Param =
    Param::query("tolerance", Bound::Int { min: 0, max: MAX_TOLERANCE, step: 1, default: Some(DEFAULT_TOLERANCE) });
const OUTCOME: Param = Param::query(
    "outcome",
    Bound::OneOf(&["matched", "undisclosed", "unconfirmed_no_coverage", "unconfirmed_no_event"]),
);
const DISCLOSURE_FILTERS: [Param; 5] = [SOURCE, PLATFORM, COUNTRY, time("from"), time("to")];
const RECONCILIATION: [Param; 9] = [
    SOURCE,
    PLATFORM,
    COUNTRY,
    time("from"),
    time("to"),
    TOLERANCE,
    OUTCOME,
    Param::query("offset", Bound::Int { min: 0, max: MAX_ROWS_OFFSET as i64, step: 1, default: Some(0) }),
    Param::query("limit", Bound::Int { min: 1, max: MAX_ROWS_LIMIT as i64, step: 1, default: None }),
];
const SCORECARD: [Param; 6] = [SOURCE, PLATFORM, COUNTRY, time("from"), time("to"), TOLERANCE];
const CHART_PERIOD: [Param; 3] = [time("from"), time("to"), BUCKET];
const fn chart(file: &'static str) -> [Param; 4] {
    [Param::path("file", pattern(140, file)), CHART_PERIOD[0], CHART_PERIOD[1], CHART_PERIOD[2]]
}

/// The dashboard's pages (their errors are HTML pages: the pages check these themselves).
const LANG: Param = Param::query("lang", Bound::Text { min: 0, max: 35, pattern: None });
const PAGE_FILTERS: [Param; 5] = [
    Param::query("days", Bound::OneOf(&["", "1", "2", "7", "14", "30"])),
    Param::query("end", Bound::Text { min: 0, max: 40, pattern: Some(PAGE_TIME_PATTERN) }),
    Param::query("platform", Bound::Text { min: 0, max: MAX_PLATFORM_LEN, pattern: None }),
    Param::query("type", Bound::OneOf(&["", "blocking", "shutdown", "throttling"])),
    LANG,
];

/// Every route's parameters (routes without parameters are left out).
pub const ROUTES: &[(&str, &str, &[Param])] = &[
    ("GET", "/api/v1/measurements", &measurement_filters(LIST_LIMIT)),
    ("GET", "/api/v1/measurements.jsonl", &measurement_filters(EXPORT_LIMIT)),
    ("GET", "/api/v1/measurements/{id}", &[Param::path("id", text(128))]),
    ("POST", "/api/v1/admin/probes/{key_id}/revoke", &[Param::path("key_id", text(128))]),
    (
        "GET",
        "/api/v1/blockpage-candidates",
        &[
            Param::query(
                "limit",
                Bound::Int { min: 1, max: BP_MAX_LIMIT as i64, step: 1, default: Some(BP_LIMIT as i64) },
            ),
            Param::query("offset", Bound::Int { min: 0, max: BP_MAX_OFFSET as i64, step: 1, default: Some(0) }),
        ],
    ),
    ("POST", "/api/v1/admin/blockpage-candidates/{id}/promote", &[Param::path("id", pattern(16, CLUSTER_ID_PATTERN))]),
    ("POST", "/api/v1/admin/blockpage-candidates/{id}/withdraw", &[Param::path("id", pattern(16, CLUSTER_ID_PATTERN))]),
    (
        "GET",
        "/operator/blockpages",
        &[Param::query("offset", Bound::Int { min: 0, max: BP_MAX_OFFSET as i64, step: 1, default: Some(0) })],
    ),
    ("POST", "/operator/blockpages/{id}/promote", &[Param::path("id", pattern(16, CLUSTER_ID_PATTERN))]),
    ("GET", "/api/v1/events", &EVENT_FILTERS),
    ("GET", "/api/v1/events.csv", &EVENT_FILTERS),
    ("GET", "/api/v1/events/{id}", &[Param::path("id", text(128))]),
    ("GET", "/api/v1/events/{id}/evidence", &[Param::path("id", text(128))]),
    ("GET", "/api/v1/charts/country/{file}", &chart("^[A-Za-z]{2}\\.(svg|png)$")),
    ("GET", "/api/v1/charts/asn/{file}", &chart(ASN_CHART_PATTERN)),
    ("GET", "/api/v1/charts/event/{file}", &chart("^.+\\.(svg|png)$")),
    ("GET", "/api/v1/timeline", &[COUNTRY.required(), ASN, PLATFORM_ID, time("from"), time("to"), BUCKET]),
    ("GET", "/api/v1/disclosures", &DISCLOSURE_FILTERS),
    ("GET", "/api/v1/reconciliation", &RECONCILIATION),
    ("GET", "/api/v1/reconciliation.csv", &RECONCILIATION),
    ("GET", "/api/v1/scorecard", &SCORECARD),
    ("GET", "/api/v1/scorecard.csv", &SCORECARD),
    ("POST", "/api/v1/admin/disclosures", &[Param::query("format", Bound::OneOf(&["csv", "json", "stop"]))]),
    ("GET", "/", &[LANG]),
    ("GET", "/country/{cc}", &{
        let mut p = [Param::path("cc", pattern(2, COUNTRY_PATTERN)); 6];
        let mut i = 0;
        while i < 5 {
            p[i + 1] = PAGE_FILTERS[i];
            i += 1;
        }
        p
    }),
    ("GET", "/asn/{asn}", &{
        let mut p = [Param::path("asn", pattern(12, ASN_PATTERN)); 6];
        let mut i = 0;
        while i < 5 {
            p[i + 1] = PAGE_FILTERS[i];
            i += 1;
        }
        p
    }),
    ("GET", "/event/{id}", &[Param::path("id", text(128)), LANG]),
    // `v`: the pages' cache-busting version of the asset (any value serves the current one).
    (
        "GET",
        "/static/{file}",
        &[Param::path("file", text(100)), Param::query("v", Bound::Text { min: 0, max: 64, pattern: None })],
    ),
    (
        "GET",
        "/disclosures",
        &[
            LANG,
            Param::query("source", Bound::Text { min: 0, max: MAX_SOURCE_LEN, pattern: None }),
            Param::query("platform", Bound::Text { min: 0, max: MAX_PLATFORM_LEN, pattern: None }),
            Param::query("country", Bound::Text { min: 0, max: 2, pattern: Some(PAGE_COUNTRY_PATTERN) }),
            Param::query("from", Bound::Text { min: 0, max: 40, pattern: Some(PAGE_TIME_PATTERN) }),
            Param::query("to", Bound::Text { min: 0, max: 40, pattern: Some(PAGE_TIME_PATTERN) }),
            Param::query("tolerance", Bound::Text { min: 0, max: 7, pattern: Some("^(|[0-9]{1,7})$") }),
            Param::query(
                "outcome",
                Bound::OneOf(&["", "matched", "undisclosed", "unconfirmed_no_coverage", "unconfirmed_no_event"]),
            ),
            Param::query("page", Bound::Int { min: 1, max: u32::MAX as i64, step: 1, default: Some(1) }),
        ],
    ),
    (
        "POST",
        "/api/v1/control",
        &[
            Param::header("X-Vigil-Key-Id", Bound::Text { min: 0, max: 128, pattern: None }),
            Param::header("X-Vigil-Time", Bound::Text { min: 0, max: 128, pattern: Some("^-?[0-9]+$") }),
            Param::header("X-Vigil-Signature", Bound::Text { min: 0, max: 128, pattern: None }),
        ],
    ),
];

/// The parameters of `method path` (`path` in the route table's syntax).
pub fn of(method: &Method, path: &str) -> &'static [Param] {
    ROUTES.iter().find(|(m, p, _)| *m == method.as_str() && *p == path).map_or(&[], |(_, _, params)| params)
}

/// Check a query against `params`: unknown, missing or out-of-bound parameters are a 400
/// `bad_parameter` naming the parameter.
pub fn check_query(params: &[Param], query: &str) -> Result<(), HttpError> {
    let bad = |name: &str, why: &str| HttpError::bad_request(ApiCode::BadParameter, format!("{name}: {why}"));
    let mut given: Vec<String> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let Some(p) = params.iter().find(|p| p.at == In::Query && p.name == name) else {
            return Err(bad(&name, "unknown parameter"));
        };
        p.check(&value).map_err(|why| bad(&name, &why))?;
        given.push(name.into_owned());
    }
    if let Some(p) = params.iter().find(|p| p.at == In::Query && p.required && !given.iter().any(|g| g == p.name)) {
        return Err(bad(p.name, "required"));
    }
    Ok(())
}

/// Middleware on every route: the query is checked against the route's parameters before its
/// handler runs; the API answers the JSON error, the dashboard's pages an HTML page saying it.
pub async fn check(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    if let Some(path) = matched.as_ref().map(MatchedPath::as_str) {
        let params = of(request.method(), path);
        let query = request.uri().query().unwrap_or("");
        if !params.is_empty()
            && let Err(e) = check_query(params, query)
        {
            if path.starts_with("/api/") {
                return e.into_response();
            }
            return crate::web::bad_request(request.headers(), query, request.uri().path(), &e.message);
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_outside_its_bound_is_refused_in_words_naming_the_parameter() {
        let events = of(&Method::GET, "/api/v1/events");
        assert!(check_query(events, "country=xa&asn=AS4294967295&limit=10000&from=2026-01-02T03:04:05Z").is_ok());
        let refused = |q: &str| check_query(events, q).unwrap_err();
        assert_eq!(refused("country=XAA").message, "country: expected a two-letter country code (e.g. XA)");
        assert_eq!(refused("asn=4294967296").message, "asn: expected an AS number (e.g. 64500 or AS64500)");
        assert_eq!(refused("limit=0").message, "limit: expected an integer from 1 to 10000");
        assert_eq!(refused("limit=+5").message, "limit: expected an integer from 1 to 10000");
        assert_eq!(refused("type=nope").message, "type: expected one of blocking, shutdown, throttling");
        assert_eq!(refused("platform=").message, "platform: expected 1 to 100 characters");
        assert_eq!(refused("colour=red").message, "colour: unknown parameter");
        assert_eq!(refused("country=XA&country=!").code, ApiCode::BadParameter);
        let timeline = of(&Method::GET, "/api/v1/timeline");
        assert_eq!(check_query(timeline, "").unwrap_err().message, "country: required");
        assert_eq!(
            check_query(timeline, "country=XA&bucket=5400").unwrap_err().message,
            "bucket: expected an integer from 3600 to 3155760000, a multiple of 3600"
        );
        // Routes without parameters are not in the table.
        assert!(of(&Method::GET, "/api/v1/health").is_empty());
    }
}
