//! A minimal NFQUEUE client over netlink (no libnetfilter_queue): bind a queue, receive the
//! packets iptables sends to it (`-j NFQUEUE --queue-num N`), and give each a verdict. The censor
//! holds a packet in the queue while it forges its answer, so the forgery always goes out first.

use std::io::{self, Read};

use socket2::{Domain, Protocol, Socket, Type};

const AF_NETLINK: i32 = 16;
const NETLINK_NETFILTER: i32 = 12;
const SOCK_RAW: i32 = 3;
const AF_INET: u16 = 2;

const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;

const NFNL_SUBSYS_QUEUE: u16 = 3;
const NFQNL_MSG_PACKET: u16 = 0;
const NFQNL_MSG_VERDICT: u16 = 1;
const NFQNL_MSG_CONFIG: u16 = 2;

const NFQA_CFG_CMD: u16 = 1;
const NFQA_CFG_PARAMS: u16 = 2;
const NFQNL_CFG_CMD_BIND: u8 = 1;
const NFQNL_COPY_PACKET: u8 = 2;

const NFQA_PACKET_HDR: u16 = 1;
const NFQA_VERDICT_HDR: u16 = 2;
const NFQA_PAYLOAD: u16 = 10;

const HEADER: usize = 16;
const NFGEN: usize = 4;

/// What happens to a queued packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Drop = 0,
    Accept = 1,
}

/// One queued packet: its id (for the verdict) and its bytes (the IP packet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub id: u32,
    pub payload: Vec<u8>,
}

/// A bound queue.
#[derive(Debug)]
pub struct Queue {
    socket: Socket,
    num: u16,
    seq: u32,
    buf: Vec<u8>,
}

impl Queue {
    /// Bind queue `num` and ask for whole packets. Fails if another process holds the queue or
    /// netfilter's queue support is missing.
    pub fn bind(num: u16) -> io::Result<Queue> {
        let socket =
            Socket::new(Domain::from(AF_NETLINK), Type::from(SOCK_RAW), Some(Protocol::from(NETLINK_NETFILTER)))?;
        let _ = socket.set_recv_buffer_size(4 * 1024 * 1024);
        let mut queue = Queue { socket, num, seq: 0, buf: vec![0u8; 256 * 1024] };
        let mut cmd = Vec::new();
        cmd.push(NFQNL_CFG_CMD_BIND);
        cmd.push(0);
        cmd.extend_from_slice(&AF_INET.to_be_bytes());
        queue.request(NFQNL_MSG_CONFIG, &[(NFQA_CFG_CMD, &cmd)])?;
        let mut params = Vec::new();
        params.extend_from_slice(&0xffffu32.to_be_bytes());
        params.push(NFQNL_COPY_PACKET);
        queue.request(NFQNL_MSG_CONFIG, &[(NFQA_CFG_PARAMS, &params)])?;
        Ok(queue)
    }

