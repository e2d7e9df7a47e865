//! Where incremental detection keeps its place: a cursor (the last observation `rowid` a pass
//! read, its time, and a hash of the parameters the state was built with) and the detector's
//! state per scope ([`vigil_detect::Detector::checkpoint`]), saved in the writer's transaction
//! with the events the pass wrote, so a restart resumes instead of re-reading its window.
//!
//! The pass reads the observation rows stored since the cursor ([`read_new`]); a collector
//! without a checkpoint (or with one made under other parameters) starts reading at the window's
//! first row ([`cursor_before`]).
//!
//! Also the schema migration of issue 16: observations gain their source and run, events a
//! `final` flag (a retraction is final), and OONI's imported measurements get their table
//! (`ooni_store`).

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use vigil_detect::Params;

/// Schema migration: the detection cursor and state, observations' source and run (and their
/// meta, [`vigil_detect::Meta`], as JSON), events' `final`, OONI's measurements.
pub const MIGRATION: &str = "ALTER TABLE observations ADD COLUMN source TEXT NOT NULL DEFAULT 'vigil';
    ALTER TABLE observations ADD COLUMN run TEXT;
    ALTER TABLE observations ADD COLUMN meta TEXT;
    CREATE TABLE detect_state (
        scope TEXT PRIMARY KEY,
        state BLOB NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE detect_cursor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        last_rowid INTEGER NOT NULL,
        now INTEGER NOT NULL,
        params_hash TEXT NOT NULL
    );
    ALTER TABLE events ADD COLUMN final INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE ooni_measurements (
        uid TEXT PRIMARY KEY,
        report_id TEXT NOT NULL,
        test_name TEXT NOT NULL,
        input TEXT,
        measurement_start_time TEXT NOT NULL,
        probe_cc TEXT NOT NULL,
        probe_asn INTEGER NOT NULL,
        imported_at INTEGER NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE INDEX ooni_measurements_report ON ooni_measurements (report_id);";

/// A detection pass's place: where it stopped reading. The detector's state is the stored rows
/// up to it (a restart feeds them again), so nothing else is saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last `observations.rowid` the detector was fed.
    pub last_rowid: i64,
    /// The time it was advanced to.
    pub now: i64,
    /// [`params_hash`] of the parameters it ran with: a restart with others rebuilds.
    pub params_hash: String,
}

/// A stable hash of the detection parameters (hex SHA-256 of their JSON).
pub fn params_hash(params: &Params) -> String {
    let json = serde_json::to_vec(params).unwrap_or_default();
    Sha256::digest(&json).iter().map(|b| format!("{b:02x}")).collect()
}

/// Save a checkpoint (in the caller's transaction). Per-scope states an older version saved in
/// `detect_state` (a copy of every observation) are deleted: nothing reads them.
pub fn save(conn: &Connection, cp: &Checkpoint) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO detect_cursor (id, last_rowid, now, params_hash) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET last_rowid = ?1, now = ?2, params_hash = ?3",
        params![cp.last_rowid, cp.now, cp.params_hash],
    )?;
    conn.execute("DELETE FROM detect_state", [])?;
    Ok(())
}

/// The saved checkpoint; None if none was saved.
pub fn load(conn: &Connection) -> rusqlite::Result<Option<Checkpoint>> {
    conn.query_row("SELECT last_rowid, now, params_hash FROM detect_cursor WHERE id = 1", [], |r| {
        Ok(Checkpoint { last_rowid: r.get(0)?, now: r.get(1)?, params_hash: r.get(2)? })
    })
    .optional()
}

/// The cursor to start reading the window `[from, ..]` at: just before the first row measured
/// since `from` (rows arrive roughly in time order; one older than `from` after it is skipped
/// by [`read_new`]), or after the last row when none is.
pub fn cursor_before(conn: &Connection, from: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COALESCE((SELECT MIN(rowid) - 1 FROM observations WHERE at >= ?1),
             (SELECT MAX(rowid) FROM observations), 0)",
        [from],
        |r| r.get(0),
    )
}

