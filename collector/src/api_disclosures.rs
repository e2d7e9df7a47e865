//! The disclosure cross-check over HTTP: the imported disclosures, the reconciliation with the
//! published events and the scorecard (JSON and CSV, each row linking to the event's signed
//! evidence), and the operator's import (`POST /api/v1/admin/disclosures`).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use crate::api_events::parse_time_from;
use crate::disclosures::{self, InputFormat};
use crate::disclosures_reconcile::{
    DEFAULT_TOLERANCE, Filter, Options, Outcome, ReconRow, Reconciliation, ScoreRow, StoredDisclosure,
};
use crate::disclosures_store::{self, ImportReport};
use crate::error::{ApiCode, HttpError};
use crate::server::AppState;

const KEYS: &[&str] = &["source", "platform", "country", "from", "to", "tolerance", "outcome", "offset", "limit"];
/// The largest `limit` of the reconciliation's rows (without one: every row).
pub const MAX_ROWS_LIMIT: usize = 10_000;
/// The largest `offset` into the reconciliation's rows.
pub const MAX_ROWS_OFFSET: usize = 10_000_000;
/// The largest disclosure file `POST /api/v1/admin/disclosures` takes (64 MiB).
pub const MAX_IMPORT_BYTES: usize = 64 << 20;
/// The largest tolerance accepted (30 days).
pub const MAX_TOLERANCE: i64 = 30 * 86_400;

fn bad(name: &str, why: &str) -> HttpError {
    HttpError::bad_request(ApiCode::BadParameter, format!("{name}: {why}"))
}

/// The query of the reconciliation and scorecard routes, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossCheckQuery {
    pub options: Options,
    pub outcome: Option<Outcome>,
    /// The rows wanted: skip `offset`, then at most `limit` (None: the rest).
    pub offset: usize,
    pub limit: Option<usize>,
}

/// A whole number within `range`, or a 400 naming the parameter and the bounds.
fn bounded(
    q: &HashMap<String, String>,
    name: &str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<Option<usize>, HttpError> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(bad(name, &format!("expected an integer from {} to {}", range.start(), range.end()))),
        },
    }
}

/// Parse the filters (unknown or malformed parameters are a 400 naming the parameter).
pub fn parse_query(q: &HashMap<String, String>, allowed: &[&str], now: i64) -> Result<CrossCheckQuery, HttpError> {
    if let Some(k) = q.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad(k, "unknown parameter"));
    }
    let country = q.get("country").map(|c| c.to_ascii_uppercase());
    if country.as_ref().is_some_and(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic())) {
        return Err(bad("country", "expected a two-letter country code"));
    }
    let tolerance = match q.get("tolerance") {
        None => DEFAULT_TOLERANCE,
        Some(v) => match v.parse::<i64>() {
            Ok(t) if (0..=MAX_TOLERANCE).contains(&t) => t,
            _ => return Err(bad("tolerance", &format!("expected seconds, 0..={MAX_TOLERANCE}"))),
        },
    };
    let outcome = match q.get("outcome").map(String::as_str) {
        None => None,
        Some("matched") => Some(Outcome::Matched),
        Some("undisclosed") => Some(Outcome::Undisclosed),
        Some("unconfirmed_no_coverage") => Some(Outcome::UnconfirmedNoCoverage),
        Some("unconfirmed_no_event") => Some(Outcome::UnconfirmedNoEvent),
        Some(_) => {
            return Err(bad(
                "outcome",
                "expected matched, undisclosed, unconfirmed_no_coverage or unconfirmed_no_event",
            ));
        }
    };
    let filter = Filter {
        source: q.get("source").cloned(),
        platform: q.get("platform").map(|p| disclosures::canonical_platform(p)),
        country,
        // Disclosures may describe shutdowns older than any probe data: from 1970 on.
        from: q.get("from").map(|v| parse_time_from("from", v, 0)).transpose()?,
        to: q.get("to").map(|v| parse_time_from("to", v, 0)).transpose()?,
    };
    let offset = bounded(q, "offset", 0..=MAX_ROWS_OFFSET)?.unwrap_or(0);
    let limit = bounded(q, "limit", 1..=MAX_ROWS_LIMIT)?;
    Ok(CrossCheckQuery { options: Options { filter, tolerance, now }, outcome, offset, limit })
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn base(state: &AppState) -> String {
    state.config.public_url.as_deref().unwrap_or("").trim_end_matches('/').to_string()
}

/// The reconciliation for a query (parameters in `allowed`), evidence links absolute with `--public-url`.
pub async fn reconciled(
    state: &AppState,
    q: &HashMap<String, String>,
    allowed: &[&str],
) -> Result<Reconciliation, HttpError> {
    let CrossCheckQuery { options, outcome, offset, limit } = parse_query(q, allowed, state.config.read_now())?;
    let mut r = state.read(move |c| disclosures_store::reconciliation(c, &options)).await?;
    if let Some(o) = outcome {
        r.rows.retain(|row| row.outcome == o);
    }
    r.total_rows = r.rows.len();
    if offset > 0 || limit.is_some() {
        r.rows = r.rows.into_iter().skip(offset).take(limit.unwrap_or(usize::MAX)).collect();
    }
    let base = base(state);
    for row in &mut r.rows {
        if let Some(e) = &mut row.evidence {
            *e = format!("{base}{e}");
        }
    }
    Ok(r)
}

