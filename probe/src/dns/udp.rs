//! Plain UDP queries that keep listening after the first answer: every response that arrives
//! is kept, because a second, different answer to one query is the mark of on-path injection.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout_at};
use vigil_report::measurement::DnsResponseRecord;
use vigil_report::{DnsQuery, Failure};

use super::{QueryName, wire};
use crate::clock::Clock;
use crate::failure_map;

/// Largest datagram read; answers without EDNS are at most 512 bytes, this leaves room.
const MAX_DATAGRAM: usize = 4096;

/// One question (A or AAAA) to one UDP resolver.
#[derive(Debug, Clone, Copy)]
pub(super) struct UdpQuery {
    pub server: SocketAddr,
    pub qtype: RecordType,
    /// How long to wait for a first response.
    pub timeout: Duration,
    /// How long to keep listening after the first response.
    pub linger: Duration,
}

/// What came back: every valid response with its delay, and the error that ended listening.
#[derive(Debug, Default)]
struct Heard {
    responses: Vec<(Duration, Message)>,
    error: Option<Failure>,
}

impl UdpQuery {
    /// Ask, listen, and record the outcome; `answers`/`failure` come from the first response.
    pub(super) async fn run(self, name: QueryName, clock: Clock) -> DnsQuery {
        let mut record = name.record("udp", &self.server.to_string(), &self.qtype.to_string(), clock.elapsed());
        let heard = self.exchange(&name).await;
        record.t = clock.elapsed();
        record.x_responses = heard
            .responses
            .iter()
            .map(|(after, message)| DnsResponseRecord {
                after_ms: u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
                rcode: wire::rcode_label(message),
                addrs: wire::addresses(message).iter().map(|(ip, _)| ip.to_string()).collect(),
            })
            .collect();
        match heard.responses.first() {
            Some((_, first)) => (record.answers, record.failure) = wire::outcome(first, self.qtype),
            None => record.failure = Some(heard.error.unwrap_or(Failure::GenericTimeout)),
        }
        record
    }

