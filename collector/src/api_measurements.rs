//! Measurement queries for researchers: filtered pages of stored measurements, and an
//! OONI-compatible JSON Lines export.
//!
//! Both page with a keyset cursor on `(measurement_start_time, seq)`, oldest first: a page never
//! shifts when new rows arrive. The export's lines are the stored payloads made OONI-compatible;
//! they are NOT the signed bytes (those are at `/api/v1/measurements/{id}`).

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt as _;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};
use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::api_events::parse_time;
use crate::error::{ApiCode, HttpError};
use crate::server::AppState;

/// Schema migration 4: the indexes measurement queries page through (one per selective filter,
/// each ordered like the pages).
pub const MIGRATION: &str = "CREATE INDEX measurements_start ON measurements (measurement_start_time, seq);
    CREATE INDEX measurements_cc_start ON measurements (cc, measurement_start_time, seq);
    CREATE INDEX measurements_asn_start ON measurements (asn, measurement_start_time, seq);
    CREATE INDEX measurements_key_start ON measurements (key_id, measurement_start_time, seq);
    CREATE INDEX measurements_input_start ON measurements (input, measurement_start_time, seq);";

/// Page size limits of the JSON list.
pub const LIST_LIMIT: (usize, usize) = (100, 1000);
/// Limits of the JSON Lines export.
pub const EXPORT_LIMIT: (usize, usize) = (10_000, 100_000);
/// Rows read per query while streaming the export.
const EXPORT_PAGE: usize = 1000;
/// Bytes of JSON Lines sent at once.
const CHUNK_BYTES: usize = 256 * 1024;

/// A position in the (measurement_start_time, seq) order: the last row of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub start: String,
    pub seq: i64,
}

impl Cursor {
    /// The opaque form given to clients.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{}", self.start, self.seq))
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
        let (start, seq) = raw.split_once('|')?;
        let seq = seq.parse::<i64>().ok().filter(|s| *s >= 0)?;
        let layout = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        time::PrimitiveDateTime::parse(start, layout).ok()?;
        Some(Cursor { start: start.to_string(), seq })
    }
}

/// The filters of a measurement query, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub test_name: Option<String>,
    pub input: Option<String>,
    pub probe: Option<String>,
    /// Inclusive, `YYYY-MM-DD HH:MM:SS`.
    pub since: Option<String>,
    /// Exclusive, `YYYY-MM-DD HH:MM:SS`.
    pub until: Option<String>,
    pub after: Option<Cursor>,
    pub limit: usize,
}

const KEYS: &[&str] = &["country", "asn", "test_name", "input", "probe", "since", "until", "limit", "cursor"];

fn bad(name: &str, why: &str) -> HttpError {
    HttpError::bad_request(ApiCode::BadParameter, format!("{name}: {why}"))
}

/// Unix seconds as the stored `measurement_start_time` layout.
fn ooni_time(name: &str, t: i64) -> Result<String, HttpError> {
    let layout = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(layout).ok())
        .filter(|s| s.len() == 19)
        .ok_or_else(|| bad(name, "time out of range"))
}

