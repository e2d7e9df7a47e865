//! Detection on stored data: the observation of each measurement (written at ingest, in the
//! same transaction), and a detection pass that feeds the observations stored since the last
//! pass to the collector's [`Detector`] (which holds the recent window: [`Incremental`]),
//! reconciles its events with the stored ones by the publication rules
//! ([`vigil_detect::publish`]) and writes new events and revisions. A published event is never
//! rewritten silently: every change is an `event_revisions` row with its reason. [`plan_full`]
//! is the same pass over the whole window read from the store (offline use, benchmarks).

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use vigil_detect::publish::{self, Stored};
use vigil_detect::{Change, DetectedEvent, Detector, Params, PublishedEvent, held_from};

use crate::detect_store::{self, Checkpoint};
use crate::observation_store::label;
pub use crate::observation_store::{insert_observation, load_observations};

/// Schema migration 2: observations, events, revisions and evidence.
pub const MIGRATION: &str = "CREATE TABLE observations (
        measurement_id TEXT PRIMARY KEY,
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
        what TEXT NOT NULL
    );
    CREATE INDEX observations_at ON observations (at);
    CREATE INDEX observations_cc_at ON observations (cc, at);
    CREATE TABLE events (
        id TEXT PRIMARY KEY,
        revision INTEGER NOT NULL,
        type TEXT NOT NULL,
        cc TEXT NOT NULL,
        asn INTEGER,
        platform TEXT,
        family TEXT,
        mechanism TEXT,
        start INTEGER NOT NULL,
        start_uncertainty INTEGER NOT NULL,
        end INTEGER,
        end_uncertainty INTEGER,
        probes INTEGER NOT NULL,
        measurements INTEGER NOT NULL,
        confidence REAL NOT NULL,
        status TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        event TEXT NOT NULL
    );
    CREATE INDEX events_start ON events (start);
    CREATE TABLE event_revisions (
        id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        changed_at INTEGER NOT NULL,
        reason TEXT NOT NULL,
        changes TEXT NOT NULL,
        event TEXT NOT NULL,
        PRIMARY KEY (id, revision)
    );
    CREATE TABLE event_evidence (
        event_id TEXT NOT NULL,
        measurement_id TEXT NOT NULL,
        PRIMARY KEY (event_id, measurement_id)
    );";

/// How far back a detection pass looks (seconds).
pub const DEFAULT_WINDOW: i64 = publish::WINDOW;
/// Events that start this close to the window's far edge (or before it) are left as published:
/// the pass no longer sees their beginning, so it could only truncate or retract them.
pub const EDGE_MARGIN: i64 = publish::EDGE_MARGIN;

/// Parse an RFC 3339 time (the writer's `received_at`) into Unix seconds.
pub fn rfc3339_to_unix(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339).ok().map(|t| t.unix_timestamp())
}

/// The stored events a detection pass may revise: those whose period reaches into `[from, now]`
/// (an open end counts as now) and that are not final. A retraction is final: a retracted event
/// is never matched again, so a later outage of its scope cannot be written over it.
pub fn load_published(conn: &Connection, from: i64) -> rusqlite::Result<Vec<PublishedEvent>> {
    load_events(conn, from, false)
}

/// Every stored event whose period reaches into `[from, now]`, final (retracted) ones included.
pub fn load_stored(conn: &Connection, from: i64) -> rusqlite::Result<Vec<PublishedEvent>> {
    load_events(conn, from, true)
}

fn load_events(conn: &Connection, from: i64, with_final: bool) -> rusqlite::Result<Vec<PublishedEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT event, revision, updated_at FROM events
         WHERE (end IS NULL OR end >= ?1) AND (?2 OR (final = 0 AND status != 'retracted')) ORDER BY start, id",
    )?;
    let rows =
        stmt.query_map(params![from, with_final], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?, r.get(2)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (json, revision, published_at) = row?;
        let Ok(event) = serde_json::from_str::<DetectedEvent>(&json) else { continue };
        out.push(PublishedEvent { event, revision, published_at });
    }
    Ok(out)
}

