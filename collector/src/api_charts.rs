//! `GET /api/v1/charts/{country,asn,event}/{file}`: timelines as SVG or PNG charts for people
//! (`chart`). The period parameters are the timeline API's (`from`, `to`, `bucket`).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rusqlite::{Connection, OptionalExtension};
use vigil_detect::{DetectedEvent, Scope};

use crate::api_timeline;
use crate::chart;
use crate::error::{ApiCode, HttpError};
use crate::events;
use crate::server::AppState;
use crate::timeline::{self, HOUR, Timeline, TimelineQuery};

/// The query parameters a chart accepts.
const KEYS: &[&str] = &["from", "to", "bucket"];
/// The least padding around an event, each side.
const EVENT_PAD: i64 = 6 * HOUR;

/// The image format asked for by the file name's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

fn bad(name: &str, why: &str) -> HttpError {
    HttpError::bad_request(ApiCode::BadParameter, format!("{name}: {why}"))
}

/// `NAME.svg` or `NAME.png` → (NAME, format).
pub fn split_file(file: &str) -> Result<(&str, Format), HttpError> {
    match file.rsplit_once('.') {
        Some((name, "svg")) if !name.is_empty() => Ok((name, Format::Svg)),
        Some((name, "png")) if !name.is_empty() => Ok((name, Format::Png)),
        _ => Err(bad("file", "expected NAME.svg or NAME.png")),
    }
}

/// Unknown parameters are a 400 naming them.
fn check_keys(q: &HashMap<String, String>) -> Result<(), HttpError> {
    let mut unknown: Vec<&str> = q.keys().map(String::as_str).filter(|k| !KEYS.contains(k)).collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort_unstable();
    Err(bad(&unknown.join(", "), "unknown parameter (expected from, to, bucket)"))
}

/// The timeline query for `cc` (and `asn`, `platform`) from the chart's query string: unknown
/// parameters are a 400 naming them; `defaults` fill `from`/`to` when not given.
fn query(
    now: i64,
    q: &HashMap<String, String>,
    cc: &str,
    asn: Option<u32>,
    platform: Option<&str>,
    defaults: Option<(i64, i64)>,
) -> Result<TimelineQuery, HttpError> {
    check_keys(q)?;
    let mut args = q.clone();
    args.insert("country".into(), cc.to_string());
    if let Some(a) = asn {
        args.insert("asn".into(), a.to_string());
    }
    if let Some(p) = platform {
        args.insert("platform".into(), p.to_string());
    }
    if let Some((from, to)) = defaults {
        args.entry("from".into()).or_insert_with(|| from.to_string());
        args.entry("to".into()).or_insert_with(|| to.to_string());
    }
    api_timeline::parse(&args, now)
}

