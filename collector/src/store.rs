//! The SQLite database: schema and migrations, connections, and the read queries (writes go
//! through `writer`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use vigil_report::Signed;
use vigil_report::protocol::PublishedKey;

use crate::error::CollectorError;

/// Migrations in order; the schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: probes, measurements, the collector's keys and its rotation statements.
    "CREATE TABLE probes (
        key_id TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        software_version TEXT NOT NULL,
        enrolled_at TEXT NOT NULL,
        last_seen TEXT,
        measurements INTEGER NOT NULL DEFAULT 0,
        revoked_at TEXT
    );
    CREATE TABLE measurements (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        key_id TEXT NOT NULL,
        test_name TEXT NOT NULL,
        input TEXT,
        measurement_start_time TEXT NOT NULL,
        received_at TEXT NOT NULL,
        asn INTEGER NOT NULL,
        cc TEXT NOT NULL,
        claimed_asn TEXT NOT NULL,
        claimed_cc TEXT NOT NULL,
        format TEXT NOT NULL,
        payload TEXT NOT NULL,
        signature TEXT NOT NULL
    );
    CREATE TABLE collector_keys (
        key_id TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        created_at TEXT NOT NULL,
        retired_at TEXT
    );
    CREATE TABLE key_rotations (
        seq INTEGER PRIMARY KEY,
        new_key_id TEXT NOT NULL,
        statement TEXT NOT NULL
    );",
    // 2: detection: the observation of each measurement, events and their revisions.
    crate::events::MIGRATION,
    // 3: the hourly counts behind timelines, probe coverage per day.
    crate::timeline::MIGRATION,
    // 4: indexes for measurement queries.
    crate::api_measurements::MIGRATION,
    // 5: imported disclosures (platforms' and registries' reports) for the cross-check.
    crate::disclosures_store::MIGRATION,
    // 6: the collector's own uptime: runs, last receipt, quiet stretches.
    crate::uptime::MIGRATION,
    // 7: blockpage discovery: candidate pages and the fingerprints promoted from their clusters.
    crate::blockpages_store::MIGRATION,
    // 8: incremental detection's cursor and state, observations' source and run, final events, OONI.
    crate::detect_store::MIGRATION,
    // 9: observations keyed by their arrival order, not the random measurement id.
    crate::observation_store::MIGRATION,
];

/// The schema version this collector writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> CollectorError + '_ {
    move |source| CollectorError::Db { path: path.display().to_string(), source }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // Takes effect only when the database is created: rows of ~2 KB fill 16 KiB pages well.
    conn.pragma_update(None, "page_size", 16384)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
}

/// Bound a connection's page cache to `bytes` (SQLite's `cache_size` in KiB when negative).
pub fn set_cache_bytes(conn: &Connection, bytes: u64) -> rusqlite::Result<()> {
    let kib = i64::try_from(bytes / 1024).unwrap_or(i64::MAX).max(1);
    conn.pragma_update(None, "cache_size", -kib)
}

/// Open (creating if needed) the database and bring its schema up to date.
pub fn open_and_migrate(path: &Path) -> Result<Connection, CollectorError> {
    let err = db_err(path);
    let mut conn = Connection::open(path).map_err(&err)?;
    configure(&conn).map_err(&err)?;
    // Every transaction takes the write lock at BEGIN, where SQLite waits out the busy timeout.
    // A deferred one that reads first and writes later gets "database is locked" at once when
    // the checkpointer holds the lock meanwhile (SQLite calls no busy handler to upgrade a read).
    conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)").map_err(&err)?;
    let found: Option<i64> =
        conn.query_row("SELECT version FROM schema_version", [], |r| r.get(0)).optional().map_err(&err)?;
    let found = found.unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(CollectorError::SchemaTooNew { path: path.display().to_string(), found, known: SCHEMA_VERSION });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction().map_err(&err)?;
        tx.execute_batch(sql).map_err(&err)?;
        tx.execute("DELETE FROM schema_version", []).map_err(&err)?;
        tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [i as i64 + 1]).map_err(&err)?;
        tx.commit().map_err(&err)?;
    }
    Ok(conn)
}

/// One probe as the operator sees it (no addresses, ever).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeRow {
    pub key_id: String,
    pub public_key: String,
    pub software_version: String,
    pub enrolled_at: String,
    pub last_seen: Option<String>,
    pub measurements: u64,
    pub revoked: bool,
    pub revoked_at: Option<String>,
}

/// Counts for the health endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub probes: u64,
    pub measurements: u64,
}

/// Read-only connections, reused; each read runs on a blocking thread.
#[derive(Debug)]
pub struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    pub fn new(path: PathBuf) -> ReadPool {
        ReadPool { path, idle: Mutex::new(Vec::new()) }
    }

    /// Run `f` with a read connection.
    pub fn with<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> rusqlite::Result<R> {
        let conn = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(&self.path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                c.busy_timeout(std::time::Duration::from_secs(10))?;
                c
            }
        };
        let result = f(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < 8 {
            idle.push(conn);
        }
        result
    }
}

