//! `GET /disclosures`: the reconciliation as a server-rendered HTML page (no scripts, no
//! external resources): a filter form, the scorecard, and every row with its evidence link and
//! the CSV downloads of the same query.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::disclosures::Granularity;
use crate::disclosures_reconcile::{Outcome, Reconciliation};
use crate::server::AppState;

const KEYS: &[&str] = &["source", "platform", "country", "from", "to", "tolerance", "outcome"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn query_string(q: &HashMap<String, String>) -> String {
    let mut pairs: Vec<(&String, &String)> = q.iter().filter(|(_, v)| !v.is_empty()).collect();
    pairs.sort();
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>\n\
         body{{font-family:system-ui,sans-serif;margin:1.5rem;color:#111}}\
         table{{border-collapse:collapse;margin:1rem 0}}th,td{{border:1px solid #999;padding:.25rem .5rem;text-align:left;vertical-align:top}}\
         th{{background:#eee}}caption{{text-align:left;font-weight:bold;padding:.25rem 0}}\
         .matched{{background:#e8f4ea}}.undisclosed{{background:#fdeaea}}.unconfirmed_no_event{{background:#fff5dd}}\
         form label{{margin-right:.75rem}}\n</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        esc(title)
    )
}

fn duration(v: Option<i64>) -> String {
    match v {
        None => "–".into(),
        Some(s) => {
            let m = (s.abs() + 30) / 60;
            let sign = if s < 0 {
                "−"
            } else if s > 0 {
                "+"
            } else {
                ""
            };
            if m >= 120 { format!("{sign}{} h {} min", m / 60, m % 60) } else { format!("{sign}{m} min") }
        }
    }
}

fn outcome_text(o: Outcome) -> &'static str {
    match o {
        Outcome::Matched => "matched",
        Outcome::Undisclosed => "undisclosed (measured, not disclosed)",
        Outcome::UnconfirmedNoCoverage => "unconfirmed: no probes there",
        Outcome::UnconfirmedNoEvent => "unconfirmed: probes there, no event",
    }
}

fn form(q: &HashMap<String, String>) -> String {
    let mut s = String::from("<form method=\"get\" action=\"/disclosures\">\n");
    for (k, label) in [
        ("source", "Source"),
        ("platform", "Platform"),
        ("country", "Country"),
        ("from", "From"),
        ("to", "To"),
        ("tolerance", "Tolerance (s)"),
    ] {
        let v = q.get(k).map(|v| esc(v)).unwrap_or_default();
        let _ = writeln!(s, "<label>{label} <input name=\"{k}\" value=\"{v}\" size=\"12\"></label>");
    }
    s.push_str("<button type=\"submit\">Show</button>\n</form>\n");
    s
}

/// The page's HTML for a reconciliation made with the query `q`.
pub fn render(r: &Reconciliation, q: &HashMap<String, String>) -> String {
    let qs = query_string(q);
    let sep = if qs.is_empty() { "" } else { "?" };
    let mut b = String::from("<h1>Disclosures against Vigil's measurements</h1>\n");
    let _ = writeln!(
        b,
        "<p>As of {} (UTC). A disclosure matches an event of the same type, place and platform whose period \
         overlaps it within {} s; a date stands for that day in any time zone. \
         Download: <a href=\"/api/v1/reconciliation.csv{sep}{q}\">rows (CSV)</a>, \
         <a href=\"/api/v1/scorecard.csv{sep}{q}\">scorecard (CSV)</a>.</p>",
        esc(&r.as_of),
        r.tolerance,
        q = esc(&qs)
    );
    b.push_str(&form(q));
    b.push_str("<table>\n<caption>Scorecard</caption>\n<thead><tr>");
    for h in [
        "Source",
        "Platform",
        "Country",
        "Measured events",
        "Disclosed",
        "Share disclosed",
        "Median disclosure delay",
        "Disclosures",
        "Matched",
        "No probes there",
        "Probes there, no event",
    ] {
        let _ = write!(b, "<th scope=\"col\">{h}</th>");
    }
    b.push_str("</tr></thead>\n<tbody>\n");
    if r.scorecard.is_empty() {
        b.push_str("<tr><td colspan=\"11\">No disclosures match these filters.</td></tr>\n");
    }
    for s in &r.scorecard {
        let share = s.share_disclosed.map_or("–".into(), |x| format!("{:.0}%", x * 100.0));
        let _ = writeln!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{share}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.source),
            esc(&s.platform),
            esc(s.country.as_deref().unwrap_or("all")),
            s.measured_events,
            s.disclosed_events,
            duration(s.median_disclosure_delay),
            s.disclosures,
            s.matched_disclosures,
            s.unconfirmed_no_coverage,
            s.unconfirmed_no_event
        );
    }
    b.push_str("</tbody>\n</table>\n<table>\n<caption>Rows</caption>\n<thead><tr>");
    for h in [
        "Outcome",
        "Source",
        "Platform",
        "Place",
        "Disclosed",
        "Measured event",
        "Start difference",
        "End difference",
        "Disclosure delay",
        "Evidence",
    ] {
        let _ = write!(b, "<th scope=\"col\">{h}</th>");
    }
    b.push_str("</tr></thead>\n<tbody>\n");
    for row in &r.rows {
        let place = match row.asn {
            Some(a) => format!("{} AS{a}", row.country),
            None => row.country.clone(),
        };
        let disclosed = match (&row.disclosure_type, &row.disclosure_start) {
            (Some(t), Some(start)) => {
                let day = if row.granularity == Some(Granularity::Day) { " (dates)" } else { "" };
                let mut s = format!(
                    "{} {} – {}{day}",
                    t.label(),
                    esc(start),
                    esc(row.disclosure_end.as_deref().unwrap_or("ongoing"))
                );
                if let Some(u) = &row.source_url {
                    let _ = write!(s, " <a href=\"{}\">source</a>", esc(u));
                }
                s
            }
            _ => "–".into(),
        };
        let event = match (&row.event, &row.event_start) {
            (Some(id), Some(start)) => format!(
                "<a href=\"/api/v1/events/{id}\">{} {}</a> – {}",
                esc(row.event_type.as_deref().unwrap_or("")),
                esc(start),
                esc(row.event_end.as_deref().unwrap_or("ongoing")),
                id = esc(id)
            ),
            _ => row.probes.map_or("–".into(), |p| format!("none ({p} probes there)")),
        };
        let evidence =
            row.evidence.as_ref().map_or("–".into(), |e| format!("<a href=\"{}\">signed evidence</a>", esc(e)));
        let _ = writeln!(
            b,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{disclosed}</td><td>{event}</td><td>{}</td><td>{}</td><td>{}</td><td>{evidence}</td></tr>",
            row.outcome.label(),
            outcome_text(row.outcome),
            esc(&row.source),
            esc(&row.platform),
            esc(&place),
            duration(row.start_difference),
            duration(row.end_difference),
            duration(row.disclosure_delay),
        );
    }
    b.push_str("</tbody>\n</table>\n");
    page("Vigil: disclosures", &b)
}

/// `GET /disclosures`.
pub async fn disclosures(State(state): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let html = [(header::CONTENT_TYPE, "text/html; charset=utf-8")];
    // Empty form fields are left out, as if not given.
    let given: HashMap<String, String> =
        q.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect();
    match crate::api_disclosures::reconciled(&state, &given, KEYS).await {
        Ok(r) => (html, render(&r, &given)).into_response(),
        Err(e) => {
            let body = format!(
                "<h1>Disclosures</h1>\n<p role=\"alert\">{}: {}</p>\n{}",
                e.code,
                esc(&e.message),
                form(&given)
            );
            (
                StatusCode::from_u16(e.status.as_u16()).unwrap_or(StatusCode::BAD_REQUEST),
                html,
                page("Vigil: disclosures", &body),
            )
                .into_response()
        }
    }
}
