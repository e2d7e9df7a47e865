//! Unit tests of reconciliation: every outcome, day granularity, ongoing periods, overlaps.

use super::*;
use crate::disclosures::FORMAT_VERSION;

const T: i64 = 1_741_046_400; // 2025-03-04 00:00 UTC
const NOW: i64 = T + 10 * 86_400;

fn ev(
    id: &str,
    kind: &str,
    platform: Option<&str>,
    cc: &str,
    asn: Option<u32>,
    start: i64,
    end: Option<i64>,
) -> MeasuredEvent {
    MeasuredEvent {
        id: id.into(),
        kind: kind.into(),
        platform: platform.map(String::from),
        cc: cc.into(),
        asn,
        start,
        end,
        status: "confirmed".into(),
    }
}

fn disc(
    source: &str,
    platform: &str,
    kind: DisclosureType,
    cc: &str,
    start: When,
    end: Option<When>,
) -> StoredDisclosure {
    let d = Disclosure {
        format_version: FORMAT_VERSION,
        id: None,
        source: source.into(),
        platform: platform.into(),
        services: vec![],
        country: cc.into(),
        asn: None,
        region: None,
        network: None,
        start,
        end,
        kind,
        cause: None,
        government_request: None,
        source_url: None,
        published_at: None,
    };
    StoredDisclosure { key: d.key(), disclosure: d }
}

fn opts() -> Options {
    Options { filter: Filter::default(), tolerance: DEFAULT_TOLERANCE, now: NOW }
}

fn outcomes(r: &Reconciliation) -> Vec<(Outcome, Option<&str>, Option<&str>)> {
    r.rows.iter().map(|x| (x.outcome, x.event.as_deref(), x.disclosure.as_deref())).collect()
}

const B: DisclosureType = DisclosureType::Blocked;
const S: DisclosureType = DisclosureType::Shutdown;
const H: i64 = 3600;

#[test]
fn every_outcome_with_timing() {
    let events = [
        ev("wa", "blocking", Some("whatsapp"), "AA", Some(100), T + 10 * H, Some(T + 20 * H)),
        ev("wa2", "blocking", Some("whatsapp"), "AA", Some(100), T + 3 * 86_400, Some(T + 3 * 86_400 + 5 * H)),
        ev("tg", "blocking", Some("telegram"), "AA", Some(100), T + 10 * H, Some(T + 20 * H)),
    ];
    let mut matched = disc("meta", "whatsapp", B, "AA", When::second(T + 9 * H), Some(When::second(T + 21 * H)));
    matched.disclosure.published_at = Some(When::second(T + 30 * H));
    let matched = StoredDisclosure { key: matched.disclosure.key(), ..matched };
    let no_probes = disc("meta", "whatsapp", B, "BB", When::second(T), Some(When::second(T + H)));
    let no_event =
        disc("meta", "whatsapp", B, "AA", When::second(T + 6 * 86_400), Some(When::second(T + 6 * 86_400 + H)));
    let mut cover = HashMap::new();
    cover.insert(no_event.key.clone(), 7);
    let all = [matched.clone(), no_probes.clone(), no_event.clone()];
    let r = reconcile(&all, &events, &cover, &opts());
    let got = outcomes(&r);
    assert_eq!(
        got,
        [
            (Outcome::Matched, Some("wa"), Some(matched.key.as_str())),
            (Outcome::Undisclosed, Some("wa2"), None),
            (Outcome::UnconfirmedNoEvent, None, Some(no_event.key.as_str())),
            (Outcome::UnconfirmedNoCoverage, None, Some(no_probes.key.as_str())),
        ],
        "telegram's block is not whatsapp's to disclose"
    );
    let m = &r.rows[0];
    assert_eq!((m.start_difference, m.end_difference, m.disclosure_delay), (Some(-H), Some(H), Some(20 * H)));
    assert_eq!(m.granularity, Some(Granularity::Second));
    assert_eq!(m.evidence.as_deref(), Some("/api/v1/events/wa/evidence"));
    assert_eq!((r.rows[2].probes, r.rows[3].probes), (Some(7), Some(0)));

    let total = r.scorecard.iter().find(|s| s.country.is_none()).unwrap();
    assert_eq!((total.source.as_str(), total.platform.as_str()), ("meta", "whatsapp"));
    assert_eq!((total.measured_events, total.disclosed_events, total.undisclosed_events), (2, 1, 1));
    assert_eq!(total.share_disclosed, Some(0.5));
    assert_eq!(total.median_disclosure_delay, Some(20 * H));
    assert_eq!((total.disclosures, total.matched_disclosures), (3, 1));
    assert_eq!((total.unconfirmed_no_coverage, total.unconfirmed_no_event), (1, 1));
    let bb = r.scorecard.iter().find(|s| s.country.as_deref() == Some("BB")).unwrap();
    assert_eq!((bb.measured_events, bb.share_disclosed, bb.unconfirmed_no_coverage), (0, None, 1));
}

