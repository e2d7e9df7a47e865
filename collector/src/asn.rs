//! IP-to-ASN enrichment from an operator-supplied file: the submitting address becomes an ASN
//! and a country; the address itself is never kept.
//!
//! Two formats (detected per line):
//! - iptoasn.com's `ip2asn-v4.tsv` / `ip2asn-combined.tsv`: `range_start<TAB>range_end<TAB>
//!   AS_number<TAB>country_code<TAB>AS_description`; rows with AS number 0 ("Not routed") are skipped.
//! - CSV `network,asn,country`, one CIDR per line (`AS` prefix on the number allowed); an optional
//!   header line `network,...` and `#` comments are ignored.
//!
//! Ranges must be disjoint or nested (CIDRs always are); the most specific one wins.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use crate::error::CollectorError;

/// What the enrichment says about an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsnInfo {
    /// 0 when unknown.
    pub asn: u32,
    /// ISO country code, `ZZ` when unknown.
    pub cc: String,
}

impl AsnInfo {
    pub fn unknown() -> AsnInfo {
        AsnInfo { asn: 0, cc: "ZZ".into() }
    }
}

#[derive(Debug, Clone)]
struct Range {
    start: u128,
    end: u128,
    asn: u32,
    cc: String,
    /// Index of the nearest enclosing range.
    parent: Option<usize>,
}

/// A sorted table of address ranges, looked up by binary search.
#[derive(Debug, Clone, Default)]
pub struct AsnDb {
    ranges: Vec<Range>,
}

/// IPv4 addresses are looked up as IPv4-mapped IPv6 (`::ffff:a.b.c.d`).
fn key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(v4.to_ipv6_mapped()),
            None => u128::from(v6),
        },
    }
}

fn parse_asn(text: &str) -> Result<u32, String> {
    let t = text.trim();
    let t = t.strip_prefix("AS").or_else(|| t.strip_prefix("as")).unwrap_or(t);
    t.parse().map_err(|_| format!("bad AS number {text:?}"))
}

fn parse_cc(text: &str) -> String {
    let t = text.trim();
    if t.len() == 2 && t.bytes().all(|b| b.is_ascii_alphabetic()) { t.to_ascii_uppercase() } else { "ZZ".into() }
}

fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.trim().parse().map_err(|_| format!("bad address {text:?}"))
}

/// One line → a range, or None for blank/comment/header/unrouted lines.
fn parse_line(line: &str) -> Result<Option<Range>, String> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() || line.starts_with('#') || line.starts_with("network,") {
        return Ok(None);
    }
    let (start, end, asn, cc) = if line.contains('\t') {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 4 {
            return Err("expected range_start, range_end, AS_number, country_code, AS_description".into());
        }
        let (s, e) = (parse_ip(f[0])?, parse_ip(f[1])?);
        if s.is_ipv4() != e.is_ipv4() {
            return Err("range mixes IPv4 and IPv6".into());
        }
        (key(s), key(e), parse_asn(f[2])?, parse_cc(f[3]))
    } else {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 3 {
            return Err("expected network,asn,country".into());
        }
        let net: IpNet = f[0].trim().parse().map_err(|_| format!("bad network {:?}", f[0]))?;
        let (s, e) = (key(net.network()), key(net.broadcast()));
        (s, e, parse_asn(f[1])?, parse_cc(f[2]))
    };
    if start > end {
        return Err("range_start is after range_end".into());
    }
    if asn == 0 {
        return Ok(None);
    }
    Ok(Some(Range { start, end, asn, cc, parent: None }))
}

impl AsnDb {
    /// An empty table: every address is unknown.
    pub fn empty() -> AsnDb {
        AsnDb::default()
    }

    pub fn load(path: &Path) -> Result<AsnDb, CollectorError> {
        let text = std::fs::read_to_string(path).map_err(|e| CollectorError::io("read", path, e))?;
        AsnDb::parse(&text).map_err(|(line, message)| CollectorError::AsnDb {
            path: path.display().to_string(),
            line,
            message,
        })
    }

