//! The disclosures page's data: the reconciliation (`disclosures_reconcile`) turned into
//! `vigil_dashboard::model`'s plain types, the filter's choices, and the disclosures matched to
//! one event (for its page).

use std::collections::HashMap;

use rusqlite::Connection;
use vigil_dashboard::model::{
    Disclosed, DisclosureFilters, DisclosureRow, Disclosures, MatchedEvent, Scope, ScoreLine,
};

use crate::disclosures_reconcile::{DEFAULT_TOLERANCE, Filter, Options, Outcome, ReconRow, Reconciliation};
use crate::disclosures_store;
use crate::events::rfc3339_to_unix;

/// A disclosed time as the reconciliation writes it: `YYYY-MM-DD` (a date) or RFC 3339.
fn disclosed(s: &str) -> Option<Disclosed> {
    if s.len() == 10 {
        rfc3339_to_unix(&format!("{s}T00:00:00Z")).map(|at| Disclosed { at, day: true })
    } else {
        rfc3339_to_unix(s).map(|at| Disclosed { at, day: false })
    }
}

/// One reconciliation row in the dashboard's terms.
pub fn row(r: &ReconRow) -> DisclosureRow {
    let event = match (&r.event, &r.event_start) {
        (Some(id), Some(start)) => Some(MatchedEvent {
            id: id.clone(),
            kind: r.event_type.clone().unwrap_or_default(),
            start: rfc3339_to_unix(start).unwrap_or(0),
            end: r.event_end.as_deref().and_then(rfc3339_to_unix),
        }),
        _ => None,
    };
    DisclosureRow {
        outcome: r.outcome.label().to_string(),
        source: r.source.clone(),
        platform: r.platform.clone(),
        scope: Scope { cc: r.country.clone(), asn: r.asn },
        disclosed: r.disclosure_type.map(|t| t.label().to_string()),
        start: r.disclosure_start.as_deref().and_then(disclosed),
        end: r.disclosure_end.as_deref().and_then(disclosed),
        published_at: r.published_at.as_deref().and_then(disclosed),
        source_url: r.source_url.clone(),
        event,
        evidence: r.evidence.clone(),
        start_difference: r.start_difference,
        end_difference: r.end_difference,
        disclosure_delay: r.disclosure_delay,
        probes: r.probes,
    }
}

/// The page for a reconciliation made with `filters` (the API query `api_query`).
pub fn page(
    r: &Reconciliation,
    filters: DisclosureFilters,
    api_query: String,
    (platforms, countries): (Vec<String>, Vec<String>),
) -> Disclosures {
    Disclosures {
        as_of: rfc3339_to_unix(&r.as_of).unwrap_or(0),
        tolerance: r.tolerance,
        filters,
        api_query,
        scorecard: r
            .scorecard
            .iter()
            .map(|s| ScoreLine {
                source: s.source.clone(),
                platform: s.platform.clone(),
                cc: s.country.clone(),
                measured: s.measured_events,
                disclosed: s.disclosed_events,
                share: s.share_disclosed,
                median_delay: s.median_disclosure_delay,
                disclosures: s.disclosures,
                matched: s.matched_disclosures,
                no_coverage: s.unconfirmed_no_coverage,
                no_event: s.unconfirmed_no_event,
            })
            .collect(),
        rows: r.rows.iter().map(row).collect(),
        platforms,
        countries,
    }
}

/// The filter's choices: every platform disclosed about, every country disclosed about or with
/// published events.
pub fn choices(conn: &Connection) -> rusqlite::Result<(Vec<String>, Vec<String>)> {
    let all = |sql: &str| -> rusqlite::Result<Vec<String>> {
        conn.prepare_cached(sql)?.query_map([], |r| r.get::<_, String>(0))?.collect()
    };
    Ok((
        all("SELECT DISTINCT platform FROM disclosures WHERE platform != 'all' ORDER BY platform")?,
        all("SELECT cc FROM disclosures UNION SELECT cc FROM events ORDER BY 1")?,
    ))
}

/// The disclosures matched to one event (with the default tolerance). Cheap: only that
/// country's disclosures against that one event, no coverage queries.
pub fn for_event(conn: &Connection, id: &str, cc: &str, now: i64) -> rusqlite::Result<Vec<DisclosureRow>> {
    let disclosures = disclosures_store::load(conn, Some(cc))?;
    if disclosures.is_empty() {
        return Ok(Vec::new());
    }
    let events: Vec<_> = disclosures_store::load_events(conn, Some(cc))?.into_iter().filter(|e| e.id == id).collect();
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let o = Options {
        filter: Filter { country: Some(cc.to_string()), ..Filter::default() },
        tolerance: DEFAULT_TOLERANCE,
        now,
    };
    let r = crate::disclosures_reconcile::reconcile(&disclosures, &events, &HashMap::new(), &o);
    Ok(r.rows.iter().filter(|r| r.outcome == Outcome::Matched).map(row).collect())
}