impl Filter {
    /// Parse the query; unknown or malformed parameters are a 400 naming the parameter.
    /// `limits` is (default, maximum).
    pub fn parse(q: &HashMap<String, String>, limits: (usize, usize)) -> Result<Filter, HttpError> {
        if let Some(k) = q.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(bad(k, "unknown parameter"));
        }
        let country = q.get("country").map(|c| c.to_ascii_uppercase());
        if country.as_ref().is_some_and(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic())) {
            return Err(bad("country", "expected a two-letter country code"));
        }
        let asn = match q.get("asn") {
            Some(a) => Some(
                a.strip_prefix("AS")
                    .unwrap_or(a)
                    .parse::<u32>()
                    .map_err(|_| bad("asn", "expected a number (64500 or AS64500)"))?,
            ),
            None => None,
        };
        let nonempty = |name: &str| match q.get(name) {
            Some(v) if v.is_empty() => Err(bad(name, "must not be empty")),
            v => Ok(v.cloned()),
        };
        let time = |name: &str| q.get(name).map(|v| parse_time(name, v).and_then(|t| ooni_time(name, t))).transpose();
        let limit = match q.get("limit") {
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=limits.1).contains(n))
                .ok_or_else(|| bad("limit", &format!("expected a number from 1 to {}", limits.1)))?,
            None => limits.0,
        };
        let after = match q.get("cursor") {
            Some(c) => Some(Cursor::decode(c).ok_or_else(|| bad("cursor", "not a cursor from a previous `next`"))?),
            None => None,
        };
        Ok(Filter {
            country,
            asn,
            test_name: nonempty("test_name")?,
            input: nonempty("input")?,
            probe: nonempty("probe")?,
            since: time("since")?,
            until: time("until")?,
            after,
            limit,
        })
    }

    /// The WHERE clause and its arguments; rows after `after` and at or before `upto`.
    fn clause(&self, after: Option<&Cursor>, upto: Option<&Cursor>) -> (String, Vec<SqlValue>) {
        let mut sql = String::from(" WHERE 1 = 1");
        let mut args: Vec<SqlValue> = Vec::new();
        let text = |s: &String| SqlValue::Text(s.clone());
        let mut add = |clause: &str, values: Vec<SqlValue>| {
            sql.push_str(clause);
            args.extend(values);
        };
        if let Some(c) = &self.country {
            add(" AND cc = ?", vec![text(c)]);
        }
        if let Some(a) = self.asn {
            add(" AND asn = ?", vec![SqlValue::Integer(a.into())]);
        }
        if let Some(t) = &self.test_name {
            add(" AND test_name = ?", vec![text(t)]);
        }
        if let Some(i) = &self.input {
            add(" AND input = ?", vec![text(i)]);
        }
        if let Some(p) = &self.probe {
            add(" AND key_id = ?", vec![text(p)]);
        }
        if let Some(t) = &self.since {
            add(" AND measurement_start_time >= ?", vec![text(t)]);
        }
        if let Some(t) = &self.until {
            add(" AND measurement_start_time < ?", vec![text(t)]);
        }
        // Written so that SQLite ranges over the index on measurement_start_time.
        if let Some(c) = after {
            let v = vec![text(&c.start), text(&c.start), SqlValue::Integer(c.seq)];
            add(" AND measurement_start_time >= ? AND (measurement_start_time > ? OR seq > ?)", v);
        }
        if let Some(c) = upto {
            let v = vec![text(&c.start), text(&c.start), SqlValue::Integer(c.seq)];
            add(" AND measurement_start_time <= ? AND (measurement_start_time < ? OR seq <= ?)", v);
        }
        (sql, args)
    }
}

/// One stored measurement, as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeasurementRow {
    pub id: String,
    pub key_id: String,
    pub test_name: String,
    pub input: Option<String>,
    pub measurement_start_time: String,
    pub received_at: String,
    /// The collector's enrichment from the submitting address (not the probe's claim).
    pub probe_cc: String,
    /// `AS<n>`, the collector's enrichment.
    pub probe_asn: String,
    /// The signed envelope, as the probe signed it.
    pub signed_url: String,
    #[serde(skip)]
    pub seq: i64,
    #[serde(skip)]
    pub payload: String,
}

impl MeasurementRow {
    pub fn cursor(&self) -> Cursor {
        Cursor { start: self.measurement_start_time.clone(), seq: self.seq }
    }
}

const COLUMNS: &str = "seq, id, key_id, test_name, input, measurement_start_time, received_at, asn, cc";

/// The SQL of a page: the rows matching `f` after `after` (at or before `upto`), oldest first.
pub fn page_sql(f: &Filter, after: Option<&Cursor>, upto: Option<&Cursor>, payload: bool) -> (String, Vec<SqlValue>) {
    let (clause, args) = f.clause(after, upto);
    let payload = if payload { ", payload" } else { "" };
    let sql = format!(
        "SELECT {COLUMNS}{payload} FROM measurements{clause} ORDER BY measurement_start_time, seq LIMIT ?{}",
        args.len() + 1
    );
    (sql, args)
}

/// At most `n` rows matching `f` after `after` (at or before `upto`), oldest first.
pub fn page(
    conn: &Connection,
    f: &Filter,
    after: Option<&Cursor>,
    upto: Option<&Cursor>,
    n: usize,
    payload: bool,
) -> rusqlite::Result<Vec<MeasurementRow>> {
    let (sql, mut args) = page_sql(f, after, upto, payload);
    args.push(SqlValue::Integer(n as i64));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        let id: String = r.get(1)?;
        Ok(MeasurementRow {
            signed_url: format!("/api/v1/measurements/{id}"),
            id,
            seq: r.get(0)?,
            key_id: r.get(2)?,
            test_name: r.get(3)?,
            input: r.get(4)?,
            measurement_start_time: r.get(5)?,
            received_at: r.get(6)?,
            probe_asn: format!("AS{}", r.get::<_, i64>(7)?),
            probe_cc: r.get(8)?,
            payload: if payload { r.get(9)? } else { String::new() },
        })
    })?;
    rows.collect()
}

/// The JSON list's answer.
#[derive(Debug, Serialize)]
pub struct Page {
    pub results: Vec<MeasurementRow>,
    /// Give it as `cursor` for the next page; null at the end.
    pub next: Option<String>,
}

