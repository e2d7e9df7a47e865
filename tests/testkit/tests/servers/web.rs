//! The web server's sites and censor behaviours, checked with reqwest, tokio-rustls and raw TCP.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::CertificateError;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use vigil_testkit::{CertKind, LOCALHOST, Site, TcpServer, TestCa, WebBehaviour, WebServer, closed_port};

const SHORT: Duration = Duration::from_millis(300);

/// A client trusting `ca`, sending `hosts` to `server`, following up to `redirects` redirects.
fn client(ca: &TestCa, server: &WebServer, hosts: &[&str], redirects: usize) -> reqwest::Client {
    vigil_testkit::init_crypto();
    let policy = match redirects {
        0 => reqwest::redirect::Policy::none(),
        n => reqwest::redirect::Policy::limited(n),
    };
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls(ca.client_config())
        .redirect(policy)
        .timeout(Duration::from_secs(3))
        .no_proxy();
    for host in hosts {
        builder = builder.resolve(host, server.addr());
    }
    builder.build().unwrap()
}

/// Send a raw HTTP request for `host`, then read what comes back.
async fn raw_get(addr: SocketAddr, host: &str) -> Result<Result<Vec<u8>, std::io::Error>, tokio::time::error::Elapsed> {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    tokio::time::timeout(SHORT, async move {
        let mut got = Vec::new();
        tcp.read_to_end(&mut got).await.map(|_| got)
    })
    .await
}

/// A TLS handshake with `sni`, trusting `ca`.
async fn handshake(addr: SocketAddr, ca: &TestCa, sni: &str) -> Result<(), std::io::Error> {
    vigil_testkit::init_crypto();
    let tcp = TcpStream::connect(addr).await?;
    let connector = TlsConnector::from(Arc::new(ca.client_config()));
    let name = ServerName::try_from(sni.to_string()).unwrap();
    match tokio::time::timeout(SHORT, connector.connect(name, tcp)).await {
        Ok(result) => result.map(drop),
        Err(_) => Err(ErrorKind::TimedOut.into()),
    }
}

