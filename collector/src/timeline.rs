//! Timelines: for one country (or one ASN, or one event), the platforms × time buckets, each
//! cell in one state. The types are shared by the JSON API (`api_timeline`) and the charts
//! (`chart`); how a timeline is computed lives below them.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter};
use serde::Serialize;
use vigil_detect::obs::PlatformKind;
use vigil_detect::{DetectedEvent, EventType, Observation, Scope, What};
use vigil_report::{MechanismFamily, PlatformStatus};

use crate::api_events::EventRecord;

/// The state of one platform in one time bucket, most severe first. Published events decide
/// the state where they cover the bucket (except a blocking event over a bucket whose
/// measurements of the platform all succeeded: reachable); otherwise the observations do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CellState {
    /// A shutdown event covers the bucket.
    Shutdown,
    /// A blocking event covers the bucket, by mechanism family.
    BlockedDns,
    BlockedTcpIp,
    BlockedTlsSni,
    BlockedHttp,
    /// A throttling event covers the bucket.
    Throttled,
    /// Failures without a published event (not enough evidence, or noise).
    Anomaly,
    /// Observations, mostly ok.
    Reachable,
    /// No observation in the bucket, and the collector itself could not hear for at least half
    /// of it (not running, or receiving nothing from anyone): the silence is the collector's,
    /// not the networks'.
    CollectorDown,
    /// No observation in the bucket.
    NoData,
}

impl CellState {
    /// The stable label (the JSON value).
    pub fn label(self) -> &'static str {
        match self {
            CellState::Shutdown => "shutdown",
            CellState::BlockedDns => "blocked_dns",
            CellState::BlockedTcpIp => "blocked_tcp_ip",
            CellState::BlockedTlsSni => "blocked_tls_sni",
            CellState::BlockedHttp => "blocked_http",
            CellState::Throttled => "throttled",
            CellState::Anomaly => "anomaly",
            CellState::Reachable => "reachable",
            CellState::CollectorDown => "collector_down",
            CellState::NoData => "no_data",
        }
    }

    /// Every state, most severe first (the legend's order).
    pub const ALL: [CellState; 10] = [
        CellState::Shutdown,
        CellState::BlockedDns,
        CellState::BlockedTcpIp,
        CellState::BlockedTlsSni,
        CellState::BlockedHttp,
        CellState::Throttled,
        CellState::Anomaly,
        CellState::Reachable,
        CellState::CollectorDown,
        CellState::NoData,
    ];
}

/// One platform in one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub state: CellState,
    /// Platform measurements in the bucket that found it reachable / not reachable.
    pub ok: u32,
    pub failed: u32,
    /// Country timelines, cells in an event's state: the country's networks seen in the bucket
    /// (with measurements, or under an event) ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<u32>,
    /// ... and how many of them the events in this state cover (all of them for a country-wide
    /// event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affected_networks: Option<u32>,
    /// The state holds in only some of the country's networks (network-scoped events covering
    /// fewer than `networks`): the country is not affected as a whole. Absent: false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

impl Cell {
    /// A cell decided by its counts or by a network's own event (no country-wide scope).
    pub fn new(state: CellState, ok: u32, failed: u32) -> Cell {
        Cell { state, ok, failed, networks: None, affected_networks: None, partial: false }
    }
}

/// One platform across the buckets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineRow {
    pub platform: String,
    /// One per bucket, in time order.
    pub cells: Vec<Cell>,
}

/// A timeline: `rows` × buckets of `bucket` seconds from `from` (Unix s, inclusive) to `to`
/// (exclusive), with the events that overlap it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    pub scope: Scope,
    pub from: i64,
    pub to: i64,
    pub bucket: i64,
    /// Distinct probes with any observation in the period (coverage; never who or where).
    pub probes: usize,
    pub rows: Vec<TimelineRow>,
    pub events: Vec<EventRecord>,
}