    async fn exchange(&self, name: &QueryName) -> Heard {
        let id: u16 = rand::random();
        let mut heard = Heard::default();
        let query = match wire::encode_query(id, &name.fqdn, self.qtype) {
            Ok(query) => query,
            Err(failure) => {
                heard.error = Some(failure);
                return heard;
            }
        };
        let socket = match self.send(&query).await {
            Ok(socket) => socket,
            Err(e) => {
                heard.error = Some(failure_map::from_io(&e));
                return heard;
            }
        };
        let sent = Instant::now();
        let mut deadline = sent + self.timeout;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let (len, from) = match timeout_at(deadline, socket.recv_from(&mut buf)).await {
                Err(_elapsed) => break,
                Ok(Ok(received)) => received,
                Ok(Err(e)) => {
                    // ICMP port unreachable shows up here as "connection refused".
                    heard.error = Some(failure_map::from_io(&e));
                    break;
                }
            };
            if from != self.server {
                continue;
            }
            let Ok(message) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            if !wire::answers_query(&message, id, &name.fqdn, self.qtype) {
                continue;
            }
            let after = sent.elapsed();
            if heard.responses.is_empty() {
                deadline = Instant::now() + self.linger;
            }
            heard.responses.push((after, message));
        }
        heard
    }

    /// A fresh ephemeral socket connected to the resolver (so ICMP errors reach us), with the
    /// query sent on it.
    async fn send(&self, query: &[u8]) -> io::Result<UdpSocket> {
        let local: SocketAddr = match self.server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(self.server).await?;
        socket.send(query).await?;
        Ok(socket)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use hickory_proto::op::ResponseCode;

    use super::super::fake::{FakeDns, Reply, answer, rcode};
    use super::*;

    const TIMEOUT: Duration = Duration::from_millis(300);

    fn v4(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(192, 0, 2, last)
    }

    async fn ask(server: SocketAddr, host: &str, qtype: RecordType, linger: Duration) -> DnsQuery {
        let query = UdpQuery { server, qtype, timeout: TIMEOUT, linger };
        query.run(QueryName::parse(host).unwrap(), Clock::start()).await
    }

    fn ips(q: &DnsQuery) -> Vec<IpAddr> {
        q.answers.iter().filter_map(|a| a.ip()).collect()
    }

    #[tokio::test]
    async fn normal_answers_for_a_and_aaaa() {
        let v6: Ipv6Addr = "2001:db8::7".parse().unwrap();
        let fake = FakeDns::start(move |q| vec![Reply::now(answer(q, &[v4(7), v4(8)], &[v6]))]).await;
        let a = ask(fake.addr, "example.com", RecordType::A, Duration::from_millis(30)).await;
        assert_eq!(a.failure, None);
        assert_eq!(a.engine, "udp");
        assert_eq!(a.resolver_address, fake.addr.to_string());
        assert_eq!(a.query_type, "A");
        assert_eq!(ips(&a), vec![IpAddr::V4(v4(7)), IpAddr::V4(v4(8))]);
        assert_eq!(a.answers[0].ttl, Some(60));
        assert_eq!(a.x_responses.len(), 1);
        assert_eq!(a.x_responses[0].rcode, "NoError");
        assert!(a.t >= a.t0);

        let aaaa = ask(fake.addr, "example.com", RecordType::AAAA, Duration::from_millis(30)).await;
        assert_eq!(aaaa.failure, None);
        assert_eq!(aaaa.query_type, "AAAA");
        assert_eq!(ips(&aaaa), vec![IpAddr::V6(v6)]);
    }

    #[tokio::test]
    async fn error_rcodes_and_empty_answers_are_failures() {
        let cases = [
            (ResponseCode::NXDomain, Failure::DnsNxdomain),
            (ResponseCode::ServFail, Failure::DnsServerFailure),
            (ResponseCode::Refused, Failure::DnsRefused),
            (ResponseCode::NoError, Failure::DnsNoAnswer),
        ];
        for (code, failure) in cases {
            let fake = FakeDns::start(move |q| vec![Reply::now(rcode(q, code))]).await;
            let out = ask(fake.addr, "example.com", RecordType::A, Duration::from_millis(10)).await;
            assert_eq!(out.failure, Some(failure), "{code:?}");
            assert!(out.answers.is_empty());
            assert_eq!(out.x_responses.len(), 1);
            assert_eq!(out.x_responses[0].rcode, format!("{code:?}"));
        }
    }

    #[tokio::test]
    async fn silence_is_a_timeout_after_the_timeout() {
        let fake = FakeDns::start(|_| Vec::new()).await;
        let started = Instant::now();
        let out = ask(fake.addr, "example.com", RecordType::A, Duration::from_millis(10)).await;
        let took = started.elapsed();
        assert_eq!(out.failure, Some(Failure::GenericTimeout));
        assert!(out.x_responses.is_empty());
        assert!(took >= TIMEOUT && took < TIMEOUT * 2, "{took:?}");
        assert_eq!(fake.seen().len(), 1, "the query was sent");
    }

    #[tokio::test]
    async fn closed_port_is_connection_refused() {
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let started = Instant::now();
        let out = ask(closed, "example.com", RecordType::A, Duration::from_millis(10)).await;
        assert_eq!(out.failure, Some(Failure::ConnectionRefused));
        assert!(started.elapsed() < TIMEOUT, "ICMP unreachable ends the wait");
    }

    #[tokio::test]
    async fn injected_answer_and_real_answer_are_both_kept() {
        let fake = FakeDns::start(|q| {
            vec![
                Reply::now(answer(q, &[Ipv4Addr::new(10, 10, 34, 35)], &[])),
                Reply::after(Duration::from_millis(100), answer(q, &[v4(1)], &[])),
            ]
        })
        .await;
        let out = ask(fake.addr, "blocked.example", RecordType::A, Duration::from_millis(200)).await;
        assert_eq!(out.failure, None);
        assert_eq!(ips(&out), vec![IpAddr::V4(Ipv4Addr::new(10, 10, 34, 35))], "first answer wins");
        let seen: Vec<(&str, Vec<String>)> =
            out.x_responses.iter().map(|r| (r.rcode.as_str(), r.addrs.clone())).collect();
        assert_eq!(
            seen,
            vec![("NoError", vec!["10.10.34.35".to_string()]), ("NoError", vec!["192.0.2.1".to_string()])]
        );
        assert!(out.x_responses[1].after_ms >= 90, "{:?}", out.x_responses);
        assert!(out.x_responses[0].after_ms < out.x_responses[1].after_ms);
    }

    #[tokio::test]
    async fn listening_stops_at_first_answer_plus_linger() {
        let fake = FakeDns::start(|q| {
            vec![
                Reply::now(answer(q, &[v4(1)], &[])),
                Reply::after(Duration::from_millis(250), answer(q, &[v4(2)], &[])),
            ]
        })
        .await;
        let started = Instant::now();
        let out = ask(fake.addr, "example.com", RecordType::A, Duration::from_millis(50)).await;
        assert!(started.elapsed() < Duration::from_millis(200), "{:?}", started.elapsed());
        assert_eq!(out.x_responses.len(), 1, "the late answer came after the linger window");
    }

    #[tokio::test]
    async fn wrong_id_wrong_question_and_wrong_source_are_ignored() {
        let fake = FakeDns::start(|q| {
            let mut wrong_id = answer(q, &[v4(66)], &[]);
            wrong_id.metadata.id ^= 1;
            let mut wrong_name = answer(q, &[v4(67)], &[]);
            wrong_name.queries[0].name = hickory_proto::rr::Name::from_ascii("other.example.").unwrap();
            let mut from_elsewhere = Reply::now(answer(q, &[v4(68)], &[]));
            from_elsewhere.from_other_port = true;
            vec![
                Reply::now(wrong_id),
                Reply::now(wrong_name),
                from_elsewhere,
                Reply::after(Duration::from_millis(50), answer(q, &[v4(1)], &[])),
            ]
        })
        .await;
        let out = ask(fake.addr, "example.com", RecordType::A, Duration::from_millis(100)).await;
        assert_eq!(out.failure, None);
        assert_eq!(ips(&out), vec![IpAddr::V4(v4(1))]);
        assert_eq!(out.x_responses.len(), 1, "{:?}", out.x_responses);
    }

    #[tokio::test]
    async fn idn_hostnames_are_sent_as_punycode() {
        let fake = FakeDns::start(|q| vec![Reply::now(answer(q, &[v4(3)], &[]))]).await;
        let out = ask(fake.addr, "bücher.example", RecordType::A, Duration::from_millis(10)).await;
        assert_eq!(out.hostname, "bücher.example");
        assert_eq!(ips(&out), vec![IpAddr::V4(v4(3))]);
        let seen = fake.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].queries[0].name.to_ascii(), "xn--bcher-kva.example.");
    }
}
