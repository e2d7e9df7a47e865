//! A scriptable fake UDP DNS server on loopback for the DNS tests: each query is answered with
//! whatever replies the test's closure builds (delayed, forged, from another port, or none).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::net::UdpSocket;
use tokio::task::AbortHandle;

/// One datagram the fake sends back.
#[derive(Debug)]
pub(crate) struct Reply {
    pub delay: Duration,
    pub message: Message,
    /// Send from a different socket (another source port), as an off-path forger would.
    pub from_other_port: bool,
}

impl Reply {
    pub(crate) fn now(message: Message) -> Self {
        Reply::after(Duration::ZERO, message)
    }

    pub(crate) fn after(delay: Duration, message: Message) -> Self {
        Reply { delay, message, from_other_port: false }
    }
}

/// A running fake resolver; stops when dropped.
pub(crate) struct FakeDns {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Message>>>,
    task: AbortHandle,
}

impl FakeDns {
    pub(crate) async fn start<F>(script: F) -> FakeDns
    where
        F: Fn(&Message) -> Vec<Reply> + Send + Sync + 'static,
    {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind fake DNS"));
        let addr = socket.local_addr().expect("fake DNS address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((len, client)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                let Ok(query) = Message::from_vec(&buf[..len]) else {
                    continue;
                };
                for reply in script(&query) {
                    let socket = Arc::clone(&socket);
                    tokio::spawn(send(socket, client, reply));
                }
                log.lock().expect("fake DNS log").push(query);
            }
        });
        FakeDns { addr, seen, task: task.abort_handle() }
    }

    /// Every query received so far.
    pub(crate) fn seen(&self) -> Vec<Message> {
        self.seen.lock().expect("fake DNS log").clone()
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn send(socket: Arc<UdpSocket>, client: SocketAddr, reply: Reply) {
    tokio::time::sleep(reply.delay).await;
    let bytes = reply.message.to_vec().expect("encode fake reply");
    if reply.from_other_port {
        let other = UdpSocket::bind("127.0.0.1:0").await.expect("bind forger");
        let _ = other.send_to(&bytes, client).await;
    } else {
        let _ = socket.send_to(&bytes, client).await;
    }
}

/// A response to `query` (same id and question, RD copied) with the given rcode and no answers.
pub(crate) fn rcode(query: &Message, code: ResponseCode) -> Message {
    let mut response = Message::response(query.metadata.id, OpCode::Query);
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.metadata.response_code = code;
    response.add_queries(query.queries.clone());
    response
}

/// A NOERROR response carrying the addresses of the asked type (TTL 60).
pub(crate) fn answer(query: &Message, v4: &[Ipv4Addr], v6: &[Ipv6Addr]) -> Message {
    let mut response = rcode(query, ResponseCode::NoError);
    let Some(question) = query.queries.first() else {
        return response;
    };
    let name = question.name.clone();
    let data: Vec<RData> = match question.query_type {
        RecordType::A => v4.iter().map(|ip| RData::A(A(*ip))).collect(),
        RecordType::AAAA => v6.iter().map(|ip| RData::AAAA(AAAA(*ip))).collect(),
        _ => Vec::new(),
    };
    for rdata in data {
        response.add_answer(Record::from_rdata(name.clone(), 60, rdata));
    }
    response
}
