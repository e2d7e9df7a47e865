//! Disclosures in SQLite: the table (a migration), idempotent import (a re-imported row is
//! stored once), and the reads reconciliation needs: disclosures, published events and the
//! measurement coverage of a country or ASN over a period.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::disclosures::{Disclosure, Parsed, RowError};
use crate::disclosures_reconcile::{
    MeasuredEvent, Options, Reconciliation, StoredDisclosure, coverage_window, reconcile,
};

/// Schema migration: the imported disclosures (the record as JSON, its key columns for filters).
pub const MIGRATION: &str = "CREATE TABLE disclosures (
        key TEXT PRIMARY KEY,
        format_version INTEGER NOT NULL,
        source TEXT NOT NULL,
        platform TEXT NOT NULL,
        type TEXT NOT NULL,
        cc TEXT NOT NULL,
        asn INTEGER,
        start INTEGER NOT NULL,
        end INTEGER,
        published_at INTEGER,
        imported_at INTEGER NOT NULL,
        disclosure TEXT NOT NULL
    );
    CREATE INDEX disclosures_cc_start ON disclosures (cc, start);";

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Records read from the file.
    pub records: usize,
    pub inserted: usize,
    /// A disclosure with the same source and id, changed: replaced.
    pub updated: usize,
    /// Already stored as it is.
    pub unchanged: usize,
    /// Bad rows, by line and field; nothing of them was stored.
    pub errors: Vec<RowError>,
}

/// Store the good rows of a parsed file in one transaction.
pub fn import(conn: &mut Connection, parsed: Parsed, now: i64) -> rusqlite::Result<ImportReport> {
    let tx = conn.transaction()?;
    let report = import_in(&tx, &parsed, now)?;
    tx.commit()?;
    Ok(report)
}

/// Store the good rows of a parsed file inside the caller's transaction (the running
/// collector's writer thread, so its single-writer rule holds for imports over HTTP too).
pub fn import_in(tx: &Connection, parsed: &Parsed, now: i64) -> rusqlite::Result<ImportReport> {
    let mut report = ImportReport { records: parsed.records, errors: parsed.errors.clone(), ..ImportReport::default() };
    {
        let mut find = tx.prepare_cached("SELECT disclosure FROM disclosures WHERE key = ?1")?;
        let mut put = tx.prepare_cached(
            "INSERT INTO disclosures (key, format_version, source, platform, type, cc, asn, start, end, published_at,
                 imported_at, disclosure)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT(key) DO UPDATE SET format_version = excluded.format_version, source = excluded.source,
                 platform = excluded.platform, type = excluded.type, cc = excluded.cc, asn = excluded.asn,
                 start = excluded.start, end = excluded.end, published_at = excluded.published_at,
                 imported_at = excluded.imported_at, disclosure = excluded.disclosure",
        )?;
        for (_, d) in &parsed.rows {
            let key = d.key();
            let json = serde_json::to_string(d).unwrap_or_default();
            let old: Option<String> = find.query_row([&key], |r| r.get(0)).optional()?;
            match old {
                Some(o) if o == json => {
                    report.unchanged += 1;
                    continue;
                }
                Some(_) => report.updated += 1,
                None => report.inserted += 1,
            }
            put.execute(params![
                key,
                d.format_version,
                d.source,
                d.platform,
                d.kind.label(),
                d.country,
                d.asn,
                d.start.at,
                d.end.map(|e| e.at),
                d.published_at.map(|p| p.at),
                now,
                json
            ])?;
        }
    }
    Ok(report)
}

/// Every stored disclosure (optionally of one country), by start.
pub fn load(conn: &Connection, country: Option<&str>) -> rusqlite::Result<Vec<StoredDisclosure>> {
    let mut stmt =
        conn.prepare_cached("SELECT key, disclosure FROM disclosures WHERE ?1 IS NULL OR cc = ?1 ORDER BY start, key")?;
    let rows = stmt.query_map([country], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (key, json) = row?;
        // A row this version cannot read (a newer format) is left out, not fatal, but said.
        match serde_json::from_str::<Disclosure>(&json) {
            Ok(disclosure) => out.push(StoredDisclosure { key, disclosure }),
            Err(e) => eprintln!("vigil-collector: stored disclosure {key} left out: this version cannot read it: {e}"),
        }
    }
    Ok(out)
}