/// Schema migration 3: the hourly counts timelines are drawn from, kept at ingest in the
/// measurement's own transaction (so a timeline over months reads thousands of rows, not
/// millions).
pub const MIGRATION: &str = "CREATE TABLE timeline_counts (
        cc TEXT NOT NULL,
        hour INTEGER NOT NULL,
        asn INTEGER NOT NULL,
        platform TEXT NOT NULL,
        ok INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (cc, hour, asn, platform)
    ) WITHOUT ROWID;
    CREATE TABLE probe_days (
        cc TEXT NOT NULL,
        day INTEGER NOT NULL,
        asn INTEGER NOT NULL,
        key_id TEXT NOT NULL,
        PRIMARY KEY (cc, day, asn, key_id)
    ) WITHOUT ROWID;
    CREATE INDEX probe_days_asn ON probe_days (asn, day);
    CREATE INDEX events_cc_start ON events (cc, start);";

/// Keep the counts for one stored observation (in the writer's transaction): a platform
/// observation (not a neutral control) adds to `ok` or `failed` of its hour, and every
/// observation marks its probe as seen that day.
pub fn record(tx: &rusqlite::Connection, o: &Observation, key_id: &str) -> rusqlite::Result<()> {
    if let What::Platform { platform, kind: PlatformKind::Platform, status, .. } = &o.what {
        let ok = i64::from(*status == PlatformStatus::Ok);
        tx.prepare_cached(
            "INSERT INTO timeline_counts (cc, hour, asn, platform, ok, failed) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(cc, hour, asn, platform) DO UPDATE SET ok = ok + excluded.ok, failed = failed + excluded.failed",
        )?
        .execute(params![o.cc, o.at.div_euclid(HOUR) * HOUR, o.asn, platform, ok, 1 - ok])?;
    }
    tx.prepare_cached("INSERT INTO probe_days (cc, day, asn, key_id) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING")?
        .execute(params![o.cc, o.at.div_euclid(DAY) * DAY, o.asn, key_id])?;
    Ok(())
}

pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;

/// What to draw: one country (or one ASN in it), all platforms seen (or one), over
/// `[from, to)` in buckets of `bucket` seconds (the API aligns them to hours).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineQuery {
    pub cc: String,
    pub asn: Option<u32>,
    pub platform: Option<String>,
    pub from: i64,
    pub to: i64,
    pub bucket: i64,
}

impl TimelineQuery {
    /// How many buckets cover `[from, to)` (the last may end after `to`).
    pub fn buckets(&self) -> usize {
        if self.to <= self.from || self.bucket <= 0 {
            return 0;
        }
        ((self.to - self.from + self.bucket - 1) / self.bucket) as usize
    }
}

/// The state a published event gives the platforms it covers.
pub fn event_state(kind: &EventType) -> CellState {
    match kind {
        EventType::Shutdown => CellState::Shutdown,
        EventType::Throttling { .. } => CellState::Throttled,
        EventType::Blocking { family, mechanism, .. } => match family.or(mechanism.map(|m| m.family())) {
            Some(MechanismFamily::Dns) => CellState::BlockedDns,
            Some(MechanismFamily::TcpIp) => CellState::BlockedTcpIp,
            Some(MechanismFamily::TlsSni) => CellState::BlockedTlsSni,
            // Blocking of unknown mechanism: shown as the most generic, HTTP.
            Some(MechanismFamily::Http) | None => CellState::BlockedHttp,
        },
    }
}

/// The state of a cell without an event: from its counts.
pub fn count_state(ok: u32, failed: u32) -> CellState {
    if ok == 0 && failed == 0 {
        CellState::NoData
    } else if failed > ok {
        CellState::Anomaly
    } else {
        CellState::Reachable
    }
}

/// Whether `[start, end)` (end None = ongoing; an instant counts as one second) overlaps `[a, b)`.
fn overlaps(start: i64, end: Option<i64>, a: i64, b: i64) -> bool {
    start < b && end.is_none_or(|e| e.max(start + 1) > a)
}

