//! Known blocking fingerprints (OONI's blocking-fingerprints): injected DNS answers and blockpage
//! patterns in HTTP bodies and headers, loaded once and matched without recompiling anything.
//!
//! A match *confirms* blocking alone only when the fingerprint's `expected_countries` holds the
//! probe's country, whatever its scope; `fp` rows are known false positives and never confirm. A
//! national (`nat`) or one ISP's (`isp`) row elsewhere (many list no country) confirms only
//! together with a difference from the control (`classify`): a news article that quotes a
//! national blockpage's address is the same page the control gets.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::sync::OnceLock;

use regex_lite::{Regex, RegexBuilder};
use serde::Deserialize;

const DNS_FILE: &str = "fingerprints_dns.csv";
const HTTP_FILE: &str = "fingerprints_http.csv";

/// Why a fingerprint file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    #[error("{file}: {source}")]
    Csv {
        file: &'static str,
        #[source]
        source: csv::Error,
    },
    #[error("{file} line {line}: {field} {value:?}: {reason}")]
    Field { file: &'static str, line: u64, field: &'static str, value: String, reason: &'static str },
}

/// How wide a fingerprint's blocking is (OONI's `scope` column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FpScope {
    /// `nat`: national blocking.
    National,
    /// `isp`: one ISP's blocking.
    Isp,
    /// `prod`: a commercial filtering product.
    Product,
    /// `inst`: an institution (school, company).
    Institution,
    /// `vbw`: a vague blockpage word, weak evidence.
    Vague,
    /// `fp`: a known false positive (a server's own error page).
    FalsePositive,
    /// Any other label, kept as written.
    Other(String),
}

impl FpScope {
    fn parse(s: &str) -> Self {
        match s {
            "nat" => Self::National,
            "isp" => Self::Isp,
            "prod" => Self::Product,
            "inst" => Self::Institution,
            "vbw" => Self::Vague,
            "fp" => Self::FalsePositive,
            other => Self::Other(other.to_string()),
        }
    }

    /// OONI's label (`nat`, `isp`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            Self::National => "nat",
            Self::Isp => "isp",
            Self::Product => "prod",
            Self::Institution => "inst",
            Self::Vague => "vbw",
            Self::FalsePositive => "fp",
            Self::Other(s) => s,
        }
    }
}

/// Where a fingerprint looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A DNS answer (an IP, or a CNAME-like name).
    Dns,
    /// The HTTP response body.
    Body,
    /// An HTTP response header, by lowercase name.
    Header(String),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns => f.write_str("dns"),
            Self::Body => f.write_str("body"),
            Self::Header(name) => write!(f, "header.{name}"),
        }
    }
}

/// One row of a fingerprint file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub name: String,
    pub scope: FpScope,
    /// OONI's `confidence_no_fp` (0-10).
    pub confidence: u8,
    pub location: Location,
    /// ISO country codes where this fingerprint was seen (uppercase).
    pub countries: Vec<String>,
}

impl Fingerprint {
    /// Whether a match alone proves blocking for a probe in `probe_cc`: only in the countries the
    /// row was seen in.
    pub fn confirms_for(&self, probe_cc: &str) -> bool {
        self.scope != FpScope::FalsePositive && self.countries.iter().any(|c| c.eq_ignore_ascii_case(probe_cc))
    }

    /// Whether a match proves blocking in any country together with a difference from the
    /// control: the national and ISP rows (a censor's page, whichever network serves it).
    pub fn confirms_with_control_difference(&self) -> bool {
        matches!(self.scope, FpScope::National | FpScope::Isp)
    }
}

/// A fingerprint that matched, and whether it confirms blocking for the probe's country.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FingerprintMatch<'a> {
    pub fingerprint: &'a Fingerprint,
    pub confirmed: bool,
}

impl FingerprintMatch<'_> {
    pub fn name(&self) -> &str {
        &self.fingerprint.name
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatternType {
    Contains,
    Prefix,
    Full,
}

impl PatternType {
    fn matches(self, haystack: &str, pattern: &str) -> bool {
        match self {
            Self::Contains => haystack.contains(pattern),
            Self::Prefix => haystack.starts_with(pattern),
            Self::Full => haystack == pattern,
        }
    }
}

/// A literal (contains/prefix/full) rule: fingerprint index, type, pattern.
#[derive(Debug)]
struct Literal {
    fp: usize,
    kind: PatternType,
    pattern: String,
}

#[derive(Debug)]
struct RegexRule {
    fp: usize,
    regex: Regex,
    /// A literal every match must contain; the regex only runs when the body holds it.
    required: Option<String>,
}

/// Both fingerprint files, indexed for matching.
#[derive(Debug, Default)]
pub struct Fingerprints {
    all: Vec<Fingerprint>,
    dns_ips: HashMap<IpAddr, Vec<usize>>,
    dns_names: HashMap<String, Vec<usize>>,
    body_contains: ContainsSet,
    /// The `contains` patterns again in their loose form (`loose`), matched against the page's.
    body_loose: ContainsSet,
    body_other: Vec<Literal>,
    body_regex: Vec<RegexRule>,
    headers: HashMap<String, Vec<Literal>>,
    skipped_regexps: Vec<String>,
}

/// The columns we use; the others (other_names, source, exp_url, notes) are ignored.
#[derive(Debug, Deserialize)]
struct Row {
    name: String,
    scope: String,
    location_found: String,
    pattern_type: String,
    pattern: String,
    confidence_no_fp: String,
    expected_countries: String,
}

fn rows(file: &'static str, text: &str) -> Result<Vec<(u64, Row)>, FingerprintError> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().map_err(|source| FingerprintError::Csv { file, source })?.clone();
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|source| FingerprintError::Csv { file, source })?;
        let line = record.position().map_or(0, |p| p.line());
        let row: Row = record.deserialize(Some(&header)).map_err(|source| FingerprintError::Csv { file, source })?;
        out.push((line, row));
    }
    Ok(out)
}