#[test]
fn a_date_is_any_time_zones_day_and_differences_are_zero_inside_it() {
    // A shutdown from 20:00 UTC the day before (01:30 the next day in UTC+5:30) to 03:00.
    let e = ev("sd", "shutdown", None, "AA", None, T - 4 * H, Some(T + 3 * H));
    let d = disc("accessnow-stop", "all", S, "AA", When::day(T), Some(When::day(T)));
    let o = Options { tolerance: 0, ..opts() };
    let r = reconcile(std::slice::from_ref(&d), std::slice::from_ref(&e), &HashMap::new(), &o);
    let m = &r.rows[0];
    assert_eq!(m.outcome, Outcome::Matched);
    assert_eq!(m.granularity, Some(Granularity::Day));
    assert_eq!((m.start_difference, m.end_difference), (Some(4 * H), Some(0)));
    assert_eq!(m.disclosure_start.as_deref(), Some("2025-03-04"));
    // Two days before is no time zone's 4 March.
    let far = ev("sd2", "shutdown", None, "AA", None, T - 40 * H, Some(T - 30 * H));
    assert!(!matches(&d.disclosure, &far, 0, NOW));
    assert!(matches(&d.disclosure, &ev("x", "shutdown", None, "AA", None, T + 35 * H, None), 0, NOW));
    assert!(!matches(&d.disclosure, &ev("x", "shutdown", None, "AA", None, T + 37 * H, None), 0, NOW));
}

#[test]
fn ongoing_events_and_disclosures() {
    let open_event = ev("open", "blocking", Some("x"), "AA", Some(7), T + 86_400, None);
    let open_disc = disc("x-corp", "x", B, "AA", When::second(T), None);
    let r = reconcile(std::slice::from_ref(&open_disc), std::slice::from_ref(&open_event), &HashMap::new(), &opts());
    let m = &r.rows[0];
    assert_eq!(
        (m.outcome, m.end_difference, m.event_end.as_deref(), m.disclosure_end.as_deref()),
        (Outcome::Matched, None, None, None)
    );
    // An ongoing event matches a later closed disclosure; an event of "twitter" is x's.
    let tw = ev("tw", "blocking", Some("twitter"), "AA", None, T, None);
    let later = disc("x-corp", "x", B, "AA", When::second(T + 5 * 86_400), Some(When::second(T + 6 * 86_400)));
    assert!(matches(&later.disclosure, &tw, 0, NOW));
    assert!(!matches(&later.disclosure, &tw, 0, T + 86_400), "not yet running then");
    // An ongoing disclosure is the episode it reported, not every later event of the country.
    let stop = disc("accessnow-stop", "all", S, "AA", When::day(T), None);
    let next_year = ev("ny", "shutdown", None, "AA", None, T + 365 * 86_400, Some(T + 366 * 86_400));
    assert!(!matches(&stop.disclosure, &next_year, 0, NOW));
    assert!(matches(&stop.disclosure, &ev("s", "shutdown", None, "AA", None, T + 20 * H, None), 0, NOW));
    let mut published = disc("meta", "all", S, "AA", When::second(T), None);
    published.disclosure.published_at = Some(When::second(T + 10 * 86_400));
    assert!(matches(&published.disclosure, &ev("a", "shutdown", None, "AA", None, T + 5 * 86_400, None), 0, NOW));
    assert!(!matches(&published.disclosure, &ev("b", "shutdown", None, "AA", None, T + 12 * 86_400, None), 0, NOW));
}

#[test]
fn overlaps_are_pairs_in_rows_but_counted_once_in_the_scorecard() {
    // One long disclosure over two events, and two disclosures of the first event.
    let events = [
        ev("a", "shutdown", None, "AA", Some(1), T + 2 * H, Some(T + 5 * H)),
        ev("b", "shutdown", None, "AA", Some(2), T + 8 * H, Some(T + 9 * H)),
    ];
    let mut long = disc("meta", "facebook", S, "AA", When::second(T), Some(When::second(T + 12 * H)));
    long.disclosure.published_at = Some(When::second(T + 20 * H));
    let long = StoredDisclosure { key: long.disclosure.key(), ..long };
    let mut short = disc("meta", "facebook", S, "AA", When::second(T + 2 * H), Some(When::second(T + 5 * H)));
    short.disclosure.published_at = Some(When::second(T + 6 * H));
    let short = StoredDisclosure { key: short.disclosure.key(), ..short };
    let r = reconcile(&[long, short], &events, &HashMap::new(), &opts());
    assert_eq!(r.rows.iter().filter(|x| x.outcome == Outcome::Matched).count(), 3);
    let total = r.scorecard.iter().find(|s| s.country.is_none()).unwrap();
    assert_eq!((total.measured_events, total.disclosed_events, total.matched_disclosures), (2, 2, 2));
    // Event a's delay is its earliest disclosure's (4 h), b's is 12 h: median 8 h.
    assert_eq!(total.median_disclosure_delay, Some(8 * H));
}

