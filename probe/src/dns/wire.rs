//! DNS messages on the wire (hickory-proto): building a query, recognising its response and
//! reading answers and failures out of it, shared by the UDP and DoH engines.

use std::net::IpAddr;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use vigil_report::{DnsAnswer, Failure};

/// The wire form of a recursive query for `name`/`qtype` with message id `id`.
pub(super) fn encode_query(id: u16, name: &Name, qtype: RecordType) -> Result<Vec<u8>, Failure> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(name.clone(), qtype));
    message.to_vec().map_err(|e| Failure::unknown(format!("cannot encode DNS query for {name}: {e}")))
}

/// Is `response` the answer to our query (a response, same id, same single question)?
pub(super) fn answers_query(response: &Message, id: u16, name: &Name, qtype: RecordType) -> bool {
    response.metadata.message_type == MessageType::Response
        && response.metadata.id == id
        && matches!(response.queries.as_slice(),
            [q] if q.query_type == qtype && q.name == *name)
}

/// Every address (A or AAAA) in the answer section, with its TTL, whatever was asked.
pub(super) fn addresses(response: &Message) -> Vec<(IpAddr, u32)> {
    response
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::A(a) => Some((IpAddr::V4(a.0), record.ttl)),
            RData::AAAA(aaaa) => Some((IpAddr::V6(aaaa.0), record.ttl)),
            _ => None,
        })
        .collect()
}

/// The rcode as recorded in `x_responses` (`NoError`, `NXDomain`, `ServFail`, ...).
pub(super) fn rcode_label(response: &Message) -> String {
    format!("{:?}", response.metadata.response_code)
}

/// What a response means: the addresses of the asked type, or the failure OONI would record.
pub(super) fn outcome(response: &Message, qtype: RecordType) -> (Vec<DnsAnswer>, Option<Failure>) {
    let failure = match response.metadata.response_code {
        ResponseCode::NoError => None,
        ResponseCode::NXDomain => Some(Failure::DnsNxdomain),
        ResponseCode::Refused => Some(Failure::DnsRefused),
        ResponseCode::ServFail => Some(Failure::DnsServerFailure),
        // OONI records any other rcode as dns_server_misbehaving; UDP keeps the rcode in x_responses.
        _ => Some(Failure::DnsServerMisbehaving),
    };
    if failure.is_some() {
        return (Vec::new(), failure);
    }
    let answers: Vec<DnsAnswer> = addresses(response)
        .into_iter()
        .filter(|(ip, _)| match qtype {
            RecordType::A => ip.is_ipv4(),
            RecordType::AAAA => ip.is_ipv6(),
            _ => true,
        })
        .map(|(ip, ttl)| DnsAnswer::from_ip(ip, Some(ttl)))
        .collect();
    let failure = answers.is_empty().then_some(Failure::DnsNoAnswer);
    (answers, failure)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::{A, AAAA, CNAME};

    use super::*;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn response_to(query: &[u8]) -> Message {
        let query = Message::from_vec(query).unwrap();
        let mut response = Message::response(query.metadata.id, OpCode::Query);
        response.add_queries(query.queries);
        response
    }

    #[test]
    fn query_asks_recursively_for_one_question() {
        let bytes = encode_query(7, &name("example.com."), RecordType::AAAA).unwrap();
        let query = Message::from_vec(&bytes).unwrap();
        assert_eq!(query.metadata.id, 7);
        assert!(query.metadata.recursion_desired);
        assert_eq!(query.metadata.message_type, MessageType::Query);
        assert_eq!(query.queries.len(), 1);
        assert_eq!(query.queries[0].query_type, RecordType::AAAA);
        assert_eq!(query.queries[0].name, name("example.com."));
    }

    #[test]
    fn only_the_matching_response_is_ours() {
        let q = name("example.com.");
        let bytes = encode_query(7, &q, RecordType::A).unwrap();
        let response = response_to(&bytes);
        assert!(answers_query(&response, 7, &q, RecordType::A));
        assert!(answers_query(&response, 7, &name("EXAMPLE.com."), RecordType::A), "case-insensitive");
        assert!(!answers_query(&response, 8, &q, RecordType::A), "wrong id");
        assert!(!answers_query(&response, 7, &q, RecordType::AAAA), "wrong type");
        assert!(!answers_query(&response, 7, &name("example.org."), RecordType::A), "wrong name");
        let echoed_query = Message::from_vec(&bytes).unwrap();
        assert!(!answers_query(&echoed_query, 7, &q, RecordType::A), "a query is not a response");
    }

    #[test]
    fn cname_chains_yield_the_addresses_of_the_asked_type() {
        let q = name("www.example.com.");
        let mut response = response_to(&encode_query(1, &q, RecordType::A).unwrap());
        let target = name("cdn.example.net.");
        response.add_answer(Record::from_rdata(q.clone(), 300, RData::CNAME(CNAME(target.clone()))));
        response.add_answer(Record::from_rdata(target.clone(), 60, RData::A(A(Ipv4Addr::new(192, 0, 2, 9)))));
        response.add_answer(Record::from_rdata(target, 60, RData::AAAA(AAAA(Ipv6Addr::LOCALHOST))));
        let (answers, failure) = outcome(&response, RecordType::A);
        assert_eq!(failure, None);
        assert_eq!(answers, vec![DnsAnswer::from_ip("192.0.2.9".parse().unwrap(), Some(60))]);
        assert_eq!(addresses(&response).len(), 2, "x_responses keep every address");
    }

    #[test]
    fn rcodes_map_to_ooni_failures() {
        let q = name("example.com.");
        let base = response_to(&encode_query(1, &q, RecordType::A).unwrap());
        let cases = [
            (ResponseCode::NoError, "dns_no_answer", "NoError"),
            (ResponseCode::NXDomain, "dns_nxdomain_error", "NXDomain"),
            (ResponseCode::Refused, "dns_refused_error", "Refused"),
            (ResponseCode::ServFail, "dns_server_failure", "ServFail"),
            (ResponseCode::FormErr, "dns_server_misbehaving", "FormErr"),
            (ResponseCode::NotImp, "dns_server_misbehaving", "NotImp"),
        ];
        for (rcode, label, recorded) in cases {
            let mut response = base.clone();
            response.metadata.response_code = rcode;
            let (answers, failure) = outcome(&response, RecordType::A);
            assert!(answers.is_empty());
            assert_eq!(failure.map(|f| f.label().to_string()).as_deref(), Some(label));
            assert_eq!(rcode_label(&response), recorded);
        }
    }
}
