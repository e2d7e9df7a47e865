//! The dashboard's data: the collector's published events, timelines and probe coverage read
//! from the store and turned into `vigil_dashboard::model`'s plain types (the dashboard crate
//! renders, it never reads the database).

use std::collections::{BTreeMap, HashMap};

use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use vigil_dashboard::model::{self, Coverage, Event, Filters, Overview, Place, PlaceSummary, Scope, State};

use crate::api_events::{self, EventFilter, EventRecord};
use crate::events::{self, rfc3339_to_unix};
use crate::timeline::{self, DAY, HOUR, TimelineQuery};

/// The overview's period (days).
pub const OVERVIEW_DAYS: i64 = 7;
/// The overview's sparkline buckets (3 h: 56 per week).
const SPARK_BUCKET: i64 = 3 * HOUR;
/// The most events a page lists.
const PAGE_EVENTS: usize = 500;

fn ceil_hour(t: i64) -> i64 {
    (t + HOUR - 1).div_euclid(HOUR) * HOUR
}

/// The JSON label of a unit enum value (`silence`, `power_cut`).
fn label<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// A published event in the dashboard's terms.
pub fn event(r: &EventRecord) -> Event {
    let t = |s: &str| rfc3339_to_unix(s).unwrap_or(0);
    Event {
        id: r.id.clone(),
        revision: r.revision,
        kind: r.kind.clone(),
        scope: Scope { cc: r.scope.cc.clone(), asn: r.scope.asn },
        platforms: r.platforms.clone(),
        family: r.family.clone(),
        mechanism: r.mechanism.clone(),
        rate_kbps: r.rate_kbps,
        start: t(&r.start),
        start_uncertainty: r.start_uncertainty,
        end: r.end.as_deref().map(t),
        end_uncertainty: r.end_uncertainty,
        probes: r.probes,
        measurements: r.measurements,
        confidence: r.confidence,
        status: r.status.clone(),
        updated_at: t(&r.updated_at),
        basis: label(&r.basis),
        cannot_tell: r.cannot_tell.iter().map(label).collect(),
    }
}

/// A timeline in the dashboard's terms (states by their stable labels).
pub fn timeline(t: &timeline::Timeline) -> model::Timeline {
    model::Timeline {
        from: t.from,
        to: t.to,
        bucket: t.bucket,
        rows: t
            .rows
            .iter()
            .map(|r| model::Row {
                platform: r.platform.clone(),
                cells: r.cells.iter().map(|c| State::from_label(c.state.label()).unwrap_or(State::NoData)).collect(),
                partial: if r.cells.iter().any(|c| c.partial) {
                    r.cells
                        .iter()
                        .map(|c| {
                            c.partial.then(|| model::Partial {
                                affected: c.affected_networks.unwrap_or(0),
                                networks: c.networks.unwrap_or(0),
                            })
                        })
                        .collect()
                } else {
                    Vec::new()
                },
            })
            .collect(),
    }
}

/// The probes seen in `cc` (and `asn`) on the days of `[from, to)`, per ASN.
pub fn coverage(conn: &Connection, cc: &str, asn: Option<u32>, from: i64, to: i64) -> rusqlite::Result<Coverage> {
    let day_from = from.div_euclid(DAY) * DAY;
    let mut args: Vec<SqlValue> = vec![cc.to_string().into(), day_from.into(), to.into()];
    let mut filter = String::from("cc = ?1 AND day >= ?2 AND day < ?3");
    if let Some(a) = asn {
        filter.push_str(" AND asn = ?4");
        args.push(SqlValue::Integer(a.into()));
    }
    let probes: i64 = conn.query_row(
        &format!("SELECT COUNT(DISTINCT key_id) FROM probe_days WHERE {filter}"),
        rusqlite::params_from_iter(args.clone()),
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare(&format!(
        "SELECT asn, COUNT(DISTINCT key_id) FROM probe_days WHERE {filter} GROUP BY asn ORDER BY asn"
    ))?;
    let asns = stmt
        .query_map(rusqlite::params_from_iter(args), |r| Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)? as usize)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Coverage { probes: probes as usize, asns })
}

