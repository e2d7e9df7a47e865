//! The evidence a signed measurement carries, end to end against real servers on loopback
//! (issue 15): received bytes kept byte for byte (a windows-1251 page, a header value that is not
//! UTF-8, repeated headers), free text scrubbed of addresses, a news article quoting a national
//! blockpage not confirmed outside its country, and the probe and the control naming the same
//! error chains with the same failure label.
//!
//! The loopback "internet": 127.0.0.2 is the site as the control sees it, 127.0.0.3 the same
//! port on a censoring middlebox the probe's resolver sends it to. One raw HTTP server answers on
//! both, by the address it was reached on and the Host header, so the bytes are exactly ours.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vigil_probe::battery::Input;
use vigil_probe::config::Config;
use vigil_probe::measure::{Engine, Origin};
use vigil_probe::spool::compact::seal_web;
use vigil_report::{MEASUREMENT_FORMAT, MaybeBinary, Measurement, WebKeys};
use vigil_testkit::{CertKind, ControlServer, DnsBehaviour, DnsServer, Site, TestCa, WebBehaviour, WebServer, Zone};

const CLEAN: &str = "127.0.0.2";
const CENSOR: &str = "127.0.0.3";
const START: &str = "2026-01-05 10:00:00";

/// windows-1251 "Доступ ограничен" ("access restricted"): not UTF-8.
const CP1251_BLOCKED: &[u8] = b"\xc4\xee\xf1\xf2\xf3\xef \xee\xe3\xf0\xe0\xed\xe8\xf7\xe5\xed";
/// A header value with bytes that are not UTF-8 (latin-1 "Zugriff verweigert: gesperrt für Sie").
const LATIN1_HEADER: &[u8] = b"gesperrt f\xfcr Sie";
/// The Iranian blockpage (fingerprint `ooni.ir_*`, confirmed in IR).
const IRAN_BLOCKPAGE: &str = "<html><head><title>M</title></head><body><iframe src=\"http://10.10.34.34?type=Invalid Site\"></iframe></body></html>";
/// A Russian ISP's blockpage (`ooni.ru_35`, a row that was base64 text upstream).
const WESTCALL_BLOCKPAGE: &str = "<HTML style=\"font-family: Geneva, Helvetica, sans-serif;\">\n\n\t<HEAD>\n\t\t\
    <TITLE>Access Restricted!</TITLE>\n\t\t<!-- <title>\u{414}\u{43e}\u{441}\u{442}\u{443}\u{43f} \
    \u{43e}\u{433}\u{440}\u{430}\u{43d}\u{438}\u{447}\u{435}\u{43d}</title> -->\n\t</HEAD>\n\t<BODY>\
    <P>Access to the requested resource is restricted by the registry.</P></BODY></HTML>";
/// Thailand's ministry blockpage, saved from Word with its CRLF lines (`ooni.th_5`, base64 text upstream).
const MICT_BLOCKPAGE: &str = "<html xmlns:v=\"urn:schemas-microsoft-com:vml\"\r\nxmlns:o=\"urn:schemas-microsoft-com:\
    office:office\"\r\nxmlns:w=\"urn:schemas-microsoft-com:office:word\">\n<head><title>Website Suspended</title>\
    </head><body><p>This website has been suspended by the Ministry.</p></body></html>";
/// An Indonesian ISP's blockpage (`ooni.id_25`, a "contains" row full of literal `|` upstream).
const TELKOMSEL_BLOCKPAGE: &str = "<html><head><meta name=\"description\" content=\"Internet Baik - Telkomsel\">\
    <title>Internet Baik</title></head><body>Situs ini tidak dapat diakses.</body></html>";
/// A Location naming a path in latin-1 ("gesperrt-für").
const LATIN1_LOCATION: &[u8] = b"/gesperrt-f\xfcr";
/// A news article about censorship quoting the Indonesian blockpage (fingerprint `ooni.id_6`).
const NEWS: &str = "<html><head><title>Why your ISP shows a TrustPositif page</title></head><body>\
    <p>Readers in Indonesia see a page reading <q>This page is blocked by <a href=http://trustpositif.kominfo.go.id>\
    TrustPositif</a></q> when a site is on the list.</p></body></html>";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// One HTTP/1.1 response, `Connection: close`, with the given header lines (repeats allowed).