/// An embedded fingerprint file (gzipped by build.rs to keep router builds small).
fn inflate(gz: &[u8]) -> String {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz).read_to_string(&mut text).expect("embedded fingerprint files are gzipped UTF-8");
    text
}

impl Fingerprints {
    /// The fingerprints shipped with the probe (parsed once).
    pub fn builtin() -> &'static Fingerprints {
        static BUILTIN: OnceLock<Fingerprints> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let dns = inflate(include_bytes!(concat!(env!("OUT_DIR"), "/fingerprints_dns.csv.gz")));
            let http = inflate(include_bytes!(concat!(env!("OUT_DIR"), "/fingerprints_http.csv.gz")));
            Self::from_csv(&dns, &http).expect("embedded fingerprint files are valid (tested)")
        })
    }

    /// Loads the two files from CSV text (OONI's blocking-fingerprints columns).
    pub fn from_csv(dns_csv: &str, http_csv: &str) -> Result<Self, FingerprintError> {
        let mut fps = Fingerprints::default();
        let mut contains = Vec::new();
        let mut loose_patterns = Vec::new();
        for (line, row) in rows(DNS_FILE, dns_csv)? {
            let bad = |field, value: &str, reason| FingerprintError::Field {
                file: DNS_FILE,
                line,
                field,
                value: value.to_string(),
                reason,
            };
            if row.location_found != "dns" {
                return Err(bad("location_found", &row.location_found, "expected dns"));
            }
            if row.pattern_type != "full" {
                return Err(bad("pattern_type", &row.pattern_type, "expected full"));
            }
            if row.pattern.is_empty() {
                return Err(bad("pattern", &row.pattern, "empty"));
            }
            let idx = fps.push(&row, Location::Dns, DNS_FILE, line)?;
            match row.pattern.parse::<IpAddr>() {
                Ok(ip) => fps.dns_ips.entry(ip).or_default().push(idx),
                Err(_) => fps.dns_names.entry(normalize_name(&row.pattern)).or_default().push(idx),
            }
        }
        for (line, row) in rows(HTTP_FILE, http_csv)? {
            let bad = |field, value: &str, reason| FingerprintError::Field {
                file: HTTP_FILE,
                line,
                field,
                value: value.to_string(),
                reason,
            };
            let location = match row.location_found.as_str() {
                "body" => Location::Body,
                other => match other.strip_prefix("header.") {
                    Some(name) if !name.is_empty() => Location::Header(name.to_ascii_lowercase()),
                    _ => {
                        return Err(bad("location_found", other, "expected body or header.<name>"));
                    }
                },
            };
            if row.pattern.is_empty() {
                return Err(bad("pattern", &row.pattern, "empty"));
            }
            let kind = match row.pattern_type.as_str() {
                "contains" => PatternType::Contains,
                "prefix" => PatternType::Prefix,
                "full" => PatternType::Full,
                "regexp" if location == Location::Body => {
                    // `.` matches newlines, as in OONI's pipeline (Python re.DOTALL).
                    let built = RegexBuilder::new(&row.pattern).dot_matches_new_line(true).build();
                    let Ok(regex) = built else {
                        fps.skipped_regexps.push(row.name);
                        continue;
                    };
                    let fp = fps.push(&row, location, HTTP_FILE, line)?;
                    let required = required_literal(&row.pattern);
                    fps.body_regex.push(RegexRule { fp, regex, required });
                    continue;
                }
                "regexp" => return Err(bad("pattern_type", "regexp", "regexp only on body")),
                other => return Err(bad("pattern_type", other, "unknown pattern type")),
            };
            let header = match &location {
                Location::Header(name) => Some(name.clone()),
                _ => None,
            };
            let fp = fps.push(&row, location, HTTP_FILE, line)?;
            let rule = Literal { fp, kind, pattern: row.pattern };
            match header {
                Some(name) => fps.headers.entry(name).or_default().push(rule),
                None if kind == PatternType::Contains => {
                    let relaxed = loose(&rule.pattern);
                    if relaxed.len() >= LOOSE_MIN {
                        loose_patterns.push((fp, relaxed));
                    }
                    contains.push((fp, rule.pattern))
                }
                None => fps.body_other.push(rule),
            }
        }
        fps.body_contains = ContainsSet::new(contains);
        fps.body_loose = ContainsSet::new(loose_patterns);
        Ok(fps)
    }

    fn push(
        &mut self,
        row: &Row,
        location: Location,
        file: &'static str,
        line: u64,
    ) -> Result<usize, FingerprintError> {
        let confidence = row.confidence_no_fp.trim().parse::<u8>().map_err(|_| FingerprintError::Field {
            file,
            line,
            field: "confidence_no_fp",
            value: row.confidence_no_fp.clone(),
            reason: "expected an integer 0-255",
        })?;
        let countries = row
            .expected_countries
            .split(',')
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| !c.is_empty())
            .collect();
        self.all.push(Fingerprint {
            name: row.name.clone(),
            scope: FpScope::parse(row.scope.trim()),
            confidence,
            location,
            countries,
        });
        Ok(self.all.len() - 1)
    }

    /// Every loaded fingerprint, in file order (DNS first).
    pub fn all(&self) -> &[Fingerprint] {
        &self.all
    }

    /// Names of regexp rows skipped because `regex-lite` could not compile them.
    pub fn skipped_regexps(&self) -> &[String] {
        &self.skipped_regexps
    }

    fn best<'a>(&'a self, idxs: &[usize], probe_cc: &str) -> Option<FingerprintMatch<'a>> {
        idxs.iter().map(|&i| self.hit(i, probe_cc)).max_by_key(|m| (m.confirmed, m.fingerprint.confidence))
    }

    fn hit(&self, idx: usize, probe_cc: &str) -> FingerprintMatch<'_> {
        let fingerprint = &self.all[idx];
        FingerprintMatch { fingerprint, confirmed: fingerprint.confirms_for(probe_cc) }
    }

    /// The fingerprint for an injected DNS answer `ip`, preferring one that confirms for `probe_cc`.
    pub fn match_dns(&self, ip: IpAddr, probe_cc: &str) -> Option<FingerprintMatch<'_>> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.best(self.dns_ips.get(&ip)?, probe_cc)
    }

    /// The fingerprint for a DNS answer naming a host (a CNAME to a blockpage server).
    pub fn match_dns_name(&self, name: &str, probe_cc: &str) -> Option<FingerprintMatch<'_>> {
        self.best(self.dns_names.get(&normalize_name(name))?, probe_cc)
    }

    /// Every HTTP fingerprint matching this response, in file order. Header names are compared
    /// case-insensitively; patterns are case-sensitive, as in OONI's pipeline.
    pub fn match_http(
        &self,
        body: &str,
        headers: &BTreeMap<String, String>,
        probe_cc: &str,
    ) -> Vec<FingerprintMatch<'_>> {
        let mut hits = self.body_contains.find(body);
        if body.len() <= LOOSE_MAX_BODY {
            hits.extend(self.body_loose.find(&loose(body)));
        }
        hits.extend(self.body_other.iter().filter(|r| r.kind.matches(body, &r.pattern)).map(|r| r.fp));
        hits.extend(
            self.body_regex
                .iter()
                .filter(|r| r.required.as_deref().is_none_or(|lit| body.contains(lit)))
                .filter(|r| r.regex.is_match(body))
                .map(|r| r.fp),
        );
        for (name, value) in headers {
            if let Some(rules) = self.headers.get(&name.to_ascii_lowercase()) {
                // A Location without a scheme that starts with a host name (`iterika.ru/blocked.html`)
                // is matched also as the http:// URL its writer meant.
                let meant = name.eq_ignore_ascii_case("location").then(|| schemeless_location(value)).flatten();
                let matches = |r: &&Literal| {
                    r.kind.matches(value, &r.pattern) || meant.as_deref().is_some_and(|m| r.kind.matches(m, &r.pattern))
                };
                hits.extend(rules.iter().filter(matches).map(|r| r.fp));
            }
        }
        hits.sort_unstable();
        hits.dedup();
        hits.into_iter().map(|i| self.hit(i, probe_cc)).collect()
    }
}

