//! The `observations` table: each stored measurement's observation for detection
//! (`vigil_detect::Observation`), written with the measurement and read back by the detection
//! pass. A leaf of the store layer: the other stores read and write observations through it.

use rusqlite::{Connection, params};

/// Schema migration: `observations` keyed by an explicit `seq` (its rowid, kept: the detection
/// cursor counts in it, and an explicit key keeps a VACUUM from renumbering it) instead of the
/// random measurement id. One row per measurement is already guaranteed by `measurements.id`
/// and `ooni_measurements.uid`; the id index only cost a random page per insert.
pub const MIGRATION: &str = "CREATE TABLE observations_seq (
        seq INTEGER PRIMARY KEY,
        measurement_id TEXT NOT NULL,
        key_id TEXT NOT NULL,
        test_name TEXT NOT NULL,
        platform TEXT,
        kind TEXT,
        status TEXT,
        family TEXT,
        mechanism TEXT,
        asn INTEGER NOT NULL,
        cc TEXT NOT NULL,
        at INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        what TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT 'vigil',
        run TEXT,
        meta TEXT
    );
    INSERT INTO observations_seq (seq, measurement_id, key_id, test_name, platform, kind, status, family, mechanism,
            asn, cc, at, received_at, what, source, run, meta)
        SELECT rowid, measurement_id, key_id, test_name, platform, kind, status, family, mechanism,
            asn, cc, at, received_at, what, source, run, meta FROM observations ORDER BY rowid;
    DROP TABLE observations;
    ALTER TABLE observations_seq RENAME TO observations;
    CREATE INDEX observations_at ON observations (at);
    CREATE INDEX observations_cc_at ON observations (cc, at);";
use serde::Serialize;
use vigil_detect::{Observation, What};

/// The string a serde enum serialises to (its stored label).
pub(crate) fn label<T: Serialize>(v: &T) -> Option<String> {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string))
}

/// Store an observation (once per stored measurement: the caller stores it with a new row).
pub fn insert_observation(conn: &Connection, test_name: &str, o: &Observation) -> rusqlite::Result<()> {
    let (platform, kind, status, family, mechanism) = match &o.what {
        What::Platform { platform, kind, status, family, mechanism } => (
            Some(platform.clone()),
            label(kind),
            label(status),
            family.as_ref().and_then(label),
            mechanism.as_ref().and_then(label),
        ),
        What::Throttling { platform, verdict, .. } => (Some(platform.clone()), None, label(verdict), None, None),
        What::Heartbeat | What::Alive => (None, None, None, None, None),
    };
    let what = serde_json::to_string(&o.what).unwrap_or_default();
    // The meta as JSON when it says anything (its source and run also in their own columns).
    let meta = (!o.meta.is_default()).then(|| serde_json::to_string(&o.meta).unwrap_or_default());
    conn.prepare_cached(
        "INSERT INTO observations (measurement_id, key_id, test_name, platform, kind, status, family, mechanism,
             asn, cc, at, received_at, what, source, run, meta)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        o.measurement_id.clone().unwrap_or_default(),
        o.probe,
        test_name,
        platform,
        kind,
        status,
        family,
        mechanism,
        o.asn,
        o.cc,
        o.at,
        o.received_at,
        what,
        o.meta.source.label(),
        o.meta.run,
        meta
    ])?;
    Ok(())
}

/// The observations measured since `from` (Unix s), oldest first.
pub fn load_observations(conn: &Connection, from: i64) -> rusqlite::Result<Vec<Observation>> {
    let mut stmt = conn.prepare_cached(
        "SELECT measurement_id, key_id, asn, cc, at, received_at, what, meta FROM observations WHERE at >= ?1
         ORDER BY at",
    )?;
    observations(&mut stmt, params![from])
}

/// The observations of the rows up to `last_rowid` measured since `from`, in `rowid` (arrival)
/// order: what a detector whose cursor is `last_rowid` was fed (a restarted collector's).
pub fn load_observations_upto(conn: &Connection, from: i64, last_rowid: i64) -> rusqlite::Result<Vec<Observation>> {
    let mut stmt = conn.prepare_cached(
        "SELECT measurement_id, key_id, asn, cc, at, received_at, what, meta FROM observations
         WHERE rowid <= ?2 AND at >= ?1 ORDER BY rowid",
    )?;
    observations(&mut stmt, params![from, last_rowid])
}

/// The observations of the rows a statement selecting [`ObservationRow`]'s columns gives.
fn observations(stmt: &mut rusqlite::Statement<'_>, args: impl rusqlite::Params) -> rusqlite::Result<Vec<Observation>> {
    let rows = stmt.query_map(args, |r| {
        Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        out.extend(observation_of(row?));
    }
    Ok(out)
}

/// An observation row's columns: measurement id, probe, ASN, country, at, received at, `what`
/// and meta (JSON).
pub(crate) type ObservationRow = (String, String, u32, String, i64, i64, String, Option<String>);

/// The observation of a stored row; None for a row this version cannot read (written by a
/// newer one), which is left out, not fatal.
pub(crate) fn observation_of(row: ObservationRow) -> Option<Observation> {
    let (id, probe, asn, cc, at, received_at, what, meta) = row;
    let what = serde_json::from_str::<What>(&what).ok()?;
    let meta = meta.and_then(|m| serde_json::from_str(&m).ok()).unwrap_or_default();
    Some(Observation { at, received_at, probe, cc, asn, measurement_id: Some(id), what, meta })
}