/// `GET /api/v1/measurements`.
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Page>, HttpError> {
    let f = Filter::parse(&q, LIST_LIMIT)?;
    let limit = f.limit;
    let mut results = state.read(move |c| page(c, &f, f.after.as_ref(), None, limit + 1, false)).await?;
    let next = if results.len() > limit {
        results.truncate(limit);
        results.last().map(|r| r.cursor().encode())
    } else {
        None
    };
    Ok(Json(Page { results, next }))
}

/// The last row of an export of `f` when it has `f.limit` rows or more (None: fewer), and
/// whether more rows follow it.
fn export_bound(conn: &Connection, f: &Filter) -> rusqlite::Result<(Option<Cursor>, bool)> {
    let (sql, mut args) = page_sql(f, f.after.as_ref(), None, false);
    let sql = format!("{sql} OFFSET ?{}", args.len() + 2);
    args.push(SqlValue::Integer(2));
    args.push(SqlValue::Integer(f.limit as i64 - 1));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| Ok(Cursor { start: r.get(5)?, seq: r.get(0)? }))?;
    let rows = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows.first().cloned(), rows.len() > 1))
}

/// A stored measurement as an OONI measurement (df-000): the payload with OONI's top-level
/// fields set from what the collector knows. Not the signed bytes.
pub fn ooni_measurement(row: &MeasurementRow, signed_url: &str) -> Option<Value> {
    let Value::Object(mut m) = serde_json::from_str::<Value>(&row.payload).ok()? else { return None };
    m.entry("measurement_uid").or_insert_with(|| json!(row.id));
    m.insert("probe_cc".into(), json!(row.probe_cc));
    m.insert("probe_asn".into(), json!(row.probe_asn));
    // OONI scrubs the address to this constant; Vigil never has one.
    // Always OONI's scrubbed constant: Vigil never has a probe's address, whatever a payload says.
    m.insert("probe_ip".into(), json!("127.0.0.1"));
    m.entry("test_start_time").or_insert_with(|| json!(row.measurement_start_time));
    let has_report_id = m.get("report_id").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    if !has_report_id {
        m.insert("report_id".into(), json!(report_id(row, &m)));
    }
    let annotations = m.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
    if !annotations.is_object() {
        *annotations = Value::Object(Map::new());
    }
    if let Value::Object(a) = annotations {
        a.insert("vigil_key_id".into(), json!(row.key_id));
        a.insert("vigil_signature_url".into(), json!(signed_url));
    }
    Some(Value::Object(m))
}

/// OONI's report id layout, one per probe, test and run:
/// `<test_start_time>Z_<test name>_<cc>_<asn>_n1_<key id>`.
fn report_id(row: &MeasurementRow, m: &Map<String, Value>) -> String {
    let start = m.get("test_start_time").and_then(Value::as_str).unwrap_or(&row.measurement_start_time);
    let compact: String = start.chars().filter(char::is_ascii_digit).collect();
    let (day, clock) = compact.split_at(compact.len().min(8));
    let test: String = row.test_name.chars().filter(char::is_ascii_alphanumeric).collect();
    let asn = row.probe_asn.trim_start_matches("AS");
    format!("{day}T{clock}Z_{test}_{}_{asn}_n1_{}", row.probe_cc, row.key_id)
}

