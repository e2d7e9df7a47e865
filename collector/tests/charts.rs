//! Charts end to end: a simulated fleet with a known TLS/SNI block of telegram in AS101 is
//! replayed through the real ingest path and detection; the real server on 127.0.0.1 then draws
//! the country, ASN and event charts as SVG (parsed as XML) and PNG (decoded).

use serde_json::{Value, json};
use vigil_collector::{Collector, Config};
use vigil_detect::sim::{CountrySpec, FleetSpec, TruthEvent, TruthKind, simulate};

const T0: i64 = 1_740_960_000; // 2025-03-03 00:00 UTC
const H: i64 = 3600;
const D: i64 = 86_400;

fn fleet_lines() -> String {
    let countries = vec![CountrySpec { cc: "AA".into(), asns: vec![100, 101] }];
    let mut spec = FleetSpec::new(7, T0, 1, 16, countries);
    spec.platforms = vec!["whatsapp".into(), "telegram".into(), "signal".into()];
    spec.throttling = false;
    let truth = [TruthEvent {
        cc: "AA".into(),
        asn: Some(101),
        kind: TruthKind::Block { platform: "telegram".into(), mechanism: vigil_report::Mechanism::TlsSniReset },
        start: T0 + 6 * H,
        end: T0 + 16 * H,
    }];
    let fleet = simulate(&spec, &truth);
    vigil_collector::demo::replay_lines(&fleet)
}

struct Got {
    status: u16,
    content_type: String,
    cache: String,
    body: Vec<u8>,
}

async fn get(base: &str, path: &str) -> Got {
    let r = reqwest::get(format!("{base}{path}")).await.expect("request");
    let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (content_type, cache) = (header("content-type"), header("cache-control"));
    Got { status: r.status().as_u16(), content_type, cache, body: r.bytes().await.expect("body").to_vec() }
}

/// A chart as SVG: well-formed, accessible; returns its text.
async fn svg(base: &str, path: &str) -> String {
    let g = get(base, path).await;
    let text = String::from_utf8(g.body).expect("UTF-8");
    assert_eq!(g.status, 200, "{path}: {text}");
    assert_eq!((g.content_type.as_str(), g.cache.as_str()), ("image/svg+xml", "public, max-age=60"), "{path}");
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{path}: not XML: {e}"));
    let root = doc.root_element();
    assert_eq!((root.tag_name().name(), root.attribute("role")), ("svg", Some("img")));
    assert!(root.children().any(|n| n.has_tag_name("title")) && root.children().any(|n| n.has_tag_name("desc")));
    assert!(!text.contains("href"), "{path}: no external resources");
    text
}

/// The states drawn in one platform's row.
fn row_states(svg: &str, platform: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    let row = doc
        .descendants()
        .find(|n| n.attribute("data-platform") == Some(platform))
        .unwrap_or_else(|| panic!("no row {platform}"));
    row.children().filter_map(|n| n.attribute("data-state")).map(str::to_string).collect()
}

fn platforms(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants().filter_map(|n| n.attribute("data-platform")).map(str::to_string).collect()
}

fn desc(svg: &str) -> String {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants().find(|n| n.has_tag_name("desc")).and_then(|n| n.text()).unwrap_or_default().to_string()
}

/// A PNG: its signature, its size, and that it is not blank (colours, and dark text in the title).
fn check_png(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    assert_eq!(info.color_type, png::ColorType::Rgba);
    let px = |x: u32, y: u32| {
        let i = ((y * info.width + x) * 4) as usize;
        [buf[i], buf[i + 1], buf[i + 2]]
    };
    let mut colours = std::collections::HashSet::new();
    let mut not_white = 0usize;
    for y in 0..info.height {
        for x in 0..info.width {
            let p = px(x, y);
            colours.insert(p);
            not_white += usize::from(p != [255, 255, 255]);
        }
    }
    let total = (info.width * info.height) as usize;
    assert!(colours.len() > 20 && not_white * 10 > total, "{} colours, {not_white}/{total} not white", colours.len());
    // The title (y 12..36, x 16..300) has dark pixels: the embedded font drew text.
    let dark = (12..36).flat_map(|y| (16..300).map(move |x| (x, y))).filter(|&(x, y)| px(x, y)[0] < 80).count();
    assert!(dark > 100, "{dark} dark pixels in the title");
    (info.width, info.height)
}

fn svg_height(svg: &str) -> u32 {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.root_element().attribute("height").unwrap().parse::<f64>().unwrap().ceil() as u32
}

