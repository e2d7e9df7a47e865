//! `vigil-probe check --json` against real DNS, DoH, TLS, HTTP and control servers on loopback:
//! one case per failure kind, each asserting OONI's `blocking`/`accessible` and Vigil's mechanism.
//!
//! The loopback "internet": 127.0.0.2 is the platforms' clean edge, 127.0.0.3 a censoring edge of
//! the same network (same ASN: DNS reads as consistent, the block is pinned on TLS/HTTP), 127.0.0.4
//! a blockpage server of another network, 127.0.0.5 has nothing listening, 127.0.0.6 drops SYNs,
//! 127.0.0.8 is another network where nothing listens, 127.0.0.9 a transparent proxy of another
//! network (the real pages, valid certificates; it resets one SNI).
//! The probe's resolver applies the censor's DNS rules; DoH and the control know the truth.
//!
//! `oonis_web_connectivity_qa_cases_get_oonis_verdicts` re-creates OONI's own Web Connectivity QA
//! scenarios (probe-cli `internal/experiment/webconnectivityqa`), one row per scenario with OONI's
//! expected values; docs/ooni-agreement.md is its table.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::time::Duration;

use serde_json::Value;
use vigil_testkit::{
    Blackhole, CertKind, ControlServer, DnsBehaviour, DnsServer, DohServer, Site, TcpServer, TestCa, WebBehaviour,
    WebServer, Zone,
};

const CLEAN: &str = "127.0.0.2";
const CENSOR: &str = "127.0.0.3";
const BLOCKPAGE: &str = "127.0.0.4";
const NOTHING: &str = "127.0.0.5";
const SYN_DROP: &str = "127.0.0.6";
const ELSEWHERE: &str = "127.0.0.8";
const PROXY: &str = "127.0.0.9";
/// A blockpage no fingerprint knows (OONI's QA serves such a page: `netemx.Blockpage`).
const UNKNOWN_BLOCKPAGE: &str = "<html><head><title>Access denied</title></head><body><p>This site has been blocked by the network operator.</p></body></html>";
const IRAN_BLOCKPAGE: &str = "<html><head><title>M</title></head><body><iframe src=\"http://10.10.34.34?type=Invalid Site\"></iframe></body></html>";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Two ports free on every loopback address we use (HTTPS and HTTP servers share them).
fn free_ports() -> (u16, u16) {
    let ips = [CLEAN, CENSOR, BLOCKPAGE, NOTHING, SYN_DROP, ELSEWHERE, PROXY];
    'retry: loop {
        let mut held = Vec::new();
        let mut ports = Vec::new();
        for _ in 0..2 {
            let first = TcpListener::bind((ip(ips[0]), 0)).unwrap();
            let port = first.local_addr().unwrap().port();
            held.push(first);
            for other in &ips[1..] {
                match TcpListener::bind((ip(other), port)) {
                    Ok(l) => held.push(l),
                    Err(_) => continue 'retry,
                }
            }
            ports.push(port);
        }
        return (ports[0], ports[1]);
    }
}

struct World {
    _servers: Vec<WebServer>,
    _dns: DnsServer,
    _doh: DohServer,
    control: ControlServer,
    _tcp: TcpServer,
    _hole: Blackhole,
    resolver: SocketAddr,
    doh_url: String,
    ca_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
    https: u16,
    http: u16,
    tcp: u16,
}

fn answer(ip_text: &str) -> DnsBehaviour {
    DnsBehaviour::Answer(vec![ip(ip_text)])
}

