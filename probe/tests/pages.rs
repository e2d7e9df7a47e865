//! The probe's blockpage recall and false positives on the labelled page set
//! (`tests/data/pages/`, issue 15): every page goes through the real classifier with the built-in
//! fingerprints, through the no-socket seam (`classify::apply` on hand-built observations), as the
//! probe's HTTP response with the headers it was served with, the control having fetched the real
//! site (a blockpage) or the same page (an ordinary page).
//!
//! `cargo test -p vigil-probe --test pages -- --nocapture` prints the tables: recall per vendor,
//! false positives, and leave-vendor-out recall (each vendor's pages classified with the
//! fingerprint rows that match them taken away: what a blockpage nobody has fingerprinted yet
//! gets from the control difference alone).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use vigil_probe::bogon::Scope;
use vigil_probe::classify::{Context, Target, apply};
use vigil_probe::fingerprint::Fingerprints;
use vigil_report::control::{ControlDns, ControlHttp};
use vigil_report::{
    Blocking, ControlResponse, ControlTcp, DnsAnswer, DnsQuery, HttpRequest, HttpResponse, HttpTransaction,
    MaybeBinary, Mechanism, TcpConnect, TcpStatus, WebKeys,
};

const REAL: &str = "93.184.216.34";

struct Page {
    file: String,
    label: String,
    vendor: String,
    country: String,
    encoding: String,
    url: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// How a page was served: its URL, status and headers (`http.csv`).
type Served = (String, u16, Vec<(String, String)>);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/pages")
}

