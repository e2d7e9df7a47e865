//! The lab's own censor program, for what kernel rules cannot do alone: forge a packet that
//! races or replaces the real one. It runs on the ISP router, takes the packets iptables queues
//! to it (NFQUEUE), and for each one that matches a program sends a spoofed answer through a raw
//! socket *before* releasing or dropping the original:
//!
//! - `dns`: a forged DNS reply from the resolver's address (answers, or NXDOMAIN...). With
//!   `let_through` the real query continues and its real answer arrives second (injection);
//!   without, the query is dropped (a hijacking middlebox).
//! - `tls_fin`: after a ClientHello with a matching SNI, a FIN from the server's address with the
//!   right sequence numbers; the ClientHello and the rest of the flow are dropped.
//! - `http`: after a request with a matching Host, a forged response (a blockpage or a redirect);
//!   the request goes on, and the server's real response is dropped.
//!
//! The iptables lines that feed the queue come from [`rules`].

pub mod forge;
pub mod nfq;
pub mod packet;

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};

use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use forge::Rcode;
use nfq::{Queue, Verdict};
use packet::{Packet, TCP_ACK, TCP_FIN, TCP_PSH, Transport};

/// The queue number the censor binds (one censor per ISP namespace).
pub const QUEUE: u16 = 0;
/// Connection marks set by the rules of [`Program::TlsFin`] and [`Program::Http`].
const MARK_TLS_FIN: &str = "0x21";
const MARK_HTTP: &str = "0x22";
/// Matches packets whose TCP payload starts with a TLS handshake record (a ClientHello).
pub const TLS_HANDSHAKE_U32: &str = "0>>22&0x3C@12>>26&0x3C@0>>24=0x16";

/// One censor program, as a scenario writes it (`[[inject]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Program {
    Dns {
        /// Names (and their subdomains) whose queries are answered by the censor.
        names: Vec<String>,
        /// Addresses of the forged A answer (none: an empty answer, or the `rcode`).
        #[serde(default)]
        answer: Vec<Ipv4Addr>,
        #[serde(default = "noerror")]
        rcode: Rcode,
        /// Let the real query through (its real answer arrives after the forged one).
        #[serde(default)]
        let_through: bool,
    },
    TlsFin {
        sni: String,
    },
    Http {
        host: String,
        #[serde(default = "ok")]
        status: u16,
        #[serde(default)]
        location: Option<String>,
        #[serde(default)]
        body: String,
    },
}

fn noerror() -> Rcode {
    Rcode::Noerror
}

fn ok() -> u16 {
    200
}

impl Program {
    /// The iptables lines feeding this program, with their stage: flow drops first (0), then
    /// classification (1), then queueing (2), so several programs combine.
    fn rules(&self) -> Vec<(u8, String)> {
        let q = format!("-j NFQUEUE --queue-num {QUEUE}");
        match self {
            Program::Dns { .. } => vec![
                (2, format!("iptables -A INPUT -p udp --dport 53 {q}")),
                (2, format!("iptables -A FORWARD -p udp --dport 53 {q}")),
            ],
            Program::TlsFin { sni } => vec![
                (0, format!("iptables -A FORWARD -p tcp -m connmark --mark {MARK_TLS_FIN} -j DROP")),
                (
                    1,
                    format!(
                        "iptables -A FORWARD -p tcp --dport 443 -m connmark --mark 0 -m u32 --u32 '{TLS_HANDSHAKE_U32}' \
                         -m string --algo bm --string '{sni}' -j CONNMARK --set-mark {MARK_TLS_FIN}"
                    ),
                ),
                (2, format!("iptables -A FORWARD -p tcp --dport 443 -m connmark --mark {MARK_TLS_FIN} {q}")),
            ],
            Program::Http { host, .. } => {
                let header = format!("-m string --algo bm --icase --string 'host: {host}'");
                vec![
                    (0, format!("iptables -A FORWARD -p tcp --sport 80 -m connmark --mark {MARK_HTTP} -j DROP")),
                    (1, format!("iptables -A FORWARD -p tcp --dport 80 {header} -j CONNMARK --set-mark {MARK_HTTP}")),
                    (2, format!("iptables -A FORWARD -p tcp --dport 80 -m connmark --mark {MARK_HTTP} {header} {q}")),
                ]
            }
        }
    }
}

