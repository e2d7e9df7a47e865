//! The control end to end on loopback: its HTTP face, its target policy (first URL, names,
//! redirects, the probe's endpoints) and its measurements of real lab servers.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use vigil_control::{ControlConfig, ControlError, IpNet, LocalAddresses, TargetPolicy, measure, router};
use vigil_report::{ControlRequest, ControlResponse};
use vigil_testkit::control::ZoneResolver;
use vigil_testkit::{DnsBehaviour, LOCALHOST, Site, TcpServer, TestCa, WebBehaviour, WebServer, Zone};

const REFUSED: &str = "unknown_failure: refused: not a public address";
const OWN: &str = "unknown_failure: refused: an address of the control's own host";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn config(policy: TargetPolicy, zone: Zone, ca: Option<&TestCa>) -> ControlConfig {
    vigil_testkit::init_crypto();
    let roots = ca.map(TestCa::root_store).unwrap_or_else(rustls::RootCertStore::empty);
    ControlConfig {
        resolver: Arc::new(ZoneResolver(zone)),
        policy,
        tls: Arc::new(vigil_testkit::ca::client_config(roots)),
        timeout: Duration::from_millis(1500),
        asn_lookup: Arc::new(|ip| if ip == LOCALHOST { 64500 } else { 0 }),
    }
}

fn request(url: &str, tcp_connect: &[String]) -> ControlRequest {
    ControlRequest {
        http_request: url.to_string(),
        http_request_headers: Default::default(),
        tcp_connect: tcp_connect.to_vec(),
    }
}

/// Serve `cfg` on loopback; the server lives as long as the test's runtime.
async fn serve(cfg: ControlConfig) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(Arc::new(cfg))).await });
    addr
}

