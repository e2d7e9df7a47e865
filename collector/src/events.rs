//! Detection on stored data: the observation of each measurement (written at ingest, in the
//! same transaction), and a detection pass that runs `vigil_detect::detect` over a recent
//! window, reconciles with the stored events and writes new events and revisions. A published
//! event is never rewritten silently: every change is an `event_revisions` row with its reason.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use vigil_detect::obs::{StoredMeasurement, observe};
use vigil_detect::{Change, DetectedEvent, Observation, Params, PublishedEvent, What, reconcile};

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
pub const DEFAULT_WINDOW: i64 = 14 * 86_400;
/// Events that start this close to the window's far edge (or before it) are left as published:
/// the pass no longer sees their beginning, so it could only truncate or retract them.
pub const EDGE_MARGIN: i64 = 86_400;

/// Parse an RFC 3339 time (the writer's `received_at`) into Unix seconds.
pub fn rfc3339_to_unix(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339).ok().map(|t| t.unix_timestamp())
}

fn label<T: Serialize>(v: &T) -> Option<String> {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string))
}

/// Store the observation of one stored measurement and return it; None (and nothing stored)
/// when the row yields none (its payload or time does not parse: ingest has checked both).
/// A summary of a platform the battery does not know (`platform_known` false) is observed as a
/// sign of life only, so probes cannot add platforms to the timelines and pages.
pub fn record_observation(
    tx: &Transaction<'_>,
    row: &StoredMeasurement<'_>,
    platform_known: bool,
) -> rusqlite::Result<Option<Observation>> {
    let Ok(mut o) = observe(row) else { return Ok(None) };
    if !platform_known && matches!(o.what, What::Platform { .. } | What::Throttling { .. }) {
        o.what = What::Alive;
    }
    insert_observation(tx, row.test_name, &o)?;
    Ok(Some(o))
}

/// Store an observation (its `measurement_id` is the key; a repeat is ignored).
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
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
         ON CONFLICT(measurement_id) DO NOTHING",
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
    let rows = stmt.query_map(params![from], |r| {
        let what: String = r.get(6)?;
        let meta: Option<String> = r.get(7)?;
        Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, what, meta))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, probe, asn, cc, at, received_at, what, meta) = row?;
        // A row this version cannot read (written by a newer one) is left out, not fatal.
        let Ok(what) = serde_json::from_str::<What>(&what) else { continue };
        let meta = meta.and_then(|m| serde_json::from_str(&m).ok()).unwrap_or_default();
        out.push(Observation { at, received_at, probe, cc, asn, measurement_id: Some(id), what, meta });
    }
    Ok(out)
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
    pub observations: usize,
    pub new: usize,
    pub revised: usize,
    pub unchanged: usize,
}

/// Detect over `[now - window, now]` and reconcile with the stored events: the changes to write.
/// The collector's recorded downtime (`uptime`) keeps its own silence from reading as the
/// fleet's; `run` is the serving run (a quiet stretch going on counts), None offline.
pub fn plan(
    conn: &Connection,
    params: &Params,
    now: i64,
    window: i64,
    run: Option<crate::uptime::Run>,
) -> rusqlite::Result<(PassSummary, Vec<Change>)> {
    let from = now - window;
    let edge = from + EDGE_MARGIN.min(window / 2);
    let obs = load_observations(conn, from)?;
    let mut published = load_published(conn, from)?;
    published.retain(|p| p.event.start >= edge);
    let downtime = crate::uptime::downtime(conn, from, run.map(|r| (r, now, params.collector_quiet())))?;
    let mut detected = vigil_detect::detect_with(&obs, params, now, &downtime);
    detected.retain(|e| e.start >= edge);
    let changes = reconcile(&published, &detected, now);
    let mut summary = PassSummary { observations: obs.len(), ..PassSummary::default() };
    for change in &changes {
        match change {
            Change::New(_) => summary.new += 1,
            Change::Revised { .. } => summary.revised += 1,
            Change::Unchanged { .. } => summary.unchanged += 1,
        }
    }
    Ok((summary, changes))
}

/// Write the new events and revisions of a pass (in the caller's transaction).
pub fn write_changes(tx: &Transaction<'_>, changes: &[Change], now: i64) -> rusqlite::Result<()> {
    for change in changes {
        match change {
            Change::New(e) => {
                // An id taken by a retracted (final) event: the new event gets the next free
                // `<id>-N` (a new outage is always a new event, never a revision of a retraction).
                let final_ids = final_ids_like(tx, &e.id)?;
                let (id, renamed) = vigil_detect::revise::fresh_id(&e.id, |id| final_ids.contains(id));
                let mut e = e.clone();
                e.id = id;
                // An id already published and not final (an event re-detected after a split)
                // gets a new revision, never a second revision 1 (which would fail the whole
                // transaction).
                let last: Option<u32> =
                    tx.query_row("SELECT MAX(revision) FROM event_revisions WHERE id = ?1", [&e.id], |r| r.get(0))?;
                let first = if renamed { vigil_detect::revise::REASON_AFTER_RETRACTION } else { "first publication" };
                match last {
                    None => write_revision(tx, &e, 1, now, first, &Value::Array(Vec::new()))?,
                    Some(r) => write_revision(tx, &e, r + 1, now, "detected again", &Value::Array(Vec::new()))?,
                }
            }
            Change::Revised { revision, event, changes, reason, .. } => {
                let changes = serde_json::to_value(changes).unwrap_or(Value::Null);
                write_revision(tx, event, *revision, now, reason, &changes)?;
            }
            Change::Unchanged { .. } => {}
        }
    }
    Ok(())
}

/// The final events' ids among `id` and `id-N` (retracted before `final` existed included).
fn final_ids_like(conn: &Connection, id: &str) -> rusqlite::Result<std::collections::HashSet<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM events WHERE (final != 0 OR status = 'retracted') AND (id = ?1 OR substr(id, 1, ?2) = ?3)",
    )?;
    let prefix = format!("{id}-");
    let rows = stmt.query_map(params![id, prefix.len() as i64, prefix], |r| r.get::<_, String>(0))?;
    rows.collect()
}

/// One detection pass over `[now - window, now]`, written in one transaction (offline use:
/// the server plans on a read connection and writes through the writer thread).
pub fn run_detection(conn: &mut Connection, params: &Params, now: i64, window: i64) -> rusqlite::Result<PassSummary> {
    let (summary, changes) = plan(conn, params, now, window, None)?;
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
