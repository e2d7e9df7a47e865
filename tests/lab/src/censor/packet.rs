//! IPv4, UDP and TCP as the censor sees and forges them: parse a queued packet, build a spoofed
//! one with correct checksums. Only what a censor needs (no options, no fragments).

use std::net::Ipv4Addr;

pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;

pub const TCP_FIN: u8 = 0x01;
pub const TCP_PSH: u8 = 0x08;
pub const TCP_ACK: u8 = 0x10;

/// A parsed IPv4 packet carrying UDP or TCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub transport: Transport<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport<'a> {
    Udp { sport: u16, dport: u16, payload: &'a [u8] },
    Tcp(Tcp<'a>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tcp<'a> {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload: &'a [u8],
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]))
}

fn addr(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    Some(Ipv4Addr::new(*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?))
}

/// Parse an IPv4 packet; `None` for anything else (IPv6, fragments, other protocols, truncated).
pub fn parse(bytes: &[u8]) -> Option<Packet<'_>> {
    let first = *bytes.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    let total = usize::from(be16(bytes, 2)?).min(bytes.len());
    let fragment = be16(bytes, 6)? & 0x3fff;
    if ihl < 20 || total < ihl || fragment != 0 {
        return None;
    }
    let (src, dst) = (addr(bytes, 12)?, addr(bytes, 16)?);
    let l4 = &bytes[ihl..total];
    let transport = match bytes[9] {
        PROTO_UDP => {
            let len = usize::from(be16(l4, 4)?).clamp(8, l4.len());
            Transport::Udp { sport: be16(l4, 0)?, dport: be16(l4, 2)?, payload: &l4[8..len] }
        }
        PROTO_TCP => {
            let offset = usize::from(*l4.get(12)? >> 4) * 4;
            if offset < 20 || offset > l4.len() {
                return None;
            }
            Transport::Tcp(Tcp {
                sport: be16(l4, 0)?,
                dport: be16(l4, 2)?,
                seq: be32(l4, 4)?,
                ack: be32(l4, 8)?,
                flags: *l4.get(13)?,
                payload: &l4[offset..],
            })
        }
        _ => return None,
    };
    Some(Packet { src, dst, transport })
}