/// `GET /api/v1/measurements.jsonl`: OONI-compatible JSON Lines, streamed.
pub async fn export(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, HttpError> {
    let f = Filter::parse(&q, EXPORT_LIMIT)?;
    let probe = f.clone();
    let (upto, more) = state.read(move |c| export_bound(c, &probe)).await?;
    let base = state.config.public_url.as_deref().unwrap_or("").trim_end_matches('/').to_string();
    let link = match (&upto, more) {
        (Some(last), true) => {
            let mut next: Vec<(String, String)> = q.into_iter().filter(|(k, _)| k != "cursor").collect();
            next.sort();
            next.push(("cursor".into(), last.encode()));
            let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(next).finish();
            Some(format!("<{base}/api/v1/measurements.jsonl?{query}>; rel=\"next\""))
        }
        _ => None,
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(4);
    // Without a bound (fewer rows than the limit), rows arriving meanwhile may join, up to the limit.
    tokio::spawn(async move {
        let mut after = f.after.clone();
        let mut left = f.limit;
        while left > 0 {
            let (g, a, u, n) = (f.clone(), after.clone(), upto.clone(), left.min(EXPORT_PAGE));
            let rows = match state.read(move |c| page(c, &g, a.as_ref(), u.as_ref(), n, true)).await {
                Ok(rows) => rows,
                Err(e) => {
                    // The client sees a broken body, not a short one.
                    let _ = tx.send(Err(std::io::Error::other(e.message))).await;
                    return;
                }
            };
            let mut chunk = String::new();
            for (i, row) in rows.iter().enumerate() {
                if let Some(v) = ooni_measurement(row, &format!("{base}{}", row.signed_url)) {
                    chunk.push_str(&v.to_string());
                    chunk.push('\n');
                }
                if (chunk.len() >= CHUNK_BYTES || i + 1 == rows.len())
                    && tx.send(Ok(std::mem::take(&mut chunk))).await.is_err()
                {
                    return;
                }
            }
            left -= rows.len();
            match rows.last() {
                Some(last) if rows.len() == n => after = Some(last.cursor()),
                _ => return,
            }
        }
    });
    // Fused: after the end it keeps answering None. The compression layer polls a finished body
    // once more, and an unfused `unfold` panics then (with panic = "abort", the whole collector).
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }).fuse();
    let mut response = ([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(stream)).into_response();
    if let Some(link) = link.and_then(|l| l.parse().ok()) {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(conn: &Connection, f: &Filter, after: Option<&Cursor>) -> String {
        let (sql, mut args) = page_sql(f, after, None, true);
        args.push(SqlValue::Integer(100));
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    #[test]
    fn queries_range_over_an_index_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::open_and_migrate(&dir.path().join("v.sqlite")).unwrap();
        let q = |pairs: &[(&str, &str)]| {
            let q: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            Filter::parse(&q, LIST_LIMIT).unwrap()
        };
        let after = Cursor { start: "2026-01-01 00:00:00".into(), seq: 7 };
        let cases = [
            (q(&[("country", "IR"), ("since", "1700000000"), ("until", "1800000000")]), "measurements_cc_start"),
            (q(&[("asn", "AS64500")]), "measurements_asn_start"),
            (q(&[("probe", "abc")]), "measurements_key_start"),
            (q(&[("input", "https://x/")]), "measurements_input_start"),
            (q(&[("since", "1700000000")]), "measurements_start"),
            (q(&[]), "measurements_start"),
        ];
        for (f, index) in &cases {
            for a in [None, Some(&after)] {
                let p = plan(&conn, f, a);
                assert!(p.contains(&format!("USING INDEX {index}")), "{f:?}: {p}");
                assert!(!p.contains("TEMP B-TREE"), "{f:?}: {p}");
                // Only the unfiltered first page walks the index from its start (and stops at the limit).
                if *f != (Filter { limit: f.limit, ..Filter::default() }) || a.is_some() {
                    assert!(p.contains("SEARCH measurements") && !p.contains("SCAN"), "{f:?}: {p}");
                }
            }
        }
        // The country + time filter ranges over the index on both columns.
        let p = plan(&conn, &cases[0].0, Some(&after));
        assert!(p.contains("cc=? AND measurement_start_time>? AND measurement_start_time<?"), "{p}");
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor { start: "2026-11-23 10:00:00".into(), seq: 42 };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for bad in ["", "x", "!!!", &URL_SAFE_NO_PAD.encode("2026-11-23 10:00:00|x"), &URL_SAFE_NO_PAD.encode("x|1")] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_ooni_form_sets_the_collector_fields_and_keeps_the_rest() {
        let row = MeasurementRow {
            id: "m1".into(),
            key_id: "k1".into(),
            test_name: "vigil_web_connectivity".into(),
            input: None,
            measurement_start_time: "2026-11-23 10:00:05".into(),
            received_at: "2026-11-23T10:01:00Z".into(),
            probe_cc: "IR".into(),
            probe_asn: "AS197207".into(),
            signed_url: "/api/v1/measurements/m1".into(),
            seq: 1,
            payload: r#"{"id":"m1","probe_cc":"ZZ","probe_asn":"AS0","test_start_time":"2026-11-23 10:00:00",
                "annotations":{"a":"b"},"test_keys":{"x":[1,2.5]}}"#
                .into(),
        };
        let v = ooni_measurement(&row, "https://c.example/api/v1/measurements/m1").unwrap();
        assert_eq!(v["measurement_uid"], "m1");
        assert_eq!(v["probe_cc"], "IR");
        assert_eq!(v["probe_asn"], "AS197207");
        assert_eq!(v["report_id"], "20261123T100000Z_vigilwebconnectivity_IR_197207_n1_k1");
        assert_eq!(
            v["annotations"],
            json!({"a": "b", "vigil_key_id": "k1",
            "vigil_signature_url": "https://c.example/api/v1/measurements/m1"})
        );
        assert_eq!(v["test_keys"], json!({"x": [1, 2.5]}));
        assert_eq!(v["id"], "m1");
    }
}
