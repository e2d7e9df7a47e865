//! Unit tests of the charts: runs and paths, colours and patterns, escaping, the legend, the
//! text alternative, partial (network-scoped) cells, size, PNG errors.

use super::*;
use crate::timeline::{Cell, TimelineRow};
use vigil_detect::Scope;

const T0: i64 = 1_740_960_000; // 2025-03-03 00:00 UTC
const H: i64 = 3600;

fn row(platform: &str, states: &[CellState]) -> TimelineRow {
    TimelineRow { platform: platform.to_string(), cells: states.iter().map(|&state| Cell::new(state, 1, 0)).collect() }
}

fn event(id: &str, kind: &str, platforms: &[&str], start: i64, end: Option<i64>) -> EventRecord {
    EventRecord {
        id: id.to_string(),
        revision: 1,
        kind: kind.to_string(),
        scope: Scope { cc: "AA".into(), asn: Some(101) },
        platforms: platforms.iter().map(|p| p.to_string()).collect(),
        family: None,
        mechanism: (kind == "blocking").then(|| "tls_sni_reset".to_string()),
        rate_kbps: None,
        start: crate::api_events::rfc3339(start),
        start_uncertainty: 300,
        end: end.map(crate::api_events::rfc3339),
        end_uncertainty: end.map(|_| 300),
        probes: 3,
        measurements: 12,
        confidence: 0.9,
        status: "confirmed".into(),
        updated_at: crate::api_events::rfc3339(start),
        basis: vigil_detect::Basis::Evidence,
        cannot_tell: Vec::new(),
        sources: Vec::new(),
    }
}

fn timeline(rows: Vec<TimelineRow>, events: Vec<EventRecord>) -> Timeline {
    let buckets = rows.first().map_or(24, |r| r.cells.len()) as i64;
    Timeline {
        scope: Scope { cc: "AA".into(), asn: None },
        from: T0,
        to: T0 + buckets * H,
        bucket: H,
        probes: 7,
        rows,
        events,
    }
}

use CellState::*;

fn paths<'a>(svg: &'a str, platform: &str) -> Vec<&'a str> {
    let row = svg.split(&format!("data-platform=\"{platform}\">")).nth(1).unwrap().split("</g>").next().unwrap();
    row.split("<path ").skip(1).collect()
}

/// With VIGIL_CHART_EXAMPLE_DIR set, write the chart there (SVG and PNG) to look at.
fn example(name: &str, svg: &str) {
    if let Some(dir) = std::env::var_os("VIGIL_CHART_EXAMPLE_DIR") {
        let dir = std::path::Path::new(&dir);
        std::fs::write(dir.join(format!("{name}.svg")), svg).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png(svg).unwrap()).unwrap();
    }
}

#[test]
fn runs_of_equal_cells_are_one_subpath_each_in_one_path_per_state() {
    let states = [vec![Reachable; 5], vec![BlockedTlsSni; 10], vec![Reachable; 9]].concat();
    let t = timeline(vec![row("telegram", &states)], vec![]);
    let svg = svg(&t, "Telegram in AA");
    let p = paths(&svg, "telegram");
    assert_eq!(p.len(), 2, "{p:?}");
    let blocked = p.iter().find(|p| p.contains("data-state=\"blocked_tls_sni\"")).unwrap();
    assert_eq!(blocked.matches('M').count(), 1);
    assert!(blocked.contains("fill=\"url(#p-blocked_tls_sni)\""));
    let ok = p.iter().find(|p| p.contains("data-state=\"reachable\"")).unwrap();
    assert_eq!(ok.matches('M').count(), 2);
    assert!(ok.contains("fill=\"#009E73\""));
    assert_eq!(runs(&states), vec![(0, 5, Reachable), (5, 10, BlockedTlsSni), (15, 9, Reachable)]);
}

