//! Reconciliation: disclosures held against Vigil's published events. Pure logic (no database):
//! each disclosure is matched to the events it overlaps within a tolerance, or found
//! unconfirmed (with or without measurement coverage there); each measured event a discloser
//! did not disclose is undisclosed; and per source, platform and country a scorecard counts
//! distinct events and disclosures (never pairs), so overlaps are not counted twice.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::disclosures::{Disclosure, DisclosureType, Granularity, When, canonical_platform};

const H: i64 = 3600;
/// A date matches the day as any time zone sees it: from 00:00 at UTC+14 to 24:00 at UTC-12.
pub const DAY_EARLY: i64 = 14 * H;
pub const DAY_LATE: i64 = 12 * H;
const DAY: i64 = 24 * H;
/// The default matching tolerance (seconds) on each side of a disclosed period.
pub const DEFAULT_TOLERANCE: i64 = 2 * H;

/// A published (not retracted) Vigil event, as reconciliation needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasuredEvent {
    pub id: String,
    /// `blocking`, `shutdown` or `throttling`.
    pub kind: String,
    /// None for a shutdown (every platform).
    pub platform: Option<String>,
    pub cc: String,
    /// None: the whole country.
    pub asn: Option<u32>,
    pub start: i64,
    /// None while ongoing.
    pub end: Option<i64>,
    pub status: String,
}

/// A stored disclosure and its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDisclosure {
    pub key: String,
    #[serde(flatten)]
    pub disclosure: Disclosure,
}

/// Which disclosures and events to reconcile; None = any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub source: Option<String>,
    pub platform: Option<String>,
    pub country: Option<String>,
    /// Periods reaching into `[from, to]` (Unix s).
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// How to reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub filter: Filter,
    /// Seconds added on each side of a disclosed period when matching.
    pub tolerance: i64,
    /// The time ongoing events and disclosures run until (Unix s).
    pub now: i64,
}

/// The outcome of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The disclosure overlaps the event (one row per pair).
    Matched,
    /// Vigil measured the event; this source did not disclose it for this platform.
    Undisclosed,
    /// Disclosed, not measured, and Vigil had no probe there then.
    UnconfirmedNoCoverage,
    /// Disclosed, not measured, although Vigil's probes were there.
    UnconfirmedNoEvent,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Matched => "matched",
            Outcome::Undisclosed => "undisclosed",
            Outcome::UnconfirmedNoCoverage => "unconfirmed_no_coverage",
            Outcome::UnconfirmedNoEvent => "unconfirmed_no_event",
        }
    }
}

/// One line of the reconciliation. Times are RFC 3339 (UTC) or, for day-granular disclosures,
/// `YYYY-MM-DD`; differences are seconds, disclosed minus measured (0 when the measured time
/// lies inside a disclosed day).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconRow {
    pub outcome: Outcome,
    pub source: String,
    pub platform: String,
    pub country: String,
    pub asn: Option<u32>,
    pub disclosure: Option<String>,
    pub disclosure_type: Option<DisclosureType>,
    pub disclosure_start: Option<String>,
    pub disclosure_end: Option<String>,
    /// `day` when a disclosed start or end is a date, else `second`.
    pub granularity: Option<Granularity>,
    pub published_at: Option<String>,
    pub source_url: Option<String>,
    pub event: Option<String>,
    pub event_type: Option<String>,
    pub event_start: Option<String>,
    pub event_end: Option<String>,
    /// The event's signed evidence (`/api/v1/events/{id}/evidence`).
    pub evidence: Option<String>,
    pub start_difference: Option<i64>,
    pub end_difference: Option<i64>,
    /// `published_at` minus the event's start.
    pub disclosure_delay: Option<i64>,
    /// Distinct probes with measurements there around the disclosed period (unconfirmed rows).
    pub probes: Option<u32>,
}

/// The scorecard of one source and platform, in one country or (country None) all (only
/// without a country filter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRow {
    pub source: String,
    pub platform: String,
    pub country: Option<String>,
    /// Vigil events concerning the platform (its blocks and throttling, and every shutdown).
    pub measured_events: usize,
    /// ... of which this source disclosed (matched by at least one of its disclosures).
    pub disclosed_events: usize,
    pub undisclosed_events: usize,
    pub share_disclosed: Option<f64>,
    /// Median over disclosed events of the earliest matching `published_at` minus the start (s).
    pub median_disclosure_delay: Option<i64>,
    pub disclosures: usize,
    pub matched_disclosures: usize,
    /// Disclosed where Vigil had no probes: events disclosed without measurement coverage.
    pub unconfirmed_no_coverage: usize,
    pub unconfirmed_no_event: usize,
}

