//! A country page (`/country/{cc}`) or a network page (`/asn/{asn}`): the platforms × time
//! timeline with its legend and table alternative, the filters (period, platform, event type:
//! a plain GET form, so they work without JavaScript), the events and the probe coverage.

use maud::{Markup, html};

use crate::layout::{self, Ctx, DataLink, Page};
use crate::model::Place;
use crate::{parts, svg, words};

/// The periods a reader can choose (days).
pub const PERIODS: &[i64] = &[1, 2, 7, 14, 30];
/// Event types a reader can filter on.
pub const KINDS: &[&str] = &["blocking", "shutdown", "throttling"];

fn filters(ctx: &Ctx, p: &Place) -> Markup {
    let l = ctx.lang;
    let f = &p.filters;
    html! {
        form class="filters" method="get" action=(ctx.path) role="search" aria-label=(l.t("filters_label")) {
            label { (l.t("filter_period")) " "
                select name="days" {
                    @for d in PERIODS { option value=(d) selected[*d == f.days] { (l.n("days_n", *d)) } }
                }
            }
            (parts::platform_select(ctx, &p.platforms, f.platform.as_deref()))
            label { (l.t("filter_type")) " "
                select name="type" {
                    option value="" { (l.t("all_types")) }
                    @for k in KINDS { option value=(k) selected[f.kind.as_deref() == Some(*k)] { (words::code(l, "kind_", k)) } }
                }
            }
            @if let Some(end) = f.end { input type="hidden" name="end" value=(words::rfc3339(end)); }
            @if ctx.explicit { input type="hidden" name="lang" value=(l.code); }
            button type="submit" { (l.t("apply")) }
        }
    }
}

fn coverage(ctx: &Ctx, p: &Place) -> Markup {
    let l = ctx.lang;
    let c = &p.coverage;
    html! {
        section aria-labelledby="coverage-h" {
            h2 id="coverage-h" { (l.t("coverage_heading")) }
            p { (l.f("coverage_text", &[("probes", &l.n("probes_n", c.probes)), ("networks", &l.n("networks_n", c.asns.len())), ("period", &period(ctx, p))])) }
            @if !c.asns.is_empty() {
                ul class="asns" {
                    @for (asn, probes) in &c.asns {
                        li { a href=(ctx.href(&format!("/asn/{asn}"))) dir="ltr" { "AS" (asn) } " · " (l.n("probes_n", *probes)) }
                    }
                }
            }
            p class="note" { (l.t("coverage_privacy")) }
        }
    }
}

/// The period shown, in words: `the last 7 days`, or `1 day until 2026-12-02 00:00 UTC`.
fn period(ctx: &Ctx, p: &Place) -> String {
    let l = ctx.lang;
    match p.filters.end {
        None => l.n("last_days", p.filters.days),
        Some(end) => l.f("days_until", &[("days", &l.n("days_n", p.filters.days)), ("end", &words::utc_minutes(end))]),
    }
}

/// The page's filters as a query string, with another period.
fn query(p: &Place, days: i64, end: Option<i64>) -> String {
    let mut q = format!("days={days}");
    if let Some(e) = end {
        q.push_str(&format!("&end={}", words::rfc3339(e)));
    }
    if let Some(pl) = &p.filters.platform {
        q.push_str(&format!("&platform={}", encode(pl)));
    }
    if let Some(k) = &p.filters.kind {
        q.push_str(&format!("&type={k}"));
    }
    q
}

/// Percent-encode a query value (unreserved characters kept).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// The page.
pub fn render(ctx: &Ctx, p: &Place) -> String {
    let l = ctx.lang;
    let name = words::place(l, &p.scope);
    let title = match p.scope.asn {
        Some(_) => l.f("asn_title", &[("place", &name)]),
        None => l.f("country_title", &[("place", &name)]),
    };
    let chart_title = l.f("chart_title", &[("place", &name), ("period", &period(ctx, p))]);
    let desc = l.f(
        "chart_desc",
        &[
            ("platforms", &l.n("platforms_n", p.timeline.rows.len())),
            ("events", &l.n("events_n", p.events.len())),
            ("from", &words::utc_minutes(p.timeline.from)),
            ("to", &words::utc_minutes(p.timeline.to)),
        ],
    );
    let scope_q = match p.scope.asn {
        Some(a) => format!("country={}&asn={a}", p.scope.cc),
        None => format!("country={}", p.scope.cc),
    };
    let csv = format!("/api/v1/events.csv?{scope_q}");
    let rows: Vec<&[crate::model::State]> = p.timeline.rows.iter().map(|r| r.cells.as_slice()).collect();
    // Zoom: a day's label links to that day alone (a plain link: no script needed).
    let zoom = |day: i64| ctx.href(&format!("{}?{}", ctx.path, query(p, 1, Some(day + 86_400))));
    let zoomable = p.filters.days > 2;
    let body = html! {
        (filters(ctx, p))
        @if let Some(end) = p.filters.end {
            p class="zoomed" { (l.t("showing_until")) " " (layout::time(end)) " · "
                a href=(ctx.href(&format!("{}?{}", ctx.path, query(p, 7, None)))) { (l.t("back_to_now")) } }
        }
        figure class="chart" {
            div class="scroll" { (svg::timeline(l, &p.timeline, &chart_title, &desc, "tl", None, zoomable.then_some(&zoom as svg::Zoom<'_>))) }
            figcaption { (chart_title) " · " (layout::time(p.timeline.from)) " – " (layout::time(p.timeline.to)) }
            (svg::legend(l, &svg::present(rows), svg::has_partial(&p.timeline)))
            details {
                summary { (l.t("table_alternative")) }
                (svg::table(l, &p.timeline, &chart_title))
            }
        }
        section aria-labelledby="events-h" {
            h2 id="events-h" { (l.t("events_heading")) }
            (parts::events_table(ctx, &p.events, &l.f("events_in", &[("place", &name)]), &csv))
        }
        (coverage(ctx, p))
    };
    let chart = match p.scope.asn {
        Some(a) => format!("/api/v1/charts/asn/{a}"),
        None => format!("/api/v1/charts/country/{}", p.scope.cc),
    };
    let data = vec![
        DataLink { key: "data_events_csv", href: format!("/api/v1/events.csv?{scope_q}"), kind: "text/csv" },
        DataLink { key: "data_events_json", href: format!("/api/v1/events?{scope_q}"), kind: "application/json" },
        DataLink { key: "data_timeline", href: format!("/api/v1/timeline?{scope_q}"), kind: "application/json" },
        DataLink { key: "data_chart_svg", href: format!("{chart}.svg"), kind: "image/svg+xml" },
        DataLink { key: "data_chart_png", href: format!("{chart}.png"), kind: "image/png" },
        DataLink { key: "data_feed", href: "/api/v1/feed.atom".into(), kind: "application/atom+xml" },
    ];
    let mut crumbs = vec![(l.t("nav_overview").to_string(), ctx.href("/"))];
    if p.scope.asn.is_some() {
        crumbs.push((
            words::place(l, &crate::model::Scope { cc: p.scope.cc.clone(), asn: None }),
            ctx.href(&format!("/country/{}", p.scope.cc)),
        ));
    }
    layout::render(Page { ctx, title, crumbs, data, body })
}
