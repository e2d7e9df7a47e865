//! Publication of events: the list (JSON and CSV, with filters), one event with its revisions,
//! its signed evidence (JSON Lines of envelopes, checkable with `vigil-collector verify`) and
//! an Atom feed with one entry per revision.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use vigil_dashboard::xml::text as xml;
use vigil_detect::{Basis, Cause, DetectedEvent, EventType, Source, SourceSupport};
use vigil_report::Signed;

use crate::error::{ApiCode, HttpError};
use crate::events::{self, RevisionRow};
use crate::server::AppState;

/// An event as published: what journalists and registries use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    pub id: String,
    pub revision: u32,
    #[serde(rename = "type")]
    pub kind: String,
    pub scope: vigil_detect::Scope,
    /// The platforms concerned; empty = all (a shutdown).
    pub platforms: Vec<String>,
    pub family: Option<String>,
    pub mechanism: Option<String>,
    pub rate_kbps: Option<f64>,
    /// RFC 3339.
    pub start: String,
    /// Seconds.
    pub start_uncertainty: i64,
    /// RFC 3339; null while ongoing.
    pub end: Option<String>,
    pub end_uncertainty: Option<i64>,
    pub probes: usize,
    pub measurements: usize,
    pub confidence: f64,
    pub status: String,
    pub updated_at: String,
    /// What it rests on: the probes' silence alone, or measurements that say so.
    pub basis: Basis,
    /// While it rests on silence: the causes the evidence cannot tell apart.
    pub cannot_tell: Vec<Cause>,
    /// Which sources support it (an event recorded without them is Vigil's alone).
    pub sources: Vec<SourceSupport>,
}

/// One event with its revision history (oldest first).
#[derive(Debug, Clone, Serialize)]
pub struct EventDetail {
    #[serde(flatten)]
    pub event: EventRecord,
    pub revisions: Vec<RevisionOut>,
    /// The measurements from OONI's open data behind it (at most [`MAX_OONI_LINKS`], oldest
    /// first), each a link to OONI Explorer: never signed evidence (`/evidence` lists only
    /// Vigil's signed measurements).
    pub ooni_evidence: Vec<OoniLink>,
    /// How many OONI measurements are behind it in all.
    pub ooni_evidence_total: usize,
}

/// OONI Explorer, where OONI's measurements are published.
pub const OONI_EXPLORER: &str = "https://explorer.ooni.org";
/// The most OONI measurements an event's detail lists.
pub const MAX_OONI_LINKS: usize = 200;

/// One OONI measurement behind an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OoniLink {
    /// OONI's `measurement_uid`; null for an older record that has none.
    pub measurement_uid: Option<String>,
    pub report_id: String,
    /// RFC 3339.
    pub measured_at: String,
    /// `https://explorer.ooni.org/m/<measurement_uid>`, or for a record without one the
    /// report's page for its input (`/measurement/<report_id>?input=<input>`).
    pub url: String,
}

/// Whether evidence comes from OONI: its probe is `ooni:<report_id>` (the importer's probe id,
/// OONI having no stable one).
pub fn ooni_report(e: &vigil_detect::Evidence) -> Option<&str> {
    e.probe.strip_prefix("ooni:")
}

/// The OONI measurements behind `e` (at most [`MAX_OONI_LINKS`]) and how many there are. A
/// uid the importer derived (`ooni-...`: the record had no `measurement_uid`) links to its
/// report's page, with the input stored with it.
pub fn ooni_links(conn: &Connection, e: &DetectedEvent) -> rusqlite::Result<(Vec<OoniLink>, usize)> {
    let all: Vec<(&vigil_detect::Evidence, &str)> =
        e.evidence.iter().filter_map(|x| ooni_report(x).map(|r| (x, r))).collect();
    let mut out = Vec::new();
    for (x, report_id) in all.iter().take(MAX_OONI_LINKS) {
        let uid = x.measurement_id.as_deref().filter(|u| !u.is_empty() && !u.starts_with("ooni-"));
        let mut url = url::Url::parse(OONI_EXPLORER).expect("a URL");
        match uid {
            Some(uid) => {
                url.path_segments_mut().expect("a base").extend(["m", uid]);
            }
            None => {
                url.path_segments_mut().expect("a base").extend(["measurement", report_id]);
                let stored = match x.measurement_id.as_deref() {
                    Some(id) => crate::ooni_store::get(conn, id)?,
                    None => None,
                };
                if let Some(input) = stored.and_then(|r| r.input) {
                    url.query_pairs_mut().append_pair("input", &input);
                }
            }
        }
        out.push(OoniLink {
            measurement_uid: uid.map(str::to_string),
            report_id: report_id.to_string(),
            measured_at: rfc3339(x.at),
            url: url.to_string(),
        });
    }
    Ok((out, all.len()))
}