/// The chart in the asked format, with its content type and a short cache lifetime.
async fn respond(t: Timeline, title: String, format: Format) -> Result<Response, HttpError> {
    let svg = chart::svg(&t, &title);
    let (content_type, body) = match format {
        Format::Svg => ("image/svg+xml", svg.into_bytes()),
        Format::Png => {
            let failed = |code, message: String| HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, code, message);
            let png = tokio::task::spawn_blocking(move || chart::png(&svg))
                .await
                .map_err(|e| failed(ApiCode::ChartPngEncode, format!("rendering stopped: {e}")))?;
            let png = png.map_err(|e| failed(e.code(), e.to_string()))?;
            ("image/png", png)
        }
    };
    Ok(([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=60")], body).into_response())
}

/// `GET /api/v1/charts/country/{file}`: `AA.svg` or `AA.png`.
pub async fn country(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, HttpError> {
    let (cc, format) = split_file(&file)?;
    check_keys(&q)?;
    let cc = cc.to_ascii_uppercase();
    if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(bad("country", "expected a two-letter country code (e.g. AA.svg)"));
    }
    let tq = query(state.config.read_now(), &q, &cc, None, None, None)?;
    let params = state.config.detection.clone();
    let t = state.read(move |c| timeline::build(c, &tq, &params)).await?;
    respond(t, format!("Reachability of online platforms in {cc}"), format).await
}

/// The country of an ASN's most recent observations (one index lookup); None without data.
pub fn asn_country(conn: &Connection, asn: u32) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT cc FROM probe_days WHERE asn = ?1 ORDER BY day DESC LIMIT 1", [asn], |r| r.get(0)).optional()
}

/// `GET /api/v1/charts/asn/{file}`: `64500.svg` (or `AS64500.svg`).
pub async fn asn(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, HttpError> {
    let (name, format) = split_file(&file)?;
    check_keys(&q)?;
    let asn: u32 =
        name.trim_start_matches("AS").parse().map_err(|_| bad("asn", "expected an AS number (e.g. 64500.svg)"))?;
    let cc = state.read(move |c| asn_country(c, asn)).await?;
    let title = format!("Reachability of online platforms in AS{asn}");
    let Some(cc) = cc else {
        // Nothing from this ASN: still a chart, saying so, over the asked period.
        let tq = query(state.config.read_now(), &q, "ZZ", Some(asn), None, None)?;
        let t = Timeline {
            scope: Scope { cc: String::new(), asn: Some(asn) },
            from: tq.from,
            to: tq.to,
            bucket: tq.bucket,
            probes: 0,
            rows: Vec::new(),
            events: Vec::new(),
        };
        return respond(t, title, format).await;
    };
    let tq = query(state.config.read_now(), &q, &cc, Some(asn), None, None)?;
    let params = state.config.detection.clone();
    let t = state.read(move |c| timeline::build(c, &tq, &params)).await?;
    respond(t, format!("{title} ({cc})"), format).await
}

/// The period shown around an event: from its start − max(6 h, duration / 4) to its end + the
/// same (or now, while ongoing).
pub fn event_period(e: &DetectedEvent, now: i64) -> (i64, i64) {
    let end = e.end.unwrap_or(now).max(e.start + 1);
    let pad = EVENT_PAD.max((end - e.start) / 4);
    let to = match e.end {
        Some(end) => end + pad,
        None => now.max(e.start + pad),
    };
    (e.start - pad, to)
}

/// The event in a title: `Blocking of telegram in AA AS101`.
pub fn event_title(e: &DetectedEvent) -> String {
    let kind = e.kind.label();
    let mut what = match e.kind.platform() {
        Some(p) => format!("{}{} of {p}", kind[..1].to_uppercase(), &kind[1..]),
        None => format!("{}{}", kind[..1].to_uppercase(), &kind[1..]),
    };
    what.push_str(&format!(" in {}", e.scope.cc));
    if let Some(a) = e.scope.asn {
        what.push_str(&format!(" AS{a}"));
    }
    if e.end.is_none() {
        what.push_str(" (ongoing)");
    }
    what
}

/// `GET /api/v1/charts/event/{file}`: `<event id>.svg`: the event's scope and platform.
pub async fn event(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, HttpError> {
    let (id, format) = split_file(&file)?;
    check_keys(&q)?;
    let wanted = id.to_string();
    let found = state.read(move |c| Ok(events::event_with_revisions(c, &wanted)?.map(|(e, _)| e))).await?;
    let Some(e) = found else {
        return Err(HttpError::not_found(format!("no event with id {id:?}")));
    };
    let now = state.config.read_now();
    let period = event_period(&e, now);
    // An event stored before platform ids were checked may name one the timeline refuses: its
    // chart then shows every platform of its scope (the title still names the event).
    let platform = e.kind.platform().filter(|p| vigil_report::limits::platform_id("platform", p).is_ok());
    let tq = query(now, &q, &e.scope.cc, e.scope.asn, platform, Some(period))?;
    let params = state.config.detection.clone();
    let t = state.read(move |c| timeline::build(c, &tq, &params)).await?;
    respond(t, event_title(&e), format).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_detect::{EventType, Status};

    #[test]
    fn file_names_and_event_periods() {
        assert_eq!(split_file("AA.svg").unwrap(), ("AA", Format::Svg));
        assert_eq!(split_file("a.b.png").unwrap(), ("a.b", Format::Png));
        for f in ["AA", "AA.gif", ".svg", "AA.SVG"] {
            assert_eq!(split_file(f).unwrap_err().code, ApiCode::BadParameter, "{f}");
        }
        let mut e = DetectedEvent {
            id: "x".into(),
            scope: Scope { cc: "AA".into(), asn: Some(1) },
            kind: EventType::Shutdown,
            start: 100 * HOUR,
            start_uncertainty: 60,
            end: Some(102 * HOUR),
            end_uncertainty: Some(60),
            probes: 1,
            measurements: 1,
            evidence: Vec::new(),
            confidence: 1.0,
            status: Status::Confirmed,
            basis: vigil_detect::Basis::Evidence,
            cannot_tell: Vec::new(),
            sources: Vec::new(),
        };
        assert_eq!(event_period(&e, 1000 * HOUR), (94 * HOUR, 108 * HOUR));
        e.end = Some(140 * HOUR);
        assert_eq!(event_period(&e, 1000 * HOUR), (90 * HOUR, 150 * HOUR));
        e.end = None;
        assert_eq!(event_period(&e, 120 * HOUR), (94 * HOUR, 120 * HOUR));
        assert_eq!(event_title(&e), "Shutdown in AA AS1 (ongoing)");
    }
}
