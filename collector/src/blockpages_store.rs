//! Blockpage discovery's tables: the candidates (added in the writer's insert transaction, the
//! oldest dropped past the cap) and the fingerprints operators promoted from their clusters.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use vigil_report::protocol::LocalFingerprint;

use crate::blockpages::{Page, signature_bytes, signature_from_bytes};
use crate::blockpages_cluster::Member;

pub const MIGRATION: &str = "
    CREATE TABLE blockpage_candidates (
        seq INTEGER PRIMARY KEY,
        measurement_id TEXT NOT NULL UNIQUE,
        key_id TEXT NOT NULL,
        cc TEXT NOT NULL,
        asn INTEGER NOT NULL,
        domain TEXT NOT NULL,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        phrases TEXT NOT NULL,
        signature BLOB NOT NULL,
        seen_at TEXT NOT NULL
    );
    CREATE TABLE blockpage_fingerprints (
        name TEXT PRIMARY KEY,
        cluster_id TEXT NOT NULL,
        location_found TEXT NOT NULL,
        pattern_type TEXT NOT NULL,
        pattern TEXT NOT NULL,
        expected_countries TEXT NOT NULL,
        promoted_at TEXT NOT NULL,
        withdrawn_at TEXT
    );";

/// The stored measurement a candidate comes from (the writer's view).
pub struct Source<'a> {
    pub measurement_id: &'a str,
    pub key_id: &'a str,
    pub cc: &'a str,
    pub asn: u32,
    pub seen_at: &'a str,
}

/// Add a candidate (in the insert transaction).
pub fn add(tx: &Transaction<'_>, src: &Source<'_>, page: &Page) -> rusqlite::Result<()> {
    let phrases = serde_json::to_string(&page.phrases).unwrap_or_else(|_| "[]".into());
    tx.prepare_cached(
        "INSERT INTO blockpage_candidates (measurement_id, key_id, cc, asn, domain, title, text, phrases, signature, seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT(measurement_id) DO NOTHING",
    )?
    .execute(params![
        src.measurement_id,
        src.key_id,
        src.cc,
        src.asn,
        page.domain,
        page.title,
        page.text,
        phrases,
        signature_bytes(&page.signature),
        src.seen_at
    ])?;
    Ok(())
}

/// Keep the newest `cap` candidates.
pub fn prune(tx: &Transaction<'_>, cap: usize) -> rusqlite::Result<usize> {
    tx.prepare_cached("DELETE FROM blockpage_candidates WHERE seq <= (SELECT MAX(seq) FROM blockpage_candidates) - ?1")?
        .execute(params![cap as i64])
}

/// What the candidates are now: their count and newest seq (both change with every insertion or
/// pruning).
pub fn version(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.prepare_cached("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM blockpage_candidates")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
}

/// Every candidate's clustering columns, oldest first.
pub fn members(conn: &Connection) -> rusqlite::Result<Vec<Member>> {
    let mut q = conn.prepare(
        "SELECT seq, measurement_id, key_id, cc, asn, seen_at, signature FROM blockpage_candidates ORDER BY seq",
    )?;
    q.query_map([], |r| {
        Ok(Member {
            seq: r.get(0)?,
            measurement_id: r.get(1)?,
            key_id: r.get(2)?,
            cc: r.get(3)?,
            asn: r.get(4)?,
            seen_at: r.get(5)?,
            signature: signature_from_bytes(&r.get::<_, Vec<u8>>(6)?),
        })
    })?
    .collect()
}

/// A candidate's published columns.
#[derive(Debug, Clone)]
pub struct Detail {
    pub domain: String,
    pub title: String,
    pub text: String,
}

pub fn detail(conn: &Connection, seq: i64) -> rusqlite::Result<Option<Detail>> {
    conn.prepare_cached("SELECT domain, title, text FROM blockpage_candidates WHERE seq = ?1")?
        .query_row(params![seq], |r| Ok(Detail { domain: r.get(0)?, title: r.get(1)?, text: r.get(2)? }))
        .optional()
}

/// A candidate's literal phrases.
pub fn phrases(conn: &Connection, seq: i64) -> rusqlite::Result<Vec<String>> {
    let json: Option<String> = conn
        .prepare_cached("SELECT phrases FROM blockpage_candidates WHERE seq = ?1")?
        .query_row(params![seq], |r| r.get(0))
        .optional()?;
    Ok(json.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default())
}

/// A change to the promoted fingerprints (through the writer).
#[derive(Debug, Clone)]
pub enum Op {
    /// Promote (again, after a withdrawal: the new pattern replaces the old).
    Promote { cluster_id: String, fingerprint: LocalFingerprint },
    /// Withdraw the fingerprint of a cluster; false when none is active.
    Withdraw { cluster_id: String },
}

pub fn apply(tx: &Transaction<'_>, op: &Op, now: &str) -> rusqlite::Result<bool> {
    match op {
        Op::Promote { cluster_id, fingerprint: f } => {
            let countries = f.expected_countries.join(",");
            tx.execute(
                "INSERT INTO blockpage_fingerprints
                     (name, cluster_id, location_found, pattern_type, pattern, expected_countries, promoted_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(name) DO UPDATE SET location_found = excluded.location_found,
                     pattern_type = excluded.pattern_type, pattern = excluded.pattern,
                     expected_countries = excluded.expected_countries, promoted_at = excluded.promoted_at,
                     withdrawn_at = NULL",
                params![f.name, cluster_id, f.location_found, f.pattern_type, f.pattern, countries, now],
            )?;
            Ok(true)
        }
        Op::Withdraw { cluster_id } => Ok(tx.execute(
            "UPDATE blockpage_fingerprints SET withdrawn_at = ?2 WHERE cluster_id = ?1 AND withdrawn_at IS NULL",
            params![cluster_id, now],
        )? > 0),
    }
}

/// The active (promoted, not withdrawn) fingerprints, by name, with their cluster ids.
pub fn active(conn: &Connection) -> rusqlite::Result<Vec<(String, LocalFingerprint)>> {
    let mut q = conn.prepare_cached(
        "SELECT cluster_id, name, location_found, pattern_type, pattern, expected_countries
         FROM blockpage_fingerprints WHERE withdrawn_at IS NULL ORDER BY name",
    )?;
    q.query_map([], |r| {
        let countries: String = r.get(5)?;
        Ok((
            r.get(0)?,
            LocalFingerprint {
                name: r.get(1)?,
                location_found: r.get(2)?,
                pattern_type: r.get(3)?,
                pattern: r.get(4)?,
                expected_countries: countries.split(',').filter(|c| !c.is_empty()).map(str::to_string).collect(),
            },
        ))
    })?
    .collect()
}

/// The active fingerprints as the probe configuration carries them.
pub fn fingerprints(conn: &Connection) -> rusqlite::Result<Vec<LocalFingerprint>> {
    Ok(active(conn)?.into_iter().map(|(_, f)| f).collect())
}