fn load() -> Vec<Page> {
    let mut http: BTreeMap<String, Served> = BTreeMap::new();
    let mut reader = csv::Reader::from_path(root().join("http.csv")).expect("http.csv");
    for rec in reader.records() {
        let rec = rec.expect("http.csv row");
        let headers =
            rec[3].lines().filter_map(|l| l.split_once(": ")).map(|(n, v)| (n.to_string(), v.to_string())).collect();
        http.insert(rec[0].to_string(), (rec[1].to_string(), rec[2].parse().expect("status"), headers));
    }
    let mut reader = csv::Reader::from_path(root().join("manifest.csv")).expect("manifest.csv");
    assert_eq!(
        reader.headers().expect("header").iter().collect::<Vec<_>>(),
        ["file", "label", "vendor", "country", "language", "encoding", "notes"]
    );
    let mut pages = Vec::new();
    for rec in reader.records() {
        let rec = rec.expect("manifest row");
        let file = rec[0].to_string();
        let (url, status, headers) = http.get(&file).unwrap_or_else(|| panic!("{file} not in http.csv")).clone();
        let body = std::fs::read(root().join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        pages.push(Page {
            file,
            label: rec[1].to_string(),
            vendor: rec[2].to_string(),
            country: rec[3].to_string(),
            encoding: rec[5].to_string(),
            url,
            status,
            headers,
            body,
        });
    }
    pages
}

fn host_of(url: &str) -> String {
    url::Url::parse(url).expect("url").host_str().expect("host").to_string()
}

/// The page as a real browser (and the control, reqwest with `charset`) reads it.
fn browser_text(p: &Page) -> String {
    let label = if p.encoding == "utf-16" { "utf-16le" } else { p.encoding.as_str() };
    let enc = encoding_rs::Encoding::for_label(label.as_bytes()).unwrap_or_else(|| panic!("{}: label", p.file));
    enc.decode(&p.body).0.into_owned()
}

/// The probe's observations of `page`: DNS and TCP fine, one HTTP exchange (the page).
fn observe(p: &Page, control: Option<ControlHttp>) -> WebKeys {
    let host = host_of(&p.url);
    let https = p.url.starts_with("https:");
    let port = if https { 443 } else { 80 };
    let body = MaybeBinary::from_bytes(p.body.clone());
    let response = HttpResponse {
        code: p.status,
        headers: p.headers.iter().map(|(n, v)| (n.clone(), MaybeBinary::Text(v.clone()))).collect(),
        title: vigil_probe::http::extract_title(&vigil_probe::http::page_text(&body, &p.headers_map())),
        body_length: p.body.len() as u64,
        body,
        body_is_truncated: false,
    };
    WebKeys {
        platform: None,
        endpoint_group: None,
        client_resolver: None,
        queries: vec![DnsQuery {
            engine: "system".into(),
            resolver_address: String::new(),
            hostname: host.clone(),
            query_type: "A".into(),
            answers: vec![DnsAnswer::from_ip(REAL.parse().unwrap(), Some(60))],
            failure: None,
            t0: 0.0,
            t: 0.01,
            x_responses: Vec::new(),
        }],
        tcp_connect: vec![TcpConnect {
            ip: REAL.into(),
            port,
            status: TcpStatus { success: true, failure: None },
            t0: 0.0,
            t: 0.0,
        }],
        tls_handshakes: vec![],
        requests: vec![HttpTransaction {
            request: HttpRequest { method: "GET".into(), url: p.url.clone(), headers: BTreeMap::new() },
            response: Some(response),
            failure: None,
            t0: 0.0,
            t: 0.0,
        }],
        control: control.map(|http| ControlResponse {
            dns: ControlDns { failure: None, addrs: vec![REAL.into()] },
            tcp_connect: [(format!("{REAL}:{port}"), ControlTcp { status: true, failure: None })].into(),
            tls_handshake: BTreeMap::new(),
            http_request: Some(http),
            ip_info: BTreeMap::new(),
        }),
        control_failure: None,
        dns_experiment_failure: None,
        dns_consistency: None,
        http_experiment_failure: None,
        body_length_match: None,
        body_proportion: None,
        status_code_match: None,
        headers_match: None,
        title_match: None,
        blocking: Blocking::Unknown,
        accessible: None,
        mechanism: None,
        x_confirmed: false,
        x_fingerprints: vec![],
        x_reasons: vec![],
    }
}

impl Page {
    fn headers_map(&self) -> BTreeMap<String, MaybeBinary> {
        self.headers.iter().map(|(n, v)| (n.clone(), MaybeBinary::Text(v.clone()))).collect()
    }

    /// What the control gets when it fetches this very page.
    fn same_page_control(&self) -> ControlHttp {
        ControlHttp {
            body_length: self.body.len() as i64,
            failure: None,
            title: vigil_probe::http::extract_title(&browser_text(self)).unwrap_or_default(),
            headers: self.headers.iter().cloned().collect(),
            status_code: i64::from(self.status),
        }
    }
}

/// What the control gets from the real site behind a blocked URL.
fn real_site_control(p: &Page) -> ControlHttp {
    let host = host_of(&p.url);
    let name = host.trim_start_matches("www.").split('.').next().unwrap_or("site").to_string();
    ControlHttp {
        body_length: 48_000 + (p.body.len() as i64 % 997) * 31,
        failure: None,
        title: format!("{name} – independent reporting, forums and videos"),
        headers: [
            ("Content-Type".to_string(), "text/html; charset=utf-8".to_string()),
            ("Server".to_string(), "cloudflare".to_string()),
            ("X-Request-Id".to_string(), "1f9e".to_string()),
        ]
        .into(),
        status_code: 200,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// A known blockpage, confirmed.
    Confirmed,
    /// A known blockpage that does not confirm alone.
    Blockpage,
    /// Blocking flagged by the difference from the control (OONI's http-diff) or otherwise.
    Flagged,
    /// Not flagged.
    Missed,
}

fn classify(keys: &mut WebKeys, p: &Page, cc: &str, fps: &Fingerprints) -> Outcome {
    let scope = Scope::field();
    let host = host_of(&p.url);
    let https = p.url.starts_with("https:");
    let ctx = Context {
        target: if https { Target::Https } else { Target::Http },
        host: Some(&host),
        port: if https { 443 } else { 80 },
        probe_cc: cc,
        fingerprints: fps,
        scope: &scope,
    };
    apply(keys, &ctx);
    match (keys.blocking, keys.mechanism, keys.x_confirmed) {
        (_, Some(Mechanism::HttpBlockpage), true) => Outcome::Confirmed,
        (_, Some(Mechanism::HttpBlockpage), false) => Outcome::Blockpage,
        (Blocking::No | Blocking::Unknown, _, _) => Outcome::Missed,
        _ => Outcome::Flagged,
    }
}

fn blockpage_outcome(p: &Page, fps: &Fingerprints) -> (Outcome, WebKeys) {
    let mut keys = observe(p, Some(real_site_control(p)));
    let outcome = classify(&mut keys, p, &p.country, fps);
    (outcome, keys)
}

/// The fingerprint rows (names) that match any of `pages`, whatever their scope.
fn rows_matching(pages: &[&Page], fps: &Fingerprints) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for p in pages {
        let body = MaybeBinary::from_bytes(p.body.clone());
        let text = vigil_probe::http::page_text(&body, &p.headers_map());
        let headers: BTreeMap<String, String> = p.headers.iter().cloned().collect();
        for m in fps.match_http(&text, &headers, &p.country) {
            names.insert(m.name().to_string());
        }
    }
    names
}

fn without_rows(drop: &BTreeSet<String>) -> Fingerprints {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data");
    let dns = std::fs::read_to_string(dir.join("fingerprints_dns.csv")).expect("dns csv");
    let http = std::fs::read_to_string(dir.join("fingerprints_http.csv")).expect("http csv");
    let mut reader = csv::Reader::from_reader(http.as_bytes());
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(reader.headers().expect("header")).expect("write");
    for rec in reader.records() {
        let rec = rec.expect("row");
        if !drop.contains(&rec[0]) {
            writer.write_record(&rec).expect("write");
        }
    }
    let http = String::from_utf8(writer.into_inner().expect("csv")).expect("utf-8");
    Fingerprints::from_csv(&dns, &http).expect("fingerprints without the vendor's rows")
}

fn pct(n: usize, d: usize) -> f64 {
    if d == 0 { 100.0 } else { 100.0 * n as f64 / d as f64 }
}

#[test]
fn blockpage_recall_and_false_positives_on_the_page_set() {
    let pages = load();
    let fps = Fingerprints::builtin();
    let blockpages: Vec<&Page> = pages.iter().filter(|p| p.label == "blockpage").collect();
    let ordinary: Vec<&Page> = pages.iter().filter(|p| p.label == "ordinary").collect();
    assert!(blockpages.len() >= 150 && ordinary.len() >= 100, "the set is complete");

    // Recall, per vendor.
    let mut per_vendor: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
    let mut misses = Vec::new();
    for p in &blockpages {
        let (outcome, keys) = blockpage_outcome(p, fps);
        per_vendor.entry(&p.vendor).or_default()[outcome as usize] += 1;
        if outcome != Outcome::Confirmed {
            misses.push(format!(
                "  {:<46} {:?}: {:?} {:?} {}",
                p.file,
                outcome,
                keys.blocking,
                keys.mechanism,
                keys.x_reasons.join("; ")
            ));
        }
    }
    println!("\nblockpage recall per vendor (confirmed / blockpage unconfirmed / other flag / missed)");
    let mut totals = [0usize; 4];
    for (vendor, c) in &per_vendor {
        println!("  {vendor:<22} {:>3} {:>3} {:>3} {:>3}", c[0], c[1], c[2], c[3]);
        for i in 0..4 {
            totals[i] += c[i];
        }
    }
    let flagged = totals[0] + totals[1] + totals[2];
    println!(
        "blockpages: {} pages, {} vendors; confirmed {} ({:.1} %), flagged {} ({:.1} %), missed {}",
        blockpages.len(),
        per_vendor.len(),
        totals[0],
        pct(totals[0], blockpages.len()),
        flagged,
        pct(flagged, blockpages.len()),
        totals[3]
    );
    println!("not confirmed:\n{}", misses.join("\n"));

    // False positives: each ordinary page in every country of the set, (a) the control got the
    // same page: any blocking verdict is false; (b) the control got another page: a confirmed
    // blockpage is false. (b) is asserted for the pages a probe gets instead of the real site
    // for reasons that are not censorship (a CDN's challenge or error, a server's default or error
    // page, a parked domain, a login); a news article or an ordinary site that the control would
    // see entirely differently is not realistic (it sees the same article), so those runs are only
    // counted: a page quoting a national blockpage's address and differing from the control is
    // what the scope rule confirms (classify::tests, national_row_confirms_only_with_a_control_difference).
    let mut countries: BTreeSet<&str> = blockpages.iter().map(|p| p.country.as_str()).collect();
    countries.insert("ZZ");
    let (mut runs, mut fp_same, mut fp_other, mut other_flagged) = (0usize, Vec::new(), Vec::new(), 0usize);
    let mut quoted = BTreeSet::new();
    let substitute = |p: &Page| {
        ["ordinary/cdn/", "ordinary/errors/", "ordinary/defaults/", "ordinary/parked/", "ordinary/login/"]
            .iter()
            .any(|dir| p.file.starts_with(dir))
    };
    for p in &ordinary {
        for cc in &countries {
            runs += 1;
            let mut keys = observe(p, Some(p.same_page_control()));
            let outcome = classify(&mut keys, p, cc, fps);
            if outcome != Outcome::Missed {
                fp_same.push(format!("  {} in {cc}: {:?} {}", p.file, outcome, keys.x_reasons.join("; ")));
            }
            let mut keys = observe(p, Some(real_site_control(p)));
            match classify(&mut keys, p, cc, fps) {
                Outcome::Confirmed if substitute(p) => {
                    fp_other.push(format!("  {} in {cc}: confirmed {}", p.file, keys.x_reasons.join("; ")))
                }
                Outcome::Confirmed => _ = quoted.insert(p.file.as_str()),
                Outcome::Missed => {}
                _ => other_flagged += 1,
            }
        }
    }
    println!(
        "\nordinary pages: {} pages x {} countries = {runs} runs; false positives with the same page at the control: {}; \
         confirmed blockpages when the control got another page: {} ({other_flagged} runs flagged by the difference alone, as expected)",
        ordinary.len(),
        countries.len(),
        fp_same.len(),
        fp_other.len()
    );
    // One line per page and reason, with the countries it happened in.
    let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in fp_same.iter().map(|l| ("same", l)).chain(fp_other.iter().map(|l| ("other", l))) {
        let (file, rest) = line.1.split_once(" in ").unwrap_or((line.1, ""));
        let (cc, reason) = rest.split_once(": ").unwrap_or((rest, ""));
        grouped.entry(format!("{} [control: {} page] {reason}", file.trim(), line.0)).or_default().push(cc.to_string());
    }
    for (what, ccs) in &grouped {
        println!("  {what} in {}", ccs.join(","));
    }
    println!(
        "(not counted: {} news or site pages quoting a blockpage would be confirmed if the control saw another page: {})",
        quoted.len(),
        quoted.iter().copied().collect::<Vec<_>>().join(", ")
    );

    // Leave-vendor-out (item 9's baseline): the rows matching a vendor's pages taken away.
    println!("\nleave-vendor-out (rows matching the vendor's pages removed): flagged / confirmed / pages");
    let (mut lvo_pages, mut lvo_flagged, mut lvo_confirmed) = (0usize, 0usize, 0usize);
    for vendor in per_vendor.keys() {
        let mine: Vec<&Page> = blockpages.iter().copied().filter(|p| p.vendor == *vendor).collect();
        let drop = rows_matching(&mine, fps);
        let reduced = without_rows(&drop);
        let (mut f, mut c) = (0, 0);
        for p in &mine {
            let (outcome, _) = blockpage_outcome(p, &reduced);
            f += usize::from(outcome != Outcome::Missed);
            c += usize::from(outcome == Outcome::Confirmed);
        }
        println!("  {vendor:<22} {f:>3} {c:>3} {:>3}  ({} rows removed)", mine.len(), drop.len());
        (lvo_pages, lvo_flagged, lvo_confirmed) = (lvo_pages + mine.len(), lvo_flagged + f, lvo_confirmed + c);
    }
    println!(
        "leave-vendor-out: {lvo_flagged}/{lvo_pages} flagged ({:.1} %), {lvo_confirmed} confirmed ({:.1} %)",
        pct(lvo_flagged, lvo_pages),
        pct(lvo_confirmed, lvo_pages)
    );

    assert!(pct(flagged, blockpages.len()) >= 98.0, "blockpage recall {:.1} % < 98 %", pct(flagged, blockpages.len()));
    // Confirmation is a stricter measure: product rows (FortiGuard, Palo Alto...) confirm only in
    // their countries and reworded pages by design not at all; 154 of 198 confirm today (142 before
    // charset decoding and loose matching). A floor, so a regression in matching shows.
    assert!(pct(totals[0], blockpages.len()) >= 75.0, "confirmed {:.1} % < 75 %", pct(totals[0], blockpages.len()));
    assert!(fp_same.is_empty() && fp_other.is_empty(), "{} false positives", fp_same.len() + fp_other.len());
}