#[test]
fn each_state_has_its_own_colour_and_the_severe_ones_a_pattern() {
    let colours: std::collections::HashSet<&str> = CellState::ALL.iter().map(|&s| colour(s)).collect();
    assert_eq!(colours.len(), CellState::ALL.len());
    for s in CellState::ALL {
        let patterned =
            matches!(s, Shutdown | BlockedDns | BlockedTcpIp | BlockedTlsSni | BlockedHttp | Throttled | CollectorDown);
        assert_eq!(pattern(s).is_some(), patterned, "{s:?}");
    }
    let all: Vec<CellState> = CellState::ALL.iter().flat_map(|&s| [s; 3]).collect();
    let events = vec![event("s", "shutdown", &[], T0 + 3 * H, Some(T0 + 6 * H))];
    let t = timeline(vec![row("x", &all), row("y", &[Reachable; 27])], events);
    let svg = svg(&t, "all");
    example("all-states", &svg);
    for s in CellState::ALL {
        let defined = svg.contains(&format!("<pattern id=\"p-{}\"", s.label()));
        assert_eq!(defined, pattern(s).is_some(), "{s:?}");
        if pattern(s).is_some() {
            assert!(svg.contains(&format!("fill=\"{}\"/>", colour(s))), "{s:?}: the pattern carries the colour");
        }
    }
}

#[test]
fn text_is_escaped() {
    let t = timeline(vec![row("<b>&\"x'", &[Reachable; 4])], vec![event("e&1", "blocking", &["a<b"], T0, None)]);
    let svg = svg(&t, "Title <script>&");
    assert!(!svg.contains("<b>") && !svg.contains("<script>") && !svg.contains("a<b"));
    assert!(svg.contains("Title &lt;script&gt;&amp;"));
    assert!(svg.contains("&lt;b&gt;&amp;&quot;x&apos;"));
    assert!(roxmltree::Document::parse(&svg).is_ok());
    assert_eq!(esc("a\u{1}b"), "a\u{FFFD}b");
    assert_eq!(mechanism_words("tcp_ip_blackhole"), "TCP/IP blackhole");
    assert_eq!(mechanism_words("dns_known_blockpage_ip"), "DNS known blockpage IP");
}

#[test]
fn the_legend_shows_only_the_states_present_in_words() {
    let t = timeline(vec![row("a", &[Reachable, Reachable, BlockedDns, NoData])], vec![]);
    let svg = svg(&t, "t");
    let legend: Vec<&str> = svg.split("<rect class=\"legend\"").skip(1).collect();
    assert_eq!(legend.len(), 3);
    for w in ["blocked (DNS)", "reachable", "no data"] {
        assert!(svg.contains(&format!(">{w}</text>")), "{w}");
    }
    for w in ["shutdown", "blocked (TLS/SNI)", "throttled"] {
        assert!(!svg.contains(&format!(">{w}</text>")), "{w}");
    }
    assert!(!svg.contains("p-shutdown") && !svg.contains("event: start"));
}

#[test]
fn the_text_alternative_names_each_event_and_the_chart_is_accessible() {
    let events = vec![
        event("b1", "blocking", &["telegram"], T0 + 5 * H, Some(T0 + 15 * H)),
        event("s1", "shutdown", &[], T0 + 20 * H, None),
    ];
    let t = timeline(vec![row("telegram", &[Reachable; 24]), row("whatsapp", &[Reachable; 24])], events);
    let svg = svg(&t, "AA");
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let root = doc.root_element();
    assert_eq!(root.attribute("role"), Some("img"));
    assert_eq!(root.attribute("aria-labelledby"), Some("chart-title chart-desc"));
    assert_eq!(root.attribute("width"), Some("960"));
    let desc = root.children().find(|n| n.has_tag_name("desc")).unwrap().text().unwrap();
    assert!(desc.contains("2 event(s)"), "{desc}");
    assert!(
        desc.contains("blocking of telegram (TLS SNI reset) in AA AS101 from 2025-03-03 05:00 to 2025-03-03 15:00 UTC")
    );
    assert!(desc.contains("shutdown (all platforms) in AA AS101 from 2025-03-03 20:00 UTC, ongoing"), "{desc}");
    assert!(desc.contains("7 probe(s)") && desc.contains("2025-03-04 00:00"), "{desc}");
    // Two markers; the ongoing one ends in an arrow at the right edge.
    assert_eq!(svg.matches("class=\"event\"").count(), 2);
    assert!(svg.contains(&format!("<path d=\"M{} ", n(LEFT + PLOT_W))));
    assert!(!svg.contains("http://") || svg.matches("http://").count() == 1, "only the SVG namespace");
}