fn response(status: &str, headers: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// The page for `host` and `path` as seen on `local` (the address the client connected to).
fn page_for(host: &str, port: u16, path: &str, local: IpAddr) -> Vec<u8> {
    let censored = local == ip(CENSOR);
    let html = |body: String| response("200 OK", &[("Content-Type", b"text/html")], body.as_bytes());
    match host {
        // Small pages forwarding to the blockpage by meta refresh or a lone frame (issue 15, 7).
        "meta.test" if censored => html(format!(
            "<html><head><meta http-equiv=\"refresh\" content=\"0; url=http://warning.test:{port}/\"></head></html>"
        )),
        "frame.test" if censored => html(format!(
            "<html><body style=\"margin:0\"><iframe src=\"http://warning.test:{port}/\" width=\"100%\" \
             height=\"100%\" frameborder=\"0\"></iframe></body></html>"
        )),
        "warning.test" => html(IRAN_BLOCKPAGE.to_string()),
        // Blockpages whose rows in OONI's data could never match (issue 15, 7), as pages look.
        "row-ru.test" if censored => html(WESTCALL_BLOCKPAGE.to_string()),
        "row-th.test" if censored => html(MICT_BLOCKPAGE.to_string()),
        "row-id.test" if censored => html(TELKOMSEL_BLOCKPAGE.to_string()),
        // The middlebox's blockpage: windows-1251 text, a latin-1 header, two Server lines (the
        // second a filtering product's, fingerprint `ooni.fr_2`) and two cookies.
        "binary.test" if censored => {
            let body = [b"<html><head><title>".as_slice(), CP1251_BLOCKED, b"</title></head></html>"].concat();
            response(
                "403 Forbidden",
                &[
                    ("Content-Type", b"text/html; charset=windows-1251"),
                    ("Server", b"nginx"),
                    ("X-Reason", LATIN1_HEADER),
                    ("Server", b"Olfeo"),
                    ("Set-Cookie", b"a=1"),
                    ("Set-Cookie", b"b=2"),
                ],
                &body,
            )
        }
        // A site whose own page is windows-1251, seen alike by the probe and the control.
        "cp1251.test" => {
            let body = [b"<html><head><title>".as_slice(), CP1251_BLOCKED, b"</title></head><body>".as_slice()]
                .concat()
                .into_iter()
                .chain(std::iter::repeat_n(b'x', 3000))
                .collect::<Vec<u8>>();
            response("200 OK", &[("Content-Type", b"text/html"), ("X-Name", LATIN1_HEADER)], &body)
        }
        "news.test" => response("200 OK", &[("Content-Type", b"text/html; charset=utf-8")], NEWS.as_bytes()),
        // A redirect whose Location is latin-1, to a page that is there only under those bytes.
        "latin1.test" if path == "/" => response("302 Found", &[("Location", LATIN1_LOCATION)], b""),
        "latin1.test" if path == "/gesperrt-f%FCr" => response("200 OK", &[], b"<title>Found</title>"),
        "latin1.test" => response("404 Not Found", &[], b"<title>Wrong bytes</title>"),
        _ => {
            let body =
                format!("<html><head><title>Platform home</title></head><body>{}</body></html>", "y".repeat(4000));
            response("200 OK", &[("Content-Type", b"text/html"), ("X-Platform", b"1")], body.as_bytes())
        }
    }
}

/// Read a request head (at most 16 KiB) and its body (Content-Length, at most 1 MiB).
async fn read_request(tcp: &mut tokio::net::TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = tcp.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 16 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(1 << 20);
    let mut body = buf[end + 4..].to_vec();
    while body.len() < length {
        let n = tcp.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

/// The port of the Host header (80 when it names none).
fn port_of(head: &str) -> u16 {
    let host = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("host")).map(|(_, v)| v.trim()))
        .unwrap_or_default();
    host.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap_or(80)
}

fn path_of(head: &str) -> &str {
    head.split_whitespace().nth(1).unwrap_or("/")
}

fn host_of(head: &str) -> String {
    let host = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("host")).map(|(_, v)| v.trim()))
        .unwrap_or_default();
    host.rsplit_once(':').map_or(host, |(h, _)| h).to_ascii_lowercase()
}

/// What a raw server answers to a request head and body reaching one of its addresses.
type Answer = Arc<dyn Fn(&str, &[u8], IpAddr) -> Vec<u8> + Send + Sync>;

/// Serve `answer(head, body, local address)` on `listener` until the test ends.
fn serve(listener: TcpListener, answer: Answer) {
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let local = tcp.local_addr().map(|a| a.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]));
                if let Some((head, body)) = read_request(&mut tcp).await {
                    let _ = tcp.write_all(&answer(&head, &body, local)).await;
                    let _ = tcp.shutdown().await;
                }
            });
        }
    });
}