    /// Parse either format; the error is (line number, message).
    pub fn parse(text: &str) -> Result<AsnDb, (usize, String)> {
        let mut ranges = Vec::new();
        let mut lines = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if let Some(r) = parse_line(line).map_err(|m| (i + 1, m))? {
                ranges.push(r);
                lines.push(i + 1);
            }
        }
        let mut order: Vec<usize> = (0..ranges.len()).collect();
        order.sort_by(|&a, &b| ranges[a].start.cmp(&ranges[b].start).then(ranges[b].end.cmp(&ranges[a].end)));
        let mut sorted: Vec<Range> = Vec::with_capacity(ranges.len());
        let mut stack: Vec<usize> = Vec::new();
        for &i in &order {
            let mut r = ranges[i].clone();
            while stack.last().is_some_and(|&top| sorted[top].end < r.start) {
                stack.pop();
            }
            if let Some(&top) = stack.last() {
                if sorted[top].end < r.end {
                    return Err((lines[i], "range overlaps another without being nested in it".into()));
                }
                r.parent = Some(top);
            }
            stack.push(sorted.len());
            sorted.push(r);
        }
        Ok(AsnDb { ranges: sorted })
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The most specific range holding `ip`, or AS0/ZZ.
    pub fn lookup(&self, ip: IpAddr) -> AsnInfo {
        let k = key(ip);
        let idx = self.ranges.partition_point(|r| r.start <= k);
        let mut cur = idx.checked_sub(1);
        while let Some(i) = cur {
            let r = &self.ranges[i];
            if r.end >= k {
                return AsnInfo { asn: r.asn, cc: r.cc.clone() };
            }
            cur = r.parent;
        }
        AsnInfo::unknown()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn iptoasn_tsv_ranges_are_found_and_unrouted_rows_skipped() {
        let db = AsnDb::parse(
            "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n\
             1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n\
             2001:db8::\t2001:db8::ffff\t64500\tnl\tEXAMPLE\n",
        )
        .unwrap();
        assert_eq!(db.len(), 2);
        assert_eq!(db.lookup(ip("1.0.0.7")), AsnInfo { asn: 13335, cc: "US".into() });
        assert_eq!(db.lookup(ip("1.0.2.1")), AsnInfo::unknown());
        assert_eq!(db.lookup(ip("2001:db8::42")), AsnInfo { asn: 64500, cc: "NL".into() });
        assert_eq!(db.lookup(ip("::ffff:1.0.0.9")).asn, 13335);
        assert_eq!(db.lookup(ip("9.9.9.9")), AsnInfo::unknown());
    }

    #[test]
    fn csv_cidrs_most_specific_wins() {
        let db = AsnDb::parse(
            "network,asn,country\n# comment\n10.0.0.0/8,AS100,DE\n10.1.0.0/16,200,FR\n10.1.2.0/24,300,IT\n",
        )
        .unwrap();
        assert_eq!(db.lookup(ip("10.1.2.3")).asn, 300);
        assert_eq!(db.lookup(ip("10.1.9.9")).asn, 200);
        assert_eq!(db.lookup(ip("10.200.0.1")), AsnInfo { asn: 100, cc: "DE".into() });
        assert_eq!(db.lookup(ip("11.0.0.1")).asn, 0);
    }

    #[test]
    fn bad_lines_and_partial_overlaps_are_errors_with_the_line() {
        assert_eq!(AsnDb::parse("10.0.0.0/8,AS1,DE\nnonsense,1,DE\n").unwrap_err().0, 2);
        let err = AsnDb::parse("1.0.0.0\t1.0.0.255\t1\tUS\tx\n1.0.0.128\t1.0.1.255\t2\tUS\ty\n").unwrap_err();
        assert_eq!(err.0, 2, "{err:?}");
        assert!(AsnDb::parse("1.0.0.9\t1.0.0.1\t1\tUS\tx\n").is_err());
    }
}