async fn world() -> World {
    vigil_testkit::init_crypto();
    let (https, http) = free_ports();
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write_pem(dir.path());
    let page = || WebBehaviour::Page {
        status: 200,
        title: "Platform home".into(),
        body_len: 4000,
        headers: vec![("X-Platform".into(), "1".into())],
    };
    let captcha = || WebBehaviour::Body {
        status: 403,
        body: "<html><title>Just a moment...</title>Checking your browser before accessing</html>".into(),
        headers: vec![],
    };
    let clean_names = [
        "ok.test",
        "nxdomain.test",
        "inject.test",
        "bogon.test",
        "dnsblock.test",
        "refused.test",
        "blackhole.test",
        "sni-reset.test",
        "sni-drop.test",
        "sni-fin.test",
        "wrongcert.test",
        "reset.test",
        "blockpage.test",
        "redir-block.test",
        "xn--bcher-kva.test",
        "hop-blocked.test",
        "forward.test",
        "schemeless.test",
        // OONI QA scenarios (see `oonis_web_connectivity_qa_cases_get_oonis_verdicts`).
        "refused-dns.test",
        "proxied.test",
        "sni-reset-dns.test",
        "diff.test",
        "diff-dns.test",
        "captcha-edge.test",
        "throttled.test",
        "hop-refused.test",
        "eof.test",
        "hang.test",
        "hijack-local.test",
    ];
    // Redirects whose target is blocked on this network (OONI's redirectWithConsistentDNSAndThen*).
    let redirect_to = |url: String| WebBehaviour::redirect(&url);
    let servers = vec![
        WebServer::start(
            SocketAddr::new(ip(CLEAN), https),
            Some(&ca),
            vec![
                Site::new(&clean_names, page()),
                Site::new(&["expired.test"], page()).with_cert(CertKind::Expired),
                Site::new(&["redirect.test"], WebBehaviour::redirect(&format!("https://ok.test:{https}/"))),
                Site::new(&["redir-dns.test"], WebBehaviour::redirect(&format!("https://hop-blocked.test:{https}/"))),
                Site::new(&["loop.test"], WebBehaviour::RedirectLoop),
                Site::new(&["large.test"], WebBehaviour::Large(2 * 1024 * 1024)),
                Site::new(&["wrongname.test"], page()).with_cert(CertKind::WrongName),
                Site::new(&["untrusted.test"], page()).with_cert(CertKind::SelfSigned),
                Site::new(&["broken-redirect.test"], WebBehaviour::redirect("https://")),
                Site::new(&["redir-refused.test"], redirect_to(format!("https://hop-refused.test:{https}/"))),
                Site::new(&["redir-reset.test"], redirect_to(format!("https://sni-reset.test:{https}/"))),
                Site::new(&["redir-eof.test"], redirect_to(format!("https://sni-fin.test:{https}/"))),
                Site::new(&["redir-timeout.test"], redirect_to(format!("https://sni-drop.test:{https}/"))),
            ],
        )
        .await,
        WebServer::start(
            SocketAddr::new(ip(CLEAN), http),
            None,
            vec![
                Site::new(&clean_names, page()),
                Site::new(&["captcha.test"], captcha()),
                Site::new(&["loop.test"], WebBehaviour::RedirectLoop),
                Site::new(&["large.test"], WebBehaviour::Large(2 * 1024 * 1024)),
                Site::new(&["broken-redirect.test"], WebBehaviour::redirect("http://")),
                Site::new(&["redir-refused.test"], redirect_to(format!("http://hop-refused.test:{http}/"))),
                Site::new(&["redir-reset.test"], redirect_to(format!("http://reset.test:{http}/"))),
                Site::new(&["redir-eof.test"], redirect_to(format!("http://eof.test:{http}/"))),
                Site::new(&["redir-timeout.test"], redirect_to(format!("http://hang.test:{http}/"))),
            ],
        )
        .await,
        WebServer::start(
            SocketAddr::new(ip(CENSOR), https),
            Some(&ca),
            vec![
                Site::new(&["sni-reset.test"], WebBehaviour::TlsResetOnSni),
                Site::new(&["sni-drop.test"], WebBehaviour::TlsDropOnSni),
                Site::new(&["sni-fin.test"], WebBehaviour::TlsFinOnSni),
                Site::new(&["wrongcert.test"], page()).with_cert(CertKind::WrongName),
                // This network's edge serves the CDN's challenge page; the control's gets the site.
                Site::new(&["captcha-edge.test"], captcha()),
                Site::new(&["throttled.test"], WebBehaviour::Trickle),
            ],
        )
        .await,
        WebServer::start(
            SocketAddr::new(ip(CENSOR), http),
            None,
            vec![
                Site::new(&["reset.test"], WebBehaviour::ResetOnHost),
                Site::new(&["blockpage.test"], WebBehaviour::body(200, IRAN_BLOCKPAGE)),
                Site::new(
                    &["redir-block.test"],
                    WebBehaviour::redirect(&format!("http://lighthouse.du.ae:{http}/blocked")),
                ),
                // A small page forwarding by script to the page that carries the fingerprint.
                Site::new(
                    &["forward.test"],
                    WebBehaviour::body(
                        200,
                        &format!("<html><script>window.location = 'http://warning.test:{http}/';</script></html>"),
                    ),
                ),
                // A Location without a scheme, answered again on every path it leads to.
                Site::new(&["schemeless.test"], WebBehaviour::redirect("iterika.ru/blocked.html?id=1")),
                Site::new(&["diff.test"], WebBehaviour::body(200, UNKNOWN_BLOCKPAGE)),
                Site::new(&["captcha-edge.test"], captcha()),
                Site::new(&["throttled.test"], WebBehaviour::Trickle),
                Site::new(&["eof.test"], WebBehaviour::CloseOnHost),
                Site::new(&["hang.test"], WebBehaviour::Hang),
            ],
        )
        .await,
        WebServer::start(
            SocketAddr::new(ip(BLOCKPAGE), https),
            Some(&ca),
            vec![
                Site::new(&["dnsblock.test", "inject.test"], WebBehaviour::body(200, IRAN_BLOCKPAGE))
                    .with_cert(CertKind::SelfSigned),
            ],
        )
        .await,
        WebServer::start(
            SocketAddr::new(ip(BLOCKPAGE), http),
            None,
            vec![
                Site::new(&["lighthouse.du.ae"], WebBehaviour::body(200, "Access to this site is blocked")),
                Site::new(&["warning.test"], WebBehaviour::body(200, IRAN_BLOCKPAGE)),
                Site::new(&["ghost.test"], WebBehaviour::body(200, UNKNOWN_BLOCKPAGE)),
            ],
        )
        .await,
        WebServer::start(
            SocketAddr::new(ip(PROXY), https),
            Some(&ca),
            vec![Site::new(&["proxied.test"], page()), Site::new(&["sni-reset-dns.test"], WebBehaviour::TlsResetOnSni)],
        )
        .await,
        WebServer::start(
            SocketAddr::new(ip(PROXY), http),
            None,
            vec![
                Site::new(&["proxied.test"], page()),
                Site::new(&["diff-dns.test"], WebBehaviour::body(200, UNKNOWN_BLOCKPAGE)),
            ],
        )
        .await,
    ];
    let tcp = TcpServer::start(SocketAddr::new(ip(CLEAN), 0)).await;
    let hole = Blackhole::start(ip(SYN_DROP), https).unwrap();

    // The truth, as DoH and the control see it.
    let mut truth = Zone::new();
    for name in clean_names.iter().chain(&[
        "expired.test",
        "redirect.test",
        "redir-dns.test",
        "loop.test",
        "large.test",
        "captcha.test",
        "wrongname.test",
        "untrusted.test",
        "broken-redirect.test",
        "redir-refused.test",
        "redir-reset.test",
        "redir-eof.test",
        "redir-timeout.test",
    ]) {
        truth = truth.with(name, answer(CLEAN));
    }
    let truth = truth
        .with("tcp-ok.test", answer(CLEAN))
        .with("down.test", answer(NOTHING))
        .with("gone.test", DnsBehaviour::NxDomain)
        .with("ghost.test", DnsBehaviour::NxDomain)
        // A site whose own DNS points at an address on the injected-address list, for everyone.
        .with("misconf.test", answer("10.10.34.34"))
        // A CNAME to a name with no address, for everyone.
        .with("cname-only.test", DnsBehaviour::Cname("void.test".into()))
        .with("void.test", DnsBehaviour::NoAnswer)
        .with("lighthouse.du.ae", answer(BLOCKPAGE))
        .with("warning.test", answer(BLOCKPAGE));
    // The censored ISP resolver.
    let isp = truth
        .deep_copy()
        .with("nxdomain.test", DnsBehaviour::NxDomain)
        .with(
            "inject.test",
            DnsBehaviour::Inject {
                forged: vec![ip(BLOCKPAGE)],
                real: vec![ip(CLEAN)],
                delay: Duration::from_millis(100),
            },
        )
        .with("bogon.test", answer("192.168.7.7"))
        .with("dnsblock.test", answer(BLOCKPAGE))
        .with("refused.test", answer(NOTHING))
        .with("blackhole.test", answer(SYN_DROP))
        .with("sni-reset.test", answer(CENSOR))
        .with("sni-drop.test", answer(CENSOR))
        .with("sni-fin.test", answer(CENSOR))
        .with("wrongcert.test", answer(CENSOR))
        .with("reset.test", answer(CENSOR))
        .with("blockpage.test", answer(CENSOR))
        .with("redir-block.test", answer(CENSOR))
        .with("hop-blocked.test", DnsBehaviour::NxDomain)
        .with("forward.test", answer(CENSOR))
        .with("schemeless.test", answer(CENSOR))
        // OONI QA scenarios.
        .with("refused-dns.test", answer(ELSEWHERE))
        .with("proxied.test", answer(PROXY))
        .with("sni-reset-dns.test", answer(PROXY))
        .with("diff.test", answer(CENSOR))
        .with("diff-dns.test", answer(PROXY))
        .with("captcha-edge.test", answer(CENSOR))
        .with("throttled.test", answer(CENSOR))
        .with("hop-refused.test", answer(NOTHING))
        .with("eof.test", answer(CENSOR))
        .with("hang.test", answer(CENSOR))
        .with("hijack-local.test", answer("127.0.0.1"))
        // The name no longer exists, but the censor still answers for it.
        .with("ghost.test", answer(BLOCKPAGE));
    let dns = DnsServer::start(ip("127.0.0.1"), isp).await;
    let doh = DohServer::start(ip("127.0.0.1"), truth.clone(), &ca, &["doh.lab.test"]).await;
    let asns: HashMap<IpAddr, u32> = [
        (CLEAN, 64500),
        (CENSOR, 64500),
        (NOTHING, 64500),
        (SYN_DROP, 64500),
        (BLOCKPAGE, 64666),
        (ELSEWHERE, 64777),
        (PROXY, 64888),
    ]
    .into_iter()
    .map(|(a, n)| (ip(a), n))
    .collect();
    let control = ControlServer::start(ip("127.0.0.1"), truth, Some(&ca), asns).await;
    control.set_timeout(Duration::from_millis(3000));
    World {
        resolver: dns.addr(),
        doh_url: doh.url(),
        ca_file,
        _servers: servers,
        _dns: dns,
        _doh: doh,
        control,
        tcp: tcp.addr().port(),
        _tcp: tcp,
        _hole: hole,
        _dir: dir,
        https,
        http,
    }
}

