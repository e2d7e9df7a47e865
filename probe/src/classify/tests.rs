//! One test per classification rule, on hand-built observations (no sockets).

use std::collections::BTreeMap;
use std::net::IpAddr;

use vigil_report::{
    Blocking, ControlResponse, ControlTcp, ControlTls, DnsAnswer, DnsQuery, Failure, HttpRequest, HttpResponse,
    HttpTransaction, IpInfo, Mechanism, TcpConnect, TcpStatus, TlsHandshake, WebKeys,
    control::{ControlDns, ControlHttp},
    measurement::DnsResponseRecord,
};

use super::*;
use crate::bogon::Scope;

struct Fps;

impl FingerprintLookup for Fps {
    fn dns(&self, ip: IpAddr, cc: &str) -> Option<FpHit> {
        (ip.to_string() == "10.10.34.34").then(|| FpHit { name: "ooni.ir_0".into(), confirmed: cc == "IR", wide: true })
    }
    fn http(&self, body: &str, headers: &BTreeMap<String, String>, _cc: &str) -> Vec<FpHit> {
        let mut hits = Vec::new();
        if body.contains("peyvandha.ir") {
            hits.push(FpHit { name: "ooni.ir_http".into(), confirmed: true, wide: true });
        }
        if body.contains("trustpositif.kominfo.go.id") {
            // A national row that lists no country (as many do): never confirms alone.
            hits.push(FpHit { name: "test.national".into(), confirmed: false, wide: true });
        }
        if body.contains("Доступ ограничен") {
            hits.push(FpHit { name: "test.cyrillic".into(), confirmed: true, wide: true });
        }
        if headers.get("Location").is_some_and(|l| l.starts_with("http://blocked.example")) {
            hits.push(FpHit { name: "test.location".into(), confirmed: true, wide: false });
        }
        hits
    }
}

const HOST: &str = "www.platform.test";
const REAL: &str = "93.184.216.34";

fn query(engine: &str, addrs: &[&str], failure: Option<Failure>) -> DnsQuery {
    DnsQuery {
        engine: engine.into(),
        resolver_address: if engine == "system" { String::new() } else { format!("{engine}-resolver") },
        hostname: HOST.into(),
        query_type: "A".into(),
        answers: addrs.iter().map(|a| DnsAnswer::from_ip(a.parse().unwrap(), Some(60))).collect(),
        failure,
        t0: 0.0,
        t: 0.01,
        x_responses: Vec::new(),
    }
}

fn tcp(ip: &str, failure: Option<Failure>) -> TcpConnect {
    TcpConnect { ip: ip.into(), port: 443, status: TcpStatus { success: failure.is_none(), failure }, t0: 0.0, t: 0.0 }
}

fn tls(ip: &str, sni: &str, failure: Option<Failure>, swap: bool) -> TlsHandshake {
    TlsHandshake {
        address: format!("{ip}:443"),
        server_name: sni.into(),
        failure,
        tls_version: None,
        cipher_suite: None,
        negotiated_protocol: None,
        no_tls_verify: swap,
        x_sni_swap: swap,
        t0: 0.0,
        t: 0.0,
    }
}

fn response(url: &str, code: u16, body: &str, title: &str, headers: &[(&str, &str)]) -> HttpTransaction {
    HttpTransaction {
        request: HttpRequest { method: "GET".into(), url: url.into(), headers: BTreeMap::new() },
        response: Some(HttpResponse {
            code,
            headers: headers.iter().map(|(k, v)| (k.to_string(), (*v).into())).collect(),
            body: body.into(),
            body_is_truncated: false,
            body_length: body.len() as u64,
            title: Some(title.into()),
        }),
        failure: None,
        t0: 0.0,
        t: 0.0,
    }
}

fn failed_request(url: &str, failure: Failure) -> HttpTransaction {
    HttpTransaction {
        request: HttpRequest { method: "GET".into(), url: url.into(), headers: BTreeMap::new() },
        response: None,
        failure: Some(failure),
        t0: 0.0,
        t: 0.0,
    }
}

fn control_ok(addrs: &[&str], body_len: i64, title: &str) -> ControlResponse {
    ControlResponse {
        dns: ControlDns { failure: None, addrs: addrs.iter().map(|s| s.to_string()).collect() },
        tcp_connect: addrs.iter().map(|a| (format!("{a}:443"), ControlTcp { status: true, failure: None })).collect(),
        tls_handshake: addrs
            .iter()
            .map(|a| (format!("{a}:443"), ControlTls { server_name: HOST.into(), status: true, failure: None }))
            .collect(),
        http_request: Some(ControlHttp {
            body_length: body_len,
            failure: None,
            title: title.into(),
            headers: [("X-Platform".to_string(), "1".to_string())].into(),
            status_code: 200,
        }),
        ip_info: BTreeMap::new(),
    }
}