/// The reconciliation: its rows and scorecard, with the parameters used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reconciliation {
    pub tolerance: i64,
    pub as_of: String,
    /// Every row of the query (`rows` holds them all, or the `offset`/`limit` window of them).
    #[serde(default)]
    pub total_rows: usize,
    pub rows: Vec<ReconRow>,
    pub scorecard: Vec<ScoreRow>,
}

/// The period a disclosure is matched over, before the tolerance: a date widens to any time
/// zone's day; an open end is None.
pub fn span(d: &Disclosure) -> (i64, Option<i64>) {
    let lo = match d.start.granularity {
        Granularity::Day => d.start.at - DAY_EARLY,
        Granularity::Second => d.start.at,
    };
    let hi = d.end.map(|e| match e.granularity {
        Granularity::Day => e.granule().1 + DAY_LATE,
        Granularity::Second => e.at,
    });
    (lo, hi)
}

/// The window whose measurements count as coverage for a disclosure: its span and tolerance.
pub fn coverage_window(d: &Disclosure, tolerance: i64, now: i64) -> (i64, i64) {
    let (lo, hi) = span(d);
    (lo - tolerance, hi.unwrap_or_else(|| open_until(d).min(now)).max(lo) + tolerance)
}

fn overlaps(lo: i64, hi: Option<i64>, from: Option<i64>, to: Option<i64>) -> bool {
    from.is_none_or(|f| hi.is_none_or(|h| h >= f)) && to.is_none_or(|t| lo <= t)
}

/// Whether an event concerns a platform: its own blocks and throttling, and every shutdown.
pub fn concerns(e: &MeasuredEvent, platform: &str) -> bool {
    e.kind == "shutdown" || (platform != "all" && e.platform.as_deref().is_some_and(|p| same_platform(p, platform)))
}

/// Whether an event's platform name is the platform id `id` (`twitter` is `x`), without
/// allocating in the common case (every alias `canonical_platform` knows is 6 characters or more).
fn same_platform(name: &str, id: &str) -> bool {
    name.eq_ignore_ascii_case(id) || (name.len() >= 6 && canonical_platform(name) == id)
}

/// Whether a disclosure and an event are the same episode: type, place, platform, and periods
/// overlapping within the tolerance.
pub fn matches(d: &Disclosure, e: &MeasuredEvent, tolerance: i64, now: i64) -> bool {
    if d.kind.event_label() != e.kind || d.country != e.cc {
        return false;
    }
    if d.asn.is_some() && e.asn.is_some() && d.asn != e.asn {
        return false;
    }
    let platform_ok = match &e.platform {
        None => true,
        Some(p) => d.platform == "all" || same_platform(p, &d.platform),
    };
    let (lo, hi) = span(d);
    let e_end = e.end.unwrap_or(now.max(e.start));
    platform_ok && e_end >= lo - tolerance && e.start <= hi.unwrap_or_else(|| open_until(d)) + tolerance
}

/// An ongoing disclosure reports the episode going on when it was published: it matches events
/// that began by its publication (without one, within a day of its start), not every later one.
/// (A STOP row without an end date would otherwise "disclose" years of later shutdowns.)
pub fn open_until(d: &Disclosure) -> i64 {
    let (_, start_end) = d.start.granule();
    let by_start = start_end.max(d.start.at) + DAY;
    match d.published_at {
        Some(p) => p.granule().1.max(by_start),
        None => by_start,
    }
}

/// Disclosed minus measured: 0 inside a disclosed day, else the distance to its nearest edge.
pub fn difference(disclosed: When, measured: i64) -> i64 {
    let (a, b) = disclosed.granule();
    if measured < a {
        a - measured
    } else if measured >= b && b > a {
        b - measured
    } else if b == a {
        a - measured
    } else {
        0
    }
}

fn rfc(t: i64) -> String {
    When::second(t).text()
}

