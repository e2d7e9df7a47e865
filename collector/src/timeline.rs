//! Timelines: for one country (or one ASN, or one event), the platforms × time buckets, each
//! cell in one state. The types are shared by the JSON API (`api_timeline`) and the charts
//! (`chart`); how a timeline is computed lives below them.

use serde::Serialize;
use vigil_detect::Scope;

use crate::api_events::EventRecord;

/// The state of one platform in one time bucket, most severe first. Published events decide
/// the state where they cover the bucket; otherwise the observations do.
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
            CellState::NoData => "no_data",
        }
    }

    /// Every state, most severe first (the legend's order).
    pub const ALL: [CellState; 9] = [
        CellState::Shutdown,
        CellState::BlockedDns,
        CellState::BlockedTcpIp,
        CellState::BlockedTlsSni,
        CellState::BlockedHttp,
        CellState::Throttled,
        CellState::Anomaly,
        CellState::Reachable,
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
    CREATE INDEX events_cc_start ON events (cc, start);";