fn cert_error(err: &std::io::Error) -> Option<CertificateError> {
    match err.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(e) => Some(e.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn plain_sites_answer_by_host() {
    let ca = TestCa::new();
    let sites = vec![
        Site::new(
            &["www.lab.test"],
            WebBehaviour::Page {
                status: 200,
                title: "Lab news".into(),
                body_len: 4000,
                headers: vec![("x-cdn-node".into(), "lab-1".into())],
            },
        ),
        Site::new(&["blocked.lab.test"], WebBehaviour::body(403, "<title>Access denied</title>blockpage")),
        Site::new(&["moved.lab.test"], WebBehaviour::redirect("http://www.lab.test/")),
        Site::new(&["loop.lab.test"], WebBehaviour::RedirectLoop),
        Site::new(&["big.lab.test"], WebBehaviour::Large(300_000)),
    ];
    let server = WebServer::start(LOCALHOST, None, sites).await;
    let hosts =
        ["www.lab.test", "blocked.lab.test", "moved.lab.test", "loop.lab.test", "big.lab.test", "nope.lab.test"];
    let client = client(&ca, &server, &hosts, 10);

    let page = client.get(server.url_for("www.lab.test")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-cdn-node"], "lab-1");
    let body = page.text().await.unwrap();
    assert_eq!(body.len(), 4000);
    assert!(body.contains("<title>Lab news</title>"));

    let blocked = client.get(server.url_for("blocked.lab.test")).send().await.unwrap();
    assert_eq!(blocked.status(), 403);
    assert_eq!(blocked.text().await.unwrap(), "<title>Access denied</title>blockpage");

    let no_redirects = self::client(&ca, &server, &hosts, 0);
    let moved = no_redirects.get(server.url_for("moved.lab.test")).send().await.unwrap();
    assert_eq!(moved.status(), 302);
    assert_eq!(moved.headers()["location"], "http://www.lab.test/");
    let hop = no_redirects.get(server.url_for("loop.lab.test") + "hop/7").send().await.unwrap();
    assert_eq!(hop.headers()["location"], "/hop/8");

    let looping = client.get(server.url_for("loop.lab.test")).send().await.unwrap_err();
    assert!(looping.is_redirect(), "{looping}");
    assert_eq!(server.requests("loop.lab.test"), 12, "/hop/7, then the first request and ten hops");

    let big = client.get(server.url_for("big.lab.test")).send().await.unwrap();
    assert_eq!(big.bytes().await.unwrap().len(), 300_000);

    let unknown = client.get(server.url_for("nope.lab.test")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(server.requests("WWW.lab.test"), 1);
}

#[tokio::test]
async fn resets_on_a_blocked_host_and_hangs_when_told() {
    let sites = vec![
        Site::new(&["blocked.lab.test"], WebBehaviour::ResetOnHost),
        Site::new(&["slow.lab.test"], WebBehaviour::Hang),
        Site::new(&["ok.lab.test"], WebBehaviour::page("Fine", 100)),
    ];
    let server = WebServer::start(LOCALHOST, None, sites).await;
    let reset = raw_get(server.addr(), "blocked.lab.test").await.expect("answered at once");
    assert_eq!(reset.unwrap_err().kind(), ErrorKind::ConnectionReset);
    assert!(raw_get(server.addr(), "slow.lab.test").await.is_err(), "no answer within the timeout");
    let ok = raw_get(server.addr(), "ok.lab.test:80").await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&ok).starts_with("HTTP/1.1 200"));
    assert_eq!(server.requests("blocked.lab.test"), 1);
}

/// `CloseOnHost` ends the connection without a byte of answer (the client reads end of file);
/// `Trickle` answers 200 and then only a few bytes at a time, never finishing.
#[tokio::test]
async fn closes_on_a_host_and_trickles_when_told() {
    let sites = vec![
        Site::new(&["closed.lab.test"], WebBehaviour::CloseOnHost),
        Site::new(&["trickle.lab.test"], WebBehaviour::Trickle),
    ];
    let server = WebServer::start(LOCALHOST, None, sites).await;
    let closed = raw_get(server.addr(), "closed.lab.test").await.expect("closed at once").unwrap();
    assert!(closed.is_empty(), "no answer before the close: {closed:?}");

    let mut tcp = TcpStream::connect(server.addr()).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: trickle.lab.test\r\n\r\n").await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_millis(700), async {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = tcp.read(&mut buf).await {
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    assert!(!body.is_empty() && body.len() < 1024, "a trickle, not the whole body: {} bytes", body.len());
}

#[tokio::test]
async fn tls_sites_present_the_certificate_they_are_given() {
    let ca = TestCa::new();
    let sites = vec![
        Site::new(&["good.lab.test", "xn--mnchen-3ya.lab.test"], WebBehaviour::page("Good", 500)),
        Site::new(&["old.lab.test"], WebBehaviour::page("Old", 500)).with_cert(CertKind::Expired),
        Site::new(&["other.lab.test"], WebBehaviour::page("Other", 500)).with_cert(CertKind::WrongName),
        Site::new(&["selfie.lab.test"], WebBehaviour::page("Selfie", 500)).with_cert(CertKind::SelfSigned),
    ];
    let server = WebServer::start(LOCALHOST, Some(&ca), sites).await;
    let client = client(&ca, &server, &["good.lab.test", "xn--mnchen-3ya.lab.test"], 0);
    let good = client.get(server.url_for("good.lab.test")).send().await.unwrap();
    assert_eq!(good.status(), 200);
    assert!(good.text().await.unwrap().contains("<title>Good</title>"));
    let idn = client.get(server.url_for("xn--mnchen-3ya.lab.test")).send().await.unwrap();
    assert_eq!(idn.status(), 200);

    let expired = handshake(server.addr(), &ca, "old.lab.test").await.unwrap_err();
    assert!(matches!(cert_error(&expired), Some(CertificateError::ExpiredContext { .. } | CertificateError::Expired)));
    let wrong = handshake(server.addr(), &ca, "other.lab.test").await.unwrap_err();
    assert!(matches!(cert_error(&wrong), Some(CertificateError::NotValidForNameContext { .. })));
    let selfie = handshake(server.addr(), &ca, "selfie.lab.test").await.unwrap_err();
    assert_eq!(cert_error(&selfie), Some(CertificateError::UnknownIssuer));
    // An unknown SNI gets the default certificate, which does not carry that name.
    let unknown = handshake(server.addr(), &ca, "unknown.lab.test").await.unwrap_err();
    assert!(matches!(cert_error(&unknown), Some(CertificateError::NotValidForNameContext { .. })));
}

#[tokio::test]
async fn sni_filtering_hits_only_the_blocked_name() {
    let ca = TestCa::new();
    let sites = vec![
        Site::new(&["reset.lab.test"], WebBehaviour::TlsResetOnSni),
        Site::new(&["drop.lab.test"], WebBehaviour::TlsDropOnSni),
        Site::new(&["fin.lab.test"], WebBehaviour::TlsFinOnSni),
        Site::new(&["innocuous.lab.test"], WebBehaviour::page("Innocuous", 100)),
    ];
    let server = WebServer::start(LOCALHOST, Some(&ca), sites).await;
    let reset = handshake(server.addr(), &ca, "reset.lab.test").await.unwrap_err();
    assert_eq!(reset.kind(), ErrorKind::ConnectionReset);
    let dropped = handshake(server.addr(), &ca, "drop.lab.test").await.unwrap_err();
    assert_eq!(dropped.kind(), ErrorKind::TimedOut);
    let fin = handshake(server.addr(), &ca, "fin.lab.test").await.unwrap_err();
    assert_eq!(fin.kind(), ErrorKind::UnexpectedEof);
    // The SNI-swap control: same IP, innocuous name, handshake completes.
    handshake(server.addr(), &ca, "innocuous.lab.test").await.unwrap();
    assert_eq!(server.hellos("reset.lab.test"), 1);
    assert_eq!(server.hellos("innocuous.lab.test"), 1);
}

#[tokio::test]
async fn tcp_endpoints_accept_closed_ports_refuse_and_dropped_servers_stop() {
    let tcp = TcpServer::start(LOCALHOST).await;
    let conn = TcpStream::connect(tcp.addr()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(tcp.accepted(), 1);
    drop(conn);

    let closed = closed_port(LOCALHOST);
    let refused = TcpStream::connect(closed).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);

    let web = WebServer::start(LOCALHOST, None, Vec::new()).await;
    let addr = web.addr();
    drop(web);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(TcpStream::connect(addr).await.unwrap_err().kind(), ErrorKind::ConnectionRefused);
}