fn base_row(outcome: Outcome, d: Option<&StoredDisclosure>, source: &str, platform: &str, cc: &str) -> ReconRow {
    let dd = d.map(|d| &d.disclosure);
    ReconRow {
        outcome,
        source: source.to_string(),
        platform: platform.to_string(),
        country: cc.to_string(),
        asn: dd.and_then(|d| d.asn),
        disclosure: d.map(|d| d.key.clone()),
        disclosure_type: dd.map(|d| d.kind),
        disclosure_start: dd.map(|d| d.start.text()),
        disclosure_end: dd.and_then(|d| d.end.map(When::text)),
        granularity: dd.map(|d| {
            let day =
                d.start.granularity == Granularity::Day || d.end.is_some_and(|e| e.granularity == Granularity::Day);
            if day { Granularity::Day } else { Granularity::Second }
        }),
        published_at: dd.and_then(|d| d.published_at.map(When::text)),
        source_url: dd.and_then(|d| d.source_url.clone()),
        event: None,
        event_type: None,
        event_start: None,
        event_end: None,
        evidence: None,
        start_difference: None,
        end_difference: None,
        disclosure_delay: None,
        probes: None,
    }
}

fn with_event(mut row: ReconRow, e: &MeasuredEvent) -> ReconRow {
    row.asn = row.asn.or(e.asn);
    row.event = Some(e.id.clone());
    row.event_type = Some(e.kind.clone());
    row.event_start = Some(rfc(e.start));
    row.event_end = e.end.map(rfc);
    row.evidence = Some(format!("/api/v1/events/{}/evidence", e.id));
    row
}

fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn median(mut v: Vec<i64>) -> Option<i64> {
    v.sort_unstable();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]).div_euclid(2)),
    }
}

