//! What the censor reads in a packet (a DNS query's name, a ClientHello's SNI, an HTTP Host) and
//! the answers it forges (a DNS reply, an HTTP response).

use std::net::Ipv4Addr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use serde::{Deserialize, Serialize};

/// The response code of a forged DNS reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rcode {
    Noerror,
    Nxdomain,
    Servfail,
    Refused,
}

/// Does `name` equal `pattern` or sit under it (`www.x.test` under `x.test`)? Case-insensitive,
/// trailing dots ignored.
pub fn matches(name: &str, pattern: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    name == pattern || name.ends_with(&format!(".{pattern}"))
}

/// The question name of a DNS query.
pub fn query_name(wire: &[u8]) -> Option<String> {
    let message = Message::from_vec(wire).ok()?;
    if message.metadata.message_type != hickory_proto::op::MessageType::Query {
        return None;
    }
    message.queries.first().map(|q| q.name.to_ascii().trim_end_matches('.').to_string())
}

/// A reply to the query `wire`: A records for `answer` (AAAA questions get none), with `rcode`.
pub fn dns_reply(wire: &[u8], answer: &[Ipv4Addr], rcode: Rcode) -> Option<Vec<u8>> {
    let request = Message::from_vec(wire).ok()?;
    let query = request.queries.first()?.clone();
    let code = match rcode {
        Rcode::Noerror => ResponseCode::NoError,
        Rcode::Nxdomain => ResponseCode::NXDomain,
        Rcode::Servfail => ResponseCode::ServFail,
        Rcode::Refused => ResponseCode::Refused,
    };
    let mut response = Message::error_msg(request.metadata.id, request.metadata.op_code, code);
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.queries = request.queries.clone();
    if rcode == Rcode::Noerror && query.query_type == RecordType::A {
        for ip in answer {
            response.answers.push(Record::from_rdata(query.name.clone(), 300, RData::A(A(*ip))));
        }
    }
    response.to_vec().ok()
}

/// The SNI of a TLS ClientHello that starts this TCP payload.
pub fn sni(payload: &[u8]) -> Option<String> {
    let mut r = Reader(payload);
    if r.u8()? != 0x16 {
        return None; // not a handshake record
    }
    r.skip(4)?; // version, record length
    if r.u8()? != 0x01 {
        return None; // not a ClientHello
    }
    r.skip(3 + 2 + 32)?; // length, client version, random
    let session = usize::from(r.u8()?);
    r.skip(session)?;
    let suites = usize::from(r.u16()?);
    r.skip(suites)?;
    let compression = usize::from(r.u8()?);
    r.skip(compression)?;
    let mut extensions = Reader(r.vec16()?);
    while let Some(kind) = extensions.u16() {
        let mut data = Reader(extensions.vec16()?);
        if kind != 0 {
            continue;
        }
        let _list_len = data.u16()?;
        if data.u8()? != 0 {
            return None; // not a host name
        }
        let name = data.vec16()?;
        return std::str::from_utf8(name).ok().map(str::to_ascii_lowercase);
    }
    None
}

/// The Host header of an HTTP/1 request in this TCP payload, without its port.
pub fn http_host(payload: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(payload).ok()?;
    let head = text.split("\r\n\r\n").next()?;
    let value = head.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("host").then(|| value.trim())
    })?;
    let host = value.rsplit_once(':').map_or(value, |(h, port)| if port.parse::<u16>().is_ok() { h } else { value });
    Some(host.to_ascii_lowercase())
}

/// A complete HTTP/1.1 response that closes the connection.
pub fn http_response(status: u16, location: Option<&str>, body: &str) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        403 => "Forbidden",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: text/html\r\nConnection: close\r\n");
    if let Some(location) = location {
        head.push_str(&format!("Location: {location}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    head.into_bytes()
}

/// A cursor over bytes; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    /// Bytes prefixed by a 16-bit length.
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;

    use super::*;

    fn query(name: &str, qtype: RecordType) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = 4242;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
        m.to_vec().unwrap()
    }

    #[test]
    fn forged_dns_replies_answer_the_question_with_its_id() {
        let q = query("www.facebook.test.", RecordType::A);
        assert_eq!(query_name(&q).as_deref(), Some("www.facebook.test"));
        let ip = Ipv4Addr::new(10, 77, 66, 1);
        let reply = Message::from_vec(&dns_reply(&q, &[ip], Rcode::Noerror).unwrap()).unwrap();
        assert_eq!(reply.metadata.id, 4242);
        assert_eq!(reply.answers.len(), 1);
        assert_eq!(reply.answers[0].data, RData::A(A(ip)));
        let nx = Message::from_vec(&dns_reply(&q, &[], Rcode::Nxdomain).unwrap()).unwrap();
        assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
        let aaaa = query("www.facebook.test.", RecordType::AAAA);
        let empty = Message::from_vec(&dns_reply(&aaaa, &[ip], Rcode::Noerror).unwrap()).unwrap();
        assert!(empty.answers.is_empty());
        assert_eq!(query_name(&dns_reply(&q, &[ip], Rcode::Noerror).unwrap()), None, "replies are not queries");
    }

    #[test]
    fn names_match_themselves_and_their_subdomains_only() {
        assert!(matches("www.facebook.test.", "facebook.test"));
        assert!(matches("FACEBOOK.test", "facebook.test"));
        assert!(!matches("notfacebook.test", "facebook.test"));
        assert!(!matches("facebook.test.evil", "facebook.test"));
    }

    #[test]
    fn the_sni_of_a_real_client_hello_is_found() {
        let config = vigil_testkit::TestCa::new().client_config();
        let name = rustls_name("abs.twimg.test");
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut hello = Vec::new();
        conn.write_tls(&mut hello).unwrap();
        assert_eq!(sni(&hello).as_deref(), Some("abs.twimg.test"));
        assert_eq!(sni(&hello[..hello.len() / 3]), None, "truncated");
        assert_eq!(sni(b"GET / HTTP/1.1\r\n"), None);
    }

    fn rustls_name(name: &str) -> rustls::pki_types::ServerName<'static> {
        rustls::pki_types::ServerName::try_from(name.to_string()).unwrap()
    }

    #[test]
    fn http_hosts_are_read_without_port_and_case() {
        let req = b"GET / HTTP/1.1\r\nhost: WWW.Facebook.test:80\r\naccept: */*\r\n\r\n";
        assert_eq!(http_host(req).as_deref(), Some("www.facebook.test"));
        assert_eq!(http_host(b"GET / HTTP/1.1\r\naccept: */*\r\n\r\n"), None);
        let resp = String::from_utf8(http_response(302, Some("http://blockpage.isp.test/"), "")).unwrap();
        assert!(resp.starts_with("HTTP/1.1 302 Found\r\n"));
        assert!(resp.contains("Location: http://blockpage.isp.test/\r\n"));
        assert!(resp.ends_with("Content-Length: 0\r\n\r\n"));
    }
}