/// Run `vigil-probe check --json` on `inputs`; returns (exit code, measurements by input).
async fn check(w: &World, inputs: &[String], with_control: bool) -> (i32, HashMap<String, Value>) {
    check_with(w, inputs, with_control.then(|| w.control.url())).await
}

/// [`check`] with the control at `control` (None: no control).
async fn check_with(w: &World, inputs: &[String], control: Option<String>) -> (i32, HashMap<String, Value>) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_vigil-probe"));
    cmd.arg("check")
        .arg("--json")
        .args(["--no-system-resolver", "--resolver", &w.resolver.to_string()])
        .args(["--doh", &w.doh_url])
        .arg("--ca-file")
        .arg(&w.ca_file)
        .args(["--lab-net", "127.0.0.0/8", "--timeout-ms", "2500", "--country", "IR"])
        .args(inputs);
    if let Some(control) = control {
        cmd.args(["--control", &control]);
    }
    let out = cmd.output().await.unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let by_input = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .map(|m| (m["input"].as_str().unwrap().to_string(), m))
        .collect();
    (out.status.code().unwrap_or(-1), by_input)
}

fn verdict(m: &Value) -> (Value, Value, Value) {
    let k = &m["test_keys"];
    (k["blocking"].clone(), k["accessible"].clone(), k["mechanism"].clone())
}