/// One revision, times in RFC 3339.
#[derive(Debug, Clone, Serialize)]
pub struct RevisionOut {
    pub revision: u32,
    pub changed_at: String,
    pub reason: String,
    pub changes: serde_json::Value,
}

pub fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t).ok().and_then(|d| d.format(&Rfc3339).ok()).unwrap_or_default()
}

fn label<T: Serialize>(v: &T) -> Option<String> {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string))
}

/// The published form of a stored event (its current revision).
pub fn record(e: &DetectedEvent, revision: u32, updated_at: i64) -> EventRecord {
    let (family, mechanism, rate_kbps) = match &e.kind {
        EventType::Blocking { family, mechanism, .. } => {
            (family.as_ref().and_then(label), mechanism.as_ref().and_then(label), None)
        }
        EventType::Throttling { rate_kbps, mechanism, .. } => (None, mechanism.as_ref().and_then(label), *rate_kbps),
        EventType::Shutdown => (None, None, None),
    };
    EventRecord {
        id: e.id.clone(),
        revision,
        kind: e.kind.label().to_string(),
        scope: e.scope.clone(),
        platforms: e.kind.platform().map(|p| vec![p.to_string()]).unwrap_or_default(),
        family,
        mechanism,
        rate_kbps,
        start: rfc3339(e.start),
        start_uncertainty: e.start_uncertainty,
        end: e.end.map(rfc3339),
        end_uncertainty: e.end_uncertainty,
        probes: e.probes,
        measurements: e.measurements,
        confidence: e.confidence,
        status: label(&e.status).unwrap_or_default(),
        updated_at: rfc3339(updated_at),
        basis: e.basis,
        cannot_tell: e.cannot_tell.clone(),
        sources: if e.sources.is_empty() {
            vec![SourceSupport { source: Source::Vigil, probes: e.probes, measurements: e.measurements }]
        } else {
            e.sources.clone()
        },
    }
}

/// A time parameter over measurements and events: Unix seconds or RFC 3339, from
/// [`FIRST_TIME`] (the oldest measurement time ingest accepts) to [`LAST_TIME`].
pub fn parse_time(name: &str, v: &str) -> Result<i64, HttpError> {
    parse_time_from(name, v, FIRST_TIME)
}

/// A time parameter from `first` (Unix seconds) to [`LAST_TIME`].
pub fn parse_time_from(name: &str, v: &str, first: i64) -> Result<i64, HttpError> {
    let t = match v.parse::<i64>() {
        Ok(t) => Some(t),
        Err(_) => events::rfc3339_to_unix(v),
    };
    let Some(t) = t else {
        return Err(HttpError::bad_request(
            ApiCode::BadParameter,
            format!("{name}: expected Unix seconds or RFC 3339"),
        ));
    };
    if t < first {
        let from = rfc3339(first);
        return Err(HttpError::bad_request(
            ApiCode::BadParameter,
            format!("{name}: expected a time from {from} to 9999-12-31T23:59:59Z"),
        ));
    }
    if t > LAST_TIME {
        return Err(HttpError::bad_request(
            ApiCode::BadParameter,
            format!("{name}: expected a time before year 10000"),
        ));
    }
    Ok(t)
}

pub use vigil_report::limits::FIRST_TIME;

/// 9999-12-31T23:59:59Z: times beyond are refused (arithmetic on them could overflow).
pub const LAST_TIME: i64 = 253_402_300_799;

/// The filters of the event list, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub platform: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// At most this many events (newest first); None = all (offline use).
    pub limit: Option<usize>,
}

const FILTER_KEYS: &[&str] = &["country", "asn", "platform", "type", "status", "from", "to", "limit"];
/// The event list's default and largest page (narrow with `from`/`to` for older events).
pub const DEFAULT_EVENT_LIMIT: usize = 1000;
pub const MAX_EVENT_LIMIT: usize = 10_000;