/// What a detection pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PassSummary {
    /// Observation rows the pass read from the store (and parsed): the new rows only for an
    /// incremental pass ([`plan`]), the whole window for [`plan_full`].
    pub observations: usize,
    pub new: usize,
    pub revised: usize,
    pub unchanged: usize,
}

impl PassSummary {
    fn count(observations: usize, changes: &[Change]) -> Self {
        let mut summary = PassSummary { observations, ..PassSummary::default() };
        for change in changes {
            match change {
                Change::New(_) => summary.new += 1,
                Change::Revised { .. } => summary.revised += 1,
                Change::Unchanged { .. } => summary.unchanged += 1,
            }
        }
        summary
    }
}

/// The detector a collector keeps between passes, and where it stopped reading the store.
#[derive(Debug, Clone)]
pub struct Incremental {
    pub detector: Detector,
    /// Every observation row up to this `rowid` has been read (rows arrive in `rowid` order).
    pub cursor: i64,
    /// Rows after the cursor already read (rows after a pending one: one received after the
    /// pass's time, read by a later pass).
    pub read_after: std::collections::BTreeSet<i64>,
    /// The hash of the parameters the detector runs with ([`detect_store::params_hash`]).
    pub params_hash: String,
    /// Whether it was restored from a checkpoint (else rebuilt from the window).
    pub restored: bool,
    /// The time of its last pass.
    pub last_pass: Option<i64>,
    /// When (wall clock) its checkpoint was last saved or restored; None: not since a rebuild.
    pub saved_at: Option<std::time::Instant>,
    /// Revoked keys already passed to [`Detector::retire`].
    pub retired: std::collections::HashSet<String>,
}

impl Incremental {
    /// The detector of the stored checkpoint when there is one made with `params` (fed again
    /// the window's rows up to its cursor, in arrival order: the checkpoint itself holds only
    /// the cursor, so saving it costs nothing however large the fleet), else an empty one
    /// positioned to read the window `[held_from(now - window), now]` at its first pass.
    pub fn open(conn: &Connection, params: &Params, now: i64, window: i64) -> rusqlite::Result<Self> {
        let params_hash = detect_store::params_hash(params);
        let held = held_from(now - window);
        if let Some(cp) = detect_store::load(conn)?
            && cp.params_hash == params_hash
        {
            let mut detector = Detector::new(params.clone());
            for o in &crate::observation_store::load_observations_upto(conn, held, cp.last_rowid)? {
                detector.observe(o);
            }
            return Ok(Incremental {
                detector,
                cursor: cp.last_rowid,
                read_after: Default::default(),
                params_hash,
                restored: true,
                last_pass: Some(cp.now),
                saved_at: Some(std::time::Instant::now()),
                retired: Default::default(),
            });
        }
        Ok(Incremental {
            detector: Detector::new(params.clone()),
            cursor: detect_store::cursor_before(conn, held)?,
            read_after: Default::default(),
            params_hash,
            restored: false,
            last_pass: None,
            saved_at: None,
            retired: Default::default(),
        })
    }

    /// Its checkpoint as of `now`: the cursor and the parameters' hash (the state is the
    /// stored rows up to the cursor).
    pub fn checkpoint(&self, now: i64) -> Checkpoint {
        Checkpoint { last_rowid: self.cursor, now, params_hash: self.params_hash.clone() }
    }
}