fn expect(m: &HashMap<String, Value>, input: &str, blocking: Value, accessible: Value, mechanism: Value) {
    let got = m.get(input).unwrap_or_else(|| panic!("no measurement for {input}"));
    assert_eq!(verdict(got), (blocking, accessible, mechanism), "{input}: reasons {}", got["test_keys"]["x_reasons"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_failure_kind_gets_oonis_verdict_and_a_mechanism() {
    use serde_json::json;
    let w = world().await;
    let (s, h, t) = (w.https, w.http, w.tcp);
    let cases: Vec<(String, Value, Value, Value)> = vec![
        (format!("https://ok.test:{s}/"), json!(false), json!(true), json!(null)),
        (format!("https://nxdomain.test:{s}/"), json!("dns"), json!(false), json!("dns_nxdomain")),
        (format!("https://inject.test:{s}/"), json!("dns"), json!(false), json!("dns_injection")),
        (format!("https://bogon.test:{s}/"), json!("dns"), json!(false), json!("dns_bogon")),
        (format!("https://dnsblock.test:{s}/"), json!("dns"), json!(false), json!("dns_inconsistent")),
        (format!("https://refused.test:{s}/"), json!("tcp_ip"), json!(false), json!("tcp_ip_refused")),
        (format!("https://blackhole.test:{s}/"), json!("tcp_ip"), json!(false), json!("tcp_ip_blackhole")),
        (format!("https://sni-reset.test:{s}/"), json!("http-failure"), json!(false), json!("tls_sni_reset")),
        (format!("https://sni-drop.test:{s}/"), json!("http-failure"), json!(false), json!("tls_sni_timeout")),
        (format!("https://sni-fin.test:{s}/"), json!("http-failure"), json!(false), json!("tls_sni_eof")),
        (format!("https://wrongcert.test:{s}/"), json!("http-failure"), json!(false), json!("tls_certificate")),
        (format!("https://expired.test:{s}/"), json!(false), json!(false), json!(null)),
        (format!("http://reset.test:{h}/"), json!("http-failure"), json!(false), json!("http_reset")),
        (format!("http://blockpage.test:{h}/"), json!("http-diff"), json!(false), json!("http_blockpage")),
        (format!("http://redir-block.test:{h}/"), json!("http-diff"), json!(false), json!("http_blockpage")),
        (format!("http://forward.test:{h}/"), json!("http-diff"), json!(false), json!("http_blockpage")),
        (format!("http://schemeless.test:{h}/"), json!("http-diff"), json!(false), json!("http_blockpage")),
        (format!("https://redirect.test:{s}/"), json!(false), json!(true), json!(null)),
        // The first hop loads; the redirect target's name is denied by this network's resolver.
        (format!("https://redir-dns.test:{s}/"), json!("dns"), json!(false), json!("dns_nxdomain")),
        (format!("https://loop.test:{s}/"), json!(false), json!(false), json!(null)),
        (format!("https://large.test:{s}/"), json!(false), json!(true), json!(null)),
        (format!("https://xn--bcher-kva.test:{s}/"), json!(false), json!(true), json!(null)),
        (format!("http://captcha.test:{h}/"), json!(false), json!(true), json!(null)),
        (format!("https://down.test:{s}/"), json!(false), json!(false), json!(null)),
        (format!("https://gone.test:{s}/"), json!(false), json!(false), json!(null)),
        (format!("https://misconf.test:{s}/"), json!(false), json!(false), json!(null)),
        (format!("https://cname-only.test:{s}/"), json!(false), json!(false), json!(null)),
        (format!("tcpconnect://tcp-ok.test:{t}"), json!(false), json!(true), json!(null)),
    ];
    let inputs: Vec<String> = cases.iter().map(|c| c.0.clone()).collect();
    let started = std::time::Instant::now();
    let (code, got) = check(&w, &inputs, true).await;
    let wall = started.elapsed();
    for (input, blocking, accessible, mechanism) in cases {
        expect(&got, &input, blocking, accessible, mechanism);
    }
    assert_eq!(code, 1, "exit code 1 when blocking was found");
    // 28 endpoints with 2.5 s timeouts run in parallel: far less than the sum of their timeouts.
    assert!(wall < Duration::from_secs(20), "took {wall:?}");

    // What the records themselves say, beyond the verdicts.
    let k = |input: &str| got[input]["test_keys"].clone();
    let injected = k(&format!("https://inject.test:{s}/"));
    let udp: Vec<&Value> = injected["queries"].as_array().unwrap().iter().filter(|q| q["engine"] == "udp").collect();
    assert!(udp.iter().any(|q| q["x_responses"].as_array().is_some_and(|r| r.len() == 2)), "{udp:?}");
    let wrong = k(&format!("https://wrongcert.test:{s}/"));
    assert_eq!(wrong["tls_handshakes"][0]["failure"], "ssl_invalid_hostname");
    let expired = k(&format!("https://expired.test:{s}/"));
    assert_eq!(expired["tls_handshakes"][0]["failure"], "ssl_invalid_certificate");
    let reset = k(&format!("https://sni-reset.test:{s}/"));
    let swap = reset["tls_handshakes"].as_array().unwrap().iter().find(|h| h["x_sni_swap"] == true).unwrap();
    assert_eq!(swap["failure"], Value::Null, "the SNI-swap handshake succeeded");
    assert_eq!(swap["server_name"], "example.org");
    let large = k(&format!("https://large.test:{s}/"));
    assert_eq!(large["requests"][0]["response"]["body_is_truncated"], true);
    assert_eq!(large["requests"][0]["response"]["body_length"], 512 * 1024);
    let redirect = k(&format!("https://redirect.test:{s}/"));
    assert_eq!(redirect["requests"].as_array().unwrap().len(), 2, "one hop per request, newest first");
    assert_eq!(redirect["requests"][0]["request"]["url"], format!("https://ok.test:{s}/"));
    let looping = k(&format!("https://loop.test:{s}/"));
    assert_eq!(looping["requests"][0]["failure"], "http_too_many_redirects");
    assert_eq!(looping["requests"].as_array().unwrap().len(), 12, "the first request, 10 redirects, then refusal");
    let bogon = k(&format!("https://bogon.test:{s}/"));
    assert!(
        !bogon["tcp_connect"].as_array().unwrap().iter().any(|c| c["ip"] == "192.168.7.7"),
        "a private address is never connected to"
    );
    let forward = k(&format!("http://forward.test:{h}/"));
    assert_eq!(forward["requests"].as_array().unwrap().len(), 2, "the forward is one more hop");
    assert_eq!(forward["requests"][0]["request"]["url"], format!("http://warning.test:{h}/"));
    assert_eq!(forward["x_fingerprints"][0], "ooni.ir_0");
    assert_eq!(forward["x_confirmed"], true);
    let schemeless = k(&format!("http://schemeless.test:{h}/"));
    let hops = schemeless["requests"].as_array().unwrap();
    assert_eq!(hops.len(), 2, "resolved as a relative path once, then the repeated Location ends the chain");
    assert_eq!(hops[0]["request"]["url"], format!("http://schemeless.test:{h}/iterika.ru/blocked.html?id=1"));
    assert_eq!(hops[0]["failure"], Value::Null, "no http_too_many_redirects");
    assert!(schemeless["x_fingerprints"].as_array().unwrap().contains(&json!("cp.c_isp_ru_iterika_2_location")));
    let blockpage = k(&format!("http://blockpage.test:{h}/"));
    assert_eq!(blockpage["x_fingerprints"][0], "ooni.ir_0");
    assert_eq!(blockpage["x_confirmed"], true);
    for m in got.values() {
        assert!(m.get("probe_ip").is_none(), "no probe address is ever written");
        assert_eq!(m["probe_cc"], "IR");
        assert_eq!(m["test_name"], "vigil_web_connectivity");
    }
}

/// OONI's Web Connectivity QA scenarios (probe-cli `internal/experiment/webconnectivityqa`, whose
/// measurements are in `internal/minipipeline/testdata/webconnectivity/generated`), each re-created
/// on loopback and held to the `blocking`/`accessible` OONI expects. docs/ooni-agreement.md is
/// this table with the reasons; scenarios it lists as not reproducible are absent here.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oonis_web_connectivity_qa_cases_get_oonis_verdicts() {
    use serde_json::json;
    let w = world().await;
    let (s, h) = (w.https, w.http);
    let dns = || json!("dns");
    let failure = || json!("http-failure");
    let cases: Vec<(&str, String, Value, Value)> = vec![
        ("badSSLWithExpiredCertificate", format!("https://expired.test:{s}/"), json!(false), json!(false)),
        (
            "badSSLWithUnknownAuthorityWithConsistentDNS",
            format!("https://untrusted.test:{s}/"),
            json!(false),
            json!(false),
        ),
        ("badSSLWithUnknownAuthorityWithInconsistentDNS", format!("https://dnsblock.test:{s}/"), dns(), json!(false)),
        ("badSSLWithWrongServerName", format!("https://wrongname.test:{s}/"), json!(false), json!(false)),
        ("cloudflareCAPTCHAWithHTTP", format!("http://captcha-edge.test:{h}/"), json!("http-diff"), json!(false)),
        ("cloudflareCAPTCHAWithHTTPS", format!("https://captcha-edge.test:{s}/"), json!(false), json!(true)),
        ("dnsBlockingBOGON", format!("https://bogon.test:{s}/"), dns(), json!(false)),
        ("dnsBlockingNXDOMAIN", format!("https://nxdomain.test:{s}/"), dns(), json!(false)),
        ("dnsHijackingToLocalhostWithHTTP", format!("http://hijack-local.test:{h}/"), dns(), json!(false)),
        ("dnsHijackingToLocalhostWithHTTPS", format!("https://hijack-local.test:{s}/"), dns(), json!(false)),
        ("dnsHijackingToProxyWithHTTPURL", format!("http://proxied.test:{h}/"), json!(false), json!(true)),
        ("dnsHijackingToProxyWithHTTPSURL", format!("https://proxied.test:{s}/"), json!(false), json!(true)),
        ("ghostDNSBlockingWithHTTP", format!("http://ghost.test:{h}/"), dns(), json!(false)),
        ("ghostDNSBlockingWithHTTPS", format!("https://ghost.test:{s}/"), dns(), json!(false)),
        ("httpBlockingConnectionReset", format!("http://reset.test:{h}/"), failure(), json!(false)),
        ("httpDiffWithConsistentDNS", format!("http://diff.test:{h}/"), json!("http-diff"), json!(false)),
        ("httpDiffWithInconsistentDNS", format!("http://diff-dns.test:{h}/"), dns(), json!(false)),
        ("idnaWithoutCensorshipLowercase", format!("http://bücher.test:{h}/"), json!(false), json!(true)),
        (
            "idnaWithoutCensorshipWithFirstLetterUppercase",
            format!("http://Bücher.test:{h}/"),
            json!(false),
            json!(true),
        ),
        ("largeFileWithHTTP", format!("http://large.test:{h}/"), json!(false), json!(true)),
        ("largeFileWithHTTPS", format!("https://large.test:{s}/"), json!(false), json!(true)),
        ("localhostWithHTTP", format!("http://misconf.test:{h}/"), json!(false), json!(false)),
        ("localhostWithHTTPS", format!("https://misconf.test:{s}/"), json!(false), json!(false)),
        ("redirectWithBrokenLocationForHTTP", format!("http://broken-redirect.test:{h}/"), failure(), json!(false)),
        ("redirectWithBrokenLocationForHTTPS", format!("https://broken-redirect.test:{s}/"), failure(), json!(false)),
        (
            "redirectWithConsistentDNSAndThenConnectionRefusedForHTTP",
            format!("http://redir-refused.test:{h}/"),
            failure(),
            json!(false),
        ),
        (
            "redirectWithConsistentDNSAndThenConnectionRefusedForHTTPS",
            format!("https://redir-refused.test:{s}/"),
            failure(),
            json!(false),
        ),
        (
            "redirectWithConsistentDNSAndThenConnectionResetForHTTP",
            format!("http://redir-reset.test:{h}/"),
            failure(),
            json!(false),
        ),
        (
            "redirectWithConsistentDNSAndThenConnectionResetForHTTPS",
            format!("https://redir-reset.test:{s}/"),
            failure(),
            json!(false),
        ),
        ("redirectWithConsistentDNSAndThenEOFForHTTP", format!("http://redir-eof.test:{h}/"), failure(), json!(false)),
        (
            "redirectWithConsistentDNSAndThenEOFForHTTPS",
            format!("https://redir-eof.test:{s}/"),
            failure(),
            json!(false),
        ),
        ("redirectWithConsistentDNSAndThenNXDOMAIN", format!("https://redir-dns.test:{s}/"), dns(), json!(false)),
        (
            "redirectWithConsistentDNSAndThenTimeoutForHTTP",
            format!("http://redir-timeout.test:{h}/"),
            failure(),
            json!(false),
        ),
        (
            "redirectWithConsistentDNSAndThenTimeoutForHTTPS",
            format!("https://redir-timeout.test:{s}/"),
            failure(),
            json!(false),
        ),
        ("redirectWithMoreThanTenRedirectsAndHTTP", format!("http://loop.test:{h}/"), json!(false), json!(false)),
        ("redirectWithMoreThanTenRedirectsAndHTTPS", format!("https://loop.test:{s}/"), json!(false), json!(false)),
        ("successWithHTTP", format!("http://ok.test:{h}/"), json!(false), json!(true)),
        ("successWithHTTPS", format!("https://ok.test:{s}/"), json!(false), json!(true)),
        ("tcpBlockingConnectTimeout", format!("https://blackhole.test:{s}/"), json!("tcp_ip"), json!(false)),
        (
            "tcpBlockingConnectionRefusedWithInconsistentDNS",
            format!("https://refused-dns.test:{s}/"),
            dns(),
            json!(false),
        ),
        ("throttlingWithHTTP", format!("http://throttled.test:{h}/"), failure(), json!(false)),
        ("throttlingWithHTTPS", format!("https://throttled.test:{s}/"), failure(), json!(false)),
        (
            "tlsBlockingConnectionResetWithConsistentDNS",
            format!("https://sni-reset.test:{s}/"),
            failure(),
            json!(false),
        ),
        (
            "tlsBlockingConnectionResetWithInconsistentDNS",
            format!("https://sni-reset-dns.test:{s}/"),
            dns(),
            json!(false),
        ),
        ("websiteDownNXDOMAIN", format!("http://gone.test:{h}/"), json!(false), json!(false)),
        ("websiteDownNoAddrs", format!("http://cname-only.test:{h}/"), json!(false), json!(false)),
        ("websiteDownTCPConnect", format!("https://down.test:{s}/"), json!(false), json!(false)),
    ];
    let inputs: Vec<String> = cases.iter().map(|c| c.1.clone()).collect();
    let (_, got) = check(&w, &inputs, true).await;
    let mut disagree = Vec::new();
    for (name, input, blocking, accessible) in &cases {
        // The measurement names its input as parsed (an IDN in its ASCII form).
        let parsed = url::Url::parse(input).unwrap().to_string();
        let m = got.get(input).or(got.get(&parsed)).unwrap_or_else(|| panic!("{name}: no measurement for {input}"));
        let k = &m["test_keys"];
        if (&k["blocking"], &k["accessible"]) != (blocking, accessible) {
            disagree.push(format!(
                "{name} ({input}): OONI {blocking}/{accessible}, Vigil {}/{} ({})",
                k["blocking"], k["accessible"], k["x_reasons"]
            ));
        }
    }
    assert!(disagree.is_empty(), "{} of {} disagree:\n{}", disagree.len(), cases.len(), disagree.join("\n"));
    // Where OONI documents the failure too (`http_experiment_failure`), the same label.
    let oonis_failure = [
        ("badSSLWithExpiredCertificate", "ssl_invalid_certificate"),
        ("badSSLWithUnknownAuthorityWithConsistentDNS", "ssl_unknown_authority"),
        ("badSSLWithUnknownAuthorityWithInconsistentDNS", "ssl_unknown_authority"),
        ("badSSLWithWrongServerName", "ssl_invalid_hostname"),
        ("httpBlockingConnectionReset", "connection_reset"),
        ("redirectWithBrokenLocationForHTTP", "http_invalid_redirect_location_host"),
        ("redirectWithBrokenLocationForHTTPS", "http_invalid_redirect_location_host"),
        ("redirectWithConsistentDNSAndThenConnectionRefusedForHTTP", "connection_refused"),
        ("redirectWithConsistentDNSAndThenConnectionRefusedForHTTPS", "connection_refused"),
        ("redirectWithConsistentDNSAndThenConnectionResetForHTTP", "connection_reset"),
        ("redirectWithConsistentDNSAndThenConnectionResetForHTTPS", "connection_reset"),
        ("redirectWithConsistentDNSAndThenEOFForHTTP", "eof_error"),
        ("redirectWithConsistentDNSAndThenEOFForHTTPS", "eof_error"),
        ("redirectWithConsistentDNSAndThenNXDOMAIN", "dns_nxdomain_error"),
        ("redirectWithConsistentDNSAndThenTimeoutForHTTP", "generic_timeout_error"),
        ("redirectWithConsistentDNSAndThenTimeoutForHTTPS", "generic_timeout_error"),
        ("tcpBlockingConnectTimeout", "generic_timeout_error"),
        ("tcpBlockingConnectionRefusedWithInconsistentDNS", "connection_refused"),
        ("throttlingWithHTTP", "generic_timeout_error"),
        ("throttlingWithHTTPS", "generic_timeout_error"),
        ("tlsBlockingConnectionResetWithConsistentDNS", "connection_reset"),
        ("tlsBlockingConnectionResetWithInconsistentDNS", "connection_reset"),
        ("websiteDownTCPConnect", "connection_refused"),
    ];
    for (name, failure) in oonis_failure {
        let input = &cases.iter().find(|c| c.0 == name).unwrap().1;
        let k = &got[input]["test_keys"];
        assert_eq!(k["http_experiment_failure"], json!(failure), "{name}");
    }

    // The control cannot be reached (OONI's controlFailureWith*: its test helpers reset).
    let dead = format!("http://{}/", vigil_testkit::closed_port(ip(NOTHING)));
    let (ok_http, ok_https) = (format!("http://ok.test:{h}/"), format!("https://ok.test:{s}/"));
    let (_, got) = check_with(&w, &[ok_http.clone(), ok_https.clone()], Some(dead)).await;
    for (name, input, blocking, accessible) in [
        ("controlFailureWithSuccessfulHTTPWebsite", &ok_http, json!(null), json!(null)),
        ("controlFailureWithSuccessfulHTTPSWebsite", &ok_https, json!(false), json!(true)),
    ] {
        let k = &got[input]["test_keys"];
        assert_eq!((&k["blocking"], &k["accessible"]), (&blocking, &accessible), "{name}: {}", k["x_reasons"]);
        assert!(k["control_failure"].is_string(), "{name}: the control's failure is recorded");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_control_only_proven_blocking_is_reported() {
    use serde_json::json;
    let w = world().await;
    let s = w.https;
    let (code, got) = check(
        &w,
        &[
            format!("https://ok.test:{s}/"),
            format!("https://inject.test:{s}/"),
            format!("https://nxdomain.test:{s}/"),
            format!("https://sni-reset.test:{s}/"),
            format!("https://refused.test:{s}/"),
            format!("https://wrongcert.test:{s}/"),
        ],
        false,
    )
    .await;
    assert_eq!(code, 1);
    expect(&got, &format!("https://ok.test:{s}/"), json!(false), json!(true), json!(null));
    expect(&got, &format!("https://inject.test:{s}/"), json!("dns"), json!(false), json!("dns_injection"));
    expect(&got, &format!("https://nxdomain.test:{s}/"), json!("dns"), json!(false), json!("dns_nxdomain"));
    expect(&got, &format!("https://sni-reset.test:{s}/"), json!("http-failure"), json!(false), json!("tls_sni_reset"));
    // Not provable alone: reported as unknown, with the reason.
    for input in [format!("https://refused.test:{s}/"), format!("https://wrongcert.test:{s}/")] {
        let m = &got[&input]["test_keys"];
        assert_eq!(m["blocking"], Value::Null, "{input}");
        assert_eq!(m["mechanism"], Value::Null, "{input}");
        assert!(m["x_reasons"][0].as_str().unwrap().contains("control"), "{input}: {}", m["x_reasons"]);
    }
}

#[tokio::test]
async fn bad_input_and_options_are_named_with_exit_code_2() {
    let probe = env!("CARGO_BIN_EXE_vigil-probe");
    for (args, needle) in [
        (vec!["check", "ftp://example.org/"], "ftp"),
        (vec!["check", "--resolver", "not-an-ip", "example.org"], "--resolver"),
        (vec!["check", "--lab-net", "10.0.0.0/99", "example.org"], "lab_nets"),
        (vec!["check", "--country", "Iran", "example.org"], "probe.country"),
        (vec!["run", "--config", "/nonexistent/vigil.toml", "--once"], "/nonexistent/vigil.toml"),
    ] {
        let out = tokio::process::Command::new(probe).args(&args).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    // Enrolling over plain HTTP outside loopback or a lab net is refused: an on-path censor could
    // pin its own key and acknowledge (so delete) the probe's evidence.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("probe.toml");
    std::fs::write(&config, format!("[identity]\nkey_file = {:?}\n", dir.path().join("probe.key"))).unwrap();
    let out = tokio::process::Command::new(probe)
        .args(["enroll", "--collector", "http://collector.example/", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("https://"), "{stderr}");

    let out = tokio::process::Command::new(probe).arg("--version").output().await.unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&format!("vigil-probe {}", env!("CARGO_PKG_VERSION"))));
}

/// Issue 15 item 4: a body that is not UTF-8 (here windows-1251 text and raw bytes) is carried
/// byte for byte as `{"format": "base64", "data": ...}`, and so is a header value; UTF-8 stays a
/// plain string.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_body_that_is_not_utf8_is_kept_byte_for_byte() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let w = world().await;
    let body: Vec<u8> =
        [&b"<html><title>Blocked</title>"[..], &[0xc4, 0xee, 0xf1, 0xf2, 0xf3, 0xef, 0x80, 0x00, 0xff]].concat();
    let listener = tokio::net::TcpListener::bind("127.0.0.7:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = body.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let served = served.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=windows-1251\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    served.len()
                );
                // A header value that is not UTF-8 either (windows-1251 "Блок").
                let vendor: &[u8] =
                    &[b'X', b'-', b'V', b'e', b'n', b'd', b'o', b'r', b':', b' ', 0xc1, 0xeb, 0xee, 0xea, b'\r', b'\n'];
                let (status, rest) = head.split_once("\r\n").unwrap();
                let reply = [status.as_bytes(), b"\r\n", vendor, rest.as_bytes(), &served].concat();
                let _ = sock.write_all(&reply).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    let binary = format!("http://127.0.0.7:{port}/");
    let text = format!("http://ok.test:{}/", w.http);
    let (_, got) = check(&w, &[binary.clone(), text.clone()], false).await;
    let response = &got[&binary]["test_keys"]["requests"][0]["response"];
    assert_eq!(response["body"]["format"], "base64", "{response}");
    let carried: vigil_report::MaybeBinary = serde_json::from_value(response["body"].clone()).unwrap();
    assert_eq!(carried.as_bytes(), &body[..], "the bytes received, not a lossy copy");
    assert_eq!(response["body_length"], body.len());
    assert_eq!(response["title"], "Blocked");
    let vendor: vigil_report::MaybeBinary = serde_json::from_value(response["headers"]["X-Vendor"].clone()).unwrap();
    assert_eq!(vendor.as_bytes(), &[0xc1, 0xeb, 0xee, 0xea], "header values byte for byte too");
    assert_eq!(response["headers"]["Content-Type"], "text/html; charset=windows-1251");
    let page = &got[&text]["test_keys"]["requests"][0]["response"]["body"];
    assert!(page.is_string(), "UTF-8 stays a plain string: {page}");
}