/// The raw site on CLEAN and CENSOR at one port.
async fn raw_site() -> u16 {
    loop {
        let clean = TcpListener::bind((ip(CLEAN), 0)).await.unwrap();
        let port = clean.local_addr().unwrap().port();
        let Ok(censor) = TcpListener::bind((ip(CENSOR), port)).await else { continue };
        let answer: Answer = Arc::new(|head, _, local| page_for(&host_of(head), port_of(head), path_of(head), local));
        serve(clean, answer.clone());
        serve(censor, answer);
        return port;
    }
}

struct World {
    dns: DnsServer,
    control: ControlServer,
    port: u16,
}

async fn world() -> World {
    vigil_testkit::init_crypto();
    let port = raw_site().await;
    let truth = Zone::new()
        .with("binary.test", DnsBehaviour::Answer(vec![ip(CLEAN)]))
        .with("cp1251.test", DnsBehaviour::Answer(vec![ip(CLEAN)]))
        .with("news.test", DnsBehaviour::Answer(vec![ip(CLEAN)]))
        .with("latin1.test", DnsBehaviour::Answer(vec![ip(CLEAN)]))
        .with("meta.test", DnsBehaviour::Answer(vec![ip(CLEAN)]))
        .with("frame.test", DnsBehaviour::Answer(vec![ip(CLEAN)]))
        .with("warning.test", DnsBehaviour::Answer(vec![ip(CENSOR)]))
        .with("row-ru.test", DnsBehaviour::Answer(vec![ip(CLEAN)]))
        .with("row-th.test", DnsBehaviour::Answer(vec![ip(CLEAN)]))
        .with("row-id.test", DnsBehaviour::Answer(vec![ip(CLEAN)]))
        .with("leak.test", DnsBehaviour::Answer(vec![ip(CLEAN)]))
        .with("leak-json.test", DnsBehaviour::Answer(vec![ip(CLEAN)]));
    let isp = truth
        .deep_copy()
        .with("binary.test", DnsBehaviour::Answer(vec![ip(CENSOR)]))
        .with("meta.test", DnsBehaviour::Answer(vec![ip(CENSOR)]))
        .with("frame.test", DnsBehaviour::Answer(vec![ip(CENSOR)]))
        .with("row-ru.test", DnsBehaviour::Answer(vec![ip(CENSOR)]))
        .with("row-th.test", DnsBehaviour::Answer(vec![ip(CENSOR)]))
        .with("row-id.test", DnsBehaviour::Answer(vec![ip(CENSOR)]));
    let dns = DnsServer::start(ip("127.0.0.1"), isp).await;
    let asns: HashMap<IpAddr, u32> = [(ip(CLEAN), 64500), (ip(CENSOR), 64500)].into();
    let control = ControlServer::start(ip("127.0.0.1"), truth, None, asns).await;
    World { dns, control, port }
}

fn config(w: &World, control: &str, country: &str) -> Config {
    let mut config = Config::default();
    config.dns.system = false;
    config.dns.resolvers = vec![w.dns.addr().to_string()];
    config.dns.doh = String::new();
    config.control.url = control.to_string();
    config.network.lab_nets = vec!["127.0.0.0/8".into()];
    config.network.ipv6 = "never".into();
    config.probe.country = country.into();
    config.dns.timeout_ms = 2000;
    config.network.connect_timeout_ms = 2000;
    config.network.tls_timeout_ms = 2000;
    config.network.http_timeout_ms = 2000;
    config
}

/// Measure `url` and sign it as the probe spools it; returns the signed payload, parsed.
async fn signed(engine: &Engine, url: &str) -> Value {
    let input = Input::parse_lenient(url).unwrap();
    let m: Measurement<WebKeys> = engine.measure(&input, &Origin::default(), START).await;
    let key = SigningKey::from_bytes(&[7; 32]);
    let (_class, signed) = seal_web(&m, 64 * 1024, &key);
    signed.verify(MEASUREMENT_FORMAT, &key.verifying_key()).unwrap();
    serde_json::from_str(&signed.payload).unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::from_value::<MaybeBinary>(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}")).as_bytes().to_vec()
}