impl EventFilter {
    /// Parse the query; unknown or malformed parameters are a 400 naming the parameter.
    pub fn parse(q: &HashMap<String, String>) -> Result<EventFilter, HttpError> {
        let bad = |name: &str, why: &str| HttpError::bad_request(ApiCode::BadParameter, format!("{name}: {why}"));
        if let Some(k) = q.keys().find(|k| !FILTER_KEYS.contains(&k.as_str())) {
            return Err(bad(k, "unknown parameter"));
        }
        let country = q.get("country").map(|c| c.to_ascii_uppercase());
        if country.as_ref().is_some_and(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic())) {
            return Err(bad("country", "expected a two-letter country code"));
        }
        let asn = match q.get("asn") {
            Some(a) => Some(
                a.trim_start_matches("AS").parse::<u32>().map_err(|_| bad("asn", "expected a number (e.g. 64500)"))?,
            ),
            None => None,
        };
        let kind = q.get("type").cloned();
        if kind.as_deref().is_some_and(|k| !["blocking", "shutdown", "throttling"].contains(&k)) {
            return Err(bad("type", "expected blocking, shutdown or throttling"));
        }
        let status = q.get("status").cloned();
        if status.as_deref().is_some_and(|s| !["provisional", "confirmed", "retracted", "unknown"].contains(&s)) {
            return Err(bad("status", "expected provisional, confirmed, retracted or unknown"));
        }
        let from = q.get("from").map(|v| parse_time("from", v)).transpose()?;
        let to = q.get("to").map(|v| parse_time("to", v)).transpose()?;
        let limit = match q.get("limit") {
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_EVENT_LIMIT).contains(&n) => n,
                _ => return Err(bad("limit", &format!("expected 1..={MAX_EVENT_LIMIT}"))),
            },
            None => DEFAULT_EVENT_LIMIT,
        };
        Ok(EventFilter {
            country,
            asn,
            platform: q.get("platform").cloned(),
            kind,
            status,
            from,
            to,
            limit: Some(limit),
        })
    }
}

/// The events matching `f`, newest start first.
pub fn list(conn: &Connection, f: &EventFilter) -> rusqlite::Result<Vec<EventRecord>> {
    let mut sql = String::from("SELECT event, revision, updated_at FROM events WHERE 1 = 1");
    let mut args: Vec<SqlValue> = Vec::new();
    let mut add = |clause: &str, v: SqlValue| {
        sql.push_str(clause);
        args.push(v);
    };
    if let Some(c) = &f.country {
        add(" AND cc = ?", SqlValue::Text(c.clone()));
    }
    if let Some(a) = f.asn {
        add(" AND asn = ?", SqlValue::Integer(a.into()));
    }
    if let Some(p) = &f.platform {
        add(" AND platform = ?", SqlValue::Text(p.clone()));
    }
    if let Some(k) = &f.kind {
        add(" AND type = ?", SqlValue::Text(k.clone()));
    }
    if let Some(s) = &f.status {
        add(" AND status = ?", SqlValue::Text(s.clone()));
    }
    if let Some(t) = f.from {
        add(" AND (end IS NULL OR end >= ?)", SqlValue::Integer(t));
    }
    if let Some(t) = f.to {
        add(" AND start <= ?", SqlValue::Integer(t));
    }
    sql.push_str(" ORDER BY start DESC, id");
    if let Some(n) = f.limit {
        sql.push_str(&format!(" LIMIT {n}"));
    }
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?, r.get::<_, i64>(2)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (json, revision, updated_at) = row?;
        if let Ok(e) = serde_json::from_str::<DetectedEvent>(&json) {
            out.push(record(&e, revision, updated_at));
        }
    }
    Ok(out)
}

/// `GET /api/v1/events`.
pub async fn list_events(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<EventRecord>>, HttpError> {
    let f = EventFilter::parse(&q)?;
    Ok(Json(state.read(move |c| list(c, &f)).await?))
}

pub const CSV_HEADER: &str = "id,revision,type,cc,asn,platforms,mechanism,start,start_uncertainty,end,\
                              end_uncertainty,probes,measurements,confidence,status,updated_at";

/// The event list as CSV (RFC 4180, CRLF line ends; cells escaped by `escape::csv`).
pub fn to_csv(events: &[EventRecord]) -> String {
    let header: Vec<&str> = CSV_HEADER.split(',').collect();
    crate::escape::csv(
        &header,
        events.iter().map(|e| {
            [
                e.id.clone(),
                e.revision.to_string(),
                e.kind.clone(),
                e.scope.cc.clone(),
                e.scope.asn.map(|a| a.to_string()).unwrap_or_default(),
                e.platforms.join(" "),
                e.mechanism.clone().unwrap_or_default(),
                e.start.clone(),
                e.start_uncertainty.to_string(),
                e.end.clone().unwrap_or_default(),
                e.end_uncertainty.map(|u| u.to_string()).unwrap_or_default(),
                e.probes.to_string(),
                e.measurements.to_string(),
                format!("{:.3}", e.confidence),
                e.status.clone(),
                e.updated_at.clone(),
            ]
        }),
    )
}

/// `GET /api/v1/events.csv`.
pub async fn list_events_csv(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, HttpError> {
    let f = EventFilter::parse(&q)?;
    let events = state.read(move |c| list(c, &f)).await?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], to_csv(&events)).into_response())
}