/// The published (not retracted) events of the country overlapping `[from, to)`, oldest first,
/// restricted to those that concern `asn` (country-wide ones included) and `platform`
/// (shutdowns included) when given.
pub fn overlapping_events(
    conn: &rusqlite::Connection,
    q: &TimelineQuery,
) -> rusqlite::Result<Vec<(DetectedEvent, u32, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT event, revision, updated_at FROM events
         WHERE cc = ?1 AND start < ?3 AND (end IS NULL OR end >= ?2) AND status != 'retracted' ORDER BY start, id",
    )?;
    let rows = stmt.query_map(params![q.cc, q.from, q.to], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?, r.get::<_, i64>(2)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (json, revision, updated_at) = row?;
        let Ok(e) = serde_json::from_str::<DetectedEvent>(&json) else { continue };
        let asn_ok = match (q.asn, e.scope.asn) {
            (Some(want), Some(a)) => want == a,
            _ => true,
        };
        let platform_ok = match (&q.platform, e.kind.platform()) {
            (Some(want), Some(p)) => want == p,
            _ => true,
        };
        if asn_ok && platform_ok && overlaps(e.start, e.end, q.from, q.to) {
            out.push((e, revision, updated_at));
        }
    }
    Ok(out)
}

/// Per bucket, the country's networks seen: those with platform measurements in it, and those
/// an event of the period covers in it.
fn networks_seen(
    conn: &rusqlite::Connection,
    q: &TimelineQuery,
    events: &[(DetectedEvent, u32, i64)],
) -> rusqlite::Result<Vec<BTreeSet<u32>>> {
    let n = q.buckets();
    let mut seen = vec![BTreeSet::new(); n];
    let mut stmt = conn
        .prepare_cached("SELECT DISTINCT hour, asn FROM timeline_counts WHERE cc = ?1 AND hour >= ?2 AND hour < ?3")?;
    let mut rows = stmt.query(params![q.cc, q.from, q.to])?;
    while let Some(r) = rows.next()? {
        let (hour, asn): (i64, u32) = (r.get(0)?, r.get(1)?);
        if let Some(s) = seen.get_mut(((hour - q.from) / q.bucket) as usize) {
            s.insert(asn);
        }
    }
    for (e, ..) in events {
        let Some(asn) = e.scope.asn else { continue };
        for (i, s) in seen.iter_mut().enumerate() {
            let a = q.from + i as i64 * q.bucket;
            if overlaps(e.start, e.end, a, a + q.bucket) {
                s.insert(asn);
            }
        }
    }
    Ok(seen)
}

/// Per bucket: the collector could not hear (`stretches`, `[start, end)`) for at least half of it.
fn collector_down(stretches: &[(i64, i64)], q: &TimelineQuery) -> Vec<bool> {
    (0..q.buckets())
        .map(|i| {
            let a = q.from + i as i64 * q.bucket;
            let b = a + q.bucket;
            let mut covered: Vec<(i64, i64)> =
                stretches.iter().map(|&(s, e)| (s.max(a), e.min(b))).filter(|(s, e)| e > s).collect();
            covered.sort_unstable();
            let (mut total, mut reach) = (0, a);
            for (s, e) in covered {
                let s = s.max(reach);
                if e > s {
                    total += e - s;
                    reach = e;
                }
            }
            2 * total >= q.bucket
        })
        .collect()
}