/// The Internet checksum over `chunks`, as one byte stream.
fn checksum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for byte in chunks.iter().flat_map(|c| c.iter().copied()) {
        match odd.take() {
            Some(high) => sum += u32::from(u16::from_be_bytes([high, byte])),
            None => odd = Some(byte),
        }
    }
    if let Some(high) = odd {
        sum += u32::from(u16::from_be_bytes([high, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, l4: &[u8]) -> Vec<u8> {
    let total = u16::try_from(20 + l4.len()).unwrap_or(u16::MAX);
    let mut header = [0u8; 20];
    header[0] = 0x45;
    header[2..4].copy_from_slice(&total.to_be_bytes());
    header[4..6].copy_from_slice(&rand::random::<u16>().to_be_bytes());
    header[6] = 0x40; // don't fragment
    header[8] = 64; // TTL
    header[9] = proto;
    header[12..16].copy_from_slice(&src.octets());
    header[16..20].copy_from_slice(&dst.octets());
    let sum = checksum(&[&header]);
    header[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut packet = header.to_vec();
    packet.extend_from_slice(l4);
    packet
}

fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: usize) -> [u8; 12] {
    let mut p = [0u8; 12];
    p[0..4].copy_from_slice(&src.octets());
    p[4..8].copy_from_slice(&dst.octets());
    p[9] = proto;
    p[10..12].copy_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    p
}

/// A complete IPv4+UDP datagram from `src:sport` to `dst:dport`.
pub fn udp(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut l4 = Vec::with_capacity(len);
    l4.extend_from_slice(&sport.to_be_bytes());
    l4.extend_from_slice(&dport.to_be_bytes());
    l4.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    l4.extend_from_slice(&[0, 0]);
    l4.extend_from_slice(payload);
    let sum = match checksum(&[&pseudo_header(src, dst, PROTO_UDP, len), &l4]) {
        0 => 0xffff,
        s => s,
    };
    l4[6..8].copy_from_slice(&sum.to_be_bytes());
    ipv4(src, dst, PROTO_UDP, &l4)
}

/// A complete IPv4+TCP segment (no options, window 64 KiB).
pub fn tcp(src: Ipv4Addr, dst: Ipv4Addr, seg: &Tcp<'_>) -> Vec<u8> {
    let mut l4 = Vec::with_capacity(20 + seg.payload.len());
    l4.extend_from_slice(&seg.sport.to_be_bytes());
    l4.extend_from_slice(&seg.dport.to_be_bytes());
    l4.extend_from_slice(&seg.seq.to_be_bytes());
    l4.extend_from_slice(&seg.ack.to_be_bytes());
    l4.push(5 << 4);
    l4.push(seg.flags);
    l4.extend_from_slice(&0xffffu16.to_be_bytes());
    l4.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    l4.extend_from_slice(seg.payload);
    let sum = checksum(&[&pseudo_header(src, dst, PROTO_TCP, l4.len()), &l4]);
    l4[16..18].copy_from_slice(&sum.to_be_bytes());
    ipv4(src, dst, PROTO_TCP, &l4)
}

/// The segment a server would send back to `client_seg` (addresses and ports swapped), with
/// `flags` and `payload`: its sequence number is what the client expects next, its ack covers
/// the client's data. This is what an on-path injector forges.
pub fn reply_to(pkt: &Packet<'_>, client_seg: &Tcp<'_>, flags: u8, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(client_seg.payload.len()).unwrap_or(0);
    let seg = Tcp {
        sport: client_seg.dport,
        dport: client_seg.sport,
        seq: client_seg.ack,
        ack: client_seg.seq.wrapping_add(len),
        flags,
        payload,
    };
    tcp(pkt.dst, pkt.src, &seg)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 2);
    const B: Ipv4Addr = Ipv4Addr::new(10, 77, 53, 1);

    #[test]
    fn built_udp_parses_back_with_valid_checksums() {
        let bytes = udp(B, 53, A, 40000, b"hello");
        assert_eq!(checksum(&[&bytes[..20]]), 0, "IP header checksum verifies");
        let l4 = &bytes[20..];
        assert_eq!(checksum(&[&pseudo_header(B, A, PROTO_UDP, l4.len()), l4]), 0, "UDP checksum verifies");
        let p = parse(&bytes).unwrap();
        assert_eq!((p.src, p.dst), (B, A));
        assert_eq!(p.transport, Transport::Udp { sport: 53, dport: 40000, payload: b"hello" });
    }

    #[test]
    fn a_forged_reply_continues_the_clients_stream() {
        let hello = Tcp { sport: 41000, dport: 443, seq: 1000, ack: 5000, flags: TCP_ACK | TCP_PSH, payload: b"abc" };
        let client = tcp(A, B, &hello);
        let parsed = parse(&client).unwrap();
        let Transport::Tcp(seg) = &parsed.transport else { panic!("not TCP") };
        let forged = reply_to(&parsed, seg, TCP_FIN | TCP_ACK, b"");
        let l4 = &forged[20..];
        assert_eq!(checksum(&[&pseudo_header(B, A, PROTO_TCP, l4.len()), l4]), 0, "TCP checksum verifies");
        let back = parse(&forged).unwrap();
        let Transport::Tcp(fin) = back.transport else { panic!("not TCP") };
        assert_eq!((back.src, back.dst, fin.sport, fin.dport), (B, A, 443, 41000));
        assert_eq!((fin.seq, fin.ack, fin.flags), (5000, 1003, TCP_FIN | TCP_ACK));
    }

    #[test]
    fn junk_and_fragments_are_ignored() {
        assert!(parse(&[]).is_none());
        assert!(parse(&[0x60; 40]).is_none(), "IPv6");
        let mut frag = udp(B, 53, A, 1, b"x");
        frag[6] = 0x20; // more fragments
        assert!(parse(&frag).is_none());
    }
}