/// Patterns at least this long (bytes, loose form) also match loosely: shorter ones are too common
/// in ordinary pages once case is ignored.
const LOOSE_MIN: usize = 16;

/// Bodies up to this size are also matched loosely: blockpages are small, and a large page that
/// only a reworded pattern would match is more likely an article quoting one.
const LOOSE_MAX_BODY: usize = 64 * 1024;

/// The text a reader sees, for matching blockpages reworded in form only: character references
/// decoded (`&nbsp;`, `&#539;`, `&aacute;`...), whitespace runs (and no-break spaces) made one
/// space, lower case. `Доступ&nbsp;к сайту` and `ДОСТУП К\n САЙТУ` both read `доступ к сайту`.
fn loose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut space = false;
    while let Some(&b) = rest.as_bytes().first() {
        // Plain ASCII, the bulk of any page, one byte at a time.
        if b.is_ascii() && b != b'&' && !b.is_ascii_whitespace() {
            out.push(char::from(b.to_ascii_lowercase()));
            rest = &rest[1..];
            space = false;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        let (decoded, used) = match c {
            '&' => entity(rest).unwrap_or(('&', 1)),
            c => (c, c.len_utf8()),
        };
        rest = &rest[used..];
        if decoded.is_whitespace() {
            if !space {
                out.push(' ');
            }
            space = true;
            continue;
        }
        space = false;
        out.extend(decoded.to_lowercase());
    }
    out
}