fn engine(config: &Config) -> Engine {
    vigil_probe::runner::engine(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_are_not_utf8_and_repeated_headers_are_kept_in_the_signed_measurement() {
    let w = world().await;
    let e = engine(&config(&w, &w.control.url(), "ZZ"));
    let m = signed(&e, &format!("http://binary.test:{}/", w.port)).await;
    let k = &m["test_keys"];
    assert_eq!(k["blocking"], "http-diff", "reasons {}", k["x_reasons"]);
    let r = &k["requests"][0]["response"];
    assert_eq!(r["code"], 403);
    // The body, byte for byte, as OONI's base64 object.
    assert_eq!(r["body"]["format"], "base64", "{r}");
    let body = bytes(&r["body"]);
    assert_eq!(body, [b"<html><head><title>".as_slice(), CP1251_BLOCKED, b"</title></head></html>"].concat());
    // A header value that is not UTF-8, in the map and the list.
    assert_eq!(bytes(&r["headers"]["X-Reason"]), LATIN1_HEADER);
    // A repeated header: the first value in `headers`, every value in `headers_list`.
    assert_eq!(r["headers"]["Server"], "nginx");
    let list: Vec<(String, Vec<u8>)> = r["headers_list"]
        .as_array()
        .unwrap_or_else(|| panic!("no headers_list: {r}"))
        .iter()
        .map(|pair| (pair[0].as_str().unwrap().to_string(), bytes(&pair[1])))
        .collect();
    let values =
        |name: &str| -> Vec<Vec<u8>> { list.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect() };
    assert_eq!(values("Server"), vec![b"nginx".to_vec(), b"Olfeo".to_vec()]);
    assert_eq!(values("Set-Cookie"), vec![b"a=1".to_vec(), b"b=2".to_vec()]);
    assert_eq!(values("X-Reason"), vec![LATIN1_HEADER.to_vec()]);
    // The filtering product is named only by the second Server line: matching saw every value.
    let fps: Vec<&str> = k["x_fingerprints"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(fps.contains(&"ooni.fr_2"), "{fps:?}");
    assert_eq!(k["x_confirmed"], false, "a French product's row does not confirm in ZZ");

    // In its country the header-only row, on the second Server line, proves the blockpage.
    let in_fr = engine(&config(&w, &w.control.url(), "FR"));
    let k = signed(&in_fr, &format!("http://binary.test:{}/", w.port)).await["test_keys"].clone();
    assert_eq!((&k["blocking"], &k["mechanism"]), (&Value::from("http-diff"), &Value::from("http_blockpage")));
    assert_eq!(k["x_confirmed"], true, "{}", k["x_reasons"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blockpages_of_the_repaired_fingerprint_rows_are_confirmed_in_their_country() {
    let w = world().await;
    for (name, country, row) in
        [("row-ru.test", "RU", "ooni.ru_35"), ("row-th.test", "TH", "ooni.th_5"), ("row-id.test", "ID", "ooni.id_25")]
    {
        let e = engine(&config(&w, &w.control.url(), country));
        let k = signed(&e, &format!("http://{name}:{}/", w.port)).await["test_keys"].clone();
        assert_eq!(
            (&k["blocking"], &k["mechanism"], &k["x_confirmed"]),
            (&Value::from("http-diff"), &Value::from("http_blockpage"), &Value::Bool(true)),
            "{name}: {}",
            k["x_reasons"]
        );
        let fps: Vec<&str> = k["x_fingerprints"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(fps.contains(&row), "{name}: {fps:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_by_meta_refresh_and_by_a_lone_frame_reach_the_blockpage() {
    let w = world().await;
    let e = engine(&config(&w, &w.control.url(), "IR"));
    for name in ["meta.test", "frame.test"] {
        let k = signed(&e, &format!("http://{name}:{}/", w.port)).await["test_keys"].clone();
        assert_eq!(
            (&k["blocking"], &k["accessible"], &k["mechanism"]),
            (&Value::from("http-diff"), &Value::Bool(false), &Value::from("http_blockpage")),
            "{name}: {}",
            k["x_reasons"]
        );
        assert_eq!(k["requests"][0]["request"]["url"], format!("http://warning.test:{}/", w.port), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controls_title_and_headers_keep_their_bytes() {
    let w = world().await;
    let e = engine(&config(&w, &w.control.url(), "ZZ"));
    let m = signed(&e, &format!("http://cp1251.test:{}/", w.port)).await;
    let k = &m["test_keys"];
    assert_eq!((&k["blocking"], &k["accessible"]), (&Value::Bool(false), &Value::Bool(true)), "{}", k["x_reasons"]);
    let control = &k["control"]["http_request"];
    assert_eq!(control["title"]["format"], "base64", "{control}");
    assert_eq!(bytes(&control["title"]), CP1251_BLOCKED);
    assert_eq!(bytes(&control["headers"]["x-name"]), LATIN1_HEADER, "{control}");
    assert_eq!(k["body_length_match"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_location_that_is_not_utf8_is_kept_and_followed_with_its_bytes() {
    let w = world().await;
    let e = engine(&config(&w, &w.control.url(), "ZZ"));
    let m = signed(&e, &format!("http://latin1.test:{}/", w.port)).await;
    let k = &m["test_keys"];
    let requests = k["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2, "{requests:?}");
    // Newest first: the page the Location's bytes name, then the redirect that named it.
    assert_eq!(requests[0]["request"]["url"], format!("http://latin1.test:{}/gesperrt-f%FCr", w.port));
    assert_eq!(requests[0]["response"]["code"], 200);
    assert_eq!(bytes(&requests[1]["response"]["headers"]["Location"]), LATIN1_LOCATION);
    assert_eq!(requests[1]["response"]["headers"]["Location"]["format"], "base64");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_news_article_quoting_a_national_blockpage_is_not_confirmed_outside_its_country() {
    let w = world().await;
    let e = engine(&config(&w, &w.control.url(), "ZZ"));
    let m = signed(&e, &format!("http://news.test:{}/", w.port)).await;
    let k = &m["test_keys"];
    assert_eq!(
        (&k["blocking"], &k["accessible"], &k["x_confirmed"]),
        (&Value::Bool(false), &Value::Bool(true), &Value::Bool(false)),
        "reasons {}",
        k["x_reasons"]
    );
    assert!(k["mechanism"].is_null());
}

/// A control on CLEAN that answers with free text naming addresses nobody measured: a failure
/// text (a test helper that does not scrub), or a body the probe cannot read, whose parse error
/// quotes it.
async fn leaky_control() -> String {
    let listener = TcpListener::bind((ip("127.0.0.1"), 0)).await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    serve(
        listener,
        Arc::new(|_, body, _| {
            let req: Value = serde_json::from_slice(body).unwrap_or_default();
            let target = req["http_request"].as_str().unwrap_or_default();
            let json = if target.contains("leak-json.test") {
                // `asn` must be a number: the probe's parse error quotes the string.
                r#"{"dns":{"failure":null,"addrs":[]},"ip_info":{"x":{"asn":"from 10.9.8.7 via [fd00::5]","flags":0}}}"#
                    .to_string()
            } else {
                let leak = "unknown_failure: dial tcp 10.9.8.7:51000->[fd00::5]:443: broken";
                serde_json::json!({
                    "dns": {"failure": null, "addrs": ["127.0.0.2"]},
                    "tcp_connect": {"127.0.0.2:80": {"status": false, "failure": leak}},
                    "http_request": {"body_length": -1, "failure": leak, "title": "", "headers": {}, "status_code": -1},
                    "ip_info": {}
                })
                .to_string()
            };
            response("200 OK", &[("Content-Type", b"application/json")], json.as_bytes())
        }),
    );
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_text_naming_addresses_is_scrubbed_before_signing_and_measured_addresses_stay() {
    let w = world().await;
    let e = engine(&config(&w, &leaky_control().await, "ZZ"));
    for name in ["leak.test", "leak-json.test"] {
        let m = signed(&e, &format!("http://{name}:{}/", w.port)).await;
        let text = m.to_string();
        for leaked in ["10.9.8.7", "fd00::5"] {
            assert!(!text.contains(leaked), "{name}: {leaked} published: {text}");
        }
        assert!(text.contains("[scrubbed]"), "{name}: {text}");
        let k = &m["test_keys"];
        // The address the probe measured stays, in structured fields and in free text.
        assert_eq!(k["tcp_connect"][0]["ip"], CLEAN, "{name}");
        if name == "leak-json.test" {
            let failure = k["control_failure"].as_str().unwrap();
            assert!(failure.starts_with("unknown_failure: control answer is not valid: "), "{failure}");
            assert!(failure.contains("from [scrubbed] via [[scrubbed]]"), "{failure}");
        } else {
            let failure = k["control"]["http_request"]["failure"].as_str().unwrap();
            assert_eq!(failure, "unknown_failure: dial tcp [scrubbed]:51000->[[scrubbed]]:443: broken");
        }
    }
}

/// The probe's label and the control's for one error.
fn both(e: &(dyn std::error::Error + 'static)) -> (String, String) {
    (
        vigil_probe::failure_map::from_error(e).label().to_string(),
        vigil_control::classify_failure(e).label().to_string(),
    )
}

fn client(roots: rustls::RootCertStore) -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(vigil_testkit::ca::client_config(roots))
        .timeout(Duration::from_millis(500))
        .no_proxy()
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_and_the_control_name_the_same_error_chains_alike() {
    vigil_testkit::init_crypto();
    let ca = TestCa::new();
    let tls = WebServer::start(
        SocketAddr::new(ip("127.0.0.1"), 0),
        Some(&ca),
        vec![
            Site::new(&["ok.test"], WebBehaviour::page("Ok", 10)),
            Site::new(&["wrong.test"], WebBehaviour::page("Ok", 10)).with_cert(CertKind::WrongName),
            Site::new(&["expired.test"], WebBehaviour::page("Ok", 10)).with_cert(CertKind::Expired),
            Site::new(&["hang.test"], WebBehaviour::Hang),
        ],
    )
    .await;
    let port = tls.addr().port();
    let resolving = |c: reqwest::ClientBuilder| {
        ["ok.test", "wrong.test", "expired.test", "hang.test"]
            .iter()
            .fold(c, |c, name| c.resolve(name, tls.addr()))
            .use_preconfigured_tls(vigil_testkit::ca::client_config(ca.root_store()))
            .timeout(Duration::from_millis(500))
            .no_proxy()
            .build()
            .unwrap()
    };
    let trusting = resolving(reqwest::Client::builder());
    let raw = TcpListener::bind((ip("127.0.0.1"), 0)).await.unwrap();
    let raw_addr = raw.local_addr().unwrap();
    serve(
        raw,
        Arc::new(|head, _, _| match host_of(head).as_str() {
            "short.test" => b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this".to_vec(),
            _ => b"NOT HTTP AT ALL\r\n\r\n".to_vec(),
        }),
    );
    let closed = vigil_testkit::closed_port(ip("127.0.0.1"));

    let mut cases: Vec<(&str, reqwest::Error, &str)> = Vec::new();
    // A refused connection: io error inside hyper's connect error inside reqwest's.
    let e = client(ca.root_store()).get(format!("http://{closed}/")).send().await.unwrap_err();
    cases.push(("refused", e, "connection_refused"));
    // rustls certificate errors inside an io error inside hyper's and reqwest's.
    let e = client(rustls::RootCertStore::empty()).get(format!("https://{}/", tls.addr())).send().await.unwrap_err();
    cases.push(("unknown issuer", e, "ssl_unknown_authority"));
    let e = trusting.get(format!("https://wrong.test:{port}/")).send().await.unwrap_err();
    cases.push(("wrong name", e, "ssl_invalid_hostname"));
    let e = trusting.get(format!("https://expired.test:{port}/")).send().await.unwrap_err();
    cases.push(("expired", e, "ssl_invalid_certificate"));
    let e = trusting.get(format!("https://hang.test:{port}/")).send().await.unwrap_err();
    cases.push(("hang", e, "generic_timeout_error"));
    let e = client(ca.root_store()).get(format!("http://{raw_addr}/")).header("host", "garbage.test").send().await;
    cases.push(("not HTTP", e.unwrap_err(), "http_protocol_error"));
    let short = client(ca.root_store()).get(format!("http://{raw_addr}/")).header("host", "short.test").send().await;
    cases.push(("cut short", short.unwrap().bytes().await.unwrap_err(), "eof_error"));
    for (what, e, want) in &cases {
        assert_eq!(both(e), (want.to_string(), want.to_string()), "{what}: {e:?}");
    }
    // The same for errors as tokio-rustls returns them from a handshake (the io error's kind is a
    // recognised wrapper; the rustls error inside it wins on both sides).
    let handshake = std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        rustls::Error::InvalidCertificate(rustls::CertificateError::Expired),
    );
    assert_eq!(both(&handshake), ("ssl_invalid_certificate".into(), "ssl_invalid_certificate".into()));
    // And getaddrinfo's codes go through the one function both resolvers call.
    let nodata = dns_lookup_error(-5);
    assert_eq!(vigil_failure::from_getaddrinfo(nodata).label(), "dns_no_answer");
}

/// A getaddrinfo error with glibc's code `code`.
fn dns_lookup_error(code: i32) -> dns_lookup::LookupError {
    dns_lookup::LookupError::new(code)
}
