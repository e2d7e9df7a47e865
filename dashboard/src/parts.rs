//! Pieces several pages share: the events table and an event's status badge.

use maud::{Markup, html};

use crate::layout::{Ctx, time};
use crate::model::Event;
use crate::words;

/// An event's status, as a badge (text, not colour alone).
pub fn status(ctx: &Ctx, s: &str) -> Markup {
    html! { span class={ "status s-" (s) } { (words::code(ctx.lang, "status_", s)) } }
}

/// The events, newest first: what, where, start, end (or ongoing), status; each links to its page.
pub fn events_table(ctx: &Ctx, events: &[Event], caption: &str) -> Markup {
    let l = ctx.lang;
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
                        @for e in events {
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
        }
    }
}