/// The overview: every country with probes or events in the last days, and every network with
/// events, ordered by their newest event (countries without events last), each country
/// followed by its networks.
pub fn overview(conn: &Connection, now: i64, params: &vigil_detect::Params) -> rusqlite::Result<Overview> {
    let to = ceil_hour(now);
    let from = to - OVERVIEW_DAYS * DAY;
    let filter = EventFilter { from: Some(from), limit: Some(PAGE_EVENTS), ..EventFilter::default() };
    let events: Vec<Event> = api_events::list(conn, &filter)?.iter().map(event).collect();
    let mut countries: BTreeMap<String, usize> = BTreeMap::new();
    {
        let mut stmt =
            conn.prepare("SELECT cc, COUNT(DISTINCT key_id) FROM probe_days WHERE day >= ?1 AND day < ?2 GROUP BY cc")?;
        let rows =
            stmt.query_map([from.div_euclid(DAY) * DAY, to], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (cc, n) = row?;
            countries.insert(cc, n as usize);
        }
    }
    for e in &events {
        countries.entry(e.scope.cc.clone()).or_insert(0);
    }
    let live = |e: &&Event| e.status != "retracted";
    let summary = |scope: Scope, probes: usize| -> rusqlite::Result<PlaceSummary> {
        let mine: Vec<&Event> = events
            .iter()
            .filter(live)
            .filter(|e| e.scope.cc == scope.cc && (scope.asn.is_none() || e.scope.asn == scope.asn))
            .collect();
        let q = TimelineQuery { cc: scope.cc.clone(), asn: scope.asn, platform: None, from, to, bucket: SPARK_BUCKET };
        Ok(PlaceSummary {
            probes,
            ongoing: mine.iter().filter(|e| e.end.is_none()).count(),
            recent: mine.len(),
            newest: mine.iter().map(|e| e.start).max(),
            timeline: timeline(&timeline::build(conn, &q, params)?),
            scope,
        })
    };
    let mut groups = Vec::new();
    for (cc, probes) in countries {
        let country = summary(Scope { cc: cc.clone(), asn: None }, probes)?;
        let mut asns: Vec<u32> =
            events.iter().filter(live).filter(|e| e.scope.cc == cc).filter_map(|e| e.scope.asn).collect();
        asns.sort_unstable();
        asns.dedup();
        let per_asn = coverage(conn, &cc, None, from, to)?.asns.into_iter().collect::<HashMap<_, _>>();
        let mut networks = Vec::new();
        for a in asns {
            networks.push(summary(Scope { cc: cc.clone(), asn: Some(a) }, per_asn.get(&a).copied().unwrap_or(0))?);
        }
        networks.sort_by_key(|p| std::cmp::Reverse(p.newest));
        groups.push((country, networks));
    }
    groups.sort_by_key(|(c, _)| std::cmp::Reverse(c.newest));
    let places = groups.into_iter().flat_map(|(c, n)| std::iter::once(c).chain(n)).collect();
    Ok(Overview { now, places, events, days: OVERVIEW_DAYS })
}

/// The bucket for a period: hours up to a week, then coarser (at most 180 columns).
pub fn bucket_for(days: i64) -> i64 {
    match days {
        ..=7 => HOUR,
        8..=14 => 2 * HOUR,
        _ => 4 * HOUR,
    }
}

