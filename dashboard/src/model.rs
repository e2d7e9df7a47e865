//! The data a page shows, as plain types: the collector fills them from its store, the pages
//! only render them (so this crate depends on no database and the collector on no template).

/// The state of one platform in one time bucket, most severe first (the collector's
/// `timeline::CellState`, by its stable label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    Shutdown,
    BlockedDns,
    BlockedTcpIp,
    BlockedTlsSni,
    BlockedHttp,
    Throttled,
    Anomaly,
    Reachable,
    /// No data, and the collector itself could not hear then (not running, or receiving
    /// nothing from anyone): its silence, not the networks'.
    CollectorDown,
    NoData,
}

impl State {
    /// Every state, most severe first (the legend's order).
    pub const ALL: [State; 10] = [
        State::Shutdown,
        State::BlockedDns,
        State::BlockedTcpIp,
        State::BlockedTlsSni,
        State::BlockedHttp,
        State::Throttled,
        State::Anomaly,
        State::Reachable,
        State::CollectorDown,
        State::NoData,
    ];

    /// The stable label (as in the timeline API).
    pub fn label(self) -> &'static str {
        match self {
            State::Shutdown => "shutdown",
            State::BlockedDns => "blocked_dns",
            State::BlockedTcpIp => "blocked_tcp_ip",
            State::BlockedTlsSni => "blocked_tls_sni",
            State::BlockedHttp => "blocked_http",
            State::Throttled => "throttled",
            State::Anomaly => "anomaly",
            State::Reachable => "reachable",
            State::CollectorDown => "collector_down",
            State::NoData => "no_data",
        }
    }

    /// The state of a label; None for a label this version does not know.
    pub fn from_label(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|x| x.label() == s)
    }

    /// The colour (Okabe–Ito, colour-blind safe; light grey for no data; near white, under a
    /// grey hatch, for the collector's own downtime).
    pub fn colour(self) -> &'static str {
        match self {
            State::Shutdown => "#000000",
            State::BlockedDns => "#D55E00",
            State::BlockedTcpIp => "#CC79A7",
            State::BlockedTlsSni => "#E69F00",
            State::BlockedHttp => "#0072B2",
            State::Throttled => "#F0E442",
            State::Anomaly => "#56B4E9",
            State::Reachable => "#009E73",
            State::CollectorDown => "#F6F6F6",
            State::NoData => "#E4E4E4",
        }
    }

    /// True for states that say something is wrong (shown in the tables and sparklines).
    pub fn is_problem(self) -> bool {
        self < State::Reachable
    }
}

/// A country's cell whose state holds in only some of its networks (network-scoped events):
/// `affected` of the `networks` seen in the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partial {
    pub affected: u32,
    pub networks: u32,
}

/// One platform across the buckets of a timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub platform: String,
    /// One per bucket, in time order.
    pub cells: Vec<State>,
    /// Per bucket (or empty: none), `Some` where the cell's state holds in only some of the
    /// country's networks, so it is not drawn as the whole country's.
    pub partial: Vec<Option<Partial>>,
}

impl Row {
    /// The cell `i`'s partial scope, if any.
    pub fn partial_at(&self, i: usize) -> Option<Partial> {
        self.partial.get(i).copied().flatten()
    }

    /// Each cell's state with its partial scope.
    pub fn keyed(&self) -> Vec<(State, Option<Partial>)> {
        self.cells.iter().enumerate().map(|(i, &s)| (s, self.partial_at(i))).collect()
    }
}

/// Platforms × time: `rows` of buckets of `bucket` seconds from `from` (Unix s) to `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub from: i64,
    pub to: i64,
    pub bucket: i64,
    pub rows: Vec<Row>,
}