#[test]
fn no_data_is_said_and_thirty_days_of_fifteen_platforms_stay_small() {
    let t = timeline(vec![], vec![]);
    let empty = svg(&t, "nothing");
    assert!(empty.contains("No data for this period") && roxmltree::Document::parse(&empty).is_ok());

    let mut rows = Vec::new();
    for p in 0..15 {
        let states: Vec<CellState> = (0..30 * 24)
            .map(|i| match (i + p * 7) % 97 {
                0..=3 => BlockedTlsSni,
                4..=6 => NoData,
                7 => Anomaly,
                _ => Reachable,
            })
            .collect();
        rows.push(row(&format!("platform-{p}"), &states));
    }
    let events = (0..10).map(|i| event(&format!("e{i}"), "blocking", &["x"], T0 + i * 50 * H, None)).collect();
    let t = timeline(rows, events);
    let a = svg(&t, "month");
    assert_eq!(a, svg(&t, "month"), "deterministic");
    assert!(a.len() < 100_000, "{} bytes", a.len());
    assert!(a.contains("+4 more event(s)"));
    example("month", &a);
    let png = png(&a).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn png_errors_have_stable_labels() {
    assert_eq!(png("not svg").unwrap_err().label(), "chart_svg_invalid");
}

#[test]
fn a_state_in_some_networks_of_a_country_is_a_thin_band_said_in_the_legend_and_the_text() {
    // Whatsapp blocked in 1 of 3 networks for 4 hours, then in the whole country for 2.
    let mut r = row("whatsapp", &[vec![Reachable; 4], vec![BlockedDns; 6], vec![Reachable; 4]].concat());
    for c in &mut r.cells[4..8] {
        (c.networks, c.affected_networks, c.partial) = (Some(3), Some(1), true);
    }
    for c in &mut r.cells[8..10] {
        (c.networks, c.affected_networks) = (Some(3), Some(3));
    }
    let t = timeline(vec![r], vec![]);
    let svg = svg(&t, "Whatsapp in AA");
    let p = paths(&svg, "whatsapp");
    let partial: Vec<&&str> = p.iter().filter(|p| p.contains("data-partial=\"true\"")).collect();
    assert_eq!(partial.len(), 2, "a tint and a band: {p:?}");
    assert!(partial.iter().all(|p| p.contains("data-state=\"blocked_dns\"") && p.contains("url(#p-blocked_dns)")));
    assert!(
        partial.iter().any(|p| p.contains("fill-opacity=\".3\""))
            && partial.iter().any(|p| p.contains("class=\"band\""))
    );
    let full = p.iter().filter(|p| p.contains("data-state=\"blocked_dns\"") && !p.contains("data-partial")).count();
    assert_eq!(full, 1, "the country-wide hours stay a full cell");
    assert!(svg.contains("thin band: in some of the country&apos;s networks only"));
    let alt = text_alternative(&t, "W");
    assert!(alt.contains("blocked (DNS) in 1 of 3 networks for 4 h") && alt.contains("blocked (DNS) for 2 h"), "{alt}");
    // Without partial cells, nothing of it.
    let plain = super::svg(&timeline(vec![row("x", &[BlockedDns; 3])], vec![]), "X");
    assert!(!plain.contains("data-partial") && !plain.contains("thin band"));
    example("partial", &svg);
    png(&svg).unwrap();
}