/// The published events that are not retracted (optionally of one country).
pub fn load_events(conn: &Connection, country: Option<&str>) -> rusqlite::Result<Vec<MeasuredEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, type, platform, cc, asn, start, end, status FROM events
         WHERE status != 'retracted' AND (?1 IS NULL OR cc = ?1) ORDER BY start, id",
    )?;
    let rows = stmt.query_map([country], |r| {
        Ok(MeasuredEvent {
            id: r.get(0)?,
            kind: r.get(1)?,
            platform: r.get(2)?,
            cc: r.get(3)?,
            asn: r.get(4)?,
            start: r.get(5)?,
            end: r.get(6)?,
            status: r.get(7)?,
        })
    })?;
    rows.collect()
}

/// Windows up to this long are checked against observations (exact); longer ones against the
/// probes seen per day (`probe_days`, cheaper over months).
const EXACT_COVERAGE: i64 = 3 * 86_400;

/// Distinct probes with a measurement (any test, heartbeats included) in the country, or in
/// the ASN, during `[from, to]`.
pub fn coverage(conn: &Connection, cc: &str, asn: Option<u32>, from: i64, to: i64) -> rusqlite::Result<u32> {
    if to - from <= EXACT_COVERAGE {
        conn.prepare_cached(
            "SELECT COUNT(DISTINCT key_id) FROM observations WHERE cc = ?1 AND at >= ?2 AND at <= ?3
             AND (?4 IS NULL OR asn = ?4)",
        )?
        .query_row(params![cc, from, to, asn], |r| r.get(0))
    } else {
        let day = crate::timeline::DAY;
        conn.prepare_cached(
            "SELECT COUNT(DISTINCT key_id) FROM probe_days WHERE cc = ?1 AND day >= ?2 AND day <= ?3
             AND (?4 IS NULL OR asn = ?4)",
        )?
        .query_row(params![cc, from.div_euclid(day) * day, to, asn], |r| r.get(0))
    }
}

/// Reconcile the stored disclosures with the stored events.
pub fn reconciliation(conn: &Connection, o: &Options) -> rusqlite::Result<Reconciliation> {
    let cc = o.filter.country.as_deref();
    let disclosures = load(conn, cc)?;
    let events = load_events(conn, cc)?;
    let mut cover = HashMap::new();
    for d in &disclosures {
        let (from, to) = coverage_window(&d.disclosure, o.tolerance, o.now);
        cover.insert(d.key.clone(), coverage(conn, &d.disclosure.country, d.disclosure.asn, from, to)?);
    }
    Ok(reconcile(&disclosures, &events, &cover, o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disclosures::{InputFormat, parse};

    const HEADER: &str = "format_version,id,source,platform,country,start,end,type";

    fn parsed(rows: &str) -> Parsed {
        parse(&format!("{HEADER}\n{rows}"), InputFormat::Csv, &mut |_| {}).unwrap()
    }

    #[test]
    fn imports_are_idempotent_and_a_republished_id_replaces_its_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::store::open_and_migrate(&dir.path().join("v.sqlite")).unwrap();
        let first = "1,r-1,meta,whatsapp,IR,2025-03-04,,blocked\n1,,meta,whatsapp,IR,2025-03-05,,blocked\n1,,meta,whatsapp,IR,,,\n";
        let r = import(&mut conn, parsed(first), 10).unwrap();
        assert_eq!((r.records, r.inserted, r.updated, r.unchanged, r.errors.len()), (3, 2, 0, 0, 1));
        let r = import(&mut conn, parsed(first), 20).unwrap();
        assert_eq!((r.inserted, r.updated, r.unchanged), (0, 0, 2));
        // The same id, now with an end: replaced. A row without an id and another end: a new one.
        let second =
            "1,r-1,meta,whatsapp,IR,2025-03-04,2025-03-06,blocked\n1,,meta,whatsapp,IR,2025-03-05,2025-03-05,blocked\n";
        let r = import(&mut conn, parsed(second), 30).unwrap();
        assert_eq!((r.inserted, r.updated, r.unchanged), (1, 1, 0));
        let all = load(&conn, Some("IR")).unwrap();
        assert_eq!(all.len(), 3);
        let r1 = all.iter().find(|d| d.disclosure.id.as_deref() == Some("r-1")).unwrap();
        assert_eq!(r1.disclosure.end.map(|e| e.text()).as_deref(), Some("2025-03-06"));
        let stored: (i64, Option<i64>) = conn
            .query_row("SELECT imported_at, end FROM disclosures WHERE key = ?1", [&r1.key], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(stored, (30, Some(1_741_219_200)));
        assert!(load(&conn, Some("PK")).unwrap().is_empty());
    }
}
