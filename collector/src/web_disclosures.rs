//! The disclosures page's data: the reconciliation (`disclosures_reconcile`) turned into
//! `vigil_dashboard::model`'s plain types, the filter's choices, and the disclosures matched to
//! one event (for its page). The page's rows: an event no disclosure of a source matched is
//! one row naming its platforms (not one per platform), then cut in pages.

use std::collections::HashMap;

use rusqlite::Connection;
use vigil_dashboard::disclosures::{OUTCOMES, ROWS_PER_PAGE, page_count};
use vigil_dashboard::model::{
    Disclosed, DisclosureFilters, DisclosureRow, Disclosures, MatchedEvent, RowsPage, Scope, ScoreLine,
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
        platforms: vec![r.platform.clone()],
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

/// The page's rows: the reconciliation's, with the undisclosed rows of one source and event
/// made one row naming every platform (in the order the reconciliation gives them).
pub fn grouped(rows: &[ReconRow]) -> Vec<DisclosureRow> {
    let mut out: Vec<DisclosureRow> = Vec::with_capacity(rows.len());
    let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
    for r in rows {
        if let (Outcome::Undisclosed, Some(event)) = (r.outcome, &r.event) {
            if let Some(&i) = seen.get(&(r.source.as_str(), event.as_str())) {
                if !out[i].platforms.contains(&r.platform) {
                    out[i].platforms.push(r.platform.clone());
                }
                continue;
            }
            seen.insert((r.source.as_str(), event.as_str()), out.len());
        }
        out.push(row(r));
    }
    out
}

/// The page of a query: 1-based, at most the number of pages (an error naming the bound).
pub fn cut(rows: Vec<DisclosureRow>, page: usize, query: String) -> Result<(Vec<DisclosureRow>, RowsPage), String> {
    let total = rows.len();
    let pages = page_count(total);
    if !(1..=pages).contains(&page) {
        return Err(format!("page: expected 1 to {pages} (rows {ROWS_PER_PAGE} a page, {total} rows)"));
    }
    let mut counts = [0; 4];
    for r in &rows {
        if let Some(i) = OUTCOMES.iter().position(|o| *o == r.outcome) {
            counts[i] += 1;
        }
    }
    let first = (page - 1) * ROWS_PER_PAGE;
    let shown: Vec<DisclosureRow> = rows.into_iter().skip(first).take(ROWS_PER_PAGE).collect();
    Ok((shown, RowsPage { page, pages, first, total, counts, query }))
}

/// The page for a reconciliation made with `filters` (the API query `api_query`): page `page`
/// of its rows, whose links carry `page_query`.
pub fn page(
    r: &Reconciliation,
    filters: DisclosureFilters,
    api_query: String,
    (platforms, countries): (Vec<String>, Vec<String>),
    (page, page_query): (usize, String),
) -> Result<Disclosures, String> {
    let (rows, paging) = cut(grouped(&r.rows), page, page_query)?;
    Ok(Disclosures {
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
        rows,
        paging,
        platforms,
        countries,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn recon(outcome: &str, source: &str, platform: &str, event: Option<&str>) -> ReconRow {
        serde_json::from_value(serde_json::json!({
            "outcome": outcome, "source": source, "platform": platform, "country": "XB", "asn": null,
            "disclosure": null, "disclosure_type": null, "disclosure_start": null, "disclosure_end": null,
            "granularity": null, "published_at": null, "source_url": null, "event": event,
            "event_type": event.map(|_| "shutdown"), "event_start": event.map(|_| "2026-12-06T22:00:00Z"),
            "event_end": null, "evidence": null, "start_difference": null, "end_difference": null,
            "disclosure_delay": null, "probes": null
        }))
        .unwrap()
    }

    #[test]
    fn an_undisclosed_event_is_one_row_per_source_naming_its_platforms() {
        let rows = [
            recon("undisclosed", "demo-platform", "facebook", Some("e1")),
            recon("matched", "demo-platform", "signal", Some("e1")),
            recon("undisclosed", "demo-platform", "signal", Some("e2")),
            recon("undisclosed", "demo-platform", "whatsapp", Some("e1")),
            recon("undisclosed", "registry", "all", Some("e1")),
            recon("undisclosed", "demo-platform", "youtube", Some("e1")),
        ];
        let got: Vec<(String, String, Vec<String>)> = grouped(&rows)
            .into_iter()
            .map(|r| (r.outcome, r.event.map(|e| e.id).unwrap_or_default(), r.platforms))
            .collect();
        let s = |v: &[&str]| v.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        assert_eq!(
            got,
            [
                ("undisclosed".into(), "e1".into(), s(&["facebook", "whatsapp", "youtube"])),
                ("matched".into(), "e1".into(), s(&["signal"])),
                ("undisclosed".into(), "e2".into(), s(&["signal"])),
                ("undisclosed".into(), "e1".into(), s(&["all"])),
            ]
        );
    }

    #[test]
    fn the_rows_are_cut_in_pages_every_row_on_one_and_the_page_bounded() {
        let rows: Vec<DisclosureRow> = (0..ROWS_PER_PAGE * 2 + 6)
            .map(|i| row(&recon(OUTCOMES[i % 4], "s", &format!("p{i}"), Some("e"))))
            .collect();
        let mut seen = Vec::new();
        for page in 1..=3 {
            let (shown, p) = cut(rows.clone(), page, "country=XB".into()).unwrap();
            assert_eq!((p.page, p.pages, p.first, p.total), (page, 3, (page - 1) * ROWS_PER_PAGE, rows.len()));
            assert_eq!(p.counts, [32, 32, 31, 31]);
            seen.extend(shown);
        }
        assert_eq!(seen, rows, "every row on exactly one page, in order");
        for page in [0, 4] {
            let e = cut(rows.clone(), page, String::new()).unwrap_err();
            assert!(e.starts_with("page: expected 1 to 3"), "{e}");
        }
        let (shown, p) = cut(Vec::new(), 1, String::new()).unwrap();
        assert!(shown.is_empty() && p.pages == 1 && p.total == 0);
    }
}
