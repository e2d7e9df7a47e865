//! The control server, asked over HTTP like the probe asks it, measuring real lab servers.

use std::collections::HashMap;
use std::time::Duration;

use vigil_report::{ControlRequest, ControlResponse};
use vigil_testkit::{
    CertKind, ControlServer, DnsBehaviour, LOCALHOST, Site, TestCa, WebBehaviour, WebServer, Zone, closed_port,
};

async fn ask(control: &ControlServer, url: &str, tcp_connect: Vec<String>) -> ControlResponse {
    let request =
        ControlRequest { http_request: url.to_string(), http_request_headers: Default::default(), tcp_connect };
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(control.url())
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&request).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

struct Lab {
    _web: WebServer,
    _redirector: WebServer,
    control: ControlServer,
    /// Port of the HTTPS server.
    port: u16,
    /// Port of the plain-HTTP server redirecting `moved.lab.test` to `https://www.lab.test`.
    redirector_port: u16,
}

async fn lab() -> Lab {
    let ca = TestCa::new();
    let sites = vec![
        Site::new(
            &["www.lab.test"],
            WebBehaviour::Page {
                status: 200,
                title: "Lab news".into(),
                body_len: 2000,
                headers: vec![("x-cdn-node".into(), "lab-1".into())],
            },
        ),
        Site::new(&["old.lab.test"], WebBehaviour::page("Old", 100)).with_cert(CertKind::Expired),
        Site::new(&["drop.lab.test"], WebBehaviour::TlsDropOnSni),
    ];
    let web = WebServer::start(LOCALHOST, Some(&ca), sites).await;
    let port = web.addr().port();
    let here = vec![LOCALHOST];
    let zone = Zone::new()
        .with("www.lab.test", DnsBehaviour::Answer(here.clone()))
        .with("old.lab.test", DnsBehaviour::Answer(here.clone()))
        .with("drop.lab.test", DnsBehaviour::Answer(here.clone()))
        .with("nx.lab.test", DnsBehaviour::NxDomain)
        .with("alias.lab.test", DnsBehaviour::Cname("www.lab.test".into()));
    zone.set("moved.lab.test", DnsBehaviour::Answer(here));
    let to_www = WebBehaviour::redirect(&format!("https://www.lab.test:{port}/"));
    let redirector = WebServer::start(LOCALHOST, None, vec![Site::new(&["moved.lab.test"], to_www)]).await;
    let asns = HashMap::from([(LOCALHOST, 64500u32)]);
    let control = ControlServer::start(LOCALHOST, zone, Some(&ca), asns).await;
    control.set_timeout(Duration::from_millis(500));
    let redirector_port = redirector.addr().port();
    Lab { _web: web, _redirector: redirector, control, port, redirector_port }
}

#[tokio::test]
async fn measures_a_reachable_https_site() {
    let lab = lab().await;
    let endpoint = format!("127.0.0.1:{}", lab.port);
    let refused = closed_port(LOCALHOST).to_string();
    let url = format!("https://www.lab.test:{}/", lab.port);
    let response = ask(&lab.control, &url, vec![endpoint.clone(), refused.clone()]).await;

    assert_eq!(response.dns.failure, None);
    assert_eq!(response.dns.addrs, vec!["127.0.0.1"]);
    assert!(response.tcp_connect[&endpoint].status);
    assert_eq!(response.tcp_connect[&refused].failure.as_deref(), Some("connection_refused"));
    let tls = &response.tls_handshake[&endpoint];
    assert!(tls.status, "{tls:?}");
    assert_eq!(tls.server_name, "www.lab.test");
    let http = response.http_request.expect("an HTTP measurement");
    assert_eq!((http.status_code, http.body_length, &*http.title.text()), (200, 2000, "Lab news"));
    assert_eq!(http.headers["x-cdn-node"], "lab-1");
    let info = &response.ip_info["127.0.0.1"];
    assert_eq!(info.asn, 64500);
    assert_eq!(info.flags, 1 | 2 | 4 | 8, "probe, control, bogon, valid TLS");
}

#[tokio::test]
async fn reports_failures_in_ooni_vocabulary() {
    let lab = lab().await;
    let old = ask(&lab.control, &format!("https://old.lab.test:{}/", lab.port), Vec::new()).await;
    let key = format!("127.0.0.1:{}", lab.port);
    assert_eq!(old.tls_handshake[&key].failure.as_deref(), Some("ssl_invalid_certificate"));
    assert_eq!(old.http_request.unwrap().failure.as_deref(), Some("ssl_invalid_certificate"));
    assert_eq!(old.ip_info["127.0.0.1"].flags, 2 | 4, "no valid TLS flag");

    let nx = ask(&lab.control, "https://nx.lab.test/", Vec::new()).await;
    assert_eq!(nx.dns.failure.as_deref(), Some("dns_nxdomain_error"));
    assert!(nx.tcp_connect.is_empty());
    let http = nx.http_request.unwrap();
    assert_eq!((http.failure.as_deref(), http.status_code), (Some("dns_nxdomain_error"), -1));

    let dropped = ask(&lab.control, &format!("https://drop.lab.test:{}/", lab.port), Vec::new()).await;
    assert_eq!(dropped.tls_handshake[&key].failure.as_deref(), Some("generic_timeout_error"));
    assert_eq!(dropped.http_request.unwrap().failure.as_deref(), Some("generic_timeout_error"));
}

#[tokio::test]
async fn follows_cnames_and_handles_tcpconnect_and_ip_urls() {
    let lab = lab().await;
    let alias = ask(&lab.control, &format!("https://alias.lab.test:{}/", lab.port), Vec::new()).await;
    assert_eq!(alias.dns.addrs, vec!["127.0.0.1"]);
    // The certificate is for www.lab.test only: the control sees the mismatch too.
    assert_eq!(alias.http_request.unwrap().failure.as_deref(), Some("ssl_invalid_hostname"));

    let tcp = ask(&lab.control, &format!("tcpconnect://www.lab.test:{}", lab.port), Vec::new()).await;
    assert!(tcp.tcp_connect[&format!("127.0.0.1:{}", lab.port)].status);
    assert!(tcp.tls_handshake.is_empty() && tcp.http_request.is_none());

    let by_ip = ask(&lab.control, &format!("http://127.0.0.1:{}/", closed_port(LOCALHOST).port()), Vec::new()).await;
    assert_eq!(by_ip.dns.addrs, vec!["127.0.0.1"]);
    assert_eq!(by_ip.http_request.unwrap().failure.as_deref(), Some("connection_refused"));
}

#[tokio::test]
async fn follows_redirects_across_hosts_like_a_browser() {
    let lab = lab().await;
    let url = format!("http://moved.lab.test:{}/", lab.redirector_port);
    let moved = ask(&lab.control, &url, Vec::new()).await;
    let http = moved.http_request.unwrap();
    assert_eq!((http.status_code, &*http.title.text(), http.failure), (200, "Lab news", None));
    // No TLS on the plain-HTTP endpoint: its port is not 443.
    assert!(moved.tls_handshake.is_empty());
}

#[tokio::test]
async fn rejects_malformed_requests() {
    let lab = lab().await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let bad = client.post(lab.control.url()).body("{\"nope\":1}").send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let get = client.get(lab.control.url()).send().await.unwrap();
    assert_eq!(get.status(), 405);
}
