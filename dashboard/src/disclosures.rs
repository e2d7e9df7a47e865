//! The disclosures page (`/disclosures`): what platforms and registries disclosed held against
//! what Vigil measured. The scorecard (per source, platform and country: the share of measured
//! events disclosed, the median disclosure delay, disclosures without measurement coverage),
//! the reconciliation rows (each linking to the event's page and its signed evidence), the
//! filters as a plain GET form and the CSV/JSON of the same query. The rows table is shared
//! with the event page (the disclosures matched to that event).

use maud::{Markup, html};

use crate::layout::{self, Ctx, DataLink, Page, time};
use crate::model::{Disclosed, DisclosureRow, Disclosures, RowsPage, ScoreLine};
use crate::{parts, words};

/// The most scorecard lines the page lists (it stays light; the CSV has them all).
pub const ROWS_MAX: usize = 60;

/// Reconciliation rows per page (every row is reached through the page links).
pub const ROWS_PER_PAGE: usize = 60;

/// The number of pages for `total` rows (at least 1).
pub fn page_count(total: usize) -> usize {
    total.div_ceil(ROWS_PER_PAGE).max(1)
}

/// The outcomes, in the order the page explains them.
pub const OUTCOMES: [&str; 4] = ["matched", "undisclosed", "unconfirmed_no_coverage", "unconfirmed_no_event"];

/// A disclosed time: a date for day-granular disclosures (STOP), else a UTC time.
fn disclosed(d: &Disclosed) -> Markup {
    if d.day {
        html! { time datetime=(words::utc_day(d.at)) dir="ltr" { (words::utc_day(d.at)) } }
    } else {
        time(d.at)
    }
}

/// Disclosed minus measured, in words: `3 min later`, `1 h earlier`, `same time`.
fn difference(ctx: &Ctx, s: i64) -> String {
    let l = ctx.lang;
    match s {
        0 => l.t("diff_same").to_string(),
        s if s > 0 => l.f("diff_later", &[("d", &words::duration(l, s))]),
        s => l.f("diff_earlier", &[("d", &words::duration(l, -s))]),
    }
}

/// A matched row's timing: start and end, disclosed against measured, and how long after the
/// event's start it was published.
fn timing(ctx: &Ctx, r: &DisclosureRow) -> Markup {
    let l = ctx.lang;
    html! {
        @if let Some(d) = r.start_difference { (l.f("timing_start", &[("diff", &difference(ctx, d))])) br; }
        @if let Some(d) = r.end_difference { (l.f("timing_end", &[("diff", &difference(ctx, d))])) br; }
        @match r.disclosure_delay {
            Some(d) if d >= 0 => (l.f("timing_delay", &[("d", &words::duration(l, d))])),
            Some(d) => (l.f("timing_delay_before", &[("d", &words::duration(l, -d))])),
            None => @if r.start_difference.is_none() { "—" },
        }
    }
}

/// The disclosure delay (published minus the event's start) in words.
fn delay(ctx: &Ctx, s: Option<i64>) -> String {
    let l = ctx.lang;
    match s {
        None => "—".to_string(),
        Some(s) if s >= 0 => words::duration(l, s),
        Some(s) => l.f("delay_before", &[("d", &words::duration(l, -s))]),
    }
}

/// An outcome in words (never colour alone).
pub fn outcome(ctx: &Ctx, o: &str) -> Markup {
    html! { span class={ "outcome o-" (o) } { (words::code(ctx.lang, "outcome_", o)) } }
}