/// `GET /api/v1/events/{id}`.
pub async fn event(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<EventDetail>, HttpError> {
    let wanted = id.clone();
    let found = state
        .read(move |c| {
            let Some((e, revisions)) = events::event_with_revisions(c, &wanted)? else { return Ok(None) };
            let updated_at = revisions.last().map_or(0, |r| r.changed_at);
            let ooni = ooni_links(c, &e)?;
            Ok(Some((e, revisions, updated_at, ooni)))
        })
        .await?;
    let Some((e, revisions, updated_at, (ooni_evidence, ooni_evidence_total))) = found else {
        return Err(HttpError::not_found(format!("no event with id {id:?}")));
    };
    let revision = revisions.last().map_or(1, |r| r.revision);
    let revisions = revisions.into_iter().map(revision_out).collect();
    Ok(Json(EventDetail { event: record(&e, revision, updated_at), revisions, ooni_evidence, ooni_evidence_total }))
}

fn revision_out(r: RevisionRow) -> RevisionOut {
    RevisionOut { revision: r.revision, changed_at: rfc3339(r.changed_at), reason: r.reason, changes: r.changes }
}

/// The stored envelopes behind an event, oldest first; None if there is no such event. Only
/// Vigil's signed measurements: OONI's (in `ooni_measurements`, never signed) are not among them.
pub fn evidence(conn: &Connection, id: &str) -> rusqlite::Result<Option<Vec<Signed>>> {
    let exists: i64 = conn.query_row("SELECT COUNT(*) FROM events WHERE id = ?1", [id], |r| r.get(0))?;
    if exists == 0 {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT m.format, m.key_id, m.payload, m.signature FROM event_evidence e
         JOIN measurements m ON m.id = e.measurement_id WHERE e.event_id = ?1 ORDER BY m.measurement_start_time, m.id",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(Signed { format: r.get(0)?, key_id: r.get(1)?, payload: r.get(2)?, signature: r.get(3)? })
    })?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map(Some)
}

/// `GET /api/v1/events/{id}/evidence`: JSON Lines of signed envelopes.
pub async fn event_evidence(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, HttpError> {
    let wanted = id.clone();
    let Some(found) = state.read(move |c| evidence(c, &wanted)).await? else {
        return Err(HttpError::not_found(format!("no event with id {id:?}")));
    };
    let mut body = String::new();
    for s in &found {
        body.push_str(&serde_json::to_string(s).map_err(HttpError::storage)?);
        body.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

/// The Atom feed: one entry per revision, newest first (at most `limit`).
pub fn atom(conn: &Connection, limit: usize) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, revision, changed_at, reason, event FROM event_revisions ORDER BY changed_at DESC, id, revision DESC
         LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, u32>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut entries = String::new();
    let mut updated = 0;
    for row in rows {
        let (id, revision, changed_at, reason, json) = row?;
        let Ok(e) = serde_json::from_str::<DetectedEvent>(&json) else { continue };
        updated = updated.max(changed_at);
        let r = record(&e, revision, changed_at);
        let scope = r.scope.asn.map_or_else(|| r.scope.cc.clone(), |a| format!("{} AS{a}", r.scope.cc));
        let what = match r.platforms.first() {
            Some(p) => format!("{} of {p}", r.kind),
            None => r.kind.clone(),
        };
        let title = format!("{what} in {scope} ({}, revision {revision})", r.status);
        let summary = format!(
            "{reason}. Start {} (±{} s), end {}; {} probes, {} measurements, confidence {:.2}{}",
            r.start,
            r.start_uncertainty,
            r.end.clone().unwrap_or_else(|| "ongoing".into()),
            r.probes,
            r.measurements,
            r.confidence,
            r.mechanism.as_ref().map(|m| format!(", mechanism {m}")).unwrap_or_default()
        );
        entries.push_str(&format!(
            "  <entry>\n    <id>urn:vigil:event:{}:{revision}</id>\n    <title>{}</title>\n    \
             <updated>{}</updated>\n    <link href=\"/api/v1/events/{}\"/>\n    <summary>{}</summary>\n  </entry>\n",
            xml(&id),
            xml(&title),
            rfc3339(changed_at),
            xml(&id),
            xml(&summary)
        ));
    }
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n  \
         <id>urn:vigil:events</id>\n  <title>Vigil: censorship and shutdown events</title>\n  \
         <updated>{}</updated>\n  <author><name>Vigil collector</name></author>\n{entries}</feed>\n",
        rfc3339(updated)
    ))
}

/// `GET /api/v1/feed.atom`: the latest 200 revisions.
pub async fn feed(State(state): State<AppState>) -> Result<Response, HttpError> {
    let body = state.read(|c| atom(c, 200)).await?;
    Ok(([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], body).into_response())
}