/// What [`read_new`] read.
#[derive(Debug, Clone, Default)]
pub struct NewRows {
    /// The observations of the rows read that were measured since `from`, in `rowid` order.
    pub observations: Vec<vigil_detect::Observation>,
    /// Rows read (and parsed).
    pub rows: usize,
    /// The new cursor: every row up to it has been read, by this call or before.
    pub cursor: i64,
    /// Rows read after the new cursor (after a row still pending).
    pub read_after_cursor: Vec<i64>,
}

/// The observation rows after `cursor` received by `now`, except those in `done` (read before);
/// rows received after `now` stay pending (the new cursor stops before the first of them).
pub fn read_new(
    conn: &Connection,
    cursor: i64,
    done: &std::collections::BTreeSet<i64>,
    from: i64,
    now: i64,
) -> rusqlite::Result<NewRows> {
    // One snapshot for both statements: a row stored in between is neither lost nor read twice.
    let tx = conn.unchecked_transaction()?;
    let pending: Option<i64> = tx.query_row(
        "SELECT MIN(rowid) FROM observations WHERE rowid > ?1 AND received_at > ?2",
        params![cursor, now],
        |r| r.get(0),
    )?;
    let mut stmt = tx.prepare_cached(
        "SELECT rowid, measurement_id, key_id, asn, cc, at, received_at, what, meta FROM observations
         WHERE rowid > ?1 AND received_at <= ?2 ORDER BY rowid",
    )?;
    let mut rows = stmt.query(params![cursor, now])?;
    let mut out = NewRows { cursor, ..NewRows::default() };
    let mut last = cursor;
    while let Some(r) = rows.next()? {
        let rowid: i64 = r.get(0)?;
        if done.contains(&rowid) {
            continue;
        }
        last = rowid;
        if pending.is_some_and(|p| rowid > p) {
            out.read_after_cursor.push(rowid);
        }
        out.rows += 1;
        let at: i64 = r.get(5)?;
        if at < from {
            continue;
        }
        let row = (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, at, r.get(6)?, r.get(7)?, r.get(8)?);
        out.observations.extend(crate::observation_store::observation_of(row));
    }
    out.cursor = match pending {
        Some(p) => p - 1,
        None => last.max(done.last().copied().unwrap_or(cursor)),
    };
    drop(rows);
    drop(stmt);
    tx.commit()?;
    Ok(out)
}

/// The probes whose keys were revoked (an operator's retire), with when (Unix s), ordered by key
/// id: detection treats each as having said its last words then. A time that does not parse
/// (the writer stores RFC 3339) is left out.
pub fn revoked(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut stmt =
        conn.prepare_cached("SELECT key_id, revoked_at FROM probes WHERE revoked_at IS NOT NULL ORDER BY key_id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (key, at) = row?;
        let at = time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339);
        out.extend(at.ok().map(|t| (key, t.unix_timestamp())));
    }
    Ok(out)
}