/// The reconciliation rows: outcome, source, platform, place, what was disclosed, the measured
/// event (its page), the timing differences, the signed evidence.
pub fn rows_table(ctx: &Ctx, rows: &[DisclosureRow], caption: &str) -> Markup {
    let l = ctx.lang;
    html! {
        div class="scroll" {
            table class="recon" {
                caption { (caption) }
                thead { tr {
                    th scope="col" { (l.t("col_outcome")) }
                    th scope="col" { (l.t("col_source")) }
                    th scope="col" { (l.t("col_platform")) }
                    th scope="col" { (l.t("col_where")) }
                    th scope="col" { (l.t("col_disclosed")) }
                    th scope="col" { (l.t("col_measured")) }
                    th scope="col" { (l.t("col_timing")) }
                    th scope="col" { (l.t("col_evidence")) }
                } }
                tbody {
                    @for r in rows {
                        tr data-outcome=(r.outcome) data-cc=(r.scope.cc) {
                            th scope="row" { (outcome(ctx, &r.outcome)) }
                            td dir="ltr" { (r.source) }
                            td dir="ltr" { (r.platforms.join(", ")) }
                            td { (words::place(l, &r.scope)) }
                            td {
                                @match (&r.disclosed, &r.start) {
                                    (Some(kind), Some(start)) => {
                                        (words::code(l, "disclosed_", kind)) br;
                                        (disclosed(start)) " – "
                                        @match &r.end { Some(e) => (disclosed(e)), None => strong class="ongoing" { (l.t("ongoing")) } }
                                        @if start.day || r.end.is_some_and(|e| e.day) { br; small { (l.t("whole_days")) } }
                                        @if let Some(p) = &r.published_at { br; small { (l.t("published")) " " (disclosed(p)) } }
                                        @if let Some(u) = &r.source_url { br; a href=(u) rel="external noreferrer" { (l.t("disclosure_source")) } }
                                    }
                                    _ => { (l.t("nothing_disclosed")) }
                                }
                            }
                            td {
                                @match &r.event {
                                    Some(e) => {
                                        a href=(ctx.href(&format!("/event/{}", e.id))) { (words::code(l, "kind_", &e.kind)) } br;
                                        (time(e.start)) " – "
                                        @match e.end { Some(t) => (time(t)), None => strong class="ongoing" { (l.t("ongoing")) } }
                                    }
                                    None => {
                                        (l.t("no_measured_event"))
                                        @if let Some(p) = r.probes { br; small { (l.f("probes_there", &[("probes", &l.n("probes_n", p))])) } }
                                    }
                                }
                            }
                            td { (timing(ctx, r)) }
                            td { @match &r.evidence {
                                Some(e) => a href=(e) type="application/x-ndjson" { (l.t("evidence_link")) },
                                None => "—",
                            } }
                        }
                    }
                }
            }
        }
    }
}

fn scorecard(ctx: &Ctx, lines: &[ScoreLine]) -> Markup {
    let l = ctx.lang;
    html! {
        div class="scroll" {
            table class="scorecard" {
                caption { (l.t("scorecard_caption")) }
                thead { tr {
                    th scope="col" { (l.t("col_source")) }
                    th scope="col" { (l.t("col_platform")) }
                    th scope="col" { (l.t("col_country")) }
                    th scope="col" { (l.t("col_share")) }
                    th scope="col" { (l.t("col_median_delay")) }
                    th scope="col" { (l.t("col_disclosures")) }
                    th scope="col" { (l.t("col_no_coverage")) }
                    th scope="col" { (l.t("col_no_event")) }
                } }
                tbody {
                    @for s in lines {
                        tr class=[s.cc.is_none().then_some("total")] {
                            th scope="row" dir="ltr" { (s.source) }
                            td dir="ltr" { (s.platform) }
                            td { @match &s.cc { Some(cc) => bdi { (cc) }, None => (l.t("all_countries")) } }
                            td { @match s.share {
                                Some(x) => { span class="pct" { (format!("{:.0}", x * 100.0)) " %" } br;
                                    small { (l.f("share_of", &[("disclosed", &s.disclosed), ("measured", &l.n("events_n", s.measured))])) } }
                                None => (l.t("nothing_measured")),
                            } }
                            td { (delay(ctx, s.median_delay)) }
                            td { (l.f("matched_of", &[("matched", &s.matched), ("disclosures", &s.disclosures)])) }
                            td { (s.no_coverage) }
                            td { (s.no_event) }
                        }
                    }
                }
            }
        }
    }
}

/// "Rows X–Y of N" and plain links to the first, previous, nearby, next and last pages.
fn pager(ctx: &Ctx, p: &RowsPage, shown: usize) -> Markup {
    let l = ctx.lang;
    let href = |n: usize| {
        let q = if p.query.is_empty() { String::new() } else { format!("{}&", p.query) };
        format!("{}#rows-h", ctx.href(&format!("/disclosures?{q}page={n}")))
    };
    let near: Vec<usize> = (p.page.saturating_sub(2).max(1)..=(p.page + 2).min(p.pages)).collect();
    html! {
        nav class="pages" aria-label=(l.t("pages_label")) {
            p class="range" { (l.f("rows_range", &[("first", &(p.first + 1)), ("last", &(p.first + shown)), ("total", &p.total)])) }
            @if p.pages > 1 {
                ul {
                    @if p.page > 1 {
                        li { a href=(href(1)) rel="first" { (l.t("page_first")) } }
                        li { a href=(href(p.page - 1)) rel="prev" { (l.t("page_prev")) } }
                    }
                    @for n in near {
                        @if n == p.page {
                            li { strong aria-current="page" { (l.f("page_n", &[("n", &n)])) } }
                        } @else {
                            li { a href=(href(n)) { (l.f("page_n", &[("n", &n)])) } }
                        }
                    }
                    @if p.page < p.pages {
                        li { a href=(href(p.page + 1)) rel="next" { (l.t("page_next")) } }
                        li { a href=(href(p.pages)) rel="last" { (l.f("page_last", &[("n", &p.pages)])) } }
                    }
                }
            }
        }
    }
}