/// POST `body` to the control; the status and the JSON answer.
async fn post(control: SocketAddr, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = client
        .post(format!("http://{control}/"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap())
}

async fn ask(control: SocketAddr, url: &str, tcp_connect: &[String]) -> (u16, Value) {
    post(control, serde_json::to_vec(&request(url, tcp_connect)).unwrap()).await
}

#[tokio::test]
async fn public_only_refuses_private_and_local_targets() {
    let trap = TcpServer::start(LOCALHOST).await;
    let port = trap.addr().port();
    let zone = Zone::new()
        .with("inside.test", DnsBehaviour::Answer(vec![LOCALHOST]))
        .with("metadata.test", DnsBehaviour::Answer(vec![ip("169.254.169.254")]))
        .with("lan.test", DnsBehaviour::Answer(vec![ip("192.168.1.1"), ip("10.0.0.1"), ip("fe80::1")]))
        .with("alias.test", DnsBehaviour::Cname("inside.test".into()));
    let control = serve(config(TargetPolicy::public_only(), zone, None)).await;
    let targets = [
        format!("http://127.0.0.1:{port}/"),
        format!("https://127.0.0.1:{port}/"),
        format!("tcpconnect://127.0.0.1:{port}"),
        format!("http://[::1]:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://2130706433:{port}/"),
        "http://10.1.2.3/".into(),
        "https://192.168.0.1/".into(),
        "http://[fe80::1]/".into(),
        "http://169.254.169.254/latest/meta-data/".into(),
        "http://0.0.0.0/".into(),
        format!("http://inside.test:{port}/"),
        format!("tcpconnect://inside.test:{port}"),
        format!("http://alias.test:{port}/"),
        "http://metadata.test/latest/meta-data/".into(),
        "https://lan.test/".into(),
    ];
    for url in &targets {
        let (status, body) = ask(control, url, &[]).await;
        assert_eq!(status, 403, "{url}: {body}");
        assert_eq!(body["error"]["code"], "target_not_public", "{url}");
        assert!(body["error"]["message"].as_str().unwrap().contains("no public address"), "{body}");
    }
    assert_eq!(trap.accepted(), 0, "the control never connected to loopback");
}

#[tokio::test]
async fn refused_addresses_among_allowed_ones_are_skipped_and_reported() {
    let web =
        WebServer::start(ip("127.0.0.2"), None, vec![Site::new(&["mixed.test"], WebBehaviour::page("Mixed", 300))])
            .await;
    let port = web.addr().port();
    let trap = TcpServer::start(LOCALHOST).await;
    let zone = Zone::new().with("mixed.test", DnsBehaviour::Answer(vec![LOCALHOST, ip("127.0.0.2")]));
    // A lab where only 127.0.0.2 counts as public.
    let cfg = config(TargetPolicy::lab(vec![net("127.0.0.2/32")]), zone, None);
    let probe_side = [trap.addr().to_string(), format!("127.0.0.2:{port}"), "192.168.1.1:80".into()];
    let response = measure(&request(&format!("http://mixed.test:{port}/"), &probe_side), &cfg).await.unwrap();

    assert_eq!(response.dns.addrs, vec!["127.0.0.2"], "only allowed addresses are reported");
    assert!(response.tcp_connect[&format!("127.0.0.2:{port}")].status);
    assert!(!response.tcp_connect.contains_key(&format!("127.0.0.1:{port}")), "never tried");
    for refused in [trap.addr().to_string(), "192.168.1.1:80".into()] {
        let tcp = &response.tcp_connect[&refused];
        assert_eq!((tcp.status, tcp.failure.as_deref()), (false, Some(REFUSED)), "{refused}");
    }
    let http = response.http_request.unwrap();
    assert_eq!((http.status_code, &*http.title.text(), http.body_length), (200, "Mixed", 300));
    assert_eq!(trap.accepted(), 0);
    assert_eq!(response.ip_info["192.168.1.1"].flags, 1 | 4, "the probe's bogon is still described");
}

#[tokio::test]
async fn redirects_never_reach_refused_addresses() {
    let trap = TcpServer::start(LOCALHOST).await;
    let t = trap.addr().port();
    let landing = WebServer::start(ip("127.0.0.2"), None, vec![Site::new(&["ok.test"], WebBehaviour::page("Ok", 10))]);
    let landing = landing.await;
    let ok_url = format!("http://ok.test:{}/", landing.addr().port());
    let sites = vec![
        Site::new(&["to-ip.test"], WebBehaviour::redirect(&format!("http://127.0.0.1:{t}/"))),
        Site::new(&["to-name.test"], WebBehaviour::redirect(&format!("http://inside.test:{t}/"))),
        Site::new(&["to-mapped.test"], WebBehaviour::redirect(&format!("http://[::ffff:127.0.0.1]:{t}/"))),
        Site::new(&["to-decimal.test"], WebBehaviour::redirect(&format!("http://2130706433:{t}/"))),
        Site::new(&["to-ok.test"], WebBehaviour::redirect(&ok_url)),
        Site::new(&["loop.test"], WebBehaviour::RedirectLoop),
    ];
    let web = WebServer::start(ip("127.0.0.2"), None, sites).await;
    let port = web.addr().port();
    let lab = vec![ip("127.0.0.2")];
    let zone = Zone::new().with("inside.test", DnsBehaviour::Answer(vec![LOCALHOST]));
    for name in
        ["to-ip.test", "to-name.test", "to-mapped.test", "to-decimal.test", "to-ok.test", "loop.test", "ok.test"]
    {
        zone.set(name, DnsBehaviour::Answer(lab.clone()));
    }
    // Everything but 127.0.0.2 is refused, as under `public_only` with one public server.
    let control = serve(config(TargetPolicy::lab(vec![net("127.0.0.2/32")]), zone, None)).await;

    for name in ["to-ip.test", "to-name.test", "to-mapped.test", "to-decimal.test"] {
        let (status, body) = ask(control, &format!("http://{name}:{port}/"), &[]).await;
        assert_eq!(status, 200, "{name}: {body}");
        let response: ControlResponse = serde_json::from_value(body).unwrap();
        let http = response.http_request.unwrap();
        assert_eq!((http.failure.as_deref(), http.status_code), (Some(REFUSED), -1), "{name}");
    }
    assert_eq!(trap.accepted(), 0, "no redirect reached loopback");

    let (_, ok) = ask(control, &format!("http://to-ok.test:{port}/"), &[]).await;
    assert_eq!(ok["http_request"]["title"], "Ok", "redirects to allowed hosts are followed: {ok}");
    let (_, looped) = ask(control, &format!("http://loop.test:{port}/"), &[]).await;
    assert_eq!(looped["http_request"]["failure"], "http_too_many_redirects");
}

#[tokio::test]
async fn own_addresses_are_refused_even_inside_a_lab_net() {
    let trap = TcpServer::start(LOCALHOST).await;
    let t = trap.addr().port();
    let sites = vec![Site::new(&["bounce.test"], WebBehaviour::redirect(&format!("http://127.0.0.1:{t}/")))];
    let web = WebServer::start(ip("127.0.0.2"), None, sites).await;
    let zone = Zone::new()
        .with("self.test", DnsBehaviour::Answer(vec![LOCALHOST]))
        .with("bounce.test", DnsBehaviour::Answer(vec![ip("127.0.0.2")]));
    let policy = TargetPolicy::lab(vec![net("127.0.0.0/8")]).with_own_addresses(vec![LOCALHOST]);
    let cfg = config(policy, zone, None);

    let own = [
        (format!("http://127.0.0.1:{t}/"), "127.0.0.1"),
        (format!("http://self.test:{t}/"), "self.test"),
        (format!("tcpconnect://self.test:{t}"), "self.test"),
    ];
    for (url, host) in own {
        let err = measure(&request(&url, &[]), &cfg).await.unwrap_err();
        assert_eq!(err, ControlError::TargetOwnAddress { host: host.to_string() }, "{url}");
    }
    let url = format!("http://bounce.test:{}/", web.addr().port());
    let response = measure(&request(&url, &[trap.addr().to_string()]), &cfg).await.unwrap();
    assert_eq!(response.http_request.unwrap().failure.as_deref(), Some(OWN));
    assert_eq!(response.tcp_connect[&trap.addr().to_string()].failure.as_deref(), Some(OWN));
    assert_eq!(trap.accepted(), 0);
}

/// Issue 14, item 4: an address on one of the host's interfaces, which nobody configured, is
/// refused as the first URL, by name, on a redirect hop and as a `tcp_connect` endpoint, with
/// the own-address reason (the interface list injected; `collector/tests/control_host.rs` reads
/// the real one).
#[tokio::test]
async fn interface_addresses_are_refused_on_every_hop_and_endpoint() {
    let host = ip("127.0.0.3");
    let trap = TcpServer::start(host).await;
    let t = trap.addr().port();
    let sites = vec![
        Site::new(&["to-ip.test"], WebBehaviour::redirect(&format!("http://127.0.0.3:{t}/"))),
        Site::new(&["to-name.test"], WebBehaviour::redirect(&format!("http://self.test:{t}/"))),
        Site::new(&["to-mapped.test"], WebBehaviour::redirect(&format!("http://[::ffff:127.0.0.3]:{t}/"))),
    ];
    let web = WebServer::start(ip("127.0.0.2"), None, sites).await;
    let port = web.addr().port();
    let zone = Zone::new().with("self.test", DnsBehaviour::Answer(vec![host]));
    for name in ["to-ip.test", "to-name.test", "to-mapped.test"] {
        zone.set(name, DnsBehaviour::Answer(vec![ip("127.0.0.2")]));
    }
    let interfaces = move || Ok(vec![LOCALHOST, host, ip("::1")]);
    let local = Arc::new(LocalAddresses::new(interfaces, Duration::from_secs(60)).unwrap());
    // Loopback counts as public here, standing for the host's public addresses.
    let policy = TargetPolicy::lab(vec![net("127.0.0.0/8")]).with_local_interfaces(local);
    let control = serve(config(policy, zone, None)).await;

    for url in
        [format!("http://127.0.0.3:{t}/"), format!("http://self.test:{t}/"), format!("tcpconnect://self.test:{t}")]
    {
        let (status, body) = ask(control, &url, &[]).await;
        assert_eq!(status, 403, "{url}: {body}");
        assert_eq!(body["error"]["code"], "target_own_address", "{url}");
        assert!(body["error"]["message"].as_str().unwrap().contains("own host"), "{body}");
    }
    for name in ["to-ip.test", "to-name.test", "to-mapped.test"] {
        let endpoints = [format!("127.0.0.3:{t}"), format!("[::ffff:127.0.0.3]:{t}")];
        let (status, body) = ask(control, &format!("http://{name}:{port}/"), &endpoints).await;
        assert_eq!(status, 200, "{name}: {body}");
        let response: ControlResponse = serde_json::from_value(body).unwrap();
        let http = response.http_request.unwrap();
        assert_eq!((http.failure.as_deref(), http.status_code), (Some(OWN), -1), "{name}");
        for endpoint in &endpoints {
            assert_eq!(response.tcp_connect[endpoint].failure.as_deref(), Some(OWN), "{name} {endpoint}");
        }
        assert!(response.tcp_connect[&format!("127.0.0.2:{port}")].status, "the other host is measured");
    }
    assert_eq!(trap.accepted(), 0, "the control never connected to its own host");
}

#[tokio::test]
async fn the_control_connects_to_a_bounded_number_of_resolved_addresses() {
    let many: Vec<IpAddr> = (10..40).map(|i| IpAddr::from([127, 0, 0, i])).collect();
    let zone = Zone::new().with("many.test", DnsBehaviour::Answer(many.clone()));
    let cfg = config(TargetPolicy::lab(vec![net("127.0.0.0/8")]), zone, None);
    let response = measure(&request("tcpconnect://many.test:9", &[]), &cfg).await.unwrap();
    assert_eq!(response.dns.addrs.len(), many.len(), "every address is reported");
    assert_eq!(response.tcp_connect.len(), vigil_control::MAX_CONTROL_ADDRESSES, "{:?}", response.tcp_connect);
}

#[tokio::test]
async fn a_lab_policy_measures_loopback_servers() {
    let ca = TestCa::new();
    let page = WebBehaviour::Page {
        status: 200,
        title: "Lab news".into(),
        body_len: 2000,
        headers: vec![("x-cdn-node".into(), "lab-1".into())],
    };
    let web = WebServer::start(LOCALHOST, Some(&ca), vec![Site::new(&["www.lab.test"], page)]).await;
    let port = web.addr().port();
    let zone = Zone::new().with("www.lab.test", DnsBehaviour::Answer(vec![LOCALHOST]));
    let lab = TargetPolicy::lab(vec![net("127.0.0.0/8"), net("::1/128")]);
    let url = format!("https://www.lab.test:{port}/");
    let endpoint = format!("127.0.0.1:{port}");

    let trusted = config(lab.clone(), zone.clone(), Some(&ca));
    let response = measure(&request(&url, std::slice::from_ref(&endpoint)), &trusted).await.unwrap();
    assert_eq!((response.dns.addrs.clone(), response.dns.failure.clone()), (vec!["127.0.0.1".to_string()], None));
    assert!(response.tcp_connect[&endpoint].status);
    let tls = &response.tls_handshake[&endpoint];
    assert_eq!((tls.status, tls.server_name.as_str()), (true, "www.lab.test"));
    let http = response.http_request.unwrap();
    assert_eq!((http.status_code, http.body_length, &*http.title.text()), (200, 2000, "Lab news"));
    assert_eq!(http.headers["x-cdn-node"], "lab-1");
    let info = &response.ip_info["127.0.0.1"];
    assert_eq!((info.asn, info.flags), (64500, 1 | 2 | 4 | 8), "probe, control, bogon, valid TLS");

    let untrusted = config(lab, zone, None);
    let response = measure(&request(&url, &[]), &untrusted).await.unwrap();
    assert_eq!(response.tls_handshake[&endpoint].failure.as_deref(), Some("ssl_unknown_authority"));
    assert_eq!(response.http_request.unwrap().failure.as_deref(), Some("ssl_unknown_authority"));
    assert_eq!(response.ip_info["127.0.0.1"].flags, 2 | 4, "no valid TLS flag");
}

#[tokio::test]
async fn bad_requests_are_answered_with_a_code() {
    let control = serve(config(TargetPolicy::public_only(), Zone::new(), None)).await;
    let cases: [(&str, Vec<u8>, u16, &str, &str); 6] = [
        ("bad scheme", serde_json::to_vec(&request("ftp://example.com/", &[])).unwrap(), 400, "bad_request", "ftp"),
        ("no port", serde_json::to_vec(&request("tcpconnect://example.com", &[])).unwrap(), 400, "bad_request", "port"),
        ("malformed JSON", b"{\"http_request\": ".to_vec(), 400, "bad_request", "invalid ControlRequest JSON"),
        ("unknown field", br#"{"nope":1}"#.to_vec(), 400, "bad_request", "unknown field"),
        ("too many endpoints", too_many_endpoints(), 400, "bad_request", "tcp_connect"),
        ("too large", vec![b' '; 65 * 1024], 413, "body_too_large", "larger than"),
    ];
    for (what, body, status, code, message) in cases {
        let (got, answer) = post(control, body).await;
        assert_eq!(got, status, "{what}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{what}");
        let text = answer["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{what}: {text}");
    }
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = client.get(format!("http://{control}/")).send().await.unwrap();
    assert_eq!(get.status(), 405);
}

fn too_many_endpoints() -> Vec<u8> {
    let endpoints: Vec<String> = (0..=vigil_control::MAX_PROBE_ENDPOINTS).map(|i| format!("8.8.8.{i}:443")).collect();
    serde_json::to_vec(&json!({"http_request": "https://example.com/", "tcp_connect": endpoints})).unwrap()
}