/// Compute a timeline (see [`CellState`] for the rules; on a country's timeline, [`Cell`] says
/// whether an event's state holds in the whole country or in some of its networks).
/// `params`: detection's, for which quiet stretches were the collector's own.
pub fn build(
    conn: &rusqlite::Connection,
    q: &TimelineQuery,
    params: &vigil_detect::Params,
) -> rusqlite::Result<Timeline> {
    let n = q.buckets();
    let events = overlapping_events(conn, q)?;

    // The counts, per platform and bucket.
    let mut sql = String::from(
        "SELECT hour, platform, SUM(ok), SUM(failed) FROM timeline_counts WHERE cc = ?1 AND hour >= ?2 AND hour < ?3",
    );
    let mut args: Vec<SqlValue> =
        vec![SqlValue::Text(q.cc.clone()), SqlValue::Integer(q.from), SqlValue::Integer(q.to)];
    if let Some(a) = q.asn {
        sql.push_str(" AND asn = ?4");
        args.push(SqlValue::Integer(a.into()));
    }
    if let Some(p) = &q.platform {
        sql.push_str(if q.asn.is_some() { " AND platform = ?5" } else { " AND platform = ?4" });
        args.push(SqlValue::Text(p.clone()));
    }
    sql.push_str(" GROUP BY hour, platform");
    let mut counts: BTreeMap<String, Vec<(u32, u32)>> = BTreeMap::new();
    if let Some(p) = &q.platform {
        counts.insert(p.clone(), vec![(0, 0); n]);
    }
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(args))?;
    while let Some(r) = rows.next()? {
        let (hour, platform): (i64, String) = (r.get(0)?, r.get(1)?);
        let (ok, failed): (i64, i64) = (r.get(2)?, r.get(3)?);
        let i = ((hour - q.from) / q.bucket) as usize;
        let cells = counts.entry(platform).or_insert_with(|| vec![(0, 0); n]);
        if let Some(c) = cells.get_mut(i) {
            c.0 = c.0.saturating_add(ok as u32);
            c.1 = c.1.saturating_add(failed as u32);
        }
    }
    // A platform with an event but no observation in the period still gets its row.
    if q.platform.is_none() {
        for (e, ..) in &events {
            if let Some(p) = e.kind.platform() {
                counts.entry(p.to_string()).or_insert_with(|| vec![(0, 0); n]);
            }
        }
    }

    // The buckets the collector could not hear for at least half of (its own uptime).
    let deaf = collector_down(&crate::uptime::stretches(conn, q.from, q.to, params)?, q);
    // A country's timeline: the networks seen in each bucket (measuring any platform, or
    // under an event), so that a network's event is not drawn as the whole country's.
    let networks: Vec<BTreeSet<u32>> = if q.asn.is_none() { networks_seen(conn, q, &events)? } else { Vec::new() };
    let rows = counts
        .into_iter()
        .map(|(platform, cells)| {
            let cells = cells
                .into_iter()
                .enumerate()
                .map(|(i, (ok, failed))| {
                    let a = q.from + i as i64 * q.bucket;
                    let b = a + q.bucket;
                    let covering: Vec<&DetectedEvent> = events
                        .iter()
                        .map(|(e, ..)| e)
                        .filter(|e| e.kind.platform().is_none_or(|p| p == platform))
                        .filter(|e| overlaps(e.start, e.end, a, b))
                        // A bucket whose measurements of the platform all succeeded stays
                        // reachable under a blocking event: nothing measured then was blocked.
                        .filter(|e| !(matches!(e.kind, EventType::Blocking { .. }) && ok > 0 && failed == 0))
                        .collect();
                    let Some(state) = covering.iter().map(|e| event_state(&e.kind)).min() else {
                        let state = match count_state(ok, failed) {
                            CellState::NoData if deaf[i] => CellState::CollectorDown,
                            s => s,
                        };
                        return Cell::new(state, ok, failed);
                    };
                    let mut cell = Cell::new(state, ok, failed);
                    if let Some(seen) = networks.get(i) {
                        let in_state = covering.iter().filter(|e| event_state(&e.kind) == state);
                        let country_wide = in_state.clone().any(|e| e.scope.asn.is_none());
                        let affected: BTreeSet<u32> = in_state.filter_map(|e| e.scope.asn).collect();
                        let total = seen.len() as u32;
                        let hit = if country_wide { total } else { affected.len() as u32 };
                        cell.networks = Some(total);
                        cell.affected_networks = Some(hit);
                        cell.partial = hit < total;
                    }
                    cell
                })
                .collect();
            TimelineRow { platform, cells }
        })
        .collect();

    let probes = {
        let day_from = q.from.div_euclid(DAY) * DAY;
        let (sql, args): (&str, Vec<SqlValue>) = match q.asn {
            Some(a) => (
                "SELECT COUNT(DISTINCT key_id) FROM probe_days WHERE cc = ?1 AND day >= ?2 AND day < ?3 AND asn = ?4",
                vec![q.cc.clone().into(), day_from.into(), q.to.into(), SqlValue::Integer(a.into())],
            ),
            None => (
                "SELECT COUNT(DISTINCT key_id) FROM probe_days WHERE cc = ?1 AND day >= ?2 AND day < ?3",
                vec![q.cc.clone().into(), day_from.into(), q.to.into()],
            ),
        };
        conn.prepare_cached(sql)?.query_row(params_from_iter(args), |r| r.get::<_, i64>(0))? as usize
    };

    Ok(Timeline {
        scope: Scope { cc: q.cc.clone(), asn: q.asn },
        from: q.from,
        to: q.to,
        bucket: q.bucket,
        probes,
        rows,
        events: events.iter().map(|(e, rev, at)| crate::api_events::record(e, *rev, *at)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use vigil_detect::{Change, Status};
    use vigil_report::Mechanism;

    use super::*;

    const T0: i64 = 1_740_960_000; // 2025-03-03 00:00 UTC, a whole day

    fn obs(probe: &str, asn: u32, at: i64, what: What) -> Observation {
        Observation {
            at,
            received_at: at,
            probe: probe.into(),
            cc: "AA".into(),
            asn,
            measurement_id: None,
            what,
            meta: Default::default(),
        }
    }

    fn platform(name: &str, kind: PlatformKind, status: PlatformStatus) -> What {
        What::Platform { platform: name.into(), kind, status, family: None, mechanism: None }
    }

    fn event(id: &str, asn: Option<u32>, kind: EventType, start: i64, end: Option<i64>, status: Status) -> Change {
        Change::New(DetectedEvent {
            id: id.into(),
            scope: Scope { cc: "AA".into(), asn },
            kind,
            start,
            start_uncertainty: 60,
            end,
            end_uncertainty: end.map(|_| 60),
            probes: 3,
            measurements: 9,
            evidence: Vec::new(),
            confidence: 0.9,
            status,
            basis: vigil_detect::Basis::Evidence,
            cannot_tell: Vec::new(),
            sources: Vec::new(),
        })
    }

    fn states(t: &Timeline, platform: &str) -> Vec<&'static str> {
        let row = t.rows.iter().find(|r| r.platform == platform).expect("row");
        row.cells.iter().map(|c| c.state.label()).collect()
    }

    #[test]
    fn counts_decide_without_events_and_the_most_severe_event_wins() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::store::open_and_migrate(&dir.path().join("t.db")).unwrap();
        let tx = conn.transaction().unwrap();
        use PlatformKind::{Control, Platform};
        use PlatformStatus::{Blocked, Ok, Unknown};
        // Hour 0: telegram ok ×2, failed ×1 → reachable. Hour 1: telegram failed ×2, ok ×1 →
        // anomaly. Hour 2: nothing for telegram. Controls and heartbeats count as no platform.
        for (p, asn, at, what) in [
            ("p1", 100, T0 + 10, platform("telegram", Platform, Ok)),
            ("p2", 101, T0 + 20, platform("telegram", Platform, Ok)),
            ("p3", 101, T0 + 30, platform("telegram", Platform, Blocked)),
            ("p1", 100, T0 + 3600, platform("telegram", Platform, Unknown)),
            ("p2", 101, T0 + 3700, platform("telegram", Platform, Blocked)),
            ("p3", 101, T0 + 3800, platform("telegram", Platform, Ok)),
            ("p1", 100, T0 + 7300, platform("controls", Control, Ok)),
            ("p4", 100, T0 + 7300, What::Heartbeat),
            ("p1", 100, T0 + 4 * 3600, platform("whatsapp", Platform, Ok)),
            ("p2", 101, T0 + 4 * 3600 + 150, platform("whatsapp", Platform, Blocked)),
            // Under the telegram block of hour 6, every measurement succeeded.
            ("p2", 101, T0 + 6 * 3600 + 100, platform("telegram", Platform, Ok)),
            ("p3", 101, T0 + 6 * 3600 + 200, platform("telegram", Platform, Ok)),
        ] {
            record(&tx, &obs(p, asn, at, what), p).unwrap();
        }
        let changes = [
            // Whatsapp blocked (TLS SNI) in AS 101 during hour 4; a shutdown of the whole
            // country in hour 5; a retracted shutdown in hour 3 counts for nothing.
            event(
                "b1",
                Some(101),
                EventType::Blocking {
                    platform: "whatsapp".into(),
                    family: None,
                    mechanism: Some(Mechanism::TlsSniReset),
                },
                T0 + 4 * 3600 + 100,
                Some(T0 + 4 * 3600 + 200),
                Status::Confirmed,
            ),
            event("s1", None, EventType::Shutdown, T0 + 5 * 3600, Some(T0 + 6 * 3600), Status::Provisional),
            event(
                "b2",
                Some(101),
                EventType::Blocking {
                    platform: "telegram".into(),
                    family: None,
                    mechanism: Some(Mechanism::DnsNxdomain),
                },
                T0 + 6 * 3600 + 60,
                Some(T0 + 6 * 3600 + 3000),
                Status::Confirmed,
            ),
            event("s2", None, EventType::Shutdown, T0 + 3 * 3600, Some(T0 + 4 * 3600), Status::Retracted),
        ];
        crate::events::write_changes(&tx, &changes, T0).unwrap();
        tx.commit().unwrap();

        let mut q =
            TimelineQuery { cc: "AA".into(), asn: None, platform: None, from: T0, to: T0 + 7 * 3600, bucket: 3600 };
        let t = build(&conn, &q, &vigil_detect::Params::default()).unwrap();
        assert_eq!(t.rows.iter().map(|r| r.platform.as_str()).collect::<Vec<_>>(), ["telegram", "whatsapp"]);
        // Hour 6: the telegram block covers it, but both measurements then succeeded (issue 16).
        let tg = ["reachable", "anomaly", "no_data", "no_data", "no_data", "shutdown", "reachable"];
        assert_eq!(states(&t, "telegram"), tg);
        assert_eq!((t.rows[0].cells[6].ok, t.rows[0].cells[6].failed, t.rows[0].cells[6].networks), (2, 0, None));
        let wa = ["no_data", "no_data", "no_data", "no_data", "blocked_tls_sni", "shutdown", "no_data"];
        assert_eq!(states(&t, "whatsapp"), wa);
        assert_eq!((t.rows[0].cells[0].ok, t.rows[0].cells[0].failed), (2, 1));
        assert_eq!(t.probes, 4);
        assert_eq!(t.events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["b1", "s1", "b2"]);
        // The AS 101 block is one of the two networks seen in hour 4 (AS 100 measured, AS 101
        // is under the event): partial. The national shutdown is country-wide.
        let wa = &t.rows[1].cells;
        assert_eq!((wa[4].networks, wa[4].affected_networks, wa[4].partial), (Some(2), Some(1), true));
        assert!(!wa[5].partial && wa[5].networks == wa[5].affected_networks && wa[5].networks.is_some());
        assert_eq!((wa[0].networks, wa[0].partial), (None, false), "no event: no scope");
        let json = serde_json::to_value(t.rows[1].cells[4]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"state": "blocked_tls_sni", "ok": 1, "failed": 1, "networks": 2, "affected_networks": 1, "partial": true})
        );
        let json = serde_json::to_value(t.rows[0].cells[0]).unwrap();
        assert_eq!(json, serde_json::json!({"state": "reachable", "ok": 2, "failed": 1}), "the old fields, unchanged");

        // AS 100: the AS 101 block is not its; the country-wide shutdown is.
        q.asn = Some(100);
        let t = build(&conn, &q, &vigil_detect::Params::default()).unwrap();
        assert!(
            t.rows.iter().flat_map(|r| &r.cells).all(|c| c.networks.is_none() && !c.partial),
            "a network's own timeline"
        );
        assert_eq!(
            states(&t, "whatsapp"),
            ["no_data", "no_data", "no_data", "no_data", "reachable", "shutdown", "no_data"]
        );
        assert_eq!(states(&t, "telegram")[..2], ["reachable", "anomaly"]);
        assert_eq!((t.probes, t.events.len()), (2, 1));

        // One platform, two-hour buckets: counts add up (3 ok, 3 failed: not more failed than ok).
        q.asn = None;
        q.platform = Some("telegram".into());
        q.bucket = 7200;
        q.to = T0 + 8 * 3600;
        let t = build(&conn, &q, &vigil_detect::Params::default()).unwrap();
        assert_eq!(states(&t, "telegram"), ["reachable", "no_data", "shutdown", "reachable"]);
        assert_eq!((t.rows.len(), t.rows[0].cells[0].ok, t.rows[0].cells[0].failed), (1, 3, 3));
        assert_eq!(t.events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["s1", "b2"]);

        // A platform never seen still gets its row when asked for (a shutdown covers it too).
        q.platform = Some("signal".into());
        assert_eq!(
            states(&build(&conn, &q, &vigil_detect::Params::default()).unwrap(), "signal"),
            ["no_data", "no_data", "shutdown", "no_data"]
        );
    }

    #[test]
    fn buckets_the_collector_could_not_hear_are_collector_down_unless_data_or_an_event_says_more() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::store::open_and_migrate(&dir.path().join("t.db")).unwrap();
        let tx = conn.transaction().unwrap();
        use PlatformKind::Platform;
        use PlatformStatus::Ok;
        // Telegram measured in hours 0 and 3 (the latter uploaded from a spool after the gap).
        for at in [T0 + 10, T0 + 3 * 3600 + 10] {
            record(&tx, &obs("p1", 100, at, platform("telegram", Platform, Ok)), "p1").unwrap();
        }
        // Received until 00:50 (from two countries: a fleet-wide silence is the collector's); the
        // collector restarted at 04:10 (a Down gap 00:50–04:10); then it ran but heard no one
        // 05:00–05:20 (a third of hour 5: not enough).
        for (id, cc) in [("h1", "AA"), ("h2", "BB")] {
            let o = Observation {
                cc: cc.into(),
                measurement_id: Some(id.into()),
                ..obs(id, 100, T0 + 2990, What::Heartbeat)
            };
            crate::events::insert_observation(&tx, "vigil_heartbeat", &o).unwrap();
        }
        crate::uptime::heard(&tx, &[T0 + 3000], &[], 450).unwrap();
        let seq = crate::uptime::apply(&tx, crate::uptime::Op::Start { at: T0 + 4 * 3600 + 600 }).unwrap();
        crate::uptime::heard(&tx, &[T0 + 5 * 3600], &[], 450).unwrap();
        crate::uptime::heard(&tx, &[T0 + 5 * 3600 + 1200], &[], 450).unwrap();
        crate::uptime::apply(&tx, crate::uptime::Op::Alive { seq, at: T0 + 5 * 3600 + 1500, quiet: 450 }).unwrap();
        // A confirmed shutdown, from spooled evidence, in hour 2.
        let s1 =
            event("s1", Some(100), EventType::Shutdown, T0 + 2 * 3600, Some(T0 + 2 * 3600 + 1800), Status::Confirmed);
        crate::events::write_changes(&tx, &[s1], T0).unwrap();
        tx.commit().unwrap();
        let q = TimelineQuery { cc: "AA".into(), asn: None, platform: None, from: T0, to: T0 + 6 * 3600, bucket: 3600 };
        let t = build(&conn, &q, &vigil_detect::Params::default()).unwrap();
        let want = ["reachable", "collector_down", "shutdown", "reachable", "collector_down", "no_data"];
        assert_eq!(states(&t, "telegram"), want);
        let json = serde_json::to_value(t.rows[0].cells[1]).unwrap();
        assert_eq!(json, serde_json::json!({"state": "collector_down", "ok": 0, "failed": 0}));
    }

    #[test]
    fn event_types_map_to_states_and_count_rules_hold() {
        let block = |family| EventType::Blocking { platform: "x".into(), family, mechanism: None };
        assert_eq!(event_state(&EventType::Shutdown), CellState::Shutdown);
        assert_eq!(
            event_state(&EventType::Throttling { platform: "x".into(), rate_kbps: None, mechanism: None }),
            CellState::Throttled
        );
        assert_eq!(event_state(&block(Some(MechanismFamily::Dns))), CellState::BlockedDns);
        assert_eq!(event_state(&block(Some(MechanismFamily::TcpIp))), CellState::BlockedTcpIp);
        assert_eq!(event_state(&block(Some(MechanismFamily::TlsSni))), CellState::BlockedTlsSni);
        assert_eq!(event_state(&block(Some(MechanismFamily::Http))), CellState::BlockedHttp);
        assert_eq!(count_state(0, 0), CellState::NoData);
        assert_eq!(count_state(1, 1), CellState::Reachable);
        assert_eq!(count_state(1, 2), CellState::Anomaly);
        assert!(CellState::Shutdown < CellState::BlockedDns && CellState::Throttled < CellState::Anomaly);
        assert!(overlaps(10, None, 0, 11) && !overlaps(10, Some(20), 20, 30) && overlaps(10, Some(10), 0, 11));
    }
}
