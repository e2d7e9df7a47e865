//! The overview (`/`): the countries and networks with ongoing and recent events, newest
//! first, each with a sparkline of its last days; then the recent events.

use maud::html;

use crate::layout::{self, Ctx, DataLink, Page};
use crate::model::Overview;
use crate::{parts, svg, words};

/// The overview page.
pub fn render(ctx: &Ctx, o: &Overview) -> String {
    let l = ctx.lang;
    let body = html! {
        p class="lead" { (l.t("overview_lead")) }
        section aria-labelledby="places-h" {
            h2 id="places-h" { (l.f("places_heading", &[("last", &l.n("last_days", o.days))])) }
            @if o.places.is_empty() {
                p class="empty" { (l.t("no_places")) }
            } @else {
                div class="scroll" {
                    table class="places" {
                        caption class="sr" { (l.t("places_caption")) }
                        thead { tr {
                            th scope="col" { (l.t("col_place")) }
                            th scope="col" { (l.t("col_timeline")) }
                            th scope="col" { (l.t("col_ongoing")) }
                            th scope="col" { (l.t("col_recent")) }
                            th scope="col" { (l.t("col_probes")) }
                        } }
                        tbody {
                            @for (i, p) in o.places.iter().enumerate() {
                                @let href = match p.scope.asn { Some(a) => format!("/asn/{a}"), None => format!("/country/{}", p.scope.cc) };
                                @let name = words::place(l, &p.scope);
                                tr class=(if p.scope.asn.is_some() { "asn" } else { "country" }) data-scope=(words::scope(&p.scope)) {
                                    th scope="row" { a href=(ctx.href(&href)) { (name) } }
                                    td class="sparkcell" { (svg::sparkline(l, &p.timeline,
                                        &l.f("spark_title", &[("place", &name), ("last", &l.n("last_days", o.days))]), &format!("s{i}"))) }
                                    td { @if p.ongoing > 0 { strong class="ongoing" { (p.ongoing) } } @else { "0" } }
                                    td { (p.recent) }
                                    td { (p.probes) }
                                }
                            }
                        }
                    }
                }
                @let worst: Vec<Vec<crate::model::State>> = o.places.iter().map(|p| p.timeline.worst()).collect();
                (svg::legend(l, &svg::present(worst.iter().map(Vec::as_slice)), o.places.iter().any(|p| p.timeline.worst_keyed().iter().any(|(_, q)| q.is_some()))))
            }
        }
        section aria-labelledby="events-h" {
            h2 id="events-h" { (l.t("recent_events")) }
            (parts::events_table(ctx, &o.events, l.t("recent_events"), "/api/v1/events.csv"))
        }
    };
    let data = vec![
        DataLink { key: "data_events_csv", href: "/api/v1/events.csv".into(), kind: "text/csv" },
        DataLink { key: "data_events_json", href: "/api/v1/events".into(), kind: "application/json" },
        DataLink { key: "data_feed", href: "/api/v1/feed.atom".into(), kind: "application/atom+xml" },
        DataLink { key: "data_api", href: "/api/v1/openapi.json".into(), kind: "application/json" },
    ];
    layout::render(Page { ctx, title: l.t("overview_title").to_string(), crumbs: Vec::new(), data, body })
}
