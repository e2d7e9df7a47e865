//! The UDP DNS server, queried with hickory messages over a real socket.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::net::UdpSocket;
use vigil_testkit::{DnsBehaviour, DnsServer, LOCALHOST, Zone};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Send one query for `name`/`rtype` to `server`; the socket stays open for later replies.
async fn ask(server: SocketAddr, name: &str, rtype: RecordType) -> (UdpSocket, u16) {
    let socket = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    socket.send_to(&query.to_vec().unwrap(), server).await.unwrap();
    (socket, query.metadata.id)
}

async fn recv(socket: &UdpSocket, wait: Duration) -> Option<Message> {
    let mut buf = [0u8; 4096];
    let (len, _) = tokio::time::timeout(wait, socket.recv_from(&mut buf)).await.ok()?.unwrap();
    Some(Message::from_vec(&buf[..len]).unwrap())
}

async fn resolve(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let (socket, id) = ask(server, name, rtype).await;
    let reply = recv(&socket, Duration::from_secs(2)).await.expect("a reply");
    assert_eq!(reply.metadata.id, id);
    reply
}

fn addrs(reply: &Message) -> Vec<IpAddr> {
    reply.answers.iter().filter_map(|r| r.data.ip_addr()).collect()
}

#[tokio::test]
async fn answers_by_family_and_fails_as_told() {
    let zone = Zone::new()
        .with("dual.lab.test", DnsBehaviour::Answer(vec![ip("192.0.2.1"), ip("2001:db8::1")]))
        .with("v4only.lab.test", DnsBehaviour::Answer(vec![ip("192.0.2.2")]))
        .with("nx.lab.test", DnsBehaviour::NxDomain)
        .with("fail.lab.test", DnsBehaviour::ServFail)
        .with("refused.lab.test", DnsBehaviour::Refused)
        .with("empty.lab.test", DnsBehaviour::NoAnswer);
    let server = DnsServer::start(LOCALHOST, zone).await;
    let at = server.addr();

    let a = resolve(at, "DUAL.lab.test.", RecordType::A).await;
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    assert_eq!(addrs(&a), vec![ip("192.0.2.1")]);
    let aaaa = resolve(at, "dual.lab.test.", RecordType::AAAA).await;
    assert_eq!(addrs(&aaaa), vec![ip("2001:db8::1")]);
    let none = resolve(at, "v4only.lab.test.", RecordType::AAAA).await;
    assert_eq!(none.metadata.response_code, ResponseCode::NoError);
    assert!(none.answers.is_empty());

    for (name, code) in [
        ("nx.lab.test.", ResponseCode::NXDomain),
        ("unknown.lab.test.", ResponseCode::NXDomain),
        ("fail.lab.test.", ResponseCode::ServFail),
        ("refused.lab.test.", ResponseCode::Refused),
        ("empty.lab.test.", ResponseCode::NoError),
    ] {
        let reply = resolve(at, name, RecordType::A).await;
        assert_eq!(reply.metadata.response_code, code, "{name}");
        assert!(reply.answers.is_empty(), "{name}");
    }
    assert_eq!(server.queries("dual.lab.test"), 2);
    assert_eq!(server.queries("unknown.lab.test"), 1);
}

#[tokio::test]
async fn silent_names_never_answer_and_the_zone_changes_at_runtime() {
    let zone = Zone::new().with("quiet.lab.test", DnsBehaviour::Silent);
    let server = DnsServer::start(LOCALHOST, zone).await;
    let (socket, _) = ask(server.addr(), "quiet.lab.test.", RecordType::A).await;
    assert!(recv(&socket, Duration::from_millis(300)).await.is_none());
    assert_eq!(server.queries("quiet.lab.test"), 1);

    server.set("quiet.lab.test", DnsBehaviour::Answer(vec![ip("192.0.2.9")]));
    let reply = resolve(server.addr(), "quiet.lab.test.", RecordType::A).await;
    assert_eq!(addrs(&reply), vec![ip("192.0.2.9")]);
}

#[tokio::test]
async fn injection_sends_the_forged_answer_first_then_the_real_one() {
    let zone = Zone::new().with(
        "blocked.lab.test",
        DnsBehaviour::Inject {
            forged: vec![ip("10.10.34.35")],
            real: vec![ip("192.0.2.7")],
            delay: Duration::from_millis(150),
        },
    );
    let server = DnsServer::start(LOCALHOST, zone).await;
    let (socket, id) = ask(server.addr(), "blocked.lab.test.", RecordType::A).await;
    let first = recv(&socket, Duration::from_secs(2)).await.expect("forged reply");
    let second = recv(&socket, Duration::from_secs(2)).await.expect("real reply");
    assert_eq!((first.metadata.id, second.metadata.id), (id, id));
    assert_eq!(addrs(&first), vec![ip("10.10.34.35")]);
    assert_eq!(addrs(&second), vec![ip("192.0.2.7")]);
}

#[tokio::test]
async fn cnames_come_with_the_targets_addresses() {
    let zone = Zone::new()
        .with("www.lab.test", DnsBehaviour::Cname("edge.cdn.test".into()))
        .with("edge.cdn.test", DnsBehaviour::Answer(vec![ip("192.0.2.30")]));
    let server = DnsServer::start(LOCALHOST, zone).await;
    let reply = resolve(server.addr(), "www.lab.test.", RecordType::A).await;
    assert_eq!(reply.answers.len(), 2);
    match &reply.answers[0].data {
        RData::CNAME(target) => assert_eq!(target.0.to_ascii(), "edge.cdn.test."),
        other => panic!("expected a CNAME first, got {other:?}"),
    }
    assert_eq!(addrs(&reply), vec![ip("192.0.2.30")]);
}

#[tokio::test]
async fn dropping_the_server_stops_it() {
    let zone = Zone::new().with("a.lab.test", DnsBehaviour::Answer(vec![ip("192.0.2.1")]));
    let server = DnsServer::start(LOCALHOST, zone).await;
    let addr = server.addr();
    drop(server);
    tokio::task::yield_now().await;
    let (socket, _) = ask(addr, "a.lab.test.", RecordType::A).await;
    let mut buf = [0u8; 512];
    let got = tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buf)).await;
    // Either nothing arrives or the port is closed (ICMP → error); never an answer.
    assert!(matches!(got, Err(_) | Ok(Err(_))));
}