/// The character a reference at the start of `s` stands for, and the reference's length.
fn entity(s: &str) -> Option<(char, usize)> {
    let (end, _) = s.char_indices().take(12).find(|&(_, c)| c == ';')?;
    let name = &s[1..end];
    let c = if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        char::from_u32(code)?
    } else {
        const NAMED: &[(&str, char)] = &[
            ("nbsp", ' '),
            ("amp", '&'),
            ("lt", '<'),
            ("gt", '>'),
            ("quot", '"'),
            ("apos", '\''),
            ("laquo", '«'),
            ("raquo", '»'),
            ("ndash", '–'),
            ("mdash", '—'),
            ("hellip", '…'),
            ("bull", '•'),
            ("copy", '©'),
            ("reg", '®'),
            ("aacute", 'á'),
            ("eacute", 'é'),
            ("iacute", 'í'),
            ("oacute", 'ó'),
            ("uacute", 'ú'),
            ("agrave", 'à'),
            ("egrave", 'è'),
            ("acirc", 'â'),
            ("ecirc", 'ê'),
            ("ocirc", 'ô'),
            ("atilde", 'ã'),
            ("otilde", 'õ'),
            ("ccedil", 'ç'),
            ("ntilde", 'ñ'),
            ("auml", 'ä'),
            ("ouml", 'ö'),
            ("uuml", 'ü'),
            ("szlig", 'ß'),
        ];
        NAMED.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, c)| *c)?
    };
    Some((c, end + 1))
}

/// `http://<value>` for a Location value with no scheme whose first segment looks like a host.
fn schemeless_location(value: &str) -> Option<String> {
    let value = value.trim();
    let first = value.split(['/', '?', '#']).next()?;
    let hostlike = first.contains('.') && !first.contains(':') && !first.starts_with('.');
    (hostlike && !value.starts_with('/') && !value.contains("://")).then(|| format!("http://{value}"))
}

fn normalize_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The longest literal every match of a regexp must contain, when it is easy to be sure of: no
/// alternation or flags; runs inside groups or classes, or under a quantifier, are not used.
fn required_literal(pattern: &str) -> Option<String> {
    if pattern.contains('|') || pattern.contains("(?") {
        return None;
    }
    let (mut best, mut run) = (String::new(), String::new());
    let mut depth = 0usize;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        let literal = match c {
            '\\' => chars.next().filter(char::is_ascii_punctuation),
            '(' => {
                depth += 1;
                None
            }
            ')' => {
                depth = depth.saturating_sub(1);
                None
            }
            '[' => {
                // Skip the class; an unclosed one means we do not understand the pattern.
                loop {
                    match chars.next()? {
                        '\\' => _ = chars.next(),
                        ']' => break,
                        _ => {}
                    }
                }
                None
            }
            '.' | '^' | '$' | '*' | '+' | '?' | '{' | '}' | ']' => None,
            c => Some(c),
        };
        let next = chars.peek().copied();
        match literal {
            Some(l) if depth == 0 && !matches!(next, Some('*' | '?' | '{')) => {
                run.push(l);
                if next != Some('+') {
                    continue;
                }
            }
            _ => {}
        }
        if run.len() > best.len() {
            best = std::mem::take(&mut run);
        }
        run.clear();
    }
    if run.len() > best.len() {
        best = run;
    }
    (best.len() >= 3).then_some(best)
}

/// Many `contains` patterns searched in one pass: each pattern is keyed on its first four bytes,
/// a 64 Ki-bit filter rejects most body positions at once, and candidates are checked in full.
#[derive(Debug, Default)]
struct ContainsSet {
    filter: Vec<u64>,
    by_key: HashMap<u32, Vec<(usize, String)>>,
    /// Patterns shorter than four bytes, searched one by one.
    short: Vec<(usize, String)>,
}

const FILTER_BITS: u32 = 16;

fn filter_slot(key: u32) -> usize {
    (key.wrapping_mul(0x9E37_79B1) >> (32 - FILTER_BITS)) as usize
}

fn key_at(bytes: &[u8], i: usize) -> Option<u32> {
    let window: [u8; 4] = bytes.get(i..i + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(window))
}

impl ContainsSet {
    fn new(patterns: Vec<(usize, String)>) -> Self {
        let mut set = ContainsSet { filter: vec![0; 1 << (FILTER_BITS - 6)], ..Default::default() };
        for (fp, pattern) in patterns {
            match key_at(pattern.as_bytes(), 0) {
                Some(key) => {
                    let slot = filter_slot(key);
                    set.filter[slot / 64] |= 1 << (slot % 64);
                    set.by_key.entry(key).or_default().push((fp, pattern));
                }
                None => set.short.push((fp, pattern)),
            }
        }
        set
    }

    /// Indexes of the fingerprints whose pattern occurs in `body`, in no particular order.
    fn find(&self, body: &str) -> Vec<usize> {
        let mut hits: Vec<usize> =
            self.short.iter().filter(|(_, p)| body.contains(p.as_str())).map(|(fp, _)| *fp).collect();
        let bytes = body.as_bytes();
        for i in 0..bytes.len().saturating_sub(3) {
            let Some(key) = key_at(bytes, i) else { break };
            let slot = filter_slot(key);
            if self.filter[slot / 64] & (1 << (slot % 64)) == 0 {
                continue;
            }
            let Some(candidates) = self.by_key.get(&key) else {
                continue;
            };
            for (fp, pattern) in candidates {
                if bytes[i..].starts_with(pattern.as_bytes()) {
                    hits.push(*fp);
                }
            }
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body of https://www.example.com/ in OONI's web_connectivity example (ooni/spec ts-017).
    const EXAMPLE_COM: &str = "<!doctype html>\n<html>\n<head>\n    <title>Example Domain</title>\n\n    \
        <meta charset=\"utf-8\" />\n    <meta name=\"viewport\" content=\"width=device-width\" />\n\
        </head>\n\n<body>\n<div>\n    <h1>Example Domain</h1>\n    <p>This domain is for use in \
        illustrative examples in documents. You may use this\n    domain in literature without prior \
        coordination or asking for permission.</p>\n    <p><a href=\"https://www.iana.org/domains/\
        example\">More information...</a></p>\n</div>\n</body>\n</html>\n";

    /// A Telegram data centre's answer in OONI's telegram example (ooni/spec ts-020).
    const TELEGRAM_404: &str = "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body \
        bgcolor=\"white\">\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/0.3.33\
        </center>\r\n</body>\r\n</html>\r\n";

    const HEADER: &str = "name,scope,other_names,location_found,pattern_type,pattern,\
        confidence_no_fp,expected_countries,source,exp_url,notes\n";

    fn fps() -> &'static Fingerprints {
        Fingerprints::builtin()
    }

    fn dns(ip: &str, cc: &str) -> Option<FingerprintMatch<'static>> {
        fps().match_dns(ip.parse().unwrap(), cc)
    }