fn control_down() -> ControlResponse {
    ControlResponse {
        dns: ControlDns { failure: None, addrs: vec![REAL.into()] },
        tcp_connect: [(
            format!("{REAL}:443"),
            ControlTcp { status: false, failure: Some("generic_timeout_error".into()) },
        )]
        .into(),
        tls_handshake: BTreeMap::new(),
        http_request: Some(ControlHttp { failure: Some("generic_timeout_error".into()), ..Default::default() }),
        ip_info: BTreeMap::new(),
    }
}

fn keys() -> WebKeys {
    WebKeys {
        platform: None,
        endpoint_group: None,
        client_resolver: None,
        queries: vec![query("system", &[REAL], None)],
        tcp_connect: vec![tcp(REAL, None)],
        tls_handshakes: vec![tls(REAL, HOST, None, false)],
        requests: vec![],
        control: None,
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

fn run(mut k: WebKeys, target: Target, cc: &str) -> WebKeys {
    let scope = Scope::field();
    let ctx = Context { target, host: Some(HOST), port: 443, probe_cc: cc, fingerprints: &Fps, scope: &scope };
    apply(&mut k, &ctx);
    assert!(!k.x_reasons.is_empty(), "every verdict gives a reason");
    k
}

fn https(k: WebKeys) -> WebKeys {
    run(k, Target::Https, "ZZ")
}

fn verdict(k: &WebKeys) -> (Blocking, Option<bool>, Option<Mechanism>) {
    (k.blocking, k.accessible, k.mechanism)
}

const PAGE: &str = "<html><title>Platform home</title>welcome to the platform, friends</html>";

#[test]
fn validated_https_is_accessible_even_without_control() {
    let mut k = keys();
    k.requests = vec![response(&format!("https://{HOST}/"), 200, PAGE, "Platform home", &[])];
    assert_eq!(verdict(&https(k)), (Blocking::No, Some(true), None));
}

#[test]
fn matching_page_is_not_blocked() {
    let mut k = keys();
    k.requests = vec![response(&format!("https://{HOST}/"), 200, PAGE, "Platform home", &[("X-Platform", "1")])];
    k.control = Some(control_ok(&[REAL], PAGE.len() as i64, "Platform home"));
    let k = https(k);
    assert_eq!(verdict(&k), (Blocking::No, Some(true), None));
    assert_eq!(k.dns_consistency.as_deref(), Some("consistent"));
    assert_eq!((k.status_code_match, k.body_length_match, k.headers_match), (Some(true), Some(true), Some(true)));
}

#[test]
fn injected_dns_is_proven_without_control() {
    let mut k = keys();
    let mut q = query("udp", &["10.99.0.1"], None);
    q.x_responses = vec![
        DnsResponseRecord { after_ms: 1, rcode: "NoError".into(), addrs: vec!["10.99.0.1".into()] },
        DnsResponseRecord { after_ms: 40, rcode: "NoError".into(), addrs: vec![REAL.into()] },
    ];
    k.queries = vec![q];
    k.tcp_connect = vec![];
    k.tls_handshakes = vec![];
    let k = https(k);
    assert_eq!(verdict(&k), (Blocking::Dns, Some(false), Some(Mechanism::DnsInjection)));
    assert!(k.x_confirmed);
    assert_eq!(k.dns_consistency.as_deref(), Some("inconsistent"));
}

#[test]
fn known_injected_answer_is_confirmed_only_in_its_country() {
    let mut k = keys();
    k.queries = vec![query("system", &["10.10.34.34"], None)];
    k.tcp_connect = vec![];
    k.tls_handshakes = vec![];
    let ir = run(k.clone(), Target::Https, "IR");
    assert_eq!(verdict(&ir), (Blocking::Dns, Some(false), Some(Mechanism::DnsKnownBlockpageIp)));
    assert!(ir.x_confirmed);
    assert_eq!(ir.x_fingerprints, vec!["ooni.ir_0".to_string()]);
    let elsewhere = run(k, Target::Https, "DE");
    assert!(!elsewhere.x_confirmed);
}

#[test]
fn bogon_against_doh_is_dns_blocking() {
    let mut k = keys();
    k.queries = vec![query("system", &["10.0.0.1"], None), query("doh", &[REAL], None)];
    k.tcp_connect = vec![];
    k.tls_handshakes = vec![];
    let k = https(k);
    assert_eq!(verdict(&k), (Blocking::Dns, Some(false), Some(Mechanism::DnsBogon)));
    assert!(k.x_confirmed);
}

#[test]
fn bogon_alone_is_not_blocking() {
    let mut k = keys();
    k.queries = vec![query("system", &["10.0.0.1"], None)];
    k.tcp_connect = vec![];
    k.tls_handshakes = vec![];
    let k = https(k);
    assert_eq!(k.blocking, Blocking::Unknown);
    assert_eq!(k.mechanism, None);
}

#[test]
fn nxdomain_against_control_is_dns() {
    let mut k = keys();
    k.queries = vec![query("system", &[], Some(Failure::DnsNxdomain))];
    k.tcp_connect = vec![];
    k.tls_handshakes = vec![];
    k.control = Some(control_ok(&[REAL], 100, "Platform home"));
    let k = https(k);
    assert_eq!(verdict(&k), (Blocking::Dns, Some(false), Some(Mechanism::DnsNxdomain)));
    assert_eq!(k.dns_experiment_failure, Some(Failure::DnsNxdomain));
    assert!(!k.x_confirmed, "the control alone is OONI's rule, not proof");
}

#[test]
fn nxdomain_against_doh_is_proven() {
    let mut k = keys();
    k.queries = vec![query("udp", &[], Some(Failure::DnsNxdomain)), query("doh", &[REAL], None)];
    k.tcp_connect = vec![];
    k.tls_handshakes = vec![];
    let k = https(k);
    assert_eq!(verdict(&k), (Blocking::Dns, Some(false), Some(Mechanism::DnsNxdomain)));
    assert!(k.x_confirmed);
}

#[test]
fn nxdomain_everywhere_is_not_censorship() {
    let mut k = keys();
    k.queries = vec![query("system", &[], Some(Failure::DnsNxdomain))];
    k.tcp_connect = vec![];
    k.tls_handshakes = vec![];
    k.control = Some(ControlResponse {
        dns: ControlDns { failure: Some("dns_nxdomain_error".into()), addrs: vec![] },
        ..Default::default()
    });
    assert_eq!(verdict(&https(k)), (Blocking::No, Some(false), None));
}

#[test]
fn resolver_timeout_against_control_is_dns() {
    let mut k = keys();
    k.queries = vec![query("udp", &[], Some(Failure::GenericTimeout))];
    k.tcp_connect = vec![];
    k.tls_handshakes = vec![];
    k.control = Some(control_ok(&[REAL], 100, "x"));
    assert_eq!(verdict(&https(k)), (Blocking::Dns, Some(false), Some(Mechanism::DnsTimeout)));
}

#[test]
fn shared_asn_or_validated_tls_makes_dns_consistent() {
    let other = "93.184.216.99";
    let mut k = keys();
    k.queries = vec![query("system", &[other], None)];
    k.tcp_connect = vec![tcp(other, None)];
    k.tls_handshakes = vec![tls(other, HOST, None, false)];
    k.requests = vec![response(&format!("https://{HOST}/"), 200, PAGE, "Platform home", &[("X-Platform", "1")])];
    k.control = Some(control_ok(&[REAL], PAGE.len() as i64, "Platform home"));
    let k1 = https(k.clone());
    assert_eq!(k1.dns_consistency.as_deref(), Some("consistent"), "validated TLS on the address");

    k.tls_handshakes = vec![];
    let mut c = control_ok(&[REAL], PAGE.len() as i64, "Platform home");
    c.ip_info.insert(REAL.into(), IpInfo { asn: 15133, flags: 2 });
    c.ip_info.insert(other.into(), IpInfo { asn: 15133, flags: 1 });
    k.control = Some(c);
    assert_eq!(https(k.clone()).dns_consistency.as_deref(), Some("consistent"), "same ASN");

    k.control.as_mut().unwrap().ip_info.insert(other.into(), IpInfo { asn: 64500, flags: 1 });
    assert_eq!(https(k).dns_consistency.as_deref(), Some("inconsistent"));
}

#[test]
fn inconsistent_dns_relabels_a_failure_as_dns() {
    let fake = "198.51.7.7";
    let mut k = keys();
    k.queries = vec![query("system", &[fake], None)];
    k.tcp_connect = vec![tcp(fake, Some(Failure::GenericTimeout))];
    k.tls_handshakes = vec![];
    k.control = Some(control_ok(&[REAL], 100, "x"));
    assert_eq!(verdict(&https(k)), (Blocking::Dns, Some(false), Some(Mechanism::DnsInconsistent)));
}

#[test]
fn tcp_blackhole_and_refusal() {
    for (failure, mech) in [
        (Failure::GenericTimeout, Mechanism::TcpIpBlackhole),
        (Failure::ConnectionRefused, Mechanism::TcpIpRefused),
        (Failure::HostUnreachable, Mechanism::TcpIpUnreachable),
    ] {
        let mut k = keys();
        k.tcp_connect = vec![tcp(REAL, Some(failure.clone()))];
        k.tls_handshakes = vec![];
        k.requests = vec![failed_request(&format!("https://{HOST}/"), failure)];
        k.control = Some(control_ok(&[REAL], 100, "x"));
        assert_eq!(verdict(&https(k)), (Blocking::TcpIp, Some(false), Some(mech)));
    }
}

#[test]
fn site_down_everywhere_is_not_blocking() {
    let mut k = keys();
    k.tcp_connect = vec![tcp(REAL, Some(Failure::GenericTimeout))];
    k.tls_handshakes = vec![];
    k.control = Some(control_down());
    assert_eq!(verdict(&https(k)), (Blocking::No, Some(false), None));
}

#[test]
fn tcp_failure_without_control_is_unknown() {
    let mut k = keys();
    k.tcp_connect = vec![tcp(REAL, Some(Failure::GenericTimeout))];
    k.tls_handshakes = vec![];
    assert_eq!(verdict(&https(k)), (Blocking::Unknown, None, None));
}

#[test]
fn sni_filtering_is_proven_by_the_swap() {
    for (failure, mech) in [
        (Failure::ConnectionReset, Mechanism::TlsSniReset),
        (Failure::GenericTimeout, Mechanism::TlsSniTimeout),
        (Failure::Eof, Mechanism::TlsSniEof),
    ] {
        let mut k = keys();
        k.tls_handshakes = vec![tls(REAL, HOST, Some(failure.clone()), false), tls(REAL, "example.org", None, true)];
        k.requests = vec![failed_request(&format!("https://{HOST}/"), failure)];
        let k = https(k);
        assert_eq!(verdict(&k), (Blocking::HttpFailure, Some(false), Some(mech)));
        assert!(k.x_confirmed);
    }
}

#[test]
fn tls_failing_for_every_sni_needs_the_control() {
    let mut k = keys();
    k.tls_handshakes = vec![
        tls(REAL, HOST, Some(Failure::ConnectionReset), false),
        tls(REAL, "example.org", Some(Failure::ConnectionReset), true),
    ];
    k.requests = vec![failed_request(&format!("https://{HOST}/"), Failure::ConnectionReset)];
    assert_eq!(https(k.clone()).blocking, Blocking::Unknown);
    k.control = Some(control_ok(&[REAL], 100, "x"));
    assert_eq!(verdict(&https(k)), (Blocking::HttpFailure, Some(false), Some(Mechanism::TlsFailure)));
}

#[test]
fn certificate_failures_need_the_control_to_differ() {
    let mut k = keys();
    k.tls_handshakes = vec![tls(REAL, HOST, Some(Failure::SslUnknownAuthority), false)];
    k.requests = vec![failed_request(&format!("https://{HOST}/"), Failure::SslUnknownAuthority)];
    k.control = Some(control_ok(&[REAL], 100, "x"));
    assert_eq!(verdict(&https(k.clone())), (Blocking::HttpFailure, Some(false), Some(Mechanism::TlsCertificate)));

    // An expired certificate the control sees too: a broken site, not censorship.
    let mut c = control_down();
    c.tcp_connect = [(format!("{REAL}:443"), ControlTcp { status: true, failure: None })].into();
    c.tls_handshake = [(
        format!("{REAL}:443"),
        ControlTls { server_name: HOST.into(), status: false, failure: Some("ssl_invalid_certificate".into()) },
    )]
    .into();
    c.http_request = Some(ControlHttp { failure: Some("ssl_invalid_certificate".into()), ..Default::default() });
    k.tls_handshakes = vec![tls(REAL, HOST, Some(Failure::SslInvalidCertificate), false)];
    k.control = Some(c);
    assert_eq!(verdict(&https(k)), (Blocking::No, Some(false), None));
}

#[test]
fn http_reset_on_host_is_http_failure() {
    let mut k = keys();
    k.tls_handshakes = vec![];
    k.tcp_connect = vec![TcpConnect { port: 80, ..tcp(REAL, None) }];
    k.requests = vec![failed_request(&format!("http://{HOST}/"), Failure::ConnectionReset)];
    k.control = Some(control_ok(&[REAL], 100, "x"));
    let scope = Scope::field();
    let ctx =
        Context { target: Target::Http, host: Some(HOST), port: 80, probe_cc: "ZZ", fingerprints: &Fps, scope: &scope };
    apply(&mut k, &ctx);
    assert_eq!(verdict(&k), (Blocking::HttpFailure, Some(false), Some(Mechanism::HttpReset)));
}

#[test]
fn blockpage_in_body_or_redirect_is_confirmed_http_blocking() {
    let mut k = keys();
    k.requests = vec![response(&format!("https://{HOST}/"), 200, "<iframe src=http://peyvandha.ir>", "", &[])];
    let k1 = https(k.clone());
    assert_eq!(verdict(&k1), (Blocking::HttpDiff, Some(false), Some(Mechanism::HttpBlockpage)));
    assert!(k1.x_confirmed);
    assert_eq!(k1.x_fingerprints, vec!["ooni.ir_http".to_string()]);

    k.requests = vec![
        response("http://blocked.example/", 200, "blocked", "Blocked", &[]),
        response(&format!("https://{HOST}/"), 302, "", "", &[("Location", "http://blocked.example/")]),
    ];
    assert_eq!(https(k).mechanism, Some(Mechanism::HttpBlockpage));
}

#[test]
fn different_page_is_http_diff_and_captcha_seen_by_both_is_not() {
    let mut k = keys();
    k.tls_handshakes = vec![];
    k.requests = vec![response(&format!("http://{HOST}/"), 200, "<title>Access denied</title>", "Access denied", &[])];
    k.control = Some(control_ok(&[REAL], 20_000, "Platform home"));
    let out = run(k.clone(), Target::Http, "ZZ");
    assert_eq!(verdict(&out), (Blocking::HttpDiff, Some(false), Some(Mechanism::HttpDiff)));

    let captcha = "<title>Just a moment...</title>checking your browser";
    k.requests = vec![response(&format!("http://{HOST}/"), 403, captcha, "Just a moment...", &[])];
    let mut c = control_ok(&[REAL], captcha.len() as i64, "Just a moment...");
    c.http_request.as_mut().unwrap().status_code = 403;
    k.control = Some(c);
    assert_eq!(verdict(&run(k, Target::Http, "ZZ")), (Blocking::No, Some(true), None));
}

#[test]
fn plain_http_without_control_is_unknown() {
    let mut k = keys();
    k.tls_handshakes = vec![];
    k.requests = vec![response(&format!("http://{HOST}/"), 200, PAGE, "Platform home", &[])];
    assert_eq!(verdict(&run(k, Target::Http, "ZZ")), (Blocking::Unknown, None, None));
}

#[test]
fn too_many_redirects_everywhere_is_not_blocking() {
    let mut k = keys();
    k.requests = vec![failed_request(&format!("https://{HOST}/hop/11"), Failure::HttpTooManyRedirects)];
    let mut c = control_ok(&[REAL], 0, "");
    c.http_request = Some(ControlHttp { failure: Some("http_too_many_redirects".into()), ..Default::default() });
    k.control = Some(c);
    assert_eq!(verdict(&https(k)), (Blocking::No, Some(false), None));
}

#[test]
fn tcp_endpoints_use_connect_only() {
    let mut k = keys();
    k.tls_handshakes = vec![];
    let scope = Scope::field();
    let ctx =
        Context { target: Target::Tcp, host: Some(HOST), port: 443, probe_cc: "ZZ", fingerprints: &Fps, scope: &scope };
    let mut ok = k.clone();
    apply(&mut ok, &ctx);
    assert_eq!(verdict(&ok), (Blocking::No, Some(true), None));

    k.tcp_connect = vec![tcp(REAL, Some(Failure::GenericTimeout))];
    k.control = Some(control_ok(&[REAL], 0, ""));
    apply(&mut k, &ctx);
    assert_eq!(verdict(&k), (Blocking::TcpIp, Some(false), Some(Mechanism::TcpIpBlackhole)));
}

#[test]
fn validated_https_that_differs_from_the_control_is_still_accessible() {
    let mut k = keys();
    k.requests = vec![response(&format!("https://{HOST}/"), 200, "tiny", "", &[])];
    k.control = Some(control_ok(&[REAL], 2_000_000, "Something else entirely"));
    assert_eq!(verdict(&https(k)), (Blocking::No, Some(true), None));
}

#[test]
fn a_doh_mismatch_alone_does_not_relabel_failures_as_dns() {
    // CDNs answer per location: without a control, different addresses prove nothing, so a proven
    // SNI block stays a TLS verdict.
    let edge = "93.184.216.77";
    let mut k = keys();
    k.queries = vec![query("udp", &[edge], None), query("doh", &[REAL], None)];
    k.tcp_connect = vec![tcp(edge, None)];
    k.tls_handshakes =
        vec![tls(edge, HOST, Some(Failure::ConnectionReset), false), tls(edge, "example.org", None, true)];
    k.requests = vec![failed_request(&format!("https://{HOST}/"), Failure::ConnectionReset)];
    let k = https(k);
    assert_eq!(verdict(&k), (Blocking::HttpFailure, Some(false), Some(Mechanism::TlsSniReset)));
    assert_eq!(k.dns_consistency.as_deref(), Some("inconsistent"), "still recorded against the reference");
}

#[test]
fn one_unreachable_resolver_is_not_blocking_when_another_answers_consistently() {
    // The censor blocks the public resolver, not the site: the ISP resolver's answer is right and
    // the page loads.
    let mut k = keys();
    k.queries = vec![query("system", &[REAL], None), query("udp", &[], Some(Failure::GenericTimeout))];
    k.requests = vec![response(&format!("https://{HOST}/"), 200, PAGE, "Platform home", &[("X-Platform", "1")])];
    k.control = Some(control_ok(&[REAL], PAGE.len() as i64, "Platform home"));
    let k = https(k);
    assert_eq!(verdict(&k), (Blocking::No, Some(true), None));
    assert_eq!(k.dns_consistency.as_deref(), Some("consistent"));
}

#[test]
fn a_udp_timeout_explains_better_than_the_system_resolvers_server_failure() {
    // getaddrinfo folds an upstream timeout into EAI_AGAIN (server failure); the UDP query says what
    // really happened.
    let mut k = keys();
    k.queries =
        vec![query("system", &[], Some(Failure::DnsServerFailure)), query("udp", &[], Some(Failure::GenericTimeout))];
    k.tcp_connect = vec![];
    k.tls_handshakes = vec![];
    k.control = Some(control_ok(&[REAL], 100, "x"));
    let k = https(k);
    assert_eq!(verdict(&k), (Blocking::Dns, Some(false), Some(Mechanism::DnsTimeout)));
    assert!(k.x_reasons.iter().all(|r| !r.is_empty()), "no empty reasons: {:?}", k.x_reasons);
}

#[test]
fn a_tls_alert_for_every_sni_is_not_proven_sni_filtering() {
    // A server rustls cannot negotiate with answers every SNI with an alert: not a censor's cut.
    let mut k = keys();
    k.tls_handshakes = vec![
        tls(REAL, HOST, Some(Failure::SslFailedHandshake), false),
        tls(REAL, "example.org", Some(Failure::SslFailedHandshake), true),
    ];
    k.requests = vec![failed_request(&format!("https://{HOST}/"), Failure::SslFailedHandshake)];
    let k = https(k);
    assert_eq!(k.blocking, Blocking::Unknown);
    assert!(!k.x_confirmed);
}

#[test]
fn an_http_input_redirected_to_another_https_site_is_not_accessible_by_that_alone() {
    let mut k = keys();
    k.tls_handshakes = vec![];
    k.requests = vec![
        response("https://blockpage.isp.example/", 200, "<title>Blocked</title>", "Blocked", &[]),
        response(&format!("http://{HOST}/"), 302, "", "", &[("Location", "https://blockpage.isp.example/")]),
    ];
    k.control = Some(control_ok(&[REAL], 5000, "Platform home"));
    let k = run(k, Target::Http, "ZZ");
    assert_eq!(k.blocking, Blocking::HttpDiff, "{:?}", k.x_reasons);
}

/// Issue 15 item 1: an answer the uncensored view also gets is the site's own DNS, whatever list
/// it is on.
#[test]
fn a_listed_answer_the_reference_also_gets_is_a_misconfigured_site_not_injection() {
    let local = "127.0.0.1";
    // 10.10.34.34 is on the test fingerprints' injected list; 127.0.0.1 is a bogon.
    for answer in ["10.10.34.34", local] {
        let mut k = keys();
        k.queries =
            vec![query("system", &[answer], None), query("udp", &[answer], None), query("doh", &[answer], None)];
        k.tcp_connect = vec![];
        k.tls_handshakes = vec![];
        let mut control = ControlResponse::default();
        control.dns.addrs = vec![answer.into()];
        k.control = Some(control);
        // The fetch records that it had no public address to connect to.
        k.requests = vec![failed_request(
            &format!("https://{HOST}/"),
            Failure::unknown("not measured: no public address to connect to"),
        )];
        for cc in ["IR", "ZZ"] {
            let out = run(k.clone(), Target::Https, cc);
            assert_eq!(verdict(&out), (Blocking::No, Some(false), None), "{answer} in {cc}: {:?}", out.x_reasons);
            assert_eq!(out.dns_consistency.as_deref(), Some("consistent"));
            assert!(out.x_fingerprints.is_empty(), "{:?}", out.x_fingerprints);
            assert!(!out.x_confirmed);
        }
        // Vigil's control refuses a non-public target: DoH alone is the witness.
        k.control = None;
        k.control_failure = Some("unknown_failure: control answered HTTP 403 Forbidden target_not_public".into());
        let out = run(k, Target::Https, "IR");
        assert_eq!(verdict(&out), (Blocking::No, Some(false), None), "{answer} without control: {:?}", out.x_reasons);
    }
}

#[test]
fn a_listed_answer_the_reference_does_not_get_is_still_injection() {
    let mut k = keys();
    k.queries = vec![query("system", &["10.10.34.34"], None), query("doh", &[REAL], None)];
    k.tcp_connect = vec![];
    k.tls_handshakes = vec![];
    let mut control = ControlResponse::default();
    control.dns.addrs = vec![REAL.into()];
    k.control = Some(control);
    let out = run(k, Target::Https, "IR");
    assert_eq!(verdict(&out), (Blocking::Dns, Some(false), Some(Mechanism::DnsKnownBlockpageIp)));
    assert!(out.x_confirmed);
}

/// Issue 15 item 2: a name with a CNAME and no address anywhere is down, not tampered with.
#[test]
fn no_address_on_both_sides_is_consistent_and_the_site_is_down() {
    for system_failure in [Failure::DnsNxdomain, Failure::DnsNoAnswer] {
        for control_failure in ["dns_no_answer", "dns_nxdomain_error"] {
            let mut k = keys();
            k.queries = vec![
                query("system", &[], Some(system_failure.clone())),
                query("udp", &[], Some(Failure::DnsNoAnswer)),
                query("doh", &[], Some(Failure::DnsNoAnswer)),
            ];
            k.tcp_connect = vec![];
            k.tls_handshakes = vec![];
            k.control = Some(ControlResponse {
                dns: ControlDns { failure: Some(control_failure.into()), addrs: vec![] },
                http_request: Some(ControlHttp { failure: Some(control_failure.into()), ..Default::default() }),
                ..Default::default()
            });
            let out = https(k);
            let case = format!("system {system_failure}, control {control_failure}");
            assert_eq!(verdict(&out), (Blocking::No, Some(false), None), "{case}: {:?}", out.x_reasons);
            assert_eq!(out.dns_consistency.as_deref(), Some("consistent"), "{case}");
        }
    }
}

#[test]
fn no_address_here_while_the_control_resolves_is_still_dns() {
    let mut k = keys();
    k.queries = vec![query("system", &[], Some(Failure::DnsNoAnswer)), query("udp", &[], Some(Failure::DnsNoAnswer))];
    k.tcp_connect = vec![];
    k.tls_handshakes = vec![];
    k.control = Some(control_ok(&[REAL], 100, "x"));
    let out = https(k);
    assert_eq!(verdict(&out), (Blocking::Dns, Some(false), Some(Mechanism::DnsNoAnswer)));
}

/// Issue 15 item 3: the first hop loads, the redirect target's name does not resolve here while
/// the control fetches the page: DNS blocking, at that hop.
#[test]
fn a_redirect_target_that_does_not_resolve_here_is_dns_blocking() {
    let hop = "cdn.platform-static.test";
    for (failure, mechanism) in [
        (Failure::DnsNxdomain, Mechanism::DnsNxdomain),
        (Failure::DnsNoAnswer, Mechanism::DnsNoAnswer),
        (Failure::GenericTimeout, Mechanism::DnsTimeout),
    ] {
        let mut k = keys();
        let mut hop_system = query("system", &[], Some(failure.clone()));
        hop_system.hostname = hop.into();
        let mut hop_udp = query("udp", &[], Some(failure.clone()));
        hop_udp.hostname = hop.into();
        k.queries.extend([hop_system, hop_udp]);
        k.requests = vec![
            failed_request(&format!("https://{hop}/home"), failure.clone()),
            response(&format!("https://{HOST}/"), 302, "", "", &[("Location", &format!("https://{hop}/home"))]),
        ];
        k.control = Some(control_ok(&[REAL], PAGE.len() as i64, "Platform home"));
        let out = https(k.clone());
        assert_eq!(verdict(&out), (Blocking::Dns, Some(false), Some(mechanism)), "{failure}: {:?}", out.x_reasons);
        assert!(out.x_reasons[0].contains(hop), "{:?}", out.x_reasons);
        assert_eq!(out.dns_consistency.as_deref(), Some("consistent"), "the measured name itself resolved well");

        // The target is down for the control too: not censorship.
        let mut c = control_ok(&[REAL], 0, "");
        c.http_request = Some(ControlHttp { failure: Some(failure.label().into()), ..Default::default() });
        k.control = Some(c);
        assert_eq!(verdict(&https(k)), (Blocking::No, Some(false), None), "{failure}");
    }
}

#[test]
fn a_known_injected_answer_for_a_redirect_target_is_still_evidence() {
    let hop = "cdn.platform-static.test";
    let mut k = keys();
    let mut q = query("udp", &["10.10.34.34"], None);
    q.hostname = hop.into();
    k.queries.push(q);
    k.requests = vec![
        failed_request(&format!("https://{hop}/"), Failure::unknown("not measured: no public address to connect to")),
        response(&format!("https://{HOST}/"), 302, "", "", &[("Location", &format!("https://{hop}/"))]),
    ];
    let out = run(k, Target::Https, "IR");
    assert_eq!(verdict(&out), (Blocking::Dns, Some(false), Some(Mechanism::DnsKnownBlockpageIp)));
    assert!(out.x_reasons[0].contains(hop), "{:?}", out.x_reasons);
}

/// Issue 15 item 8: a national row that lists no country matched by a news article about
/// censorship is not a blockpage when the control gets the same page; it confirms anywhere only
/// together with a control difference.
#[test]
fn national_row_confirms_only_with_a_control_difference_outside_its_country() {
    let article = "<html><title>Censorship news</title>Blocked sites now redirect to \
                   https://trustpositif.kominfo.go.id/ say readers</html>";
    let mut k = keys();
    k.tls_handshakes = vec![];
    k.requests = vec![response(&format!("http://{HOST}/"), 200, article, "Censorship news", &[])];
    k.control = Some(control_ok(&[REAL], article.len() as i64, "Censorship news"));
    let same = run(k.clone(), Target::Http, "ZZ");
    assert_eq!(verdict(&same), (Blocking::No, Some(true), None), "{:?}", same.x_reasons);
    assert!(!same.x_confirmed);

    // The same row on a page that differs from the control's: a censor's page, confirmed.
    k.control = Some(control_ok(&[REAL], 20_000, "Platform home"));
    let differs = run(k.clone(), Target::Http, "ZZ");
    assert_eq!(verdict(&differs), (Blocking::HttpDiff, Some(false), Some(Mechanism::HttpBlockpage)));
    assert!(differs.x_confirmed);

    // Without a control: still a blockpage match, but not confirmed.
    k.control = None;
    let alone = run(k, Target::Http, "ZZ");
    assert_eq!(alone.mechanism, Some(Mechanism::HttpBlockpage));
    assert!(!alone.x_confirmed);
}

/// Issue 15 item 7: a small page forwarding (script, meta refresh, frame) to a blockpage is
/// followed by the probe; the fingerprint on the target counts, and the page compared with the
/// control is the forwarding page, which the control does not follow.
#[test]
fn a_forward_to_a_blockpage_is_blocking_and_an_ordinary_forward_is_not() {
    let forwarding = "<script>window.location = 'http://warning.isp.example/'</script>";
    let blockpage = "<title>Blocked</title>see https://trustpositif.kominfo.go.id/ for details";
    let mut k = keys();
    k.tls_handshakes = vec![];
    k.requests = vec![
        response("http://warning.isp.example/", 200, blockpage, "Blocked", &[]),
        response(&format!("http://{HOST}/"), 200, forwarding, "", &[]),
    ];
    k.control = Some(control_ok(&[REAL], 20_000, "Platform home"));
    let blocked = run(k.clone(), Target::Http, "ZZ");
    assert_eq!(verdict(&blocked), (Blocking::HttpDiff, Some(false), Some(Mechanism::HttpBlockpage)));
    assert!(blocked.x_confirmed, "a national row together with a control difference");
    assert_eq!(blocked.body_length_match, Some(false), "compared: the forwarding page");

    // A site whose landing page forwards by script to its own page: the control gets the same
    // landing page, so nothing differs, whatever the forward's target looks like.
    let landing = "<script>location.href='/en/'</script>";
    k.requests = vec![
        response(&format!("http://{HOST}/en/home"), 200, PAGE, "Platform home", &[]),
        response(&format!("http://{HOST}/en/"), 302, "", "", &[("Location", "/en/home")]),
        response(&format!("http://{HOST}/"), 200, landing, "", &[]),
    ];
    k.control = Some(control_ok(&[REAL], landing.len() as i64, ""));
    let ordinary = run(k, Target::Http, "ZZ");
    assert_eq!(verdict(&ordinary), (Blocking::No, Some(true), None), "{:?}", ordinary.x_reasons);
}

/// Issue 15: a blockpage in windows-1251 (charset in the header) or KOI8-R (charset in a meta tag
/// only) is decoded before fingerprints are matched.
#[test]
fn a_blockpage_in_a_legacy_charset_is_decoded_before_matching() {
    // "Доступ ограничен" in windows-1251 and in KOI8-R.
    let cp1251: &[u8] = b"\xc4\xee\xf1\xf2\xf3\xef \xee\xe3\xf0\xe0\xed\xe8\xf7\xe5\xed";
    let koi8: &[u8] = b"\xe4\xcf\xd3\xd4\xd5\xd0 \xcf\xc7\xd2\xc1\xce\xc9\xde\xc5\xce";
    let meta: &[u8] = b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=koi8-r\"><p>";
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let pages: [(Vec<u8>, Headers); 2] = [
        (
            [b"<html><title>".as_slice(), cp1251, b"</title>"].concat(),
            &[("Content-Type", "text/html; charset=windows-1251")],
        ),
        ([meta, koi8].concat(), &[("Content-Type", "text/html")]),
    ];
    for (body, headers) in pages {
        let mut k = keys();
        k.tls_handshakes = vec![];
        let mut tx = response(&format!("http://{HOST}/"), 200, "", "", headers);
        let r = tx.response.as_mut().unwrap();
        r.body_length = body.len() as u64;
        r.body = vigil_report::MaybeBinary::from_bytes(body);
        k.requests = vec![tx];
        k.control = Some(control_ok(&[REAL], 30_000, "Platform home"));
        let out = run(k, Target::Http, "RU");
        assert_eq!(
            verdict(&out),
            (Blocking::HttpDiff, Some(false), Some(Mechanism::HttpBlockpage)),
            "{:?}",
            out.x_reasons
        );
        assert!(out.x_confirmed && out.x_fingerprints.contains(&"test.cyrillic".to_string()));
    }
}

/// Issue 15: a page the control gets too is the site's own, even when it matches a row that
/// confirms in the probe's country (a news article in Iran quoting the peyvandha.ir page).
#[test]
fn a_page_the_control_gets_too_is_no_blockpage_even_in_the_rows_country() {
    let article = "<html><title>Filtering in Iran</title>Blocked sites show peyvandha.ir in a frame</html>";
    let mut k = keys();
    k.tls_handshakes = vec![];
    k.requests = vec![response(&format!("http://{HOST}/"), 200, article, "Filtering in Iran", &[])];
    k.control = Some(control_ok(&[REAL], article.len() as i64, "Filtering in Iran"));
    let same = run(k.clone(), Target::Http, "IR");
    assert_eq!(verdict(&same), (Blocking::No, Some(true), None), "{:?}", same.x_reasons);
    // Served in place of another page, the same text is the blockpage it names.
    k.control = Some(control_ok(&[REAL], 40_000, "Platform home"));
    let differs = run(k, Target::Http, "IR");
    assert_eq!(differs.mechanism, Some(Mechanism::HttpBlockpage));
    assert!(differs.x_confirmed);
}
