//! The collector's own uptime, recorded durably so that its downtime is known after a crash:
//! each run (its start and the last moment it was known alive, ticked by a task), the last time
//! anything was received, and the quiet stretches (running, nothing received from anyone).
//! Detection reads it as a [`vigil_detect::Downtime`] (so the collector's silence is never read
//! as the fleet's) and timelines draw it as "collector down".

use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use tokio_util::sync::CancellationToken;
use vigil_detect::{Downtime, Gap, GapKind, Params, quiet_is_own};

use crate::server::AppState;

/// Schema migration: the runs, the last receipt, the quiet stretches. On an existing data dir
/// the last receipt is taken from the stored observations, so the first start after the
/// upgrade knows since when it heard nothing.
pub const MIGRATION: &str = "CREATE TABLE collector_runs (
        seq INTEGER PRIMARY KEY,
        started_at INTEGER NOT NULL,
        alive_at INTEGER NOT NULL,
        heard_before INTEGER
    );
    CREATE TABLE collector_quiet (
        start INTEGER PRIMARY KEY,
        end INTEGER NOT NULL
    );
    CREATE INDEX collector_quiet_end ON collector_quiet (end);
    CREATE TABLE collector_heard (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        last_received INTEGER NOT NULL
    );
    INSERT INTO collector_heard (id, last_received)
        SELECT 1, MAX(received_at) FROM observations HAVING MAX(received_at) IS NOT NULL;";

/// The run of this process, once serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub seq: i64,
    pub started_at: i64,
}

/// This process's run (None until it serves: offline commands record none).
#[derive(Debug, Default)]
pub struct Uptime {
    run: Mutex<Option<Run>>,
}

impl Uptime {
    pub fn current(&self) -> Option<Run> {
        *self.run.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A write the uptime task hands to the writer.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    /// A run starts at `at`.
    Start { at: i64 },
    /// Run `seq` is alive at `at`; a quiet stretch of `quiet` s or more so far is recorded.
    Alive { seq: i64, at: i64, quiet: i64 },
}

/// Apply `op` (in the writer's transaction); `Start` answers the new run's seq.
pub fn apply(conn: &Connection, op: Op) -> rusqlite::Result<i64> {
    match op {
        Op::Start { at } => {
            let heard = last_received(conn)?;
            conn.execute(
                "INSERT INTO collector_runs (started_at, alive_at, heard_before) VALUES (?1, ?1, ?2)",
                params![at, heard],
            )?;
            Ok(conn.last_insert_rowid())
        }
        Op::Alive { seq, at, quiet } => {
            conn.execute("UPDATE collector_runs SET alive_at = MAX(alive_at, ?2) WHERE seq = ?1", params![seq, at])?;
            let started: Option<i64> = conn
                .query_row("SELECT started_at FROM collector_runs WHERE seq = ?1", [seq], |r| r.get(0))
                .optional()?;
            let Some(started) = started else { return Ok(seq) };
            let from = last_received(conn)?.unwrap_or(started).max(started);
            if at - from >= quiet {
                put_quiet(conn, from, at)?;
            }
            Ok(seq)
        }
    }
}

fn last_received(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT last_received FROM collector_heard WHERE id = 1", [], |r| r.get(0)).optional()
}

fn put_quiet(conn: &Connection, start: i64, end: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO collector_quiet (start, end) VALUES (?1, ?2) ON CONFLICT(start) DO UPDATE SET end = MAX(end, excluded.end)",
    )?
    .execute(params![start, end])?;
    Ok(())
}

/// Note receipts (in the writer's insert transaction): `live` (Unix s, in order) as they
/// arrive, `replayed` with their recorded times. A live receipt `quiet` s or more after the
/// previous one closes a quiet stretch between them; replayed ones (stored by origin, not in
/// time order) only move the last receipt on.
pub fn heard(conn: &Connection, live: &[i64], replayed: &[i64], quiet: i64) -> rusqlite::Result<()> {
    let before = last_received(conn)?;
    let mut last = before;
    for &r in live {
        if let Some(l) = last
            && r - l >= quiet
        {
            put_quiet(conn, l, r)?;
        }
        last = Some(last.map_or(r, |l| l.max(r)));
    }
    if let Some(&r) = replayed.iter().max() {
        last = Some(last.map_or(r, |l| l.max(r)));
    }
    if let Some(l) = last
        && last != before
    {
        conn.prepare_cached(
            "INSERT INTO collector_heard (id, last_received) VALUES (1, ?1)
             ON CONFLICT(id) DO UPDATE SET last_received = MAX(last_received, excluded.last_received)",
        )?
        .execute([l])?;
    }
    Ok(())
}

