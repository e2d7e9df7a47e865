//! The DoH server, queried with reqwest (POST and GET) trusting only the lab CA.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use vigil_testkit::{DnsBehaviour, DohServer, LOCALHOST, TestCa, Zone};

fn query(name: &str) -> Vec<u8> {
    let mut query = Message::query();
    query.metadata.id = 0; // RFC 8484 recommends 0 for cacheability
    query.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    query.to_vec().unwrap()
}

fn client(ca: &TestCa) -> reqwest::Client {
    vigil_testkit::init_crypto();
    reqwest::Client::builder()
        .use_preconfigured_tls(ca.client_config())
        .timeout(Duration::from_secs(3))
        .no_proxy()
        .build()
        .unwrap()
}

fn addrs(reply: &Message) -> Vec<IpAddr> {
    reply.answers.iter().filter_map(|r| r.data.ip_addr()).collect()
}

#[tokio::test]
async fn answers_the_truth_over_post_and_get() {
    let ca = TestCa::new();
    let zone = Zone::new()
        .with(
            "blocked.lab.test",
            DnsBehaviour::Inject {
                forged: vec!["10.10.34.35".parse().unwrap()],
                real: vec!["192.0.2.7".parse().unwrap()],
                delay: Duration::from_millis(10),
            },
        )
        .with("quiet.lab.test", DnsBehaviour::Silent);
    let server = DohServer::start(LOCALHOST, zone, &ca, &["doh.lab.test"]).await;
    assert!(server.url().starts_with("https://127.0.0.1:"));
    assert!(server.url().ends_with("/dns-query"));
    let client = client(&ca);

    // POST to the IP: the certificate must carry the IP as a SAN for this to validate.
    let response = client
        .post(server.url())
        .header("content-type", "application/dns-message")
        .body(query("blocked.lab.test."))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/dns-message");
    let reply = Message::from_vec(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(addrs(&reply), vec!["192.0.2.7".parse::<IpAddr>().unwrap()]);

    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(query("nx.lab.test."));
    let url = format!("{}?dns={encoded}", server.url());
    let reply = Message::from_vec(&client.get(url).send().await.unwrap().bytes().await.unwrap()).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);

    let response = client
        .post(server.url())
        .header("content-type", "application/dns-message")
        .body(query("quiet.lab.test."))
        .send()
        .await
        .unwrap();
    let reply = Message::from_vec(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(server.queries("blocked.lab.test"), 1);
}

#[tokio::test]
async fn rejects_what_is_not_a_dns_query() {
    let ca = TestCa::new();
    let server = DohServer::start(LOCALHOST, Zone::new(), &ca, &["doh.lab.test"]).await;
    let client = client(&ca);
    let wrong_type = client.post(server.url()).header("content-type", "text/plain").body("x").send().await.unwrap();
    assert_eq!(wrong_type.status(), 415);
    let garbage = client
        .post(server.url())
        .header("content-type", "application/dns-message")
        .body(vec![1u8, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    let elsewhere = client.get(server.url().replace("/dns-query", "/other")).send().await.unwrap();
    assert_eq!(elsewhere.status(), 404);
}