impl Timeline {
    /// Number of buckets.
    pub fn len(&self) -> usize {
        ((self.to - self.from) / self.bucket.max(1)).max(0) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most severe state of any platform in each bucket (the overview's sparkline).
    pub fn worst(&self) -> Vec<State> {
        self.worst_keyed().into_iter().map(|(s, _)| s).collect()
    }

    /// The same, with its partial scope: partial only if no platform has that state in the
    /// whole country (the widest partial scope then).
    pub fn worst_keyed(&self) -> Vec<(State, Option<Partial>)> {
        (0..self.len())
            .map(|i| {
                let all = self.rows.iter().filter_map(|r| r.cells.get(i).map(|&s| (s, r.partial_at(i))));
                let Some(state) = all.clone().map(|(s, _)| s).min() else { return (State::NoData, None) };
                let mut partial = None;
                for (_, p) in all.filter(|(s, _)| *s == state) {
                    match p {
                        None => return (state, None),
                        Some(p) => partial = partial.max(Some(p)),
                    }
                }
                (state, partial)
            })
            .collect()
    }
}

/// Where an event happened: a country, or one network in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    pub cc: String,
    pub asn: Option<u32>,
}

/// A published event (its current revision).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub revision: u32,
    /// `blocking`, `shutdown` or `throttling`.
    pub kind: String,
    pub scope: Scope,
    /// Empty = every platform (a shutdown).
    pub platforms: Vec<String>,
    /// `dns`, `tcp_ip`, `tls_sni`, `http`.
    pub family: Option<String>,
    /// e.g. `dns_injection`.
    pub mechanism: Option<String>,
    pub rate_kbps: Option<f64>,
    /// Unix seconds.
    pub start: i64,
    pub start_uncertainty: i64,
    pub end: Option<i64>,
    pub end_uncertainty: Option<i64>,
    pub probes: usize,
    pub measurements: usize,
    pub confidence: f64,
    /// `provisional`, `confirmed`, `retracted` or `unknown`.
    pub status: String,
    pub updated_at: i64,
    /// `silence` (the probes' silence alone) or `evidence`.
    pub basis: String,
    /// While it rests on silence: the causes it cannot tell apart (`shutdown`, `power_cut`,
    /// `collector_unreachable`).
    pub cannot_tell: Vec<String>,
}

/// One revision of an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    pub revision: u32,
    pub changed_at: i64,
    pub reason: String,
    /// The changed fields' names.
    pub fields: Vec<String>,
}

/// How many probes measured in a period, and on which networks (never who or where).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Coverage {
    pub probes: usize,
    /// (ASN, probes seen on it).
    pub asns: Vec<(u32, usize)>,
}

/// One line of the overview: a country or network with its recent events and sparkline.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceSummary {
    pub scope: Scope,
    pub probes: usize,
    pub ongoing: usize,
    pub recent: usize,
    /// The newest event's start (ordering: newest first).
    pub newest: Option<i64>,
    pub timeline: Timeline,
}

/// The overview page.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    pub now: i64,
    /// Countries first, each followed by its networks with events.
    pub places: Vec<PlaceSummary>,
    /// The recent events, newest first.
    pub events: Vec<Event>,
    pub days: i64,
}

/// The filters of a country or network page (also its query string).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filters {
    pub days: i64,
    /// The period ends here (Unix s; None = now): a past day zoomed into.
    pub end: Option<i64>,
    pub platform: Option<String>,
    pub kind: Option<String>,
}

/// A country or network page.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub now: i64,
    pub scope: Scope,
    pub timeline: Timeline,
    pub events: Vec<Event>,
    pub coverage: Coverage,
    pub filters: Filters,
    /// Every platform seen in the period (the filter's choices).
    pub platforms: Vec<String>,
}

/// An event page.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    pub now: i64,
    pub event: Event,
    pub revisions: Vec<Revision>,
    /// The signed measurements behind it.
    pub evidence: usize,
    /// The event's scope and platform around its period.
    pub timeline: Timeline,
    /// The public base URL (`https://collector.example`), for the citation and embed code.
    pub base_url: String,
    /// The imported disclosures matched to this event (the disclosure cross-check).
    pub disclosures: Vec<DisclosureRow>,
    /// Which sources support it.
    pub sources: Vec<SourceLine>,
    /// The OONI measurements behind it (a bounded list) and how many there are in all.
    pub ooni: Vec<OoniLink>,
    pub ooni_total: usize,
}