/// The stretches reaching into `[from, ∞)` in which the collector could not hear: the time
/// before each run (since the previous run was last known alive, or since the last receipt
/// before a first run) and the recorded quiet stretches. With `current` (the serving run) and
/// `now`, a quiet stretch still going on is open-ended (`quiet`: its threshold).
pub fn downtime(conn: &Connection, from: i64, current: Option<(Run, i64, i64)>) -> rusqlite::Result<Downtime> {
    let mut gaps = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT started_at, alive_at, heard_before FROM collector_runs
         WHERE seq >= (SELECT COALESCE(MAX(seq), 0) FROM collector_runs WHERE alive_at < ?1) ORDER BY seq",
    )?;
    let runs: Vec<(i64, i64, Option<i64>)> =
        stmt.query_map([from], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?;
    let mut prev_alive: Option<i64> = None;
    for (started, alive, heard_before) in runs {
        let start = match (prev_alive, heard_before) {
            (Some(p), Some(h)) => p.max(h),
            (Some(p), None) => p,
            (None, h) => h.unwrap_or(started),
        };
        if started >= from {
            gaps.push(Gap { start: start.min(started), end: Some(started), kind: GapKind::Down });
        }
        prev_alive = Some(alive);
    }
    let mut stmt = conn.prepare_cached("SELECT start, end FROM collector_quiet WHERE end >= ?1 ORDER BY start")?;
    let quiet = stmt.query_map([from], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
    for q in quiet {
        let (start, end) = q?;
        gaps.push(Gap { start, end: Some(end), kind: GapKind::Quiet });
    }
    if let Some((run, now, threshold)) = current {
        let since = last_received(conn)?.unwrap_or(run.started_at).max(run.started_at);
        if now - since >= threshold {
            gaps.push(Gap { start: since, end: None, kind: GapKind::Quiet });
        }
    }
    Ok(Downtime { gaps })
}

/// The closed stretches (`[start, end)`) overlapping `[from, to)` in which the collector could
/// not hear, for timelines: [`downtime`] without a current run (a quiet stretch going on is
/// recorded up to the task's last tick). A quiet stretch is drawn as the collector's only by
/// detection's rule ([`vigil_detect::quiet_is_own`]: the fleet heard in the `active_window`
/// before it, live receipts, spanned enough countries); otherwise its hours are the networks'.
pub fn stretches(conn: &Connection, from: i64, to: i64, params: &Params) -> rusqlite::Result<Vec<(i64, i64)>> {
    let d = downtime(conn, from, None)?;
    let mut v: Vec<(i64, i64)> = Vec::new();
    for g in &d.gaps {
        let Some(end) = g.end else { continue };
        if !(g.start < to && end > from && end > g.start) {
            continue;
        }
        if g.kind == GapKind::Quiet && !quiet_is_own(countries_heard_before(conn, g.start, params)?, params) {
            continue;
        }
        v.push((g.start, end));
    }
    v.sort_unstable();
    Ok(v)
}

/// Distinct countries heard live in the `active_window` before the last receipt at or before
/// `t`: a recorded quiet stretch starts at the last receipt, or at a run's start, whose
/// `heard_before` is that receipt. Live receipts come within `live_window` of their `at`, which
/// bounds the scan through the `at` index.
fn countries_heard_before(conn: &Connection, t: i64, params: &Params) -> rusqlite::Result<usize> {
    let before: Option<Option<i64>> = conn
        .prepare_cached("SELECT heard_before FROM collector_runs WHERE started_at = ?1 LIMIT 1")?
        .query_row([t], |r| r.get(0))
        .optional()?;
    let t = before.flatten().map_or(t, |h| h.min(t));
    let since = t - params.active_window;
    conn.prepare_cached(
        "SELECT COUNT(DISTINCT cc) FROM observations
         WHERE at BETWEEN ?1 - ?3 AND ?2 AND received_at BETWEEN ?1 AND ?2",
    )?
    .query_row(params![since, t, params.live_window], |r| r.get::<_, i64>(0))
    .map(|n| n as usize)
}

/// Record this process's run starting at `at` (the serve task calls it with the wall clock;
/// tests with a fixed time).
pub async fn start(state: &AppState, at: i64) -> Result<Run, crate::writer::StoreFailure> {
    let seq = state.writer.uptime(Op::Start { at }).await?;
    let run = Run { seq, started_at: at };
    *state.uptime.run.lock().unwrap_or_else(|e| e.into_inner()) = Some(run);
    Ok(run)
}

/// Mark this process's run alive at `at` (and record a quiet stretch going on).
pub async fn alive(state: &AppState, at: i64) -> Result<(), crate::writer::StoreFailure> {
    let Some(run) = state.uptime.current() else { return Ok(()) };
    let quiet = state.config.detection.collector_quiet();
    state.writer.uptime(Op::Alive { seq: run.seq, at, quiet }).await.map(drop)
}

fn wall_clock() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Record this process's run starting now (before detection's first pass, which reads it).
pub async fn start_now(state: &AppState) {
    if let Err(e) = start(state, wall_clock()).await {
        eprintln!("vigil-collector: recording the collector's start: {e}");
    }
}

