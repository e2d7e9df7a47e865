//! Every page rendered from plain data, in every language: hostile text is escaped, the
//! document carries its language and direction, links keep a chosen language.

use vigil_dashboard::model::*;
use vigil_dashboard::{Ctx, event, i18n, overview, place};

const EVIL: &str = "<script>alert(1)</script>\"'&";

fn ev() -> Event {
    Event {
        id: format!("id-{EVIL}"),
        revision: 2,
        kind: "blocking".into(),
        scope: Scope { cc: "XA".into(), asn: Some(64496) },
        platforms: vec![EVIL.into()],
        family: Some("dns".into()),
        mechanism: Some(EVIL.into()),
        rate_kbps: None,
        start: 1_740_960_000,
        start_uncertainty: 120,
        end: None,
        end_uncertainty: None,
        probes: 3,
        measurements: 1,
        confidence: 0.9,
        status: "provisional".into(),
        updated_at: 1_740_970_000,
    }
}

fn tl() -> Timeline {
    Timeline {
        from: 1_740_960_000 - 86_400,
        to: 1_740_960_000 + 86_400,
        bucket: 3600,
        rows: vec![Row { platform: EVIL.into(), cells: [State::Reachable, State::BlockedDns].repeat(24) }],
    }
}

fn pages(ctx: &Ctx) -> Vec<String> {
    let now = 1_740_980_000;
    let o = Overview {
        now,
        days: 7,
        events: vec![ev()],
        places: vec![PlaceSummary {
            scope: Scope { cc: "XA".into(), asn: None },
            probes: 1,
            ongoing: 1,
            recent: 1,
            newest: Some(1),
            timeline: tl(),
        }],
    };
    let p = Place {
        now,
        scope: Scope { cc: "XA".into(), asn: None },
        timeline: tl(),
        events: vec![ev()],
        coverage: Coverage { probes: 1, asns: vec![(64496, 1)] },
        filters: Filters { days: 7, end: Some(1_740_960_000), platform: Some(EVIL.into()), kind: None },
        platforms: vec![EVIL.into()],
    };
    let e = EventPage {
        now,
        event: ev(),
        revisions: vec![Revision { revision: 1, changed_at: 1, reason: EVIL.into(), fields: vec![EVIL.into()] }],
        evidence: 1,
        timeline: tl(),
        base_url: format!("http://x/{EVIL}"),
    };
    vec![overview::render(ctx, &o), place::render(ctx, &p), event::render(ctx, &e)]
}

#[test]
fn hostile_text_is_escaped_in_every_page_and_language() {
    for lang in i18n::all() {
        let ctx = Ctx::new(Some(lang.code), None, "/country/XA", "days=2");
        for page in pages(&ctx) {
            assert!(!page.contains("<script>alert"), "{}: unescaped: {page}", lang.code);
            assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{}", lang.code);
            let head = format!("<html lang=\"{}\" dir=\"{}\">", lang.code, lang.dir.attr());
            assert!(page.starts_with("<!DOCTYPE html>") && page.contains(&head), "{}", lang.code);
            assert!(page.contains(&format!("href=\"/?lang={}\"", lang.code)), "{}: links keep the language", lang.code);
            assert!(page.contains("href=\"/country/XA?days=2&amp;lang=ar\""), "the switcher keeps the parameters");
            assert!(!page.contains("https://") && !page.contains("//fonts."), "no external resources");
        }
    }
}