/// Forget the checkpoint (parameters changed, or a rebuild): the next pass starts afresh.
pub fn clear(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("DELETE FROM detect_cursor; DELETE FROM detect_state;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_hash_is_stable_and_tells_parameters_apart() {
        let p = Params::default();
        assert_eq!(params_hash(&p), params_hash(&p.clone()));
        assert_eq!(params_hash(&p).len(), 64);
        assert_ne!(params_hash(&p), params_hash(&Params { spool_grace: 1, ..p }));
    }

    #[test]
    fn a_checkpoint_is_saved_updated_loaded_and_cleared_in_a_real_database() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::store::open_and_migrate(&dir.path().join("vigil.db")).unwrap();
        assert_eq!(load(&conn).unwrap(), None);
        let hash = params_hash(&Params::default());
        let first = Checkpoint { last_rowid: 10, now: 1000, params_hash: hash.clone() };
        let tx = conn.transaction().unwrap();
        save(&tx, &first).unwrap();
        tx.commit().unwrap();
        assert_eq!(load(&conn).unwrap(), Some(first));
        // A state an older version saved per scope is dropped by the next save.
        conn.execute("INSERT INTO detect_state (scope, state, updated_at) VALUES ('IR/1', x'00', 1000)", []).unwrap();
        let second = Checkpoint { last_rowid: 25, now: 1600, params_hash: hash };
        save(&conn, &second).unwrap();
        assert_eq!(load(&conn).unwrap(), Some(second));
        let left: i64 = conn.query_row("SELECT COUNT(*) FROM detect_state", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 0);
        clear(&conn).unwrap();
        assert_eq!(load(&conn).unwrap(), None);
    }

    #[test]
    fn new_rows_are_read_once_and_rows_received_later_stay_pending() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::open_and_migrate(&dir.path().join("vigil.db")).unwrap();
        let row = |id: &str, at: i64, received_at: i64| vigil_detect::Observation {
            at,
            received_at,
            probe: "p".into(),
            cc: "ZZ".into(),
            asn: 1,
            measurement_id: Some(id.into()),
            what: vigil_detect::What::Heartbeat,
            meta: Default::default(),
        };
        // Rowids 1..=4: the second is received after the first pass, the fourth is too old.
        for o in [row("a", 90, 100), row("b", 450, 500), row("c", 190, 200), row("d", 10, 250)] {
            crate::observation_store::insert_observation(&conn, "vigil_heartbeat", &o).unwrap();
        }
        assert_eq!(cursor_before(&conn, 50).unwrap(), 0);
        assert_eq!(cursor_before(&conn, 150).unwrap(), 1, "just before the first row measured since 150");
        assert_eq!(cursor_before(&conn, 1000).unwrap(), 4, "none: after the last row");
        let ids = |r: &NewRows| r.observations.iter().map(|o| o.measurement_id.clone().unwrap()).collect::<Vec<_>>();
        let mut done = std::collections::BTreeSet::new();
        let first = read_new(&conn, 0, &done, 50, 300).unwrap();
        assert_eq!((ids(&first), first.rows, first.cursor), (vec!["a".to_string(), "c".to_string()], 3, 1));
        assert_eq!(first.read_after_cursor, vec![3, 4]);
        done.extend(first.read_after_cursor);
        let second = read_new(&conn, first.cursor, &done, 50, 600).unwrap();
        assert_eq!((ids(&second), second.rows, second.cursor), (vec!["b".to_string()], 1, 4));
        let third = read_new(&conn, second.cursor, &Default::default(), 50, 600).unwrap();
        assert_eq!((third.rows, third.cursor), (0, 4), "nothing new");
    }

    #[test]
    fn the_migration_adds_defaults_to_existing_rows() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::open_and_migrate(&dir.path().join("vigil.db")).unwrap();
        let o = vigil_detect::Observation {
            at: 1,
            received_at: 2,
            probe: "p".into(),
            cc: "ZZ".into(),
            asn: 1,
            measurement_id: Some("m".into()),
            what: vigil_detect::What::Heartbeat,
            meta: Default::default(),
        };
        crate::observation_store::insert_observation(&conn, "vigil_heartbeat", &o).unwrap();
        let (source, run, meta): (String, Option<String>, Option<String>) = conn
            .query_row("SELECT source, run, meta FROM observations", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        assert_eq!((source.as_str(), run, meta), ("vigil", None, None));
        conn.execute(
            "INSERT INTO events (id, revision, type, cc, start, start_uncertainty, probes, measurements, confidence,
                 status, updated_at, event) VALUES ('e', 1, 'shutdown', 'ZZ', 0, 0, 0, 0, 0.5, 'provisional', 0, '{}')",
            [],
        )
        .unwrap();
        let fin: i64 = conn.query_row("SELECT final FROM events", [], |r| r.get(0)).unwrap();
        assert_eq!(fin, 0);
    }
}
