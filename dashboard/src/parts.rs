//! Pieces several pages share: the events table, an event's status badge, the platform filter.

use maud::{Markup, html};

use crate::layout::{Ctx, time};
use crate::model::Event;
use crate::words;

/// An event's status, as a badge (text, not colour alone).
pub fn status(ctx: &Ctx, s: &str) -> Markup {
    html! { span class={ "status s-" (s) } { (words::code(ctx.lang, "status_", s)) } }
}

/// The platform filter of a page's form: every platform, `chosen` selected.
pub fn platform_select(ctx: &Ctx, platforms: &[String], chosen: Option<&str>) -> Markup {
    let l = ctx.lang;
    html! {
        label { (l.t("filter_platform")) " "
            select name="platform" {
                option value="" { (l.t("all_platforms")) }
                @for name in platforms { option value=(name) selected[chosen == Some(name.as_str())] { (name) } }
            }
        }
    }
}

/// The most events a table lists (the page stays light; the rest are in the data links).
pub const LIST_MAX: usize = 50;

/// The events, newest first: what, where, start, end (or ongoing), status; each links to its
/// page. Beyond [`LIST_MAX`], a note points to `all_href` (the CSV of them all).
pub fn events_table(ctx: &Ctx, events: &[Event], caption: &str, all_href: &str) -> Markup {
    let l = ctx.lang;
    let shown = &events[..events.len().min(LIST_MAX)];
    html! {
        @if events.is_empty() {
            p class="empty" { (l.t("no_events")) }
        } @else {
            div class="scroll" {
                table class="events" data-filterable="" {
                    caption { (caption) }
                    thead { tr {
                        th scope="col" { (l.t("col_what")) }
                        th scope="col" { (l.t("col_where")) }
                        th scope="col" { (l.t("col_start")) }
                        th scope="col" { (l.t("col_end")) }
                        th scope="col" { (l.t("col_status")) }
                    } }
                    tbody {
                        @for e in shown {
                            tr data-kind=(e.kind) data-status=(e.status) data-ongoing=[e.end.is_none().then_some("")] {
                                td { a href=(ctx.href(&format!("/event/{}", e.id))) { (words::what(l, e)) }
                                    @if let Some(h) = words::how(l, e) { br; small { (h) } } }
                                td { (words::place(l, &e.scope)) }
                                td { (time(e.start)) }
                                td { @match e.end { Some(t) => (time(t)), None => strong class="ongoing" { (l.t("ongoing")) } } }
                                td { (status(ctx, &e.status)) }
                            }
                        }
                    }
                }
            }
            @if events.len() > shown.len() {
                p class="more" { (l.f("more_events", &[("shown", &shown.len())])) " " a href=(all_href) type="text/csv" { (l.t("data_events_csv")) } }
            }
        }
    }
}
