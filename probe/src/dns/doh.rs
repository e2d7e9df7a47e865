//! DNS over HTTPS (RFC 8484, POST `application/dns-message`): the encrypted reference
//! resolver that on-path tampering cannot easily reach.

use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use url::Url;
use vigil_report::{DnsQuery, Failure};

use super::{QueryName, wire};
use crate::clock::Clock;
use crate::failure_map;

const DNS_MESSAGE: &str = "application/dns-message";

/// One question (A or AAAA) to a DoH resolver.
#[derive(Debug, Clone)]
pub(super) struct DohQuery {
    pub client: reqwest::Client,
    pub url: Url,
    pub qtype: RecordType,
    pub timeout: Duration,
}

/// Why a DoH exchange gave no DNS answer.
#[derive(Debug, thiserror::Error)]
enum DohError {
    #[error("doh: HTTP status {0}")]
    Status(u16),
    #[error("doh: content-type {0:?} is not {DNS_MESSAGE}")]
    ContentType(String),
    #[error("doh: body is not a DNS message: {0}")]
    Decode(String),
    #[error("doh: the response does not answer the question asked")]
    Mismatch,
    #[error("doh: {0}")]
    Http(#[from] reqwest::Error),
    #[error("doh: no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Encode(Failure),
}

impl DohError {
    fn failure(self) -> Failure {
        match self {
            DohError::Http(e) => failure_map::from_error(&e),
            DohError::Timeout(_) => Failure::GenericTimeout,
            DohError::Mismatch => Failure::DnsBogusReply,
            DohError::Encode(failure) => failure,
            other => Failure::unknown(other),
        }
    }
}

impl DohQuery {
    pub(super) async fn run(self, name: QueryName, clock: Clock) -> DnsQuery {
        let mut record = name.record("doh", self.url.as_str(), &self.qtype.to_string(), clock.elapsed());
        let result = match tokio::time::timeout(self.timeout, self.exchange(&name)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(DohError::Timeout(self.timeout)),
        };
        record.t = clock.elapsed();
        match result {
            Ok(response) => (record.answers, record.failure) = wire::outcome(&response, self.qtype),
            Err(e) => record.failure = Some(e.failure()),
        }
        record
    }

    async fn exchange(&self, name: &QueryName) -> Result<Message, DohError> {
        // RFC 8484 §4.1: id 0, so identical queries are cacheable.
        let body = wire::encode_query(0, &name.fqdn, self.qtype).map_err(DohError::Encode)?;
        let response = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, DNS_MESSAGE)
            .header(ACCEPT, DNS_MESSAGE)
            .body(body)
            .send()
            .await?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(DohError::Status(response.status().as_u16()));
        }
        let content_type =
            response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case(DNS_MESSAGE) {
            return Err(DohError::ContentType(content_type));
        }
        let bytes = response.bytes().await?;
        let message = Message::from_vec(&bytes).map_err(|e| DohError::Decode(e.to_string()))?;
        if !wire::answers_query(&message, 0, &name.fqdn, self.qtype) {
            return Err(DohError::Mismatch);
        }
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::super::fake::answer;
    use super::*;

    /// What the tiny DoH server answers to one POST: status, content type, and the body built
    /// from the query it received.
    type Script = fn(&Message) -> (u16, &'static str, Vec<u8>);

    /// A plain-HTTP DoH endpoint on loopback answering each connection's one request.
    async fn doh_server(script: Script) -> Url {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_one(stream, script));
            }
        });
        Url::parse(&format!("http://{addr}/dns-query")).unwrap()
    }

    async fn serve_one(mut stream: TcpStream, script: Script) {
        let mut request = Vec::new();
        let mut buf = [0u8; 2048];
        let (head_end, body_len) = loop {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "client closed before sending a request");
            request.extend_from_slice(&buf[..n]);
            if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                assert!(head.starts_with("post /dns-query "), "{head}");
                assert!(head.contains("content-type: application/dns-message"), "{head}");
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap();
                break (end + 4, len);
            }
        };
        while request.len() < head_end + body_len {
            let n = stream.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
        }
        let query = Message::from_vec(&request[head_end..head_end + body_len]).unwrap();
        let (status, content_type, body) = script(&query);
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body).await.unwrap();
    }

    async fn ask(url: Url, qtype: RecordType, timeout: Duration) -> DnsQuery {
        crate::tls::install_crypto_provider();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let query = DohQuery { client, url, qtype, timeout };
        query.run(QueryName::parse("bücher.example").unwrap(), Clock::start()).await
    }

    #[tokio::test]
    async fn doh_answers_are_recorded() {
        let url = doh_server(|q| {
            assert_eq!(q.metadata.id, 0);
            assert_eq!(q.queries[0].name.to_ascii(), "xn--bcher-kva.example.");
            let msg = answer(q, &[Ipv4Addr::new(192, 0, 2, 5)], &["2001:db8::5".parse().unwrap()]);
            (200, DNS_MESSAGE, msg.to_vec().unwrap())
        })
        .await;
        let a = ask(url.clone(), RecordType::A, Duration::from_secs(2)).await;
        assert_eq!(a.failure, None, "{a:?}");
        assert_eq!((a.engine.as_str(), a.resolver_address.as_str()), ("doh", url.as_str()));
        assert_eq!(a.hostname, "bücher.example");
        assert_eq!(a.answers[0].ip(), Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 5))));
        let aaaa = ask(url, RecordType::AAAA, Duration::from_secs(2)).await;
        assert_eq!(aaaa.answers[0].ipv6.as_deref(), Some("2001:db8::5"));
    }

    #[tokio::test]
    async fn bad_status_and_bad_body_are_unknown_failures() {
        let url = doh_server(|_| (500, "text/plain", b"oops".to_vec())).await;
        let out = ask(url, RecordType::A, Duration::from_secs(2)).await;
        assert_eq!(out.failure.unwrap().label(), "unknown_failure: doh: HTTP status 500");

        let url = doh_server(|_| (200, "text/html", b"<html>blocked</html>".to_vec())).await;
        let out = ask(url, RecordType::A, Duration::from_secs(2)).await;
        let label = out.failure.unwrap().label().to_string();
        assert!(label.starts_with("unknown_failure: doh: content-type \"text/html\""), "{label}");

        let url = doh_server(|_| (200, DNS_MESSAGE, b"\x00\x01".to_vec())).await;
        let out = ask(url, RecordType::A, Duration::from_secs(2)).await;
        let label = out.failure.unwrap().label().to_string();
        assert!(label.starts_with("unknown_failure: doh: body is not a DNS message"), "{label}");
    }

    #[tokio::test]
    async fn silent_doh_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/dns-query", listener.local_addr().unwrap())).unwrap();
        let hold = tokio::spawn(async move {
            let (_stream, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let started = tokio::time::Instant::now();
        let out = ask(url, RecordType::A, Duration::from_millis(300)).await;
        assert_eq!(out.failure, Some(Failure::GenericTimeout));
        assert!(started.elapsed() < Duration::from_secs(1));
        hold.abort();
    }
}