    /// Send a request and wait for the kernel's acknowledgement.
    fn request(&mut self, msg: u16, attrs: &[(u16, &[u8])]) -> io::Result<()> {
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_ACK, attrs)?;
        loop {
            let n = (&self.socket).read(&mut self.buf)?;
            for (kind, msg_seq, body) in messages(&self.buf[..n]) {
                if kind == NLMSG_ERROR && msg_seq == seq {
                    let code = body.get(..4).map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                    return if code == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(-code)) };
                }
            }
        }
    }

    fn send(&mut self, msg: u16, flags: u16, attrs: &[(u16, &[u8])]) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let mut body = Vec::new();
        body.push(0); // nfgen family: unspecified
        body.push(0); // NFNETLINK_V0
        body.extend_from_slice(&self.num.to_be_bytes());
        for (kind, value) in attrs {
            let len = 4 + value.len();
            body.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_ne_bytes());
            body.extend_from_slice(&kind.to_ne_bytes());
            body.extend_from_slice(value);
            body.resize(body.len() + (4 - len % 4) % 4, 0);
        }
        let mut packet = Vec::with_capacity(HEADER + body.len());
        packet.extend_from_slice(&u32::try_from(HEADER + body.len()).unwrap_or(u32::MAX).to_ne_bytes());
        packet.extend_from_slice(&((NFNL_SUBSYS_QUEUE << 8) | msg).to_ne_bytes());
        packet.extend_from_slice(&flags.to_ne_bytes());
        packet.extend_from_slice(&self.seq.to_ne_bytes());
        packet.extend_from_slice(&0u32.to_ne_bytes()); // to the kernel
        packet.extend_from_slice(&body);
        self.socket.send(&packet)?;
        Ok(self.seq)
    }

    /// Wait for the next queued packets (one read may carry several).
    pub fn recv(&mut self) -> io::Result<Vec<Queued>> {
        let n = match (&self.socket).read(&mut self.buf) {
            Ok(n) => n,
            // The queue overflowed: the kernel dropped packets; keep going.
            Err(e) if e.raw_os_error() == Some(105) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let wanted = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
        let packets = messages(&self.buf[..n])
            .filter(|(kind, _, _)| *kind == wanted)
            .filter_map(|(_, _, body)| packet(body))
            .collect();
        Ok(packets)
    }

    /// Accept or drop packet `id`.
    pub fn verdict(&mut self, id: u32, verdict: Verdict) -> io::Result<()> {
        let mut hdr = Vec::with_capacity(8);
        hdr.extend_from_slice(&(verdict as u32).to_be_bytes());
        hdr.extend_from_slice(&id.to_be_bytes());
        self.send(NFQNL_MSG_VERDICT, NLM_F_REQUEST, &[(NFQA_VERDICT_HDR, &hdr)])?;
        Ok(())
    }
}

/// The netlink messages in one datagram: (type, sequence number, body after the header).
fn messages(mut buf: &[u8]) -> impl Iterator<Item = (u16, u32, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < HEADER {
            return None;
        }
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len < HEADER || len > buf.len() {
            return None;
        }
        let kind = u16::from_ne_bytes([buf[4], buf[5]]);
        let seq = u32::from_ne_bytes([buf[8], buf[9], buf[10], buf[11]]);
        let body = &buf[HEADER..len];
        buf = buf.get(len.div_ceil(4) * 4..).unwrap_or(&[]);
        Some((kind, seq, body))
    })
}

/// A queued packet's id and payload, from the attributes after the nfgen header.
fn packet(body: &[u8]) -> Option<Queued> {
    let mut attrs = body.get(NFGEN..)?;
    let (mut id, mut payload) = (None, None);
    while attrs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]) & 0x3fff;
        if len < 4 || len > attrs.len() {
            break;
        }
        let value = &attrs[4..len];
        match kind {
            NFQA_PACKET_HDR if value.len() >= 4 => {
                id = Some(u32::from_be_bytes([value[0], value[1], value[2], value[3]]));
            }
            NFQA_PAYLOAD => payload = Some(value.to_vec()),
            _ => {}
        }
        attrs = attrs.get(len.div_ceil(4) * 4..).unwrap_or(&[]);
    }
    Some(Queued { id: id?, payload: payload? })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&u16::try_from(4 + value.len()).unwrap().to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(value);
        a.resize(a.len().div_ceil(4) * 4, 0);
        a
    }

    fn message(kind: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&u32::try_from(HEADER + body.len()).unwrap().to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn queued_packets_are_parsed_from_a_datagram_of_several_messages() {
        let mut body = vec![2, 0, 0, 7];
        body.extend(attr(NFQA_PACKET_HDR | 0x8000, &[0, 0, 0, 42, 8, 0, 2]));
        body.extend(attr(NFQA_PAYLOAD, b"\x45ip"));
        let kind = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
        let mut datagram = message(kind, 1, &body);
        datagram.extend(message(kind, 2, &body));
        let parsed: Vec<Queued> = messages(&datagram).filter_map(|(_, _, b)| packet(b)).collect();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0], Queued { id: 42, payload: b"\x45ip".to_vec() });
    }

    #[test]
    fn truncated_messages_end_the_iteration() {
        let datagram = message(NLMSG_ERROR, 9, &[0, 0, 0, 0]);
        assert_eq!(messages(&datagram[..10]).count(), 0);
        assert_eq!(messages(&datagram).map(|(k, s, _)| (k, s)).collect::<Vec<_>>(), vec![(NLMSG_ERROR, 9)]);
    }
}