    /// Names of the fingerprints matching, and whether each confirms.
    fn http(body: &str, headers: &[(&str, &str)], cc: &str) -> Vec<(&'static str, bool)> {
        let headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let found = fps().match_http(body, &headers, cc);
        found.iter().map(|m| (m.fingerprint.name.as_str(), m.confirmed)).collect()
    }

    #[test]
    fn builtin_files_load_completely() {
        let all = fps().all();
        let dns = all.iter().filter(|f| f.location == Location::Dns).count();
        assert_eq!(dns, 226);
        let skipped = fps().skipped_regexps();
        assert_eq!(all.len() - dns + skipped.len(), 1729);
        assert!(skipped.is_empty(), "regexps that do not compile: {skipped:?}");
        assert!(fps().body_regex.len() >= 11);
    }

    #[test]
    fn iran_injection_is_confirmed() {
        let m = dns("10.10.34.34", "IR").unwrap();
        assert_eq!((m.name(), m.confirmed), ("ooni.ir_4", true));
        assert_eq!(m.fingerprint.scope, FpScope::National);
        assert_eq!(m.fingerprint.location.to_string(), "dns");
        assert_eq!(dns("10.10.34.36", "ir").unwrap().name(), "ooni.ir_10dot10_ipv4_1");
        assert!(dns("10.10.34.37", "IR").is_none());
        assert!(dns("d0::11", "IR").unwrap().confirmed);
    }

    #[test]
    fn gfw_poison_ip_matches_also_as_mapped_ipv6() {
        let m = dns("8.7.198.45", "CN").unwrap();
        assert_eq!((m.name(), m.confirmed), ("ooni.cn_0", true));
        assert_eq!(dns("::ffff:8.7.198.45", "CN").unwrap().name(), "ooni.cn_0");
        assert!(dns("8.8.8.8", "CN").is_none());
    }

    #[test]
    fn dns_name_patterns_match_case_and_dot_insensitively() {
        let m = fps().match_dns_name("TrustPositif.Kominfo.go.id.", "ID").unwrap();
        assert_eq!(m.name(), "ooni.id_95");
        assert!(fps().match_dns_name("kominfo.go.id", "ID").is_none());
    }

    #[test]
    fn body_contains_blockpage() {
        let body = format!("{EXAMPLE_COM}<p>Contact it-security-operations@etisalat.ae</p>");
        assert_eq!(http(&body, &[], "AE"), [("ooni.ae_3", true)], "isp scope confirms in its country");
        assert_eq!(http(&body, &[], "DE"), [("ooni.ae_3", false)], "not alone elsewhere");
    }

    /// A news article about censorship that links to the Indonesian national blockpage: the
    /// national rows confirm alone only in Indonesia; elsewhere they need a control difference.
    #[test]
    fn national_rows_confirm_alone_only_in_their_country() {
        let article = "<html><title>Internet censorship in Indonesia</title><p>Blocked sites redirect \
                       to <a href=\"https://trustpositif.kominfo.go.id/\">TrustPositif</a>.</p></html>";
        let found = fps().match_http(article, &BTreeMap::new(), "ZZ");
        assert!(found.iter().any(|m| m.name() == "cp.b_nat_id_kominfo_body"), "the row matches");
        assert!(found.iter().all(|m| !m.confirmed), "but confirms nothing in ZZ");
        let national = found.iter().find(|m| m.name() == "cp.b_nat_id_kominfo_body").unwrap();
        assert!(national.fingerprint.confirms_with_control_difference());
        // A national row that lists its country confirms there.
        let blockpage = "This page is blocked by <a href=http://trustpositif.kominfo.go.id>";
        let in_id = fps().match_http(blockpage, &BTreeMap::new(), "ID");
        assert!(in_id.iter().any(|m| m.name() == "ooni.id_6" && m.confirmed));
    }

    #[test]
    fn product_scope_confirms_only_in_its_countries() {
        let body = "<p>Cyberoam is securing you. Click here to know more.</p>";
        assert!(http(body, &[], "UG").contains(&("ooni.ug_cyber_roam_0", true)));
        assert!(http(body, &[], "DE").contains(&("ooni.ug_cyber_roam_0", false)));
    }

