//! Every page rendered from plain data, in every language: hostile text is escaped, the
//! document carries its language and direction, links keep a chosen language.

use vigil_dashboard::disclosures::OUTCOMES;
use vigil_dashboard::model::*;
use vigil_dashboard::{Ctx, disclosures, event, i18n, overview, place};

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
        basis: "evidence".into(),
        cannot_tell: Vec::new(),
    }
}

fn tl() -> Timeline {
    Timeline {
        from: 1_740_960_000 - 86_400,
        to: 1_740_960_000 + 86_400,
        bucket: 3600,
        rows: vec![Row {
            platform: EVIL.into(),
            cells: [State::Reachable, State::BlockedDns].repeat(24),
            partial: Vec::new(),
        }],
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
        disclosures: vec![drow("matched")],
        sources: vec![SourceLine { source: EVIL.into(), probes: 1, measurements: 1 }],
        ooni: vec![OoniLink { report_id: EVIL.into(), at: 1, url: format!("/m/{EVIL}") }],
        ooni_total: 2,
    };
    let d = Disclosures {
        as_of: now,
        tolerance: 7200,
        filters: DisclosureFilters {
            platform: Some(EVIL.into()),
            country: Some(EVIL.into()),
            from: Some(EVIL.into()),
            to: None,
        },
        api_query: format!("platform={EVIL}"),
        scorecard: vec![ScoreLine {
            source: EVIL.into(),
            platform: EVIL.into(),
            cc: Some(EVIL.into()),
            measured: 3,
            disclosed: 1,
            share: Some(1.0 / 3.0),
            median_delay: Some(-3600),
            disclosures: 2,
            matched: 1,
            no_coverage: 0,
            no_event: 1,
        }],
        rows: OUTCOMES.iter().map(|o| drow(o)).collect(),
        paging: RowsPage {
            page: 2,
            pages: 3,
            first: 60,
            total: 124,
            counts: [1, 1, 1, 1],
            query: format!("platform={EVIL}"),
        },
        platforms: vec![EVIL.into()],
        countries: vec![EVIL.into()],
    };
    vec![overview::render(ctx, &o), place::render(ctx, &p), event::render(ctx, &e), disclosures::render(ctx, &d)]
}

fn drow(outcome: &str) -> DisclosureRow {
    let matched = outcome == "matched" || outcome == "undisclosed";
    DisclosureRow {
        outcome: outcome.into(),
        source: EVIL.into(),
        platforms: vec![EVIL.into(), EVIL.into()],
        scope: Scope { cc: "XA".into(), asn: Some(64496) },
        disclosed: (outcome != "undisclosed").then(|| "blocked".into()),
        start: (outcome != "undisclosed").then_some(Disclosed { at: 1_740_960_000, day: true }),
        end: None,
        published_at: Some(Disclosed { at: 1_740_970_000, day: false }),
        source_url: Some(format!("http://x/{EVIL}")),
        event: matched.then(|| MatchedEvent {
            id: EVIL.into(),
            kind: "blocking".into(),
            start: 1_740_960_000,
            end: None,
        }),
        evidence: matched.then(|| format!("/api/v1/events/{EVIL}/evidence")),
        start_difference: Some(-180),
        end_difference: None,
        disclosure_delay: Some(6 * 3600),
        probes: (!matched).then_some(4),
    }
}