/// Reconcile. `coverage` holds, per disclosure key, the distinct probes measuring in its
/// country (or ASN) during its [`coverage_window`]; a key left out counts as no coverage.
pub fn reconcile(
    disclosures: &[StoredDisclosure],
    events: &[MeasuredEvent],
    coverage: &HashMap<String, u32>,
    o: &Options,
) -> Reconciliation {
    let f = &o.filter;
    let platform_filter = f.platform.as_deref().map(canonical_platform);
    let ds: Vec<&StoredDisclosure> = disclosures
        .iter()
        .filter(|d| f.source.as_ref().is_none_or(|s| &d.disclosure.source == s))
        .filter(|d| {
            platform_filter.as_ref().is_none_or(|p| &d.disclosure.platform == p || d.disclosure.platform == "all")
        })
        .filter(|d| f.country.as_ref().is_none_or(|c| &d.disclosure.country == c))
        .filter(|d| {
            let (a, _) = d.disclosure.start.granule();
            let b = d.disclosure.end.map(|e| e.granule().1);
            overlaps(a, b, f.from, f.to)
        })
        .collect();
    let mut by_cc: HashMap<&str, Vec<&MeasuredEvent>> = HashMap::new();
    for e in events {
        by_cc.entry(e.cc.as_str()).or_default().push(e);
    }
    // Events in scope of the scorecard (the filter's country and period).
    let in_scope =
        |e: &MeasuredEvent| f.country.as_ref().is_none_or(|c| &e.cc == c) && overlaps(e.start, e.end, f.from, f.to);
    let mut rows = Vec::new();
    // (source, platform) -> event id -> earliest publication of a matching disclosure.
    let mut disclosed: BTreeMap<(String, String), HashMap<String, Option<i64>>> = BTreeMap::new();
    let mut matched_keys: BTreeSet<String> = BTreeSet::new();
    for d in &ds {
        let dd = &d.disclosure;
        let group = disclosed.entry((dd.source.clone(), dd.platform.clone())).or_default();
        let hits: Vec<&MeasuredEvent> = by_cc
            .get(dd.country.as_str())
            .map(|v| v.iter().copied().filter(|e| matches(dd, e, o.tolerance, o.now)).collect())
            .unwrap_or_default();
        for e in &hits {
            let mut row = with_event(base_row(Outcome::Matched, Some(d), &dd.source, &dd.platform, &dd.country), e);
            row.start_difference = Some(difference(dd.start, e.start));
            row.end_difference = match (dd.end, e.end) {
                (Some(de), Some(ee)) => Some(difference(de, ee)),
                _ => None,
            };
            let delay = dd.published_at.map(|p| p.at - e.start);
            row.disclosure_delay = delay;
            rows.push(row);
            let slot = group.entry(e.id.clone()).or_insert(delay);
            *slot = earliest(*slot, delay);
        }
        if hits.is_empty() {
            let probes = coverage.get(&d.key).copied().unwrap_or(0);
            let outcome = if probes == 0 { Outcome::UnconfirmedNoCoverage } else { Outcome::UnconfirmedNoEvent };
            let mut row = base_row(outcome, Some(d), &dd.source, &dd.platform, &dd.country);
            row.probes = Some(probes);
            rows.push(row);
        } else {
            matched_keys.insert(d.key.clone());
        }
    }
    // A disclosure about every platform (a shutdown) discloses for each platform of its source.
    let everything: Vec<(String, HashMap<String, Option<i64>>)> =
        disclosed.iter().filter(|((_, p), _)| p == "all").map(|((s, _), hit)| (s.clone(), hit.clone())).collect();
    for (source, all_hits) in everything {
        for ((s, p), hit) in disclosed.iter_mut() {
            if *s == source && p != "all" {
                for (id, delay) in &all_hits {
                    let slot = hit.entry(id.clone()).or_insert(*delay);
                    *slot = earliest(*slot, *delay);
                }
            }
        }
    }
    // Undisclosed: for each source and platform disclosed about, the events concerning the
    // platform that none of that source's disclosures for it (or for every platform) matched.
    let mut scorecard = Vec::new();
    for ((source, platform), hit) in &disclosed {
        // With a platform filter, disclosures about every platform count for it, but their own
        // scorecard is not shown.
        if platform_filter.as_ref().is_some_and(|p| p != platform) {
            continue;
        }
        let relevant: Vec<&MeasuredEvent> = events.iter().filter(|e| in_scope(e) && concerns(e, platform)).collect();
        for e in &relevant {
            if !hit.contains_key(&e.id) {
                rows.push(with_event(base_row(Outcome::Undisclosed, None, source, platform, &e.cc), e));
            }
        }
        let mine: Vec<&&StoredDisclosure> =
            ds.iter().filter(|d| &d.disclosure.source == source && &d.disclosure.platform == platform).collect();
        let mut countries: BTreeSet<Option<String>> = relevant.iter().map(|e| Some(e.cc.clone())).collect();
        countries.extend(mine.iter().map(|d| Some(d.disclosure.country.clone())));
        if f.country.is_none() {
            countries.insert(None);
        }
        for cc in countries {
            let here = |c: &str| cc.as_deref().is_none_or(|x| x == c);
            let measured: Vec<&&MeasuredEvent> = relevant.iter().filter(|e| here(&e.cc)).collect();
            let found: Vec<&&&MeasuredEvent> = measured.iter().filter(|e| hit.contains_key(&e.id)).collect();
            let delays: Vec<i64> = found.iter().filter_map(|e| hit.get(&e.id).copied().flatten()).collect();
            let theirs: Vec<&&&StoredDisclosure> = mine.iter().filter(|d| here(&d.disclosure.country)).collect();
            let unconfirmed = |want: Outcome| {
                theirs
                    .iter()
                    .filter(|d| {
                        !matched_keys.contains(&d.key)
                            && (coverage.get(&d.key).copied().unwrap_or(0) == 0)
                                == (want == Outcome::UnconfirmedNoCoverage)
                    })
                    .count()
            };
            scorecard.push(ScoreRow {
                source: source.clone(),
                platform: platform.clone(),
                country: cc.clone(),
                measured_events: measured.len(),
                disclosed_events: found.len(),
                undisclosed_events: measured.len() - found.len(),
                share_disclosed: (!measured.is_empty()).then(|| found.len() as f64 / measured.len() as f64),
                median_disclosure_delay: median(delays),
                disclosures: theirs.len(),
                matched_disclosures: theirs.iter().filter(|d| matched_keys.contains(&d.key)).count(),
                unconfirmed_no_coverage: unconfirmed(Outcome::UnconfirmedNoCoverage),
                unconfirmed_no_event: unconfirmed(Outcome::UnconfirmedNoEvent),
            });
        }
    }
    rows.sort_by_cached_key(|r| {
        (
            r.country.clone(),
            r.event_start.clone().or(r.disclosure_start.clone()),
            r.outcome,
            r.event.clone(),
            r.disclosure.clone(),
        )
    });
    Reconciliation { tolerance: o.tolerance, as_of: rfc(o.now), total_rows: rows.len(), rows, scorecard }
}

#[cfg(test)]
#[path = "disclosures_reconcile_tests.rs"]
mod tests;
