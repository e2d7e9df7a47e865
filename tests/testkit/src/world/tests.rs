//! The fake world over real sockets: the censor acts on the probe's side, the control sees the
//! uncensored servers, and the written files point at them.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use rustls_pki_types::ServerName;
use tokio::net::{TcpStream, UdpSocket};
use vigil_report::{ControlRequest, ControlResponse, Mechanism, PlatformStatus};

use super::*;

fn platform(id: &str, kind: &str, inputs: &[(&str, &str)]) -> PlatformSpec {
    PlatformSpec {
        id: id.into(),
        name: format!("{id} home"),
        kind: kind.into(),
        endpoints: inputs.iter().map(|(g, i)| EndpointSpec { group: g.to_string(), input: i.to_string() }).collect(),
    }
}

fn battery() -> Vec<PlatformSpec> {
    vec![
        platform("facebook", "platform", &[("web", "https://www.facebook.com/")]),
        platform("x", "platform", &[("web", "https://x.com/")]),
        platform(
            "telegram",
            "platform",
            &[
                ("web", "https://web.telegram.org/"),
                ("datacenters", "http://149.154.175.50:443/"),
                ("datacenters", "http://149.154.167.51/"),
            ],
        ),
        platform("whatsapp", "platform", &[("endpoints", "tcpconnect://e1.whatsapp.net:5222")]),
        platform("example", "control", &[("web", "https://www.example.com/")]),
    ]
}

/// The A records `resolver` gives for `name` (first reply), or its error code.
async fn lookup(resolver: SocketAddr, name: &str) -> Result<Vec<IpAddr>, ResponseCode> {
    let socket = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let mut query = Message::query();
    query.add_query(Query::query(Name::from_ascii(format!("{name}.")).unwrap(), RecordType::A));
    socket.send_to(&query.to_vec().unwrap(), resolver).await.unwrap();
    let mut buf = [0u8; 4096];
    let (len, _) = tokio::time::timeout(Duration::from_secs(2), socket.recv_from(&mut buf)).await.unwrap().unwrap();
    let reply = Message::from_vec(&buf[..len]).unwrap();
    match reply.metadata.response_code {
        ResponseCode::NoError => Ok(reply.answers.iter().filter_map(|r| r.data.ip_addr()).collect()),
        code => Err(code),
    }
}

