//! `vigil-collector measurements`: read what the collector stored, straight from its SQLite file
//! (read-only, safe beside a running server), as a table or as the signed envelopes for
//! `vigil-collector verify`.

use std::fmt::Write as _;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use vigil_report::Signed;

use crate::error::CollectorError;

/// One stored measurement with the fields a reader scans first.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: String,
    pub key_id: String,
    pub measurement_start_time: String,
    pub received_at: String,
    pub asn: u32,
    pub cc: String,
    pub test_name: String,
    pub input: String,
    /// `blocking/mechanism` of an endpoint, `status/mechanism` of a platform summary.
    pub verdict: String,
    pub envelope: Signed,
}

/// The newest `limit` measurements (all when `limit` is 0), oldest first.
pub fn recent(data_dir: &Path, limit: usize) -> Result<Vec<Row>, CollectorError> {
    let path = data_dir.join("vigil.sqlite");
    let err = |source| CollectorError::Db { path: path.display().to_string(), source };
    if !path.exists() {
        return Err(CollectorError::Config(format!("no collector database at {}", path.display())));
    }
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
    let limit = if limit == 0 { i64::MAX } else { limit as i64 };
    let mut stmt = conn
        .prepare(
            "SELECT id, key_id, measurement_start_time, received_at, asn, cc, test_name, coalesce(input, ''),
                    format, payload, signature
             FROM (SELECT * FROM measurements ORDER BY seq DESC LIMIT ?1) ORDER BY seq",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([limit], |r| {
            let envelope = Signed { format: r.get(8)?, key_id: r.get(1)?, payload: r.get(9)?, signature: r.get(10)? };
            Ok(Row {
                id: r.get(0)?,
                key_id: r.get(1)?,
                measurement_start_time: r.get(2)?,
                received_at: r.get(3)?,
                asn: r.get(4)?,
                cc: r.get(5)?,
                test_name: r.get(6)?,
                input: r.get(7)?,
                verdict: verdict(&envelope.payload),
                envelope,
            })
        })
        .map_err(err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(err)
}

/// A one-word summary of a measurement's verdict, from its payload.
fn verdict(payload: &str) -> String {
    let Ok(m) = serde_json::from_str::<Value>(payload) else { return "?".into() };
    let k = &m["test_keys"];
    let word = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => other.to_string(),
    };
    let first = if k.get("status").is_some() { word(&k["status"]) } else { word(&k["blocking"]) };
    match &k["mechanism"] {
        Value::String(m) => format!("{first}/{m}"),
        _ => first,
    }
}

/// The rows as a table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<19}  {:<20}  {:<8} {:<2}  {:<22}  {:<30}  INPUT",
        "MEASURED (UTC)", "RECEIVED", "ASN", "CC", "TEST", "VERDICT"
    );
    for r in rows {
        let received: String = r.received_at.chars().take(20).collect();
        let _ = writeln!(
            out,
            "{:<19}  {:<20}  {:<8} {:<2}  {:<22}  {:<30}  {}",
            r.measurement_start_time,
            received,
            format!("AS{}", r.asn),
            r.cc,
            r.test_name,
            r.verdict,
            r.input
        );
    }
    out
}

/// The published probe keys (as `GET /api/v1/probe-keys` serves them), for `verify --keys`.
pub fn keys_json(data_dir: &Path) -> Result<String, CollectorError> {
    let path = data_dir.join("vigil.sqlite");
    let err = |source| CollectorError::Db { path: path.display().to_string(), source };
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
    let keys = crate::store::published_keys(&conn).map_err(err)?;
    serde_json::to_string_pretty(&keys).map_err(|e| CollectorError::Config(e.to_string()))
}

/// The signed envelopes, one JSON object per line (the input of `vigil-collector verify`).
pub fn envelopes_jsonl(rows: &[Row]) -> String {
    rows.iter().filter_map(|r| serde_json::to_string(&r.envelope).ok()).map(|l| l + "\n").collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_read_endpoints_and_platforms() {
        assert_eq!(verdict(r#"{"test_keys":{"blocking":"dns","mechanism":"dns_nxdomain"}}"#), "dns/dns_nxdomain");
        assert_eq!(verdict(r#"{"test_keys":{"blocking":false,"mechanism":null}}"#), "false");
        assert_eq!(
            verdict(r#"{"test_keys":{"status":"blocked","mechanism":"tls_sni_reset"}}"#),
            "blocked/tls_sni_reset"
        );
        assert_eq!(verdict("not json"), "?");
    }

    #[test]
    fn a_missing_database_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = recent(dir.path(), 10).unwrap_err();
        assert!(err.to_string().contains("vigil.sqlite"), "{err}");
    }
}