pub fn counts(conn: &Connection) -> rusqlite::Result<Counts> {
    conn.query_row("SELECT COUNT(*), COALESCE(SUM(measurements), 0) FROM probes", [], |r| {
        Ok(Counts { probes: r.get::<_, i64>(0)? as u64, measurements: r.get::<_, i64>(1)? as u64 })
    })
}

pub fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT version FROM schema_version", [], |r| r.get(0))
}

pub fn probes(conn: &Connection) -> rusqlite::Result<Vec<ProbeRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT key_id, public_key, software_version, enrolled_at, last_seen, measurements, revoked_at
         FROM probes ORDER BY enrolled_at, key_id",
    )?;
    let rows = stmt.query_map([], |r| {
        let revoked_at: Option<String> = r.get(6)?;
        Ok(ProbeRow {
            key_id: r.get(0)?,
            public_key: r.get(1)?,
            software_version: r.get(2)?,
            enrolled_at: r.get(3)?,
            last_seen: r.get(4)?,
            measurements: r.get::<_, i64>(5)? as u64,
            revoked: revoked_at.is_some(),
            revoked_at,
        })
    })?;
    rows.collect()
}

pub fn published_keys(conn: &Connection) -> rusqlite::Result<Vec<PublishedKey>> {
    Ok(probes(conn)?
        .into_iter()
        .map(|p| PublishedKey {
            key_id: p.key_id,
            public_key: p.public_key,
            enrolled_at: p.enrolled_at,
            revoked_at: p.revoked_at,
        })
        .collect())
}

/// The stored envelope of a measurement.
pub fn measurement(conn: &Connection, id: &str) -> rusqlite::Result<Option<Signed>> {
    conn.query_row("SELECT format, key_id, payload, signature FROM measurements WHERE id = ?1", params![id], |r| {
        Ok(Signed { format: r.get(0)?, key_id: r.get(1)?, payload: r.get(2)?, signature: r.get(3)? })
    })
    .optional()
}

/// Key rotation statements (JSON of `Signed`), oldest first.
pub fn rotations(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT statement FROM key_rotations ORDER BY seq")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}

/// Whether a rotation to `key_id` is recorded.
pub fn rotation_recorded(conn: &Connection, key_id: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT COUNT(*) FROM key_rotations WHERE new_key_id = ?1", params![key_id], |r| r.get::<_, i64>(0))
        .map(|n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op_and_newer_schemas_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.sqlite");
        let conn = open_and_migrate(&path).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), SCHEMA_VERSION);
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        drop(conn);
        let conn = open_and_migrate(&path).unwrap();
        assert_eq!(counts(&conn).unwrap(), Counts { probes: 0, measurements: 0 });
        conn.execute("UPDATE schema_version SET version = 99", []).unwrap();
        drop(conn);
        assert!(matches!(open_and_migrate(&path), Err(CollectorError::SchemaTooNew { found: 99, .. })));
    }

    /// Migration 9 keys observations by their arrival order: a version-8 database keeps every row
    /// with its rowid (the detection cursor counts in them, gaps included), and new rows follow.
    #[test]
    fn observations_keep_their_rowids_through_migration_9() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.sqlite");
        let conn = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..8] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (8);",
        )
        .unwrap();
        for (rowid, id) in [(3, "b"), (7, "a"), (12, "c")] {
            conn.execute(
                "INSERT INTO observations (rowid, measurement_id, key_id, test_name, asn, cc, at, received_at, what, run)
                 VALUES (?1, ?2, 'k', 'vigil_heartbeat', 64500, 'IR', ?1, ?1, '\"heartbeat\"', 'r')",
                params![rowid, id],
            )
            .unwrap();
        }
        drop(conn);
        let conn = open_and_migrate(&path).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), SCHEMA_VERSION);
        let rows: Vec<(i64, String, String, String)> = conn
            .prepare("SELECT rowid, measurement_id, source, run FROM observations ORDER BY rowid")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let want = |n: i64, id: &str| (n, id.to_string(), "vigil".to_string(), "r".to_string());
        assert_eq!(rows, vec![want(3, "b"), want(7, "a"), want(12, "c")]);
        conn.execute(
            "INSERT INTO observations (measurement_id, key_id, test_name, asn, cc, at, received_at, what)
             VALUES ('d', 'k', 'vigil_heartbeat', 64500, 'IR', 13, 13, 'x')",
            [],
        )
        .unwrap();
        assert_eq!(conn.last_insert_rowid(), 13);
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'observations' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(indexes, ["observations_at", "observations_cc_at"], "no index on the random measurement id");
    }

    /// A transaction that reads before it writes, while another connection (the checkpointer's
    /// TRUNCATE, say) holds the write lock for a moment, waits instead of failing.
    #[test]
    fn a_transaction_that_reads_first_waits_for_the_write_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.sqlite");
        let mut conn = open_and_migrate(&path).unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (locked, release) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let _ = release.recv_timeout(std::time::Duration::from_millis(300));
            other.execute_batch("COMMIT").unwrap();
        });
        let tx = conn.transaction().unwrap();
        let before = counts(&tx).unwrap();
        tx.execute("INSERT INTO schema_version (version) VALUES (0)", []).expect("waits, not busy");
        tx.rollback().unwrap();
        drop(locked);
        holder.join().unwrap();
        assert_eq!(before, Counts { probes: 0, measurements: 0 });
    }
}