#[test]
fn filters_and_tolerance() {
    let e = ev("wa", "blocking", Some("whatsapp"), "AA", Some(100), T + 10 * H, Some(T + 20 * H));
    let d = disc("meta", "whatsapp", B, "AA", When::second(T + 21 * H), Some(When::second(T + 22 * H)));
    assert!(matches(&d.disclosure, &e, H, NOW));
    assert!(!matches(&d.disclosure, &e, H / 2, NOW));
    let mut d_asn = d.clone();
    d_asn.disclosure.asn = Some(101);
    assert!(!matches(&d_asn.disclosure, &e, H, NOW), "another network");
    let mut o = opts();
    o.filter.platform = Some("telegram".into());
    assert!(reconcile(std::slice::from_ref(&d), std::slice::from_ref(&e), &HashMap::new(), &o).rows.is_empty());
    o.filter = Filter { country: Some("AA".into()), from: Some(T + 2 * 86_400), ..Filter::default() };
    let r = reconcile(std::slice::from_ref(&d), std::slice::from_ref(&e), &HashMap::new(), &o);
    assert!(r.rows.is_empty() && r.scorecard.is_empty(), "{r:?}");
    assert_eq!(difference(When::second(T), T + 60), -60);
}

#[test]
fn a_shutdown_disclosed_for_every_platform_counts_for_each_platform_of_its_source() {
    let events = [
        ev("sd", "shutdown", None, "AA", None, T + 2 * H, Some(T + 5 * H)),
        ev("wa", "blocking", Some("whatsapp"), "AA", None, T + 8 * H, Some(T + 9 * H)),
    ];
    let all = disc("stop", "all", S, "AA", When::day(T), Some(When::day(T)));
    let wa = disc("stop", "whatsapp", B, "AA", When::day(T), Some(When::day(T)));
    let r = reconcile(&[all, wa], &events, &HashMap::new(), &opts());
    assert!(r.rows.iter().all(|x| x.outcome == Outcome::Matched), "{:#?}", r.rows);
    let card = |p: &str| r.scorecard.iter().find(|s| s.platform == p && s.country.is_none()).unwrap();
    assert_eq!((card("whatsapp").measured_events, card("whatsapp").disclosed_events), (2, 2));
    assert_eq!((card("all").measured_events, card("all").disclosed_events), (1, 1));
}

#[test]
fn a_platform_filter_keeps_disclosures_about_every_platform() {
    let events = [ev("sd", "shutdown", None, "AA", None, T + 2 * H, Some(T + 5 * H))];
    let all = disc("stop", "all", S, "AA", When::day(T), Some(When::day(T)));
    let mut o = opts();
    o.filter.platform = Some("whatsapp".into());
    o.filter.country = Some("AA".into());
    let wa = disc("stop", "whatsapp", B, "AA", When::day(T + 86_400), None);
    let r = reconcile(&[all, wa], &events, &HashMap::new(), &o);
    assert_eq!(r.scorecard.len(), 1, "{:#?}", r.scorecard);
    let s = &r.scorecard[0];
    assert_eq!((s.platform.as_str(), s.country.as_deref(), s.disclosed_events), ("whatsapp", Some("AA"), 1));
    assert!(r.rows.iter().any(|x| x.outcome == Outcome::Matched && x.platform == "all"));
}

#[test]
fn the_published_json_reads_back_into_the_same_types() {
    let e = ev("wa", "blocking", Some("whatsapp"), "AA", Some(100), T + 10 * H, None);
    let mut d = disc("meta", "whatsapp", B, "AA", When::second(T + 9 * H), None);
    d.disclosure.published_at = Some(When::day(T + 86_400));
    let r = reconcile(&[d], &[e], &HashMap::new(), &opts());
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<Reconciliation>(&json).unwrap(), r);
    assert!(json.contains("\"outcome\":\"matched\"") && json.contains("\"granularity\":\"second\""), "{json}");
}