/// A TLS client trusting the CA the world wrote.
fn lab_tls(world: &FakeWorld) -> rustls::ClientConfig {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_file(world.ca_path()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    crate::ca::client_config(roots)
}

async fn ask_control(world: &FakeWorld, ask: &ControlRequest) -> ControlResponse {
    let raw = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(world.control_url())
        .header("content-type", "application/json")
        .body(serde_json::to_vec(ask).unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&raw).unwrap()
}

fn input(world: &FakeWorld, platform: &str) -> String {
    world.endpoints().iter().find(|e| e.platform == platform).unwrap().input.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_world_censors_the_probe_side_only() {
    let dir = tempfile::tempdir().unwrap();
    let options = WorldOptions { profile: Profile::Demo, timeouts: Timeouts::all(1500), concurrency: Some(8) };
    let world = FakeWorld::start(&battery(), &options, dir.path()).await.unwrap();
    let Ports { https, http, tcp } = world.ports();

    // Inputs point at the fakes' ports; the data-centre literal at its (blackholed) address.
    assert_eq!(input(&world, "x"), format!("https://x.com:{https}/"));
    assert_eq!(input(&world, "whatsapp"), format!("tcpconnect://e1.whatsapp.net:{tcp}"));
    let dc = world.endpoints().iter().find(|e| e.group == "datacenters").unwrap();
    assert_eq!(dc.input, format!("http://127.0.4.1:{http}/"));

    // The ISP resolver applies the censor's DNS rules.
    let resolver = world.resolver();
    assert_eq!(lookup(resolver, "www.facebook.com").await, Err(ResponseCode::NXDomain));
    let x_ip = lookup(resolver, "x.com").await.unwrap()[0];
    assert_eq!(x_ip, "127.0.3.1".parse::<IpAddr>().unwrap(), "x.com's edge filters SNI");

    // A clean platform answers with its page over TLS from the lab CA.
    let ex = lookup(resolver, "www.example.com").await.unwrap()[0];
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(lab_tls(&world))
        .resolve("www.example.com", SocketAddr::new(ex, https))
        .no_proxy()
        .build()
        .unwrap();
    let page = client.get(input(&world, "example")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(body.contains("<title>example home</title>") && body.len() >= 4000, "{body}");

    // x.com: the TLS handshake with its SNI is reset on the probe's side.
    let tls = tokio_rustls::TlsConnector::from(Arc::new(lab_tls(&world)));
    let tcp_x = TcpStream::connect((x_ip, https)).await.unwrap();
    let err = tls.connect(ServerName::try_from("x.com").unwrap(), tcp_x).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");

    // web.telegram.org refuses; the data centre drops SYNs.
    let tg = lookup(resolver, "web.telegram.org").await.unwrap()[0];
    let refused = TcpStream::connect((tg, https)).await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    let dc_addr: SocketAddr = format!("127.0.4.1:{http}").parse().unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(dc_addr)).await.is_err());

    // The control, asked about the blackholed data centre, sees it from outside.
    let ask = ControlRequest {
        http_request: dc.input.clone(),
        http_request_headers: Default::default(),
        tcp_connect: vec![dc_addr.to_string()],
    };
    let seen = ask_control(&world, &ask).await;
    assert!(seen.tcp_connect[&dc_addr.to_string()].status, "{seen:?}");
    assert_eq!(seen.http_request.as_ref().unwrap().status_code, 200, "{seen:?}");
    assert_eq!(seen.dns.addrs, vec!["127.0.4.1".to_string()]);

    // Asked about x.com's censoring edge, it reports the real edge's clean handshake.
    let edge = format!("127.0.3.1:{https}");
    let ask = ControlRequest {
        http_request: input(&world, "x"),
        http_request_headers: Default::default(),
        tcp_connect: vec![edge.clone()],
    };
    let seen = ask_control(&world, &ask).await;
    assert!(seen.tls_handshake[&edge].status, "{seen:?}");
    assert_eq!(seen.dns.addrs, vec!["127.0.1.2".to_string()], "the truth: x's clean edge");

    // Expected verdicts, and the files the probe reads.
    let status = |id: &str| {
        let p = world.expected().iter().find(|p| p.id == id).unwrap();
        (p.status, p.mechanism)
    };
    assert_eq!(status("x"), (PlatformStatus::Blocked, Some(Mechanism::TlsSniReset)));
    assert_eq!(status("telegram"), (PlatformStatus::Blocked, Some(Mechanism::TcpIpBlackhole)));
    assert_eq!(status("whatsapp"), (PlatformStatus::Ok, None));
    let config: toml::Table = toml::from_str(&std::fs::read_to_string(world.config_path()).unwrap()).unwrap();
    assert_eq!(config["dns"]["system"].as_bool(), Some(false));
    assert_eq!(config["dns"]["resolvers"][0].as_str(), Some(resolver.to_string().as_str()));
    assert_eq!(config["control"]["url"].as_str(), Some(world.control_url()));
    assert_eq!(config["network"]["lab_nets"][0].as_str(), Some("127.0.0.0/8"));
    assert_eq!(config["network"]["concurrency"].as_integer(), Some(8));
    let battery_file = std::fs::read_to_string(world.battery_path()).unwrap();
    assert_eq!(parse_battery_toml(&battery_file).unwrap(), world.platforms());
}

#[tokio::test]
async fn clean_world_expects_every_platform_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let world = FakeWorld::start(&battery(), &WorldOptions::default(), dir.path()).await.unwrap();
    assert!(world.expected().iter().all(|p| p.status == PlatformStatus::Ok && p.how == "clean"));
    let dc = world.endpoints().iter().find(|e| e.group == "datacenters").unwrap();
    assert!(dc.input.starts_with("http://127.0.2.1:"), "{}", dc.input);
    let www = lookup(world.resolver(), "www.facebook.com").await.unwrap();
    assert_eq!(www, vec!["127.0.1.1".parse::<IpAddr>().unwrap()]);
    let text = std::fs::read_to_string(world.config_path()).unwrap();
    assert!(!text.contains("concurrency"), "the probe's default concurrency is kept:\n{text}");
}

#[tokio::test]
async fn bad_inputs_stop_the_world_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let bad = vec![platform("p", "platform", &[("web", "gopher://old.example/")])];
    let err = FakeWorld::start(&bad, &WorldOptions::default(), dir.path()).await.unwrap_err();
    assert!(err.to_string().contains("gopher://old.example/"), "{err}");
}