    #[test]
    fn location_header_prefix_with_any_header_case() {
        let blocked = [("LOCATION", "http://lighthouse.du.ae/blocked?u=x"), ("Server", "nginx")];
        let prefix_and_contains = [("ooni.ae_2", true), ("cl.isp_ae_du_surfsafely_forward_2", true)];
        assert_eq!(http("", &blocked, "AE"), prefix_and_contains);
        let elsewhere = [("location", "https://example.com/?r=http://lighthouse.du.ae")];
        let contains_only = [("cl.isp_ae_du_surfsafely_forward_2", true)];
        assert_eq!(http("", &elsewhere, "AE"), contains_only);
    }

    #[test]
    fn a_schemeless_location_matches_as_the_url_it_means() {
        let found = http("", &[("Location", "iterika.ru/blocked.html?id=1")], "RU");
        assert!(found.contains(&("cp.c_isp_ru_iterika_2_location", false)), "{found:?}");
        assert!(http("", &[("Location", "/iterika.ru/blocked.html?id=1")], "RU").is_empty());
        assert_eq!(schemeless_location("blocked.html"), Some("http://blocked.html".into()));
        assert_eq!(schemeless_location("page"), None);
        assert_eq!(schemeless_location("../x.html"), None);
    }

    #[test]
    fn regexp_row_matches() {
        let body = "<p>If you believe the requested page should not be blocked please visit \
                    http://www.internet.gov.sa</p>";
        // The row lists no country: it confirms only together with a control difference.
        assert!(http(body, &[], "SA").contains(&("cp.b_nat_sa_national_2", false)));
        let across_lines = body.replace(" visit ", "\n");
        assert!(http(&across_lines, &[], "SA").contains(&("cp.b_nat_sa_national_2", false)));
        let near_miss = body.replace("gov.sa", "gov_sa");
        assert!(http(&near_miss, &[], "SA").is_empty());
    }

    #[test]
    fn ordinary_pages_are_not_confirmed_blockpages() {
        let h = [("Content-Type", "text/html; charset=UTF-8"), ("Server", "ECS (dce/2698)")];
        assert!(http(EXAMPLE_COM, &h, "US").is_empty());
        // Telegram's nginx 404 matches a known false positive, which never confirms.
        let found = http(TELEGRAM_404, &[("Server", "nginx/0.3.33")], "RU");
        assert_eq!(found, [("cp.fp_x_generic_404", false)]);
    }

    /// Issue 15 item 7: a blockpage whose text changed only in form since its row was written (a
    /// heading no longer in capitals, `&nbsp;` or a line break inside a sentence, a letter written as
    /// a numeric reference because the page's charset lacks it) still matches its row.
    #[test]
    fn reworded_pages_match_their_rows_loosely() {
        let lower = "<h1>Доступ к ресурсу заблокирован!</h1>";
        assert!(http(lower, &[], "RU").contains(&("cl.isp_ru_ugmktelecom_block", true)));
        let spaced = "<p>Доступ&nbsp;к сайту ограничен в\n   соответствии с Федеральными законами</p>";
        assert!(http(spaced, &[], "RU").contains(&("ooni.ru_0", true)));
        // ISO-8859-2 has no t-comma: the server wrote &#539;.
        let referenced = "<p>Accesul dumneavoastr\u{103} c\u{103}tre acest site a fost restric&#539;ionat.</p>";
        assert!(http(referenced, &[], "RO").contains(&("ooni.ro_0", true)));
        // A pattern under 16 bytes is not loosened (cl.vbw_websiteblocked, `Website Blocked`).
        let loosened = fps().body_loose.find(&loose("website blocked"));
        assert!(!loosened.iter().any(|&i| fps().all[i].name == "cl.vbw_websiteblocked"));
        // A large page is matched exactly only (an article quoting a heading in lower case).
        let article = format!("{lower}{}", "<p>news</p>".repeat(LOOSE_MAX_BODY / 11 + 1));
        assert!(!http(&article, &[], "RU").iter().any(|(n, _)| *n == "cl.isp_ru_ugmktelecom_block"));
    }

    #[test]
    fn loose_text_decodes_references_and_folds_space_and_case() {
        assert_eq!(loose("A&nbsp;B\t\n C&#x44;&#69;&amp;&Aacute;"), "a b cde&á");
        assert_eq!(loose("&unknown; & &#xZZ; &#99999999;"), "&unknown; & &#xzz; &#99999999;");
        assert_eq!(loose("\u{a0}ÄÖ"), " äö");
    }

    /// Cloudflare's interstitial and a bare `Access Denied` title (Akamai's edge denial, IIS) are
    /// a CDN's or a site's own pages: no evidence in any country (rows repaired, docs/fingerprints.md).
    #[test]
    fn cdn_pages_are_no_evidence_anywhere() {
        use crate::classify::FingerprintLookup;
        let challenge = "<!DOCTYPE HTML><html><head><title>Please Wait... | Cloudflare</title></head>\
                         <body><h1>Please wait...</h1></body></html>";
        let akamai = "<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\n<H1>Access Denied</H1>\n\
                      You don't have permission to access \"http&#58;&#47;&#47;www&#46;example&#46;com&#47;\" on this \
                      server.<P>\nReference&#32;&#35;18&#46;4f1c2217&#46;1741689123&#46;2a1b3c4d\n</BODY>\n</HTML>\n";
        for cc in ["IN", "ID", "MM", "ZZ"] {
            for page in [challenge, akamai] {
                assert_eq!(FingerprintLookup::http(fps(), page, &BTreeMap::new(), cc), Vec::new(), "{cc}: {page}");
            }
        }
    }

