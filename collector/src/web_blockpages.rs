//! The operator's page of blockpage clusters: `/operator/blockpages` lists the published
//! clusters with their evidence (public, as the API), and each cluster's form promotes it with
//! the operator token (`POST /operator/blockpages/{id}/promote`, a plain form: no script).

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use vigil_dashboard::xml::text as esc;

use crate::api_blockpages::{Cluster, Listing, MAX_LIMIT, MAX_OFFSET, listing, promote_cluster};
use crate::server::AppState;

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · Vigil</title>\
         <link rel=\"stylesheet\" href=\"/static/vigil.css?v={}\"></head><body><main>{body}</main></body></html>",
        esc(title),
        vigil_dashboard::assets::version()
    );
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, crate::web::CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    (status, headers, html).into_response()
}

fn cluster(out: &mut String, c: &Cluster) {
    let networks: Vec<String> = c.networks.iter().map(|n| format!("{} AS{}", n.cc, n.asn)).collect();
    let _ = write!(
        out,
        "<section id=\"c-{id}\"><h2>Cluster {id}</h2><p>{} pages from {} probes in {}; seen {} to {}</p>",
        c.size,
        c.probes,
        esc(&networks.join(", ")),
        esc(&c.first_seen),
        esc(&c.last_seen),
        id = esc(&c.id),
    );
    let _ =
        write!(out, "<p>Titles: {}. Sites: {}.</p><ul>", esc(&c.sample_titles.join(" | ")), esc(&c.domains.join(", ")));
    for e in &c.excerpts {
        let _ = write!(out, "<li><blockquote>{}</blockquote></li>", esc(e));
    }
    out.push_str("</ul><p>Evidence:");
    for m in &c.evidence {
        let _ = write!(out, " <a href=\"/api/v1/measurements/{m}\">{m}</a>", m = esc(m));
    }
    out.push_str("</p>");
    if let Some(f) = &c.fingerprint {
        let _ = write!(out, "<p>Promoted as <code>{}</code>.</p>", esc(f));
    }
    let _ = write!(
        out,
        "<form method=\"post\" action=\"/operator/blockpages/{id}/promote\">\
         <label>Pattern <input name=\"pattern\" maxlength=\"200\" value=\"{}\"></label> \
         <label>Operator token <input type=\"password\" name=\"token\" autocomplete=\"off\" required></label> \
         <button type=\"submit\">Promote</button></form></section>",
        esc(c.suggested_pattern.as_deref().unwrap_or("")),
        id = esc(&c.id),
    );
}

fn render(l: &Listing) -> String {
    let mut out = format!(
        "<h1>Blockpage candidates</h1><p>{} candidate pages; {} clusters seen by enough probes or networks \
         (clusters {} to {}). Promoting a cluster adds its pattern to the signed probe configuration \
         (docs/blockpage-discovery.md).</p>",
        l.candidates,
        l.total,
        (l.offset + 1).min(l.total),
        (l.offset + l.clusters.len()).min(l.total),
    );
    for c in &l.clusters {
        cluster(&mut out, c);
    }
    if l.offset > 0 {
        let _ =
            write!(out, "<a href=\"/operator/blockpages?offset={}\">Previous</a> ", l.offset.saturating_sub(l.limit));
    }
    if l.offset + l.clusters.len() < l.total && l.offset + l.limit <= MAX_OFFSET {
        let _ = write!(out, "<a href=\"/operator/blockpages?offset={}\">Next</a>", l.offset + l.limit);
    }
    out
}

/// `GET /operator/blockpages`.
pub async fn list(State(state): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let offset = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0usize).min(MAX_OFFSET);
    let params = state.config.blockpages;
    let s = state.clone();
    match state.read(move |conn| listing(conn, &params, &s.blockpages, offset, MAX_LIMIT)).await {
        Ok(l) => page(StatusCode::OK, "Blockpage candidates", &render(&l)),
        Err(e) => page(e.status, "Error", &format!("<h1>Error</h1><p>{}</p>", esc(&e.message))),
    }
}

/// `POST /operator/blockpages/{id}/promote` (form: `token`, `pattern`; an empty pattern takes
/// the suggested one).
pub async fn promote(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let token = form.get("token").map(|t| t.trim());
    let pattern = form.get("pattern").filter(|p| !p.is_empty()).cloned();
    let back = format!("<p><a href=\"/operator/blockpages#c-{}\">Back to the clusters</a></p>", esc(&id));
    let done = match crate::api_admin::authorize_token(&state, token) {
        Ok(()) => promote_cluster(&state, id, pattern).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(f) => page(
            StatusCode::OK,
            "Promoted",
            &format!(
                "<h1>Promoted</h1><p><code>{}</code> matches <code>{}</code> in page bodies; probes receive it with \
                 their next configuration.</p>{back}",
                esc(&f.name),
                esc(&f.pattern)
            ),
        ),
        Err(e) => page(
            e.status,
            "Not promoted",
            &format!("<h1>Not promoted</h1><p>{}: {}</p>{back}", esc(e.code.label()), esc(&e.message)),
        ),
    }
}
