//! The shared page layout: document head, skip link, navigation (with the language switcher),
//! the pattern definitions, the footer with the page's data links, and small shared pieces
//! (times, links that keep the chosen language). A new page is a `Page` and a body.

use maud::{DOCTYPE, Markup, html};

use crate::i18n::{self, Lang};
use crate::svg;
use crate::words;

/// The navigation: (message key, path). A new page adds a line here.
pub const NAV: &[(&str, &str)] = &[("nav_overview", "/"), ("nav_disclosures", "/disclosures")];

/// Who asks, in which language, for which page.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: &'static Lang,
    /// Chosen by `?lang=`: links keep it.
    pub explicit: bool,
    /// The page's path (for the language switcher).
    pub path: String,
    /// The page's other query parameters, already encoded (`days=7&type=shutdown`).
    pub query: String,
}

impl Ctx {
    /// Choose the language from `?lang=` and `Accept-Language`.
    pub fn new(lang: Option<&str>, accept_language: Option<&str>, path: &str, query: &str) -> Ctx {
        let (lang, explicit) = i18n::choose(lang, accept_language);
        Ctx { lang, explicit, path: path.to_string(), query: query.to_string() }
    }

    /// A link to `path` (which may have a query) that keeps the chosen language.
    pub fn href(&self, path: &str) -> String {
        if !self.explicit {
            return path.to_string();
        }
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{path}{sep}lang={}", self.lang.code)
    }

    fn in_lang(&self, code: &str) -> String {
        if self.query.is_empty() {
            format!("{}?lang={code}", self.path)
        } else {
            format!("{}?{}&lang={code}", self.path, self.query)
        }
    }
}

/// A UTC time, machine-readable and isolated from the text's direction; the script adds the
/// reader's local time after it.
pub fn time(t: i64) -> Markup {
    html! { time datetime=(words::rfc3339(t)) dir="ltr" { (words::utc_minutes(t)) " UTC" } }
}

/// A data link of the footer and the page's "data" box.
#[derive(Debug, Clone)]
pub struct DataLink {
    /// Message key of its label.
    pub key: &'static str,
    pub href: String,
    /// The media type, shown to the reader.
    pub kind: &'static str,
}

/// A page to render.
#[derive(Debug)]
pub struct Page<'a> {
    pub ctx: &'a Ctx,
    pub title: String,
    /// The breadcrumb trail before the title: (label, href).
    pub crumbs: Vec<(String, String)>,
    pub data: Vec<DataLink>,
    pub body: Markup,
}

/// The data links as a list.
pub fn data_links(ctx: &Ctx, data: &[DataLink]) -> Markup {
    html! {
        ul class="data" {
            @for d in data {
                li { a href=(d.href) type=(d.kind) { (ctx.lang.t(d.key)) } " " span class="kind" dir="ltr" { (d.kind) } }
            }
        }
    }
}

/// The whole document.
pub fn render(p: Page<'_>) -> String {
    let lang = p.ctx.lang;
    let ctx = p.ctx;
    let doc = html! {
        (DOCTYPE)
        html lang=(lang.code) dir=(lang.dir.attr()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (p.title) " · Vigil" }
                link rel="stylesheet" href={ "/static/vigil.css?v=" (crate::assets::version()) };
                link rel="alternate" type="application/atom+xml" href="/api/v1/feed.atom" title=(lang.t("feed_title"));
                script src={ "/static/vigil.js?v=" (crate::assets::version()) } defer {}
            }
            body data-tz-label=(lang.t("your_tz")) data-filter-label=(lang.t("quick_filter")) {
                a class="skip" href="#main" { (lang.t("skip")) }
                header class="site" {
                    a class="brand" href=(ctx.href("/")) { "Vigil" }
                    nav aria-label=(lang.t("nav_label")) {
                        ul {
                            @for (key, path) in NAV {
                                li { a href=(ctx.href(path)) aria-current=[(ctx.path == *path).then_some("page")] { (lang.t(key)) } }
                            }
                        }
                    }
                    nav class="langs" aria-label=(lang.t("lang_label")) {
                        ul {
                            @for l in i18n::all() {
                                li { a href=(ctx.in_lang(l.code)) hreflang=(l.code) lang=(l.code)
                                    aria-current=[(l.code == lang.code).then_some("true")] { (l.name) } }
                            }
                        }
                    }
                }
                (svg::defs())
                main id="main" tabindex="-1" {
                    @if !p.crumbs.is_empty() {
                        nav class="crumbs" aria-label=(lang.t("crumbs_label")) {
                            ol {
                                @for (label, href) in &p.crumbs { li { a href=(href) { (label) } } }
                                li aria-current="page" { (p.title) }
                            }
                        }
                    }
                    h1 { (p.title) }
                    p class="tz" { (lang.t("times_utc")) " " span class="localtz" {} }
                    (p.body)
                }
                footer class="site" {
                    h2 { (lang.t("data_heading")) }
                    (data_links(ctx, &p.data))
                    p { (lang.t("footer_about")) }
                }
            }
        }
    };
    doc.into_string()
}