/// One incremental pass at `now`: feed `inc` the observation rows stored since its cursor and
/// received by `now` (rows received later stay in the store for a later pass), drop what fell
/// out of the window (by whole days: the detector holds `[held_from(now - window), now]`),
/// detect, and reconcile with the stored events of `[now - window, now]`: the changes to write. The collector's recorded downtime (`uptime`) keeps its own silence from reading as
/// the fleet's; `run` is the serving run (a quiet stretch going on counts), None offline.
pub fn plan(
    conn: &Connection,
    inc: &mut Incremental,
    now: i64,
    window: i64,
    run: Option<crate::uptime::Run>,
) -> rusqlite::Result<(PassSummary, Vec<Change>)> {
    let from = now - window;
    let held = held_from(from);
    let fresh = detect_store::read_new(conn, inc.cursor, &inc.read_after, held, now)?;
    for o in &fresh.observations {
        inc.detector.observe(o);
    }
    inc.cursor = fresh.cursor;
    retire_revoked(conn, inc)?;
    inc.read_after.extend(fresh.read_after_cursor);
    inc.read_after = inc.read_after.split_off(&(inc.cursor + 1));
    inc.detector.forget_before(held);
    let params = inc.detector.params().clone();
    let downtime = crate::uptime::downtime(conn, held_from(from), run.map(|r| (r, now, params.collector_quiet())))?;
    inc.detector.advance(now, &downtime);
    inc.last_pass = Some(now);
    let detected = inc.detector.events(now);
    let published = load_published(conn, from)?;
    let changes = publish::changes(&published, &detected, inc.detector.set_aside(), now, window);
    Ok((PassSummary::count(fresh.rows, &changes), changes))
}

/// Tell the detector about keys revoked since it last looked (an operator retiring a probe): the
/// probe's silence after that is no outage. A restored detector is told again (idempotent).
fn retire_revoked(conn: &Connection, inc: &mut Incremental) -> rusqlite::Result<()> {
    for (key, at) in detect_store::revoked(conn)? {
        if !inc.retired.contains(&key) {
            inc.detector.retire(&key, at);
            inc.retired.insert(key);
        }
    }
    Ok(())
}

/// A pass over the window read whole from the store (the pass before issue 16's incremental
/// one, kept for offline use and as the benchmarks' reference; it reads what [`plan`]'s
/// detector holds, from `held_from(now - window)`): the changes to write.
pub fn plan_full(
    conn: &Connection,
    params: &Params,
    now: i64,
    window: i64,
    run: Option<crate::uptime::Run>,
) -> rusqlite::Result<(PassSummary, Vec<Change>)> {
    let from = now - window;
    let obs = load_observations(conn, held_from(from))?;
    let published = load_published(conn, from)?;
    let downtime = crate::uptime::downtime(conn, held_from(from), run.map(|r| (r, now, params.collector_quiet())))?;
    let mut detector = Detector::new(params.clone());
    for o in &obs {
        detector.observe(o);
    }
    for (key, at) in detect_store::revoked(conn)? {
        detector.retire(&key, at);
    }
    detector.advance(now, &downtime);
    let detected = detector.events(now);
    let changes = publish::changes(&published, &detected, detector.set_aside(), now, window);
    Ok((PassSummary::count(obs.len(), &changes), changes))
}

/// Write the new events and revisions of a pass (in the caller's transaction), by the
/// publication rules ([`publish::writes`]: a retraction is final, a new event on a retracted id
/// gets the next free `<id>-N`).
pub fn write_changes(tx: &Transaction<'_>, changes: &[Change], now: i64) -> rusqlite::Result<()> {
    let writes = publish::writes(changes, |id| stored_id(tx, id))?;
    for w in writes {
        let changes = serde_json::to_value(&w.changes).unwrap_or(Value::Null);
        write_revision(tx, &w.event, w.revision, now, &w.reason, &changes)?;
    }
    Ok(())
}

/// How `id` is stored: its revision, and whether it is final (retracted before `final` existed
/// included).
fn stored_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<Stored>> {
    conn.prepare_cached("SELECT revision, final != 0 OR status = 'retracted' FROM events WHERE id = ?1")?
        .query_row([id], |r| Ok(Stored { revision: r.get(0)?, is_final: r.get(1)? }))
        .optional()
}

