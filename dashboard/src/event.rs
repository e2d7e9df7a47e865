//! An event page (`/event/{id}`): what, where and when (start, end or ongoing, with their
//! uncertainties), how, confidence and status, the revisions, the signed evidence and how to
//! verify it, the timeline around it, the embeddable chart and a citation line.

use maud::{Markup, html};

use crate::layout::{self, Ctx, DataLink, Page, time};
use crate::model::{EventPage, Scope};
use crate::{parts, svg, words};

fn facts(ctx: &Ctx, p: &EventPage) -> Markup {
    let l = ctx.lang;
    let e = &p.event;
    let pm = |s: i64| l.f("plus_minus", &[("d", &words::duration(l, s))]);
    let place_href = match e.scope.asn {
        Some(a) => format!("/asn/{a}"),
        None => format!("/country/{}", e.scope.cc),
    };
    html! {
        dl class="facts" {
            dt { (l.t("col_what")) } dd { (words::what(l, e)) }
            dt { (l.t("col_where")) } dd { a href=(ctx.href(&place_href)) { (words::place(l, &e.scope)) } }
            dt { (l.t("col_start")) } dd { (time(e.start)) " " small { (pm(e.start_uncertainty)) } }
            dt { (l.t("col_end")) } dd {
                @match e.end {
                    Some(t) => { (time(t)) " " small { (pm(e.end_uncertainty.unwrap_or(0))) } }
                    None => strong class="ongoing" { (l.t("ongoing")) },
                }
            }
            dt { (l.t("duration")) } dd { (words::duration(l, e.end.unwrap_or(p.now) - e.start))
                @if e.end.is_none() { " " small { (l.t("so_far")) } } }
            @if let Some(h) = words::how(l, e) { dt { (l.t("mechanism")) } dd { (h) } }
            dt { (l.t("confidence")) } dd { (format!("{:.0}", e.confidence * 100.0)) " %" }
            dt { (l.t("col_status")) } dd { (parts::status(ctx, &e.status)) " " small { (l.t(&format!("status_help_{}", e.status))) } }
            @if e.basis == "silence" {
                dt { (l.t("silence_basis")) } dd { (l.t("silence_basis_text"))
                    @if !e.cannot_tell.is_empty() { " " (l.t("cannot_tell")) " "
                        (e.cannot_tell.iter().map(|c| words::code(l, "cause_", c)).collect::<Vec<_>>().join(", ")) } }
            }
            dt { (l.t("basis")) } dd { (l.f("basis_text", &[("probes", &l.n("probes_n", e.probes)), ("measurements", &l.n("measurements_n", e.measurements))])) }
            @if !p.sources.is_empty() {
                dt { (l.t("sources")) } dd { (sources(ctx, p)) }
            }
            dt { (l.t("revision")) } dd { (e.revision) " · " (l.t("updated")) " " (time(e.updated_at)) }
            dt { (l.t("event_id")) } dd { code { (e.id) } }
        }
    }
}