    #[test]
    fn half_megabyte_body_is_matched_quickly() {
        let body = EXAMPLE_COM.repeat(512 * 1024 / EXAMPLE_COM.len() + 1);
        let start = std::time::Instant::now();
        assert!(http(&body, &[], "US").is_empty());
        let took = start.elapsed();
        // Generous for unoptimised test builds; a release build takes a few milliseconds.
        assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
    }

    #[test]
    fn malformed_rows_name_file_and_line() {
        let http = format!("{HEADER}x.ok,nat,,body,contains,blocked!,5,XX,,,\nx.bad,nat,,cookie,contains,y,5,,,,\n");
        let err = Fingerprints::from_csv(HEADER, &http).unwrap_err().to_string();
        let want = "fingerprints_http.csv line 3: location_found \"cookie\": expected body or header.<name>";
        assert_eq!(err, want);
        let dns = format!("{HEADER}x.dns,isp,,dns,full,1.2.3.4,high,XX,,,\n");
        let err = Fingerprints::from_csv(&dns, HEADER).unwrap_err().to_string();
        assert!(err.starts_with("fingerprints_dns.csv line 2: confidence_no_fp \"high\""), "{err}");
        let err = Fingerprints::from_csv(HEADER, &format!("{HEADER}a,b\n")).unwrap_err();
        assert!(err.to_string().starts_with("fingerprints_http.csv: "), "{err}");
    }

    #[test]
    fn small_csv_matches_and_skips_bad_regexp() {
        let http = format!(
            "{HEADER}t.full,inst,,header.Server,full,FilterBox,7,\"XX,YY\",,,\n\
             t.re,vbw,,body,regexp,blo+cked,5,,,,\nt.broken,vbw,,body,regexp,(unclosed,5,,,,\n\
             t.short,vbw,,body,contains,ok!,5,,,,\nt.end,isp,,body,contains,cked,5,,,,\n\
             t.prefix,vbw,,body,prefix,<html>,5,ZZ,,,\n"
        );
        let fps = Fingerprints::from_csv(HEADER, &http).unwrap();
        assert_eq!(fps.skipped_regexps(), ["t.broken"]);
        let h = BTreeMap::from([("server".to_string(), "FilterBox".to_string())]);
        let m = fps.match_http("ok! blooocked", &h, "yy");
        let got: Vec<_> = m.iter().map(|m| (m.name(), m.confirmed)).collect();
        // t.end is an ISP row listing no country: not confirmed alone.
        let want = [("t.full", true), ("t.re", false), ("t.short", false), ("t.end", false)];
        assert_eq!(got, want);
        assert_eq!(m[0].fingerprint.confidence, 7);
        let h = BTreeMap::from([("server".to_string(), "FilterBox 2".to_string())]);
        assert!(fps.match_http("ok", &h, "XX").is_empty());
        let m = fps.match_http("<html>ck", &BTreeMap::new(), "zz");
        assert_eq!(m.iter().map(|m| m.name()).collect::<Vec<_>>(), ["t.prefix"]);
        assert!(fps.match_http(" <html>", &BTreeMap::new(), "ZZ").is_empty());
    }

    /// A text that a regexp row must match, generated from the pattern for the small subset of
    /// syntax the rows use: `\x` a literal, `.` one character, `.*`/`.+` a word, `[...]*` nothing,
    /// `(?i)` nothing, a group or the whole pattern its first alternative.
    fn regexp_example(pattern: &str) -> String {
        fn first_alternative(chars: &mut std::iter::Peekable<std::str::Chars>, out: &mut String) {
            let mut skipping = false;
            while let Some(c) = chars.next() {
                let mut piece = String::new();
                match c {
                    ')' => return,
                    '|' => skipping = true,
                    '\\' => piece.extend(chars.next()),
                    '.' => {
                        piece.push('x');
                        if matches!(chars.peek(), Some('*' | '+')) {
                            chars.next();
                        }
                    }
                    '[' => {
                        for c in chars.by_ref() {
                            if c == ']' {
                                break;
                            }
                        }
                        assert_eq!(chars.next(), Some('*'), "only [...]* classes are generated");
                    }
                    '(' if chars.peek() == Some(&'?') => {
                        for c in chars.by_ref() {
                            if c == ')' {
                                break;
                            }
                        }
                    }
                    '(' => first_alternative(chars, &mut piece),
                    '^' | '$' => {}
                    '*' | '+' | '?' => panic!("a quantifier after a literal: extend regexp_example"),
                    c => piece.push(c),
                }
                if !skipping {
                    out.push_str(&piece);
                }
            }
        }
        let mut out = String::new();
        first_alternative(&mut pattern.chars().peekable(), &mut out);
        out
    }

