//! The names the fake resolvers know and how each one behaves (answer, fail, stay silent,
//! inject), plus the DNS replies built from them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use vigil_report::Failure;

/// How a name resolves.
#[derive(Debug, Clone, PartialEq)]
pub enum DnsBehaviour {
    /// A and AAAA answered from the list by family (NOERROR and empty when none of that family).
    Answer(Vec<IpAddr>),
    NxDomain,
    ServFail,
    Refused,
    /// NOERROR with no answer.
    NoAnswer,
    /// Never answers.
    Silent,
    /// On-path injection: `forged` answered at once, then `real` after `delay`.
    Inject {
        forged: Vec<IpAddr>,
        real: Vec<IpAddr>,
        delay: Duration,
    },
    /// A CNAME to the target, plus the target's addresses, in one response.
    Cname(String),
}

/// A shared, mutable set of names. Clones share the same names, so a test can keep a clone and
/// change a name while servers answer from it.
#[derive(Debug, Clone, Default)]
pub struct Zone {
    names: Arc<RwLock<HashMap<String, DnsBehaviour>>>,
}

/// CNAME chains longer than this are answered as a server failure.
const MAX_CNAME_DEPTH: usize = 8;
const TTL: u32 = 60;

impl Zone {
    pub fn new() -> Self {
        Self::default()
    }

    /// An independent copy: later changes to either zone do not show in the other (e.g. a
    /// censored resolver's zone made from the truth).
    pub fn deep_copy(&self) -> Zone {
        let names = self.names.read().unwrap_or_else(PoisonError::into_inner);
        Zone { names: Arc::new(RwLock::new(names.clone())) }
    }

    /// Builder form of [`Zone::set`].
    pub fn with(self, name: &str, behaviour: DnsBehaviour) -> Self {
        self.set(name, behaviour);
        self
    }

    /// Set how `name` resolves (case and a trailing dot are ignored).
    pub fn set(&self, name: &str, behaviour: DnsBehaviour) {
        let mut names = self.names.write().unwrap_or_else(PoisonError::into_inner);
        names.insert(normalize(name), behaviour);
    }

    /// Forget `name` (it becomes NXDOMAIN).
    pub fn remove(&self, name: &str) {
        let mut names = self.names.write().unwrap_or_else(PoisonError::into_inner);
        names.remove(&normalize(name));
    }

    /// How `name` resolves, if the zone knows it.
    pub fn get(&self, name: &str) -> Option<DnsBehaviour> {
        let names = self.names.read().unwrap_or_else(PoisonError::into_inner);
        names.get(&normalize(name)).cloned()
    }

    /// The uncensored truth for `name`: its real addresses (CNAMEs followed, injection
    /// ignored), or the failure an honest resolver would report.
    pub fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, Failure> {
        let mut name = normalize(name);
        for _ in 0..MAX_CNAME_DEPTH {
            let addrs = match self.get(&name) {
                None | Some(DnsBehaviour::NxDomain) => return Err(Failure::DnsNxdomain),
                Some(DnsBehaviour::ServFail) => return Err(Failure::DnsServerFailure),
                Some(DnsBehaviour::Refused) => return Err(Failure::DnsRefused),
                Some(DnsBehaviour::NoAnswer) => return Err(Failure::DnsNoAnswer),
                Some(DnsBehaviour::Silent) => return Err(Failure::GenericTimeout),
                Some(DnsBehaviour::Answer(addrs)) => addrs,
                Some(DnsBehaviour::Inject { real, .. }) => real,
                Some(DnsBehaviour::Cname(target)) => {
                    name = normalize(&target);
                    continue;
                }
            };
            return if addrs.is_empty() { Err(Failure::DnsNoAnswer) } else { Ok(addrs) };
        }
        Err(Failure::DnsServerFailure)
    }
}

/// Lowercase, without the trailing dot.
pub(crate) fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// What a server does with one query.
#[derive(Debug)]
pub(crate) enum Plan {
    Reply(Message),
    Silent,
    Inject { forged: Message, real: Message, delay: Duration },
}