#[tokio::test(flavor = "multi_thread")]
async fn country_asn_and_event_charts_show_the_known_block_as_svg_and_png() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::open(Config::new(dir.path())).expect("opens");
    let state = collector.state().clone();
    let started = std::time::Instant::now();
    let report = vigil_collector::replay::replay(&state, &fleet_lines(), 6 * H).await.expect("replay");
    eprintln!("replay: {report:?} in {:?}", started.elapsed());
    assert_eq!(report.accepted, report.lines);
    drop(state);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(collector.serve(listener, async {
        let _ = stopped.await;
    }));

    let g = get(&base, "/api/v1/events?country=AA&type=blocking").await;
    let events: Vec<Value> = serde_json::from_slice(&g.body).unwrap();
    let block = events.iter().find(|e| e["status"] != "retracted").unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!((&block["scope"]["asn"], &block["platforms"]), (&json!(101), &json!(["telegram"])));
    let id = block["id"].as_str().unwrap();
    let period = format!("from={T0}&to={}", T0 + D);

    // The country: every platform, telegram blocked (TLS/SNI), the others reachable.
    let country = svg(&base, &format!("/api/v1/charts/country/aa.svg?{period}")).await;
    assert_eq!(platforms(&country), ["signal", "telegram", "whatsapp"]);
    let telegram = row_states(&country, "telegram");
    assert!(telegram.contains(&"blocked_tls_sni".to_string()) && telegram.contains(&"reachable".to_string()));
    assert!(!row_states(&country, "whatsapp").iter().any(|s| s.starts_with("blocked")));
    assert!(country.contains("<pattern id=\"p-blocked_tls_sni\"") && country.contains(">blocked (TLS/SNI)</text>"));
    assert!(country.contains("fill=\"url(#p-blocked_tls_sni)\""));
    assert!(country.contains("Reachability of online platforms in AA"));
    let alt = desc(&country);
    assert!(
        alt.contains("blocking of telegram (TLS SNI reset) in AA AS101") && alt.contains("telegram: blocked (TLS/SNI)")
    );
    assert!(country.len() < 100_000, "{} bytes", country.len());
    // The block is AS101's, one of the country's two networks: a thin band, said in words.
    assert!(alt.contains("telegram: blocked (TLS/SNI) in 1 of 2 networks for"), "{alt}");
    assert!(country.contains("data-partial=\"true\"") && country.contains("thin band: in some of the country"));

    // The ASN charts: AS101 carries the block, AS100 does not; an unknown ASN says "no data".
    let as101 = svg(&base, &format!("/api/v1/charts/asn/101.svg?{period}")).await;
    assert!(as101.contains("AS101 (AA)") && row_states(&as101, "telegram").contains(&"blocked_tls_sni".to_string()));
    assert!(!as101.contains("data-partial") && !as101.contains("thin band"), "a network's own chart is not partial");
    let as100 = svg(&base, &format!("/api/v1/charts/asn/AS100.svg?{period}")).await;
    assert!(!row_states(&as100, "telegram").iter().any(|s| s.starts_with("blocked")), "{as100}");
    let unknown = svg(&base, "/api/v1/charts/asn/64999.svg").await;
    assert!(unknown.contains("No data for this period") && platforms(&unknown).is_empty());
    let nowhere = svg(&base, "/api/v1/charts/country/ZZ.svg").await;
    assert!(nowhere.contains("No data for this period"));

    // The event: only its platform, padded by at least 6 h around it.
    let event = svg(&base, &format!("/api/v1/charts/event/{id}.svg")).await;
    assert_eq!(platforms(&event), ["telegram"]);
    assert!(row_states(&event, "telegram").contains(&"blocked_tls_sni".to_string()));
    assert!(event.contains("Blocking of telegram in AA AS101") && event.contains(&format!("data-event=\"{id}\"")));
    let start = vigil_collector::events::rfc3339_to_unix(block["start"].as_str().unwrap()).unwrap();
    let shown_from = vigil_collector::chart::utc_minutes((start - 6 * H).div_euclid(H) * H);
    assert!(desc(&event).contains(&format!("from {shown_from} to ")), "{shown_from}: {}", desc(&event));

    // PNGs: the same charts, with text, at the SVG's size.
    for (path, svg_text) in [
        (format!("/api/v1/charts/country/AA.png?{period}"), &country),
        (format!("/api/v1/charts/event/{id}.png"), &event),
    ] {
        let g = get(&base, &path).await;
        assert_eq!((g.status, g.content_type.as_str(), g.cache.as_str()), (200, "image/png", "public, max-age=60"));
        let (w, h) = check_png(&g.body);
        assert_eq!((w, h), (960, svg_height(svg_text)), "{path}");
        if path.contains("country") {
            let out = std::env::var_os("CARGO_TARGET_DIR")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("target"))
                .join("charts");
            std::fs::create_dir_all(&out).unwrap();
            std::fs::write(out.join("country-AA.svg"), svg_text).unwrap();
            std::fs::write(out.join("country-AA.png"), &g.body).unwrap();
            eprintln!("example: {} ({} B SVG, {} B PNG)", out.display(), svg_text.len(), g.body.len());
        }
    }

    // Bad input: 400 naming the parameter; an unknown event: 404.
    for (path, name) in [
        ("/api/v1/charts/country/A1.svg", "country"),
        ("/api/v1/charts/country/AAA.svg", "country"),
        ("/api/v1/charts/country/AA.gif", "file"),
        ("/api/v1/charts/country/AA.svg?colour=red", "colour"),
        ("/api/v1/charts/country/AA.svg?from=yesterday", "from"),
        ("/api/v1/charts/asn/x.svg", "asn"),
        ("/api/v1/charts/event/x.svg?platform=telegram", "platform"),
    ] {
        let g = get(&base, path).await;
        let body = String::from_utf8_lossy(&g.body);
        assert_eq!(g.status, 400, "{path}: {body}");
        let e: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(e["error"]["code"], "bad_parameter", "{path}");
        assert!(e["error"]["message"].as_str().unwrap().starts_with(name), "{path}: {body}");
    }
    let g = get(&base, "/api/v1/charts/event/nope.svg").await;
    assert_eq!(g.status, 404);

    let _ = stop.send(());
    server.await.unwrap().expect("serve");
    eprintln!("total {:?}", started.elapsed());
}