/// "Vigil: 4 probes, 120 measurements; OONI: 3 reports, 24 measurements".
fn sources(ctx: &Ctx, p: &EventPage) -> String {
    let l = ctx.lang;
    p.sources
        .iter()
        .map(|s| {
            let (name, who) = match s.source.as_str() {
                "ooni" => ("OONI", l.n("reports_n", s.probes)),
                _ => ("Vigil", l.n("probes_n", s.probes)),
            };
            format!("{name}: {who}, {}", l.n("measurements_n", s.measurements))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The OONI measurements behind the event: links to OONI Explorer, apart from the signed ones.
fn ooni(ctx: &Ctx, p: &EventPage) -> Markup {
    let l = ctx.lang;
    html! {
        @if p.ooni_total > 0 {
            h3 id="ooni-h" { (l.t("ooni_heading")) }
            p { (l.f("ooni_text", &[("measurements", &l.n("measurements_n", p.ooni_total))])) }
            ul class="ooni" {
                @for o in &p.ooni {
                    li { a href=(o.url) rel="external noopener" { (time(o.at)) } " " small dir="ltr" { code { (o.report_id) } } }
                }
            }
            @if p.ooni_total > p.ooni.len() {
                p { (l.f("ooni_more", &[("n", &(p.ooni_total - p.ooni.len()).to_string())])) }
            }
        }
    }
}

fn revisions(ctx: &Ctx, p: &EventPage) -> Markup {
    let l = ctx.lang;
    html! {
        section aria-labelledby="rev-h" {
            h2 id="rev-h" { (l.t("revisions_heading")) }
            p { (l.t("revisions_text")) }
            table class="revisions" {
                thead { tr { th scope="col" { "#" } th scope="col" { (l.t("col_when")) } th scope="col" { (l.t("col_reason")) } th scope="col" { (l.t("col_changed")) } } }
                tbody {
                    @for r in &p.revisions {
                        tr { td { (r.revision) } td { (time(r.changed_at)) } td lang="en" dir="ltr" { (r.reason) }
                            td { @if r.fields.is_empty() { "—" } @else { code { (r.fields.join(", ")) } } } }
                    }
                }
            }
        }
    }
}

fn evidence(ctx: &Ctx, p: &EventPage) -> Markup {
    let l = ctx.lang;
    let id = &p.event.id;
    let base = &p.base_url;
    let recipe = format!(
        "curl -o evidence.jsonl {base}/api/v1/events/{id}/evidence\n\
         curl -o probe-keys.json {base}/api/v1/probe-keys\n\
         vigil-collector verify evidence.jsonl --keys probe-keys.json"
    );
    let python = "import json, base64\nfrom nacl.signing import VerifyKey\n\n\
        keys = {k[\"key_id\"]: k[\"public_key\"] for k in json.load(open(\"probe-keys.json\"))}\n\
        for line in open(\"evidence.jsonl\"):\n    m = json.loads(line)\n\
        \x20   VerifyKey(base64.b64decode(keys[m[\"key_id\"]])).verify(\n\
        \x20       (m[\"format\"] + \"\\n\" + m[\"payload\"]).encode(), base64.b64decode(m[\"signature\"]))\n\
        \x20   print(\"ok\", json.loads(m[\"payload\"])[\"id\"])";
    html! {
        section aria-labelledby="ev-h" {
            h2 id="ev-h" { (l.t("evidence_heading")) }
            p { (l.f("evidence_text", &[("measurements", &l.n("measurements_n", p.evidence))])) }
            ul {
                li { a href={ "/api/v1/events/" (id) "/evidence" } type="application/x-ndjson" { (l.t("evidence_download")) } }
                li { a href="/api/v1/probe-keys" type="application/json" { (l.t("evidence_keys")) } }
            }
            h3 { (l.t("verify_heading")) }
            p { (l.t("verify_text")) }
            pre dir="ltr" { code { (recipe) } }
            details {
                summary { (l.t("verify_python")) }
                pre dir="ltr" { code { (python) } }
            }
            (ooni(ctx, p))
        }
    }
}

fn disclosures(ctx: &Ctx, p: &EventPage) -> Markup {
    let l = ctx.lang;
    let all = ctx.href(&format!("/disclosures?country={}", p.event.scope.cc));
    html! {
        section aria-labelledby="disc-h" {
            h2 id="disc-h" { (l.t("event_disclosures_heading")) }
            @if p.disclosures.is_empty() {
                p { (l.t("event_no_disclosures")) " " a href=(all) { (l.t("event_disclosures_all")) } }
            } @else {
                (crate::disclosures::rows_table(ctx, &p.disclosures, &l.n("event_disclosures_caption", p.disclosures.len())))
                p { a href=(all) { (l.t("event_disclosures_all")) } }
            }
        }
    }
}

fn embed_and_cite(ctx: &Ctx, p: &EventPage) -> Markup {
    let l = ctx.lang;
    let e = &p.event;
    let base = &p.base_url;
    let title = words::title(&crate::i18n::all()[0], e);
    let img = format!(
        "<img src=\"{base}/api/v1/charts/event/{}.svg\" alt=\"{}\" width=\"960\">",
        e.id,
        title.replace('"', "&quot;")
    );
    let cite = format!(
        "Vigil, “{title}”, event {}, revision {}, updated {} UTC. {base}/event/{}",
        e.id,
        e.revision,
        words::utc_minutes(e.updated_at),
        e.id
    );
    html! {
        section aria-labelledby="embed-h" {
            h2 id="embed-h" { (l.t("embed_heading")) }
            p { (l.t("embed_text")) " "
                a href={ "/api/v1/charts/event/" (e.id) ".svg" } { "SVG" } " · "
                a href={ "/api/v1/charts/event/" (e.id) ".png" } { "PNG" } }
            pre dir="ltr" { code { (img) } }
        }
        section aria-labelledby="cite-h" {
            h2 id="cite-h" { (l.t("cite_heading")) }
            p class="cite" dir="ltr" lang="en" { (cite) }
        }
    }
}

/// The page.
pub fn render(ctx: &Ctx, p: &EventPage) -> String {
    let l = ctx.lang;
    let e = &p.event;
    let title = words::title(l, e);
    let desc = l.f(
        "event_chart_desc",
        &[
            ("what", &words::what(l, e)),
            ("from", &words::utc_minutes(p.timeline.from)),
            ("to", &words::utc_minutes(p.timeline.to)),
        ],
    );
    let mark = (e.start, e.end.unwrap_or(p.now));
    let rows: Vec<&[crate::model::State]> = p.timeline.rows.iter().map(|r| r.cells.as_slice()).collect();
    let body = html! {
        @if e.status == "retracted" { p class="retracted" role="note" { (l.t("retracted_note")) } }
        (facts(ctx, p))
        figure class="chart" {
            div class="scroll" { (svg::timeline(l, &p.timeline, &title, &desc, "tl", Some(mark), None)) }
            figcaption { (l.t("event_chart_caption")) }
            (svg::legend(l, &svg::present(rows), svg::has_partial(&p.timeline)))
            details { summary { (l.t("table_alternative")) } (svg::table(l, &p.timeline, &title)) }
        }
        (revisions(ctx, p))
        (evidence(ctx, p))
        (disclosures(ctx, p))
        (embed_and_cite(ctx, p))
    };
    let data = vec![
        DataLink { key: "data_event_json", href: format!("/api/v1/events/{}", e.id), kind: "application/json" },
        DataLink {
            key: "data_evidence",
            href: format!("/api/v1/events/{}/evidence", e.id),
            kind: "application/x-ndjson",
        },
        DataLink {
            key: "data_events_csv",
            href: format!("/api/v1/events.csv?country={}", e.scope.cc),
            kind: "text/csv",
        },
        DataLink { key: "data_chart_svg", href: format!("/api/v1/charts/event/{}.svg", e.id), kind: "image/svg+xml" },
        DataLink { key: "data_feed", href: "/api/v1/feed.atom".into(), kind: "application/atom+xml" },
    ];
    let country = Scope { cc: e.scope.cc.clone(), asn: None };
    let mut crumbs = vec![
        (l.t("nav_overview").to_string(), ctx.href("/")),
        (words::place(l, &country), ctx.href(&format!("/country/{}", e.scope.cc))),
    ];
    if let Some(a) = e.scope.asn {
        crumbs.push((words::place(l, &e.scope), ctx.href(&format!("/asn/{a}"))));
    }
    layout::render(Page { ctx, title, crumbs, data, body })
}

/// A page saying what went wrong (unknown event, bad country code), in the reader's language.
pub fn error(ctx: &Ctx, title_key: &str, detail: &str) -> String {
    let l = ctx.lang;
    let body = html! { p { (detail) } p { a href=(ctx.href("/")) { (l.t("back_overview")) } } };
    layout::render(Page { ctx, title: l.t(title_key).to_string(), crumbs: Vec::new(), data: Vec::new(), body })
}