/// The reply (or replies) to `request`. With `truth`, injection and silence are replaced by what
/// an honest resolver says (the real answer, or SERVFAIL for a name that never answers).
pub(crate) fn plan(zone: &Zone, request: &Message, truth: bool) -> Plan {
    let Some(query) = request.queries.first() else {
        return Plan::Reply(reply(request, ResponseCode::FormErr));
    };
    let qname = query.name.clone();
    let qtype = query.query_type;
    let behaviour = zone.get(&qname.to_ascii());
    let mut response = reply(request, ResponseCode::NoError);
    match behaviour {
        None | Some(DnsBehaviour::NxDomain) => response.metadata.response_code = ResponseCode::NXDomain,
        Some(DnsBehaviour::ServFail) => response.metadata.response_code = ResponseCode::ServFail,
        Some(DnsBehaviour::Refused) => response.metadata.response_code = ResponseCode::Refused,
        Some(DnsBehaviour::NoAnswer) => {}
        Some(DnsBehaviour::Silent) if truth => response.metadata.response_code = ResponseCode::ServFail,
        Some(DnsBehaviour::Silent) => return Plan::Silent,
        Some(DnsBehaviour::Answer(addrs)) => add_addrs(&mut response, &qname, qtype, &addrs),
        Some(DnsBehaviour::Inject { real, .. }) if truth => add_addrs(&mut response, &qname, qtype, &real),
        Some(DnsBehaviour::Inject { forged, real, delay }) => {
            let mut forged_reply = response.clone();
            add_addrs(&mut forged_reply, &qname, qtype, &forged);
            add_addrs(&mut response, &qname, qtype, &real);
            return Plan::Inject { forged: forged_reply, real: response, delay };
        }
        Some(DnsBehaviour::Cname(target)) => add_cname_chain(zone, &mut response, qname, qtype, target),
    }
    Plan::Reply(response)
}

fn reply(request: &Message, code: ResponseCode) -> Message {
    let mut response = Message::error_msg(request.metadata.id, request.metadata.op_code, code);
    response.metadata.authoritative = true;
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.queries = request.queries.clone();
    response
}

fn add_addrs(response: &mut Message, owner: &Name, qtype: RecordType, addrs: &[IpAddr]) {
    for addr in addrs {
        let data = match (qtype, addr) {
            (RecordType::A, IpAddr::V4(v4)) => RData::A(A(*v4)),
            (RecordType::AAAA, IpAddr::V6(v6)) => RData::AAAA(AAAA(*v6)),
            _ => continue,
        };
        response.answers.push(Record::from_rdata(owner.clone(), TTL, data));
    }
}

fn add_cname_chain(zone: &Zone, response: &mut Message, owner: Name, qtype: RecordType, target: String) {
    let mut owner = owner;
    let mut target = target;
    for _ in 0..MAX_CNAME_DEPTH {
        let Ok(target_name) = Name::from_ascii(format!("{}.", normalize(&target))) else {
            response.metadata.response_code = ResponseCode::ServFail;
            return;
        };
        let cname = RData::CNAME(CNAME(target_name.clone()));
        response.answers.push(Record::from_rdata(owner, TTL, cname));
        if qtype == RecordType::CNAME {
            return;
        }
        match zone.get(&target) {
            Some(DnsBehaviour::Answer(addrs)) | Some(DnsBehaviour::Inject { real: addrs, .. }) => {
                return add_addrs(response, &target_name, qtype, &addrs);
            }
            Some(DnsBehaviour::Cname(next)) => {
                owner = target_name;
                target = next;
            }
            _ => return,
        }
    }
    response.metadata.response_code = ResponseCode::ServFail;
}

/// How many queries each name received.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryLog(Arc<Mutex<HashMap<String, usize>>>);

impl QueryLog {
    pub(crate) fn record(&self, request: &Message) {
        if let Some(query) = request.queries.first() {
            let mut log = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            *log.entry(normalize(&query.name.to_ascii())).or_default() += 1;
        }
    }

    pub(crate) fn count(&self, name: &str) -> usize {
        let log = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        log.get(&normalize(name)).copied().unwrap_or(0)
    }
}