/// The iptables lines (run in the ISP namespace) that feed `programs`, in order, without repeats.
pub fn rules(programs: &[Program]) -> Vec<String> {
    let mut staged: Vec<(u8, String)> = programs.iter().flat_map(Program::rules).collect();
    staged.sort_by_key(|(stage, _)| *stage);
    let mut lines: Vec<String> = Vec::new();
    for (_, line) in staged {
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    lines
}

/// A running censor: the bound queue and the raw socket its forgeries leave by.
#[derive(Debug)]
pub struct Censor {
    programs: Vec<Program>,
    queue: Queue,
    raw: Socket,
}

impl Censor {
    /// Bind the queue and open the raw socket (needs CAP_NET_ADMIN and CAP_NET_RAW).
    pub fn bind(programs: Vec<Program>) -> io::Result<Censor> {
        let queue = Queue::bind(QUEUE)?;
        // SOCK_RAW with IPPROTO_RAW: we write whole IP packets (IP_HDRINCL implied).
        let raw = Socket::new(Domain::IPV4, Type::from(3), Some(Protocol::from(255)))?;
        Ok(Censor { programs, queue, raw })
    }

    /// Judge queued packets until the queue fails (the process exits with the lab).
    pub fn run(mut self) -> io::Error {
        loop {
            let batch = match self.queue.recv() {
                Ok(batch) => batch,
                Err(e) => return e,
            };
            for queued in batch {
                let verdict = self.judge(&queued.payload);
                if let Err(e) = self.queue.verdict(queued.id, verdict) {
                    return e;
                }
            }
        }
    }

    /// Forge what the programs ask for; say what happens to the original packet.
    fn judge(&self, bytes: &[u8]) -> Verdict {
        let Some(pkt) = packet::parse(bytes) else { return Verdict::Accept };
        match &pkt.transport {
            Transport::Udp { sport, dport: 53, payload } => self.dns(&pkt, *sport, payload),
            Transport::Tcp(seg) if !seg.payload.is_empty() => self.tcp(&pkt, seg),
            _ => Verdict::Accept,
        }
    }

    fn dns(&self, pkt: &Packet<'_>, sport: u16, query: &[u8]) -> Verdict {
        let Some(name) = forge::query_name(query) else { return Verdict::Accept };
        for program in &self.programs {
            let Program::Dns { names, answer, rcode, let_through } = program else { continue };
            if !names.iter().any(|n| forge::matches(&name, n)) {
                continue;
            }
            if let Some(reply) = forge::dns_reply(query, answer, *rcode) {
                self.send(&packet::udp(pkt.dst, 53, pkt.src, sport, &reply), pkt.src);
            }
            return if *let_through { Verdict::Accept } else { Verdict::Drop };
        }
        Verdict::Accept
    }

    fn tcp(&self, pkt: &Packet<'_>, seg: &packet::Tcp<'_>) -> Verdict {
        let sni = forge::sni(seg.payload);
        let host = if sni.is_none() { forge::http_host(seg.payload) } else { None };
        for program in &self.programs {
            match program {
                Program::TlsFin { sni: wanted } if sni.as_deref().is_some_and(|s| forge::matches(s, wanted)) => {
                    self.send(&packet::reply_to(pkt, seg, TCP_FIN | TCP_ACK, b""), pkt.src);
                    return Verdict::Drop;
                }
                Program::Http { host: wanted, status, location, body }
                    if host.as_deref().is_some_and(|h| forge::matches(h, wanted)) =>
                {
                    let response = forge::http_response(*status, location.as_deref(), body);
                    self.send(&packet::reply_to(pkt, seg, TCP_PSH | TCP_ACK | TCP_FIN, &response), pkt.src);
                    return Verdict::Accept;
                }
                _ => {}
            }
        }
        Verdict::Accept
    }

    fn send(&self, forged: &[u8], to: Ipv4Addr) {
        if let Err(e) = self.raw.send_to(forged, &SockAddr::from(SocketAddrV4::new(to, 0))) {
            eprintln!("vigil-lab censor: cannot send a forged packet to {to}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_of_several_programs_are_staged_and_not_repeated() {
        let programs = vec![
            Program::TlsFin { sni: "a.test".into() },
            Program::Dns { names: vec!["x.test".into()], answer: vec![], rcode: Rcode::Nxdomain, let_through: false },
            Program::TlsFin { sni: "b.test".into() },
        ];
        let lines = rules(&programs);
        assert!(lines[0].contains("--mark 0x21 -j DROP"), "{lines:?}");
        assert_eq!(lines.iter().filter(|l| l.contains("-j DROP")).count(), 1);
        let mark_b = lines.iter().position(|l| l.contains("'b.test'")).unwrap();
        let queue_tls =
            lines.iter().position(|l| l.contains("--dport 443 -m connmark --mark 0x21 -j NFQUEUE")).unwrap();
        assert!(mark_b < queue_tls, "every classification runs before the queue rule: {lines:?}");
        assert_eq!(lines.iter().filter(|l| l.contains("--dport 53")).count(), 2);
    }

    #[test]
    fn programs_parse_from_scenario_toml() {
        #[derive(Deserialize)]
        struct F {
            inject: Vec<Program>,
        }
        let f: F = toml::from_str(
            "[[inject]]\nkind = \"dns\"\nnames = [\"facebook.test\"]\nanswer = [\"10.77.66.1\"]\nlet_through = true\n\
             [[inject]]\nkind = \"http\"\nhost = \"x.test\"\nstatus = 302\nlocation = \"http://b.test/\"\n",
        )
        .unwrap();
        assert_eq!(
            f.inject[0],
            Program::Dns {
                names: vec!["facebook.test".into()],
                answer: vec![Ipv4Addr::new(10, 77, 66, 1)],
                rcode: Rcode::Noerror,
                let_through: true
            }
        );
        assert!(matches!(&f.inject[1], Program::Http { status: 302, location: Some(_), .. }));
    }
}