/// Tick the run every `config.uptime_interval` until `stop` (and once more then).
pub async fn run(state: AppState, stop: CancellationToken) {
    let mut tick = tokio::time::interval(state.config.uptime_interval.max(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        let stopping = tokio::select! {
            _ = stop.cancelled() => true,
            _ = tick.tick() => false,
        };
        if let Err(e) = alive(&state, wall_clock()).await {
            eprintln!("vigil-collector: recording the collector alive: {e}");
        }
        if stopping {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An observation received live from `cc` at `at`.
    fn observed(conn: &Connection, id: &str, cc: &str, asn: u32, at: i64) {
        conn.execute(
            "INSERT INTO observations (measurement_id, key_id, test_name, asn, cc, at, received_at, what)
             VALUES (?1, 'k', 'vigil_heartbeat', ?2, ?3, ?4, ?4 + 2, 'heartbeat')",
            params![id, asn, cc, at],
        )
        .unwrap();
    }

    #[test]
    fn a_quiet_stretch_of_a_fleet_in_one_country_is_not_drawn_as_the_collectors() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::open_and_migrate(&dir.path().join("u.db")).unwrap();
        let p = Params::default();
        let t = 1_740_960_000;
        let s = apply(&conn, Op::Start { at: t - 3600 }).unwrap();
        // Three networks of one country heard until t, then nothing for an hour (a national
        // shutdown, or the collector's uplink: the evidence cannot tell, the shutdown wins).
        for (i, asn) in [1, 2, 3].into_iter().enumerate() {
            observed(&conn, &format!("m{i}"), "AA", asn, t - 300 + i as i64 * 100);
        }
        heard(&conn, &[t - 298, t - 198, t - 98], &[], 450).unwrap();
        apply(&conn, Op::Alive { seq: s, at: t + 3600, quiet: 450 }).unwrap();
        assert_eq!(downtime(&conn, t - 7200, None).unwrap().gaps.len(), 2, "the quiet stretch is recorded");
        assert!(stretches(&conn, t - 600, t + 7200, &p).unwrap().is_empty());
        // A second country heard too: everyone in every country at once is the collector's.
        observed(&conn, "m9", "BB", 9, t - 150);
        assert_eq!(stretches(&conn, t - 600, t + 7200, &p).unwrap(), [(t - 98, t + 3600)]);
    }

    #[test]
    fn runs_receipts_and_quiet_stretches_make_the_downtime() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::open_and_migrate(&dir.path().join("u.db")).unwrap();
        let t = 1_740_960_000;
        observed(&conn, "a", "AA", 1, t - 300);
        observed(&conn, "b", "BB", 2, t - 2);
        // Data received (say, replayed) until t; the first run starts 6 h later.
        heard(&conn, &[], &[t - 600, t - 300, t], 450).unwrap();
        let s1 = apply(&conn, Op::Start { at: t + 6 * 3600 }).unwrap();
        let run = Run { seq: s1, started_at: t + 6 * 3600 };
        apply(&conn, Op::Alive { seq: s1, at: run.started_at + 30, quiet: 450 }).unwrap();
        let d = downtime(&conn, t - 86_400, Some((run, run.started_at + 60, 450))).unwrap();
        assert_eq!(d.gaps, [Gap { start: t, end: Some(run.started_at), kind: GapKind::Down }]);
        // Nothing received in the first 20 minutes: quiet, open while it lasts, recorded at a tick.
        let now = run.started_at + 1200;
        let d = downtime(&conn, t - 86_400, Some((run, now, 450))).unwrap();
        assert_eq!(d.gaps[1], Gap { start: run.started_at, end: None, kind: GapKind::Quiet });
        apply(&conn, Op::Alive { seq: s1, at: now, quiet: 450 }).unwrap();
        let p = Params::default();
        assert_eq!(stretches(&conn, t, now + 1, &p).unwrap(), [(t, run.started_at), (run.started_at, now)]);
        // A probe reconnects; then the process dies (last alive at now + 600) and restarts.
        heard(&conn, &[now + 100, now + 200], &[], 450).unwrap();
        apply(&conn, Op::Alive { seq: s1, at: now + 600, quiet: 450 }).unwrap();
        let s2 = apply(&conn, Op::Start { at: now + 4000 }).unwrap();
        let run2 = Run { seq: s2, started_at: now + 4000 };
        let d = downtime(&conn, t - 86_400, Some((run2, now + 4010, 450))).unwrap();
        assert_eq!(
            d.gaps,
            [
                Gap { start: t, end: Some(run.started_at), kind: GapKind::Down },
                Gap { start: now + 600, end: Some(now + 4000), kind: GapKind::Down },
                Gap { start: t, end: Some(now + 100), kind: GapKind::Quiet },
                Gap { start: run.started_at, end: Some(now), kind: GapKind::Quiet },
            ]
        );
        // Old stretches fall out of the window.
        let d = downtime(&conn, now + 1000, None).unwrap();
        assert_eq!(d.gaps, [Gap { start: now + 600, end: Some(now + 4000), kind: GapKind::Down }]);
    }
}