fn form(ctx: &Ctx, p: &Disclosures) -> Markup {
    let l = ctx.lang;
    let f = &p.filters;
    let day = |v: &Option<String>| v.as_deref().map(|s| s.get(..10).unwrap_or(s).to_string()).unwrap_or_default();
    html! {
        form class="filters" method="get" action="/disclosures" role="search" aria-label=(l.t("disclosure_filters_label")) {
            (parts::platform_select(ctx, &p.platforms, f.platform.as_deref()))
            label { (l.t("col_country")) " "
                select name="country" {
                    option value="" { (l.t("all_countries")) }
                    @for cc in &p.countries { option value=(cc) selected[f.country.as_deref() == Some(cc.as_str())] { (cc) } }
                }
            }
            label { (l.t("col_from")) " " input type="date" name="from" value=(day(&f.from)); }
            label { (l.t("col_to")) " " input type="date" name="to" value=(day(&f.to)); }
            @if ctx.explicit { input type="hidden" name="lang" value=(l.code); }
            button type="submit" { (l.t("apply")) }
        }
    }
}

/// The page.
pub fn render(ctx: &Ctx, p: &Disclosures) -> String {
    let l = ctx.lang;
    let q = if p.api_query.is_empty() { String::new() } else { format!("?{}", p.api_query) };
    let body = html! {
        p { (l.t("disclosures_lead")) }
        p class="note" { (l.f("disclosures_rule", &[("tolerance", &words::duration(l, p.tolerance))])) " " (l.t("as_of")) " " (time(p.as_of)) "." }
        (form(ctx, p))
        section aria-labelledby="score-h" {
            h2 id="score-h" { (l.t("scorecard_heading")) }
            @if p.scorecard.is_empty() { p class="empty" { (l.t("no_disclosures")) } } @else {
                (scorecard(ctx, &p.scorecard[..p.scorecard.len().min(ROWS_MAX)]))
                @if p.scorecard.len() > ROWS_MAX {
                    p class="more" { (l.f("more_lines", &[("shown", &ROWS_MAX), ("total", &p.scorecard.len())])) " "
                        a href={ "/api/v1/scorecard.csv" (q) } type="text/csv" { (l.t("data_score_csv")) } }
                }
            }
        }
        section aria-labelledby="rows-h" {
            h2 id="rows-h" { (l.t("recon_heading")) }
            dl class="outcomes" {
                @for (o, n) in OUTCOMES.iter().zip(p.paging.counts) {
                    dt { (outcome(ctx, o)) } dd { (l.t(&format!("outcome_help_{o}"))) " (" (n) ")" }
                }
            }
            @if p.paging.total == 0 { p class="empty" { (l.t("no_disclosures")) } } @else {
                (pager(ctx, &p.paging, p.rows.len()))
                (rows_table(ctx, &p.rows, &l.n("recon_caption", p.paging.total)))
                @if p.paging.pages > 1 { (pager(ctx, &p.paging, p.rows.len())) }
            }
        }
    };
    let data = vec![
        DataLink { key: "data_recon_csv", href: format!("/api/v1/reconciliation.csv{q}"), kind: "text/csv" },
        DataLink { key: "data_recon_json", href: format!("/api/v1/reconciliation{q}"), kind: "application/json" },
        DataLink { key: "data_score_csv", href: format!("/api/v1/scorecard.csv{q}"), kind: "text/csv" },
        DataLink { key: "data_disclosures_json", href: format!("/api/v1/disclosures{q}"), kind: "application/json" },
        DataLink { key: "data_api", href: "/api/v1/openapi.json".into(), kind: "application/json" },
    ];
    let crumbs = vec![(l.t("nav_overview").to_string(), ctx.href("/"))];
    layout::render(Page { ctx, title: l.t("disclosures_title").to_string(), crumbs, data, body })
}