/// One source's support for an event.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceLine {
    /// `vigil` or `ooni`.
    pub source: String,
    /// Distinct probes (Vigil) or reports (OONI).
    pub probes: usize,
    pub measurements: usize,
}

/// A measurement from OONI's open data behind an event: a link to OONI Explorer (not signed).
#[derive(Debug, Clone, PartialEq)]
pub struct OoniLink {
    pub report_id: String,
    /// Unix seconds.
    pub at: i64,
    pub url: String,
}

/// A time a disclosure gives: an instant, or (`day`) a whole UTC date without a time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disclosed {
    /// Unix seconds (a date: its 00:00 UTC).
    pub at: i64,
    pub day: bool,
}

/// The measured event of a reconciliation row.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchedEvent {
    pub id: String,
    /// `blocking`, `shutdown` or `throttling`.
    pub kind: String,
    pub start: i64,
    pub end: Option<i64>,
}

/// One line of the disclosure cross-check (the collector's reconciliation row).
#[derive(Debug, Clone, PartialEq)]
pub struct DisclosureRow {
    /// `matched`, `undisclosed`, `unconfirmed_no_coverage` or `unconfirmed_no_event`.
    pub outcome: String,
    pub source: String,
    /// The platform disclosed about; for an undisclosed event, every platform the source did not
    /// disclose it for (one row per event, not one per platform).
    pub platforms: Vec<String>,
    pub scope: Scope,
    /// What was disclosed: `blocked`, `throttled` or `shutdown` (None: nothing was).
    pub disclosed: Option<String>,
    pub start: Option<Disclosed>,
    /// None while the disclosure is ongoing (or nothing was disclosed).
    pub end: Option<Disclosed>,
    pub published_at: Option<Disclosed>,
    pub source_url: Option<String>,
    pub event: Option<MatchedEvent>,
    /// The event's signed evidence (`/api/v1/events/{id}/evidence`, absolute with a public URL).
    pub evidence: Option<String>,
    /// Seconds, disclosed minus measured.
    pub start_difference: Option<i64>,
    pub end_difference: Option<i64>,
    pub disclosure_delay: Option<i64>,
    /// Probes measuring there around the disclosed period (unconfirmed rows).
    pub probes: Option<u32>,
}

/// Which of the reconciliation's rows a page of `/disclosures` shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RowsPage {
    /// This page (from 1) and the number of pages (at least 1).
    pub page: usize,
    pub pages: usize,
    /// The rows shown are `first + 1 ..= first + rows.len()` of `total`.
    pub first: usize,
    pub total: usize,
    /// Rows per outcome over every page, in `disclosures::OUTCOMES` order.
    pub counts: [usize; 4],
    /// The page's query without `page` and `lang`, encoded (`country=XA`), for the page links.
    pub query: String,
}

/// The scorecard of one source and platform in one country (None: all countries).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreLine {
    pub source: String,
    pub platform: String,
    pub cc: Option<String>,
    pub measured: usize,
    pub disclosed: usize,
    pub share: Option<f64>,
    /// Seconds.
    pub median_delay: Option<i64>,
    pub disclosures: usize,
    pub matched: usize,
    pub no_coverage: usize,
    pub no_event: usize,
}

/// The filters of the disclosures page, as given (the form shows them back).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DisclosureFilters {
    pub platform: Option<String>,
    pub country: Option<String>,
    /// Dates (`2026-12-01`) or RFC 3339.
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The disclosures page (`/disclosures`).
#[derive(Debug, Clone, PartialEq)]
pub struct Disclosures {
    pub as_of: i64,
    /// Seconds added on each side of a disclosed period when matching.
    pub tolerance: i64,
    pub filters: DisclosureFilters,
    /// The API query of the same filters, encoded (`country=XA&from=...`), for the data links.
    pub api_query: String,
    pub scorecard: Vec<ScoreLine>,
    /// The rows of this page (`paging` says which).
    pub rows: Vec<DisclosureRow>,
    pub paging: RowsPage,
    /// The filter's choices: every platform and country disclosed about or measured.
    pub platforms: Vec<String>,
    pub countries: Vec<String>,
}