#[test]
fn the_disclosures_page_says_each_outcome_and_difference_in_words() {
    let ctx = Ctx::new(None, None, "/disclosures", "");
    let page = pages(&ctx).pop().unwrap();
    for words in [
        ">matched<",
        ">undisclosed<",
        ">unconfirmed: no probes there<",
        ">unconfirmed: probes there, no event<",
        "start: 3 min earlier",
        "published 6 h after the start",
        "33 %</span><br><small>1 of 3 events</small>",
        "1 h before it",
        "(whole days, no time of day)",
        "(4 probes measured there)",
        "<caption>Per source, platform and country",
    ] {
        assert!(page.contains(words), "{words}");
    }
    assert_eq!(page.matches("<tr data-outcome=").count(), 4);
    assert!(page.contains("href=\"/api/v1/reconciliation.csv?platform=&lt;script&gt;"), "data links carry the query");
    assert!(page.contains("<input type=\"date\" name=\"from\" value=\"&lt;script&gt;"));
    let ar = Ctx::new(Some("ar"), None, "/disclosures", "");
    let page = pages(&ar).pop().unwrap();
    assert!(page.contains("<html lang=\"ar\" dir=\"rtl\">") && page.contains("غير مؤكَّد: لا مجسّات هناك"));
    assert!(page.contains("name=\"lang\" value=\"ar\""), "the form keeps the language");
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

fn real_event() -> Event {
    let mut e = ev();
    e.id = "blocking-XA-64496-6b1f5937c2f0c629".into();
    e.platforms = vec!["whatsapp".into()];
    e.mechanism = Some("dns_injection".into());
    e
}

#[test]
fn a_busy_month_stays_under_100_kb() {
    // 15 platforms × 180 cells changing state every other cell (1350 periods), 400 events,
    // 60 networks: noisier than any real month (the stylesheet and the script add 8 KB). The
    // chart grows with the number of state changes (about 19 bytes each in its compact form).
    let ctx = Ctx::new(None, None, "/country/XA", "");
    let states = [State::Reachable, State::Anomaly, State::BlockedDns, State::NoData];
    let rows = (0..15)
        .map(|i| Row {
            platform: format!("platform{i}"),
            cells: (0..180).map(|c| states[(c / 2 + i) % 4]).collect(),
            partial: Vec::new(),
        })
        .collect();
    let timeline = Timeline { from: 0, to: 180 * 4 * 3600, bucket: 4 * 3600, rows };
    let p = Place {
        now: 180 * 4 * 3600,
        scope: Scope { cc: "XA".into(), asn: None },
        timeline,
        events: vec![real_event(); 400],
        coverage: Coverage { probes: 500, asns: (1..=60).map(|a| (a, 8)).collect() },
        filters: Filters { days: 30, end: None, platform: None, kind: None },
        platforms: (0..15).map(|i| format!("platform{i}")).collect(),
    };
    let page = place::render(&ctx, &p);
    assert!(page.len() < 100 * 1024 - 8 * 1024, "{} bytes", page.len());
    assert!(page.contains("Only the newest 50 events") && page.contains("The first 100 of"));
    assert!(page.contains("<path d=\"M") && !page.contains("<rect x=\"120\""), "compact paths, not rectangles");
}

#[test]
fn a_busy_disclosures_page_stays_under_100_kb() {
    // A STOP year of thousands of rows and a scorecard of hundreds of lines: the page lists one
    // page of rows (with links to the others) and the first 60 scorecard lines (and links the
    // CSV of them all).
    let ctx = Ctx::new(None, None, "/disclosures", "");
    let rows: Vec<DisclosureRow> = (0..disclosures::ROWS_PER_PAGE).map(|i| drow(OUTCOMES[i % 4])).collect();
    let line = ScoreLine {
        source: "accessnow-stop".into(),
        platform: "whatsapp".into(),
        cc: Some("IR".into()),
        measured: 30,
        disclosed: 12,
        share: Some(0.4),
        median_delay: Some(86_400),
        disclosures: 40,
        matched: 12,
        no_coverage: 3,
        no_event: 5,
    };
    let d = Disclosures {
        as_of: 1_740_980_000,
        tolerance: 7200,
        filters: DisclosureFilters::default(),
        api_query: String::new(),
        scorecard: vec![line; 500],
        paging: RowsPage { page: 50, pages: 50, first: 2940, total: 3000, counts: [750; 4], query: String::new() },
        rows,
        platforms: (0..20).map(|i| format!("platform{i}")).collect(),
        countries: (0..150).map(|i| format!("C{i}")).collect(),
    };
    let page = disclosures::render(&ctx, &d);
    assert!(page.len() < 100 * 1024 - 8 * 1024, "{} bytes", page.len());
    assert_eq!(page.matches("<tr data-outcome=").count(), disclosures::ROWS_PER_PAGE);
    assert!(page.contains("Rows 2941–3000 of 3000") && page.contains("Only the first 60 of 500"));
    assert!(page.contains("(750)"), "the outcome counts are over every page");
    assert!(page.contains("href=\"/disclosures?page=1#rows-h\" rel=\"first\""), "{page}");
    assert!(page.contains("href=\"/disclosures?page=49#rows-h\" rel=\"prev\""));
    assert!(!page.contains("rel=\"next\""), "the last page");
}

#[test]
fn the_disclosures_pages_link_each_other_keeping_filters_and_language() {
    for (lang, range, next) in
        [(None, "Rows 61–120 of 125", "next ›"), (Some("ar"), "الصفوف 61–120 من 125", "التالية ›")]
    {
        let ctx = Ctx::new(lang, None, "/disclosures", "country=XA&page=2");
        let d = Disclosures {
            as_of: 1_740_980_000,
            tolerance: 7200,
            filters: DisclosureFilters::default(),
            api_query: "country=XA".into(),
            scorecard: Vec::new(),
            rows: (0..disclosures::ROWS_PER_PAGE).map(|i| drow(OUTCOMES[i % 4])).collect(),
            paging: RowsPage {
                page: 2,
                pages: 3,
                first: 60,
                total: 125,
                counts: [32, 31, 31, 31],
                query: "country=XA".into(),
            },
            platforms: Vec::new(),
            countries: Vec::new(),
        };
        let page = disclosures::render(&ctx, &d);
        assert!(page.contains(range), "{page}");
        let keep = if lang.is_some() { "&amp;lang=ar" } else { "" };
        for (n, rel) in [(1, "first"), (1, "prev"), (3, "next"), (3, "last")] {
            let link = format!("href=\"/disclosures?country=XA&amp;page={n}{keep}#rows-h\" rel=\"{rel}\"");
            assert_eq!(page.matches(&link).count(), 2, "{link} above and below the rows");
        }
        assert!(page.contains(next) && page.contains("aria-current=\"page\""));
        assert_eq!(page.matches("<nav class=\"pages\"").count(), 2);
    }
}

#[test]
fn an_event_resting_on_silence_says_what_it_cannot_tell_apart_and_unknown_is_explained() {
    let mut e = real_event();
    e.kind = "shutdown".into();
    e.platforms = Vec::new();
    e.status = "unknown".into();
    e.basis = "silence".into();
    e.cannot_tell = vec!["shutdown".into(), "power_cut".into(), "collector_unreachable".into()];
    let page = |event: Event| EventPage {
        now: 1_741_100_000,
        event,
        revisions: Vec::new(),
        evidence: 0,
        timeline: tl(),
        base_url: "http://x".into(),
        disclosures: Vec::new(),
        sources: Vec::new(),
        ooni: Vec::new(),
        ooni_total: 0,
    };
    let ctx = Ctx::new(None, None, "/event/x", "");
    let html = event::render(&ctx, &page(e.clone()));
    assert!(html.contains("the probes&#39; silence alone") || html.contains("the probes' silence alone"), "{html}");
    assert!(html.contains("a network shutdown, a power cut, the collector being unreachable"), "{html}");
    assert!(html.contains("retired, powered off or cut off cannot be told apart"), "{html}");
    assert!(!html.contains("status_help_unknown"), "{html}");
    // Evidenced events say nothing of the kind.
    let html = event::render(&ctx, &page(real_event()));
    assert!(!html.contains("silence alone") && !html.contains("cannot yet tell apart"));
}