/// One full-window detection pass over `[now - window, now]` ([`plan_full`]), written in one
/// transaction (offline use: the server plans on a read connection and writes through the writer
/// thread).
pub fn run_detection(conn: &mut Connection, params: &Params, now: i64, window: i64) -> rusqlite::Result<PassSummary> {
    let (summary, changes) = plan_full(conn, params, now, window, None)?;
    let tx = conn.transaction()?;
    write_changes(&tx, &changes, now)?;
    tx.commit()?;
    Ok(summary)
}

fn write_revision(
    tx: &Transaction<'_>,
    e: &DetectedEvent,
    revision: u32,
    now: i64,
    reason: &str,
    changes: &Value,
) -> rusqlite::Result<()> {
    let json = serde_json::to_string(e).unwrap_or_default();
    let (family, mechanism) = match &e.kind {
        vigil_detect::EventType::Blocking { family, mechanism, .. } => {
            (family.as_ref().and_then(label), mechanism.as_ref().and_then(label))
        }
        _ => (None, None),
    };
    tx.execute(
        "INSERT INTO events (id, revision, type, cc, asn, platform, family, mechanism, start, start_uncertainty, end,
             end_uncertainty, probes, measurements, confidence, status, updated_at, event, final)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
         ON CONFLICT(id) DO UPDATE SET revision = excluded.revision, type = excluded.type, cc = excluded.cc,
             asn = excluded.asn, platform = excluded.platform, family = excluded.family,
             mechanism = excluded.mechanism, start = excluded.start, start_uncertainty = excluded.start_uncertainty,
             end = excluded.end, end_uncertainty = excluded.end_uncertainty, probes = excluded.probes,
             measurements = excluded.measurements, confidence = excluded.confidence, status = excluded.status,
             updated_at = excluded.updated_at, event = excluded.event, final = MAX(events.final, excluded.final)",
        params![
            e.id,
            revision,
            e.kind.label(),
            e.scope.cc,
            e.scope.asn,
            e.kind.platform(),
            family,
            mechanism,
            e.start,
            e.start_uncertainty,
            e.end,
            e.end_uncertainty,
            e.probes as i64,
            e.measurements as i64,
            e.confidence,
            label(&e.status).unwrap_or_default(),
            now,
            json,
            // A retraction is final (never cleared again).
            i64::from(e.status == vigil_detect::Status::Retracted)
        ],
    )?;
    tx.execute(
        "INSERT INTO event_revisions (id, revision, changed_at, reason, changes, event) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![e.id, revision, now, reason, changes.to_string(), json],
    )?;
    let mut ev = tx.prepare_cached(
        "INSERT INTO event_evidence (event_id, measurement_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?;
    for m in e.evidence.iter().filter_map(|x| x.measurement_id.as_deref()) {
        ev.execute(params![e.id, m])?;
    }
    Ok(())
}

/// One revision of an event, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevisionRow {
    pub revision: u32,
    pub changed_at: i64,
    pub reason: String,
    pub changes: Value,
}

/// The current revision of an event (its JSON) and its revision history, oldest first.
pub fn event_with_revisions(
    conn: &Connection,
    id: &str,
) -> rusqlite::Result<Option<(DetectedEvent, Vec<RevisionRow>)>> {
    let json: Option<String> =
        conn.query_row("SELECT event FROM events WHERE id = ?1", params![id], |r| r.get(0)).optional()?;
    let Some(event) = json.and_then(|j| serde_json::from_str::<DetectedEvent>(&j).ok()) else { return Ok(None) };
    let mut stmt = conn.prepare_cached(
        "SELECT revision, changed_at, reason, changes FROM event_revisions WHERE id = ?1 ORDER BY revision",
    )?;
    let rows = stmt.query_map(params![id], |r| {
        let changes: String = r.get(3)?;
        Ok(RevisionRow {
            revision: r.get(0)?,
            changed_at: r.get(1)?,
            reason: r.get(2)?,
            changes: serde_json::from_str(&changes).unwrap_or(Value::Null),
        })
    })?;
    Ok(Some((event, rows.collect::<rusqlite::Result<_>>()?)))
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