/// `GET /api/v1/disclosures`: the imported disclosures, by start.
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<StoredDisclosure>>, HttpError> {
    let f = parse_query(&q, &KEYS[..5], state.config.read_now())?.options.filter;
    let all = state.read(move |c| disclosures_store::load(c, f.country.as_deref()).map(|v| (v, f))).await?;
    let (all, f) = all;
    let keep = |d: &StoredDisclosure| {
        let d = &d.disclosure;
        f.source.as_ref().is_none_or(|s| &d.source == s)
            && f.platform.as_ref().is_none_or(|p| &d.platform == p)
            && f.to.is_none_or(|t| d.start.at <= t)
            && f.from.is_none_or(|t| d.end.is_none_or(|e| e.granule().1 >= t))
    };
    Ok(Json(all.into_iter().filter(keep).collect()))
}

/// `GET /api/v1/reconciliation`: rows and scorecard.
pub async fn reconciliation(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Reconciliation>, HttpError> {
    Ok(Json(reconciled(&state, &q, KEYS).await?))
}

/// `GET /api/v1/reconciliation.csv`.
pub async fn reconciliation_csv(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, HttpError> {
    let r = reconciled(&state, &q, KEYS).await?;
    Ok(csv_response(rows_csv(&r.rows)))
}

/// `GET /api/v1/scorecard`.
pub async fn scorecard(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<ScoreRow>>, HttpError> {
    Ok(Json(reconciled(&state, &q, &KEYS[..6]).await?.scorecard))
}

/// `GET /api/v1/scorecard.csv`.
pub async fn scorecard_csv(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, HttpError> {
    let r = reconciled(&state, &q, &KEYS[..6]).await?;
    Ok(csv_response(scorecard_csv_text(&r.scorecard)))
}

fn csv_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

pub const ROWS_CSV_HEADER: &[&str] = &[
    "outcome",
    "source",
    "platform",
    "country",
    "asn",
    "disclosure",
    "disclosure_type",
    "disclosure_start",
    "disclosure_end",
    "granularity",
    "published_at",
    "source_url",
    "event",
    "event_type",
    "event_start",
    "event_end",
    "evidence",
    "start_difference",
    "end_difference",
    "disclosure_delay",
    "probes",
];

fn label<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

/// Reconciliation rows as CSV (RFC 4180, CRLF).
pub fn rows_csv(rows: &[ReconRow]) -> String {
    crate::escape::csv(
        ROWS_CSV_HEADER,
        rows.iter().map(|r| {
            vec![
                r.outcome.label().to_string(),
                r.source.clone(),
                r.platform.clone(),
                r.country.clone(),
                opt(&r.asn),
                opt(&r.disclosure),
                r.disclosure_type.map(|t| t.label().to_string()).unwrap_or_default(),
                opt(&r.disclosure_start),
                opt(&r.disclosure_end),
                r.granularity.as_ref().map(label).unwrap_or_default(),
                opt(&r.published_at),
                opt(&r.source_url),
                opt(&r.event),
                opt(&r.event_type),
                opt(&r.event_start),
                opt(&r.event_end),
                opt(&r.evidence),
                opt(&r.start_difference),
                opt(&r.end_difference),
                opt(&r.disclosure_delay),
                opt(&r.probes),
            ]
        }),
    )
}

pub const SCORECARD_CSV_HEADER: &[&str] = &[
    "source",
    "platform",
    "country",
    "measured_events",
    "disclosed_events",
    "undisclosed_events",
    "share_disclosed",
    "median_disclosure_delay",
    "disclosures",
    "matched_disclosures",
    "unconfirmed_no_coverage",
    "unconfirmed_no_event",
];

/// The scorecard as CSV; the all-countries row has country `*`.
pub fn scorecard_csv_text(rows: &[ScoreRow]) -> String {
    crate::escape::csv(
        SCORECARD_CSV_HEADER,
        rows.iter().map(|s| {
            vec![
                s.source.clone(),
                s.platform.clone(),
                s.country.clone().unwrap_or_else(|| "*".into()),
                s.measured_events.to_string(),
                s.disclosed_events.to_string(),
                s.undisclosed_events.to_string(),
                s.share_disclosed.map(|x| format!("{x:.3}")).unwrap_or_default(),
                opt(&s.median_disclosure_delay),
                s.disclosures.to_string(),
                s.matched_disclosures.to_string(),
                s.unconfirmed_no_coverage.to_string(),
                s.unconfirmed_no_event.to_string(),
            ]
        }),
    )
}

/// `POST /api/v1/admin/disclosures?format=csv|json|stop`: import the body (operator token).
/// Bad rows are reported by line and field; the good ones are stored, once.
pub async fn import(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Body,
) -> Result<Json<ImportReport>, HttpError> {
    // The token first: nobody else makes the collector read (and hold) a large body.
    crate::api_admin::authorize(&state, &headers)?;
    let bytes = axum::body::to_bytes(body, MAX_IMPORT_BYTES).await.map_err(|_| {
        HttpError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            ApiCode::BodyTooLarge,
            format!("the file is over {MAX_IMPORT_BYTES} bytes: import it with `vigil-collector disclosures import`"),
        )
    })?;
    let body = String::from_utf8(bytes.to_vec())
        .map_err(|e| HttpError::bad_request(ApiCode::BadFile, format!("not UTF-8: {e}")))?;
    if let Some(k) = q.keys().find(|k| k.as_str() != "format") {
        return Err(bad(k, "unknown parameter"));
    }
    let format = match q.get("format") {
        None => InputFormat::Csv,
        Some(f) => InputFormat::parse(f).ok_or_else(|| bad("format", "expected csv, json or stop"))?,
    };
    let parsed = disclosures::parse(&body, format, &mut |_| {})
        .map_err(|e| HttpError::bad_request(ApiCode::BadFile, e.to_string()))?;
    let report = state.writer.import_disclosures(parsed, now()).await.map_err(HttpError::storage)?;
    Ok(Json(report))
}