    /// Every row of the shipped HTTP file matches an example generated from the row itself: a
    /// row that can never match a decoded response (base64 of a page, a `contains` pattern holding
    /// regexp syntax) fails here. Header rows match on headers alone, with an empty body.
    #[test]
    fn every_http_row_matches_an_example_of_its_own() {
        let text = inflate(include_bytes!(concat!(env!("OUT_DIR"), "/fingerprints_http.csv.gz")));
        let mut failures = Vec::new();
        let mut checked = 0;
        for (line, row) in rows(HTTP_FILE, &text).unwrap() {
            let p = row.pattern.as_str();
            let (body, headers) = match (row.location_found.strip_prefix("header."), row.pattern_type.as_str()) {
                (Some(name), "contains") => (String::new(), BTreeMap::from([(name.to_string(), format!("x{p}x"))])),
                (Some(name), "prefix") => (String::new(), BTreeMap::from([(name.to_string(), format!("{p}x"))])),
                (Some(name), _) => (String::new(), BTreeMap::from([(name.to_string(), p.to_string())])),
                (None, "contains") => (format!("<html><body>{p}</body></html>"), BTreeMap::new()),
                (None, "prefix") => (format!("{p}</html>"), BTreeMap::new()),
                (None, "full") => (p.to_string(), BTreeMap::new()),
                (None, _) => (format!("<html>{}</html>", regexp_example(p)), BTreeMap::new()),
            };
            let cc = row.expected_countries.split(',').next().unwrap_or("ZZ").trim();
            let found = fps().match_http(&body, &headers, cc);
            if !found.iter().any(|m| m.name() == row.name) {
                failures.push(format!("line {line} {}: {body:?} {headers:?}", row.name));
            }
            checked += 1;
        }
        assert!(failures.is_empty(), "{} rows never match their own example:\n{}", failures.len(), failures.join("\n"));
        assert_eq!(checked, 1729);
    }

    /// No literal row holds regexp syntax (a `(a|b)` group, `.*`, `\.`, or several bare `|`
    /// between words): OONI matches `contains`, `prefix` and `full` literally, so such a row never
    /// matches what it meant.
    #[test]
    fn no_literal_row_holds_regexp_syntax() {
        let text = inflate(include_bytes!(concat!(env!("OUT_DIR"), "/fingerprints_http.csv.gz")));
        let group = Regex::new(r"\([^()|]+\|[^()]+\)").unwrap();
        let bare_pipe = Regex::new(r"[^ |]\|[^ |]").unwrap();
        for (line, row) in rows(HTTP_FILE, &text).unwrap() {
            let p = row.pattern.as_str();
            if row.pattern_type == "regexp" {
                continue;
            }
            let regexp_like =
                group.is_match(p) || p.contains(".*") || p.contains(r"\.") || bare_pipe.find_iter(p).count() >= 2;
            assert!(!regexp_like, "line {line} {} is a {} pattern in regexp syntax: {p:?}", row.name, row.pattern_type);
        }
    }

    /// No literal row is base64 text (OONI keeps bodies that are not UTF-8 as base64, and some
    /// rows were copied from there: they can never match the decoded page the probe sees).
    #[test]
    fn no_literal_row_is_base64_of_a_page() {
        use base64::Engine;
        let text = inflate(include_bytes!(concat!(env!("OUT_DIR"), "/fingerprints_http.csv.gz")));
        for (line, row) in rows(HTTP_FILE, &text).unwrap() {
            let p = row.pattern.as_str();
            if p.len() < 24 || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)) {
                continue;
            }
            for offset in 0..4 {
                let quanta = &p[offset..offset + (p.len() - offset) / 4 * 4];
                let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(quanta) else { continue };
                let decoded = String::from_utf8_lossy(&bytes);
                assert!(!decoded.trim_start().starts_with('<'), "line {line} {} is base64 of {decoded:?}", row.name);
            }
        }
    }

    #[test]
    fn decoded_and_repaired_rows_match_real_pages() {
        // Westcall's page (ooni.ru_35), as the probe sees it: koi8-r bytes decoded lossily.
        let westcall = "<HTML style=\"font-family: Geneva, Helvetica, sans-serif;\">\n\n\t<HEAD>\n\t\t\
                        <TITLE>Access Restricted!</TITLE>\n\t\t<!-- <title>\u{fffd}\u{fffd}</title> -->";
        assert!(http(westcall, &[], "RU").contains(&("ooni.ru_35", true)));
        let telkomsel = "<html><head><meta name=\"keywords\" content=\"Telkomsel, Internet Baik\"></head>";
        assert!(http(telkomsel, &[], "ID").contains(&("ooni.id_25", true)));
        // The lone common word "baik" ("good") is not the blockpage.
        assert!(http("<meta name=\"description\" content=\"kabar baik\">", &[], "ID").is_empty());
        // A header-only fingerprint: Olfeo's Server header with any body.
        assert_eq!(http("", &[("Server", "Olfeo/5")], "FR"), [("ooni.fr_2", true)]);
    }

    #[test]
    fn required_literal_is_sound() {
        let lit = |p| required_literal(p);
        assert_eq!(lit("URL .* Sp.*er Gate").as_deref(), Some("er Gate"));
        assert_eq!(lit("<meta name=.*twitter:card").as_deref(), Some("twitter:card"));
        assert_eq!(lit(r"U\.S\..*Command").as_deref(), Some("Command"));
        assert_eq!(lit(r"a\.b\.c\d+xyz").as_deref(), Some("a.b.c"));
        assert_eq!(lit("abcd?e").as_deref(), Some("abc"));
        assert_eq!(lit("xyz(abcdefgh)?").as_deref(), Some("xyz"));
        assert_eq!(lit("[abcdefgh]+xy").as_deref(), None);
        assert_eq!(lit("ab|cdefgh"), None);
        assert_eq!(lit("(?i)blocked"), None);
        assert_eq!(lit("[unclosed"), None);
    }
}