/// A country (`asn` None) or network page.
pub fn place(
    conn: &Connection,
    now: i64,
    cc: &str,
    asn: Option<u32>,
    filters: Filters,
    params: &vigil_detect::Params,
) -> rusqlite::Result<Place> {
    let to = ceil_hour(filters.end.unwrap_or(now).min(now));
    let from = to - filters.days * DAY;
    let q = TimelineQuery {
        cc: cc.to_string(),
        asn,
        platform: filters.platform.clone(),
        from,
        to,
        bucket: bucket_for(filters.days),
    };
    let t = timeline::build(conn, &q, params)?;
    let f = EventFilter {
        country: Some(cc.to_string()),
        platform: filters.platform.clone(),
        kind: filters.kind.clone(),
        from: Some(from),
        to: Some(to),
        limit: Some(PAGE_EVENTS),
        ..EventFilter::default()
    };
    // A network's page lists its own events and its country's national ones (they cover it).
    let events = api_events::list(conn, &f)?
        .iter()
        .filter(|e| asn.is_none() || e.scope.asn.is_none() || e.scope.asn == asn)
        .map(event)
        .collect();
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT platform FROM timeline_counts WHERE cc = ?1 AND hour >= ?2 AND hour < ?3 ORDER BY platform",
    )?;
    let platforms =
        stmt.query_map(rusqlite::params![cc, from, to], |r| r.get::<_, String>(0))?.collect::<Result<_, _>>()?;
    Ok(Place {
        now,
        scope: Scope { cc: cc.to_string(), asn },
        timeline: timeline(&t),
        events,
        coverage: coverage(conn, cc, asn, from, to)?,
        filters,
        platforms,
    })
}

/// An event page; None if there is no such event.
pub fn event_page(
    conn: &Connection,
    now: i64,
    id: &str,
    base_url: String,
    params: &vigil_detect::Params,
) -> rusqlite::Result<Option<model::EventPage>> {
    let Some((e, revisions)) = events::event_with_revisions(conn, id)? else { return Ok(None) };
    let updated_at = revisions.last().map_or(0, |r| r.changed_at);
    let revision = revisions.last().map_or(1, |r| r.revision);
    let record = api_events::record(&e, revision, updated_at);
    // The signed measurements only (OONI's are linked apart, `api_events::ooni_links`).
    let evidence: i64 = conn.query_row(
        "SELECT COUNT(*) FROM event_evidence e JOIN measurements m ON m.id = e.measurement_id WHERE e.event_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    let (ooni, ooni_total) = api_events::ooni_links(conn, &e)?;
    let (from, to) = crate::api_charts::event_period(&e, now);
    let mut args = HashMap::new();
    args.insert("country".to_string(), e.scope.cc.clone());
    args.insert("from".to_string(), from.max(0).to_string());
    args.insert("to".to_string(), to.max(from + 1).to_string());
    if let Some(a) = e.scope.asn {
        args.insert("asn".to_string(), a.to_string());
    }
    if let Some(p) = e.kind.platform() {
        args.insert("platform".to_string(), p.to_string());
    }
    let t = match crate::api_timeline::parse(&args, now) {
        Ok(q) => timeline(&timeline::build(conn, &q, params)?),
        Err(_) => model::Timeline { from, to, bucket: HOUR, rows: Vec::new() },
    };
    let revisions = revisions
        .into_iter()
        .map(|r| model::Revision {
            revision: r.revision,
            changed_at: r.changed_at,
            reason: r.reason,
            fields: r
                .changes
                .as_array()
                .map(|a| a.iter().filter_map(|c| c.get("field").and_then(|f| f.as_str()).map(String::from)).collect())
                .unwrap_or_default(),
        })
        .collect();
    Ok(Some(model::EventPage {
        now,
        event: event(&record),
        revisions,
        evidence: evidence as usize,
        timeline: t,
        base_url,
        disclosures: crate::web_disclosures::for_event(conn, id, &e.scope.cc, now)?,
        sources: record
            .sources
            .iter()
            .map(|s| model::SourceLine { source: label(&s.source), probes: s.probes, measurements: s.measurements })
            .collect(),
        ooni: ooni
            .into_iter()
            .map(|o| model::OoniLink {
                at: events::rfc3339_to_unix(&o.measured_at).unwrap_or_default(),
                report_id: o.report_id,
                url: o.url,
            })
            .collect(),
        ooni_total,
    }))
}
