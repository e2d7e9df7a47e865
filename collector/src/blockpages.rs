//! Blockpage discovery, the pure part: which stored measurements are candidates (an `http-diff`
//! verdict no fingerprint explained), their page's normalised text and MinHash signature, and the
//! literal phrases a promoted fingerprint could match on the probe. Clustering is in
//! `blockpages_cluster`, the table in `blockpages_store`, the routes in `api_blockpages`.

use std::collections::BTreeSet;

use serde_json::Value;
use vigil_report::MaybeBinary;

/// Bytes of a body looked at (a blockpage says what it is in its first few KiB).
pub const MAX_SCAN_BYTES: usize = 64 * 1024;
/// Bytes of normalised text kept per candidate (promotion checks patterns against it).
pub const MAX_TEXT_BYTES: usize = 4096;
/// Bytes of a title kept.
pub const MAX_TITLE_BYTES: usize = 200;
/// Literal phrases kept per candidate, and their length bounds (bytes).
pub const MAX_PHRASES: usize = 24;
pub const MIN_PHRASE_BYTES: usize = 8;
pub const MAX_PHRASE_BYTES: usize = 120;
/// Hash functions of a signature.
pub const HASHES: usize = 128;
/// Words per shingle.
const SHINGLE_WORDS: usize = 3;
/// Markup tokens per shingle, and the most taken from a page.
const MARKUP_SHINGLE: usize = 4;
const MAX_MARKUP_TOKENS: usize = 2000;

/// A candidate page, as extracted from a measurement's payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub domain: String,
    pub title: String,
    /// Normalised text (see the module), at most [`MAX_TEXT_BYTES`].
    pub text: String,
    /// Visible text runs as the probe's matcher sees the body (case kept, no digits).
    pub phrases: Vec<String>,
    pub signature: Vec<u32>,
}

/// The candidate page of a stored measurement's payload: a web connectivity measurement whose
/// verdict is `http-diff` and that matched no fingerprint; None for anything else.
pub fn candidate(test_name: &str, payload: &str) -> Option<Page> {
    if !test_name.ends_with("web_connectivity") {
        return None;
    }
    let m: Value = serde_json::from_str(payload).ok()?;
    let keys = &m["test_keys"];
    if keys["blocking"] != "http-diff" || keys["x_fingerprints"].as_array().is_some_and(|a| !a.is_empty()) {
        return None;
    }
    // `requests[]` is newest first: the page the probe ended on.
    let response = keys["requests"].as_array()?.first()?.get("response")?;
    let body: MaybeBinary = serde_json::from_value(response.get("body")?.clone()).ok()?;
    let content_type = response["headers"]
        .as_object()
        .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or("");
    let title = response["title"].as_str().unwrap_or("");
    let domain =
        m["input"].as_str().and_then(|i| url::Url::parse(i).ok()).and_then(|u| u.host_str().map(str::to_string));
    let page = page(domain.unwrap_or_default(), &body, content_type, title);
    // A page without a word (an empty body: the evidence is in a header) has nothing to
    // cluster on; every such page would otherwise look alike.
    (!page.signature.is_empty()).then_some(page)
}

/// The last response's body of a web connectivity payload as the probe's matcher sees it
/// (lossy UTF-8), if it has one.
pub fn body_text(payload: &str) -> Option<String> {
    let m: Value = serde_json::from_str(payload).ok()?;
    let body = m["test_keys"]["requests"].as_array()?.first()?.get("response")?.get("body")?.clone();
    serde_json::from_value::<MaybeBinary>(body).ok().map(|b| b.text().into_owned())
}

/// Normalise a body and sign it.
pub fn page(domain: String, body: &MaybeBinary, content_type: &str, title: &str) -> Page {
    let bytes = &body.as_bytes()[..body.len().min(MAX_SCAN_BYTES)];
    let html = decode(bytes, content_type);
    let visible = strip_tags(&html);
    let title = cut(title.trim(), MAX_TITLE_BYTES).to_string();
    let words = words(&decode_entities(&visible));
    let text = cut(&words.join(" "), MAX_TEXT_BYTES).to_string();
    // A phrase from a body in another charset is only offered when it is ASCII: the probe decodes
    // multi-byte CJK charsets only for the characters its built-in rows use, and ASCII reads the
    // same in every view of the body.
    let ascii_only = matches!(body, MaybeBinary::Binary(_));
    let phrases = phrases(&visible, ascii_only);
    let signature = signature(&words, &skeleton(&html), &words_of(&title).join(" "));
    Page { domain, title, text, phrases, signature }
}

/// Text in the charset the header or a `<meta>` names (else UTF-8, lossily).
fn decode(bytes: &[u8], content_type: &str) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_string();
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]).to_ascii_lowercase();
    let label = charset_in(&content_type.to_ascii_lowercase()).or_else(|| charset_in(&head));
    match label.and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes())) {
        Some(enc) => enc.decode_without_bom_handling(bytes).0.into_owned(),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn charset_in(s: &str) -> Option<String> {
    let at = s.find("charset=")? + "charset=".len();
    let rest = s[at..].trim_start_matches(['"', '\'']);
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).unwrap_or(rest.len());
    (end > 0).then(|| rest[..end].to_string())
}

/// Markup out: scripts, styles and comments dropped, every tag a line break.
fn strip_tags(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut out = String::with_capacity(html.len() / 2);
    let mut i = 0;
    while let Some(off) = html[i..].find('<') {
        out.push_str(&html[i..i + off]);
        let at = i + off;
        let close = |end: &str| lower[at..].find(end).map(|e| at + e + end.len());
        let next = if lower[at..].starts_with("<!--") {
            close("-->")
        } else if lower[at..].starts_with("<script") {
            close("</script>")
        } else if lower[at..].starts_with("<style") {
            close("</style>")
        } else {
            close(">")
        };
        out.push('\n');
        match next {
            Some(n) => i = n,
            None => return out,
        }
    }
    out.push_str(&html[i..]);
    out
}

/// Common named and every numeric character reference decoded.
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest[1..].find(';').map(|e| e + 1).filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => name.strip_prefix('#').and_then(|n| {
                    match n.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => n.parse().ok(),
                    }
                    .and_then(char::from_u32)
                }),
            };
            c.map(|c| (c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Scripts written without spaces between words: each character is a word.
fn unspaced(c: char) -> bool {
    matches!(c as u32, 0x0E00..=0x0EFF | 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF)
}

/// The words of decoded text, lowercased, without what varies per request: anything holding a
/// digit (times, ids, addresses), URLs and long tokens.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.split_whitespace() {
        if raw.contains("://") || raw.starts_with("www.") || raw.chars().any(|c| c.is_numeric()) {
            continue;
        }
        out.extend(words_of(raw).into_iter().filter(|w| w.chars().count() <= 30));
    }
    out
}

fn words_of(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in s.chars() {
        if unspaced(c) || !c.is_alphanumeric() || c.is_numeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            if unspaced(c) {
                out.push(c.to_string());
            }
        } else {
            word.extend(c.to_lowercase());
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// A template's markup, whatever its language: each tag's name with its class and id (digits
/// out), and the words of its style sheets.
fn skeleton(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut rest = lower.as_str();
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
        let attr = |key: &str| {
            tag.find(key).map_or(String::new(), |i| {
                let v = tag[i + key.len()..].trim_start_matches(['"', '\'']);
                v.chars().take_while(|c| !matches!(c, '"' | '\'' | '>') && !c.is_ascii_digit()).collect()
            })
        };
        let (class, id) = (attr(" class="), attr(" id="));
        if !class.is_empty() || !id.is_empty() {
            out.push(format!("{name}.{class}#{id}"));
        }
        if name == "style" {
            let css = &rest[tag.len().min(rest.len())..];
            let css = &css[..css.find("</style").unwrap_or(css.len())];
            out.extend(words_of(css).into_iter().map(|w| format!("css:{w}")));
        }
        if out.len() >= MAX_MARKUP_TOKENS {
            break;
        }
    }
    out
}

/// Visible text runs usable as a literal `contains` pattern on the raw body: between tags,
/// trimmed, no entity or digit, cut to [`MAX_PHRASE_BYTES`] at a space.
fn phrases(visible: &str, ascii_only: bool) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for line in visible.split(['\n', '\r', '\t']) {
        let run = line.trim();
        if run.len() < MIN_PHRASE_BYTES
            || run.contains('&')
            || run.contains("://")
            || run.chars().any(|c| c.is_numeric())
        {
            continue;
        }
        if ascii_only && !run.is_ascii() || !run.chars().any(char::is_alphabetic) {
            continue;
        }
        let mut run = cut(run, MAX_PHRASE_BYTES);
        if run.len() < line.trim().len() {
            run = run.rsplit_once(' ').map_or(run, |(head, _)| head).trim_end();
        }
        if run.len() >= MIN_PHRASE_BYTES && seen.insert(run.to_string()) {
            out.push(run.to_string());
            if out.len() == MAX_PHRASES {
                break;
            }
        }
    }
    out
}

/// At most `max` bytes of `s`, at a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The MinHash signature of a page: its word 3-shingles and its title (empty without either). Hand-written (not
/// `gaoya`): stored signatures must stay comparable across upgrades, so the hash family is
/// fixed here (FNV-1a, then a SplitMix64 finaliser per seed) rather than left to a crate's
/// `RandomState` or random generator, and it is a dozen lines.
pub fn signature(words: &[String], markup: &[String], title: &str) -> Vec<u32> {
    let mut shingles: Vec<u64> =
        words.windows(SHINGLE_WORDS.min(words.len().max(1))).map(|w| fnv(&w.join(" "))).collect();
    if !shingles.is_empty() || !title.is_empty() {
        shingles
            .extend(markup.windows(MARKUP_SHINGLE.min(markup.len().max(1))).map(|w| fnv(&format!("<{}", w.join(" ")))));
    }
    if !title.is_empty() {
        shingles.push(fnv(&format!("title:{title}")));
    }
    if shingles.is_empty() {
        return Vec::new();
    }
    (0..HASHES as u64)
        .map(|i| {
            let seed = mix(i.wrapping_add(0x5157_4b1d));
            shingles.iter().map(|&h| (mix(h ^ seed) >> 32) as u32).min().unwrap_or(u32::MAX)
        })
        .collect()
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The estimated Jaccard similarity of two signatures (share of equal minima).
pub fn similarity(a: &[u32], b: &[u32]) -> f64 {
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
    same as f64 / a.len().max(1) as f64
}

/// The normalised form of a pattern, as it must appear in a member's normalised text.
pub fn normalise_pattern(pattern: &str) -> String {
    words(&decode_entities(pattern)).join(" ")
}

/// Signature to and from its stored form (little-endian u32s).
pub fn signature_bytes(sig: &[u32]) -> Vec<u8> {
    sig.iter().flat_map(|h| h.to_le_bytes()).collect()
}

pub fn signature_from_bytes(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_drops_markup_scripts_digits_and_urls() {
        let body = MaybeBinary::from(
            "<html><head><title>Blocked</title><style>p{x:1}</style><script>var t=1;</script></head>\
             <body><!-- id 42 --><h1>Access Denied</h1><p>Access to this site is DENIED&nbsp;by order &#8470; 1234.</p>\
             <a href='http://x'>http://gov.example/appeal</a> ref a8f3e91</body></html>",
        );
        let p = page("example.org".into(), &body, "text/html", "Blocked");
        assert_eq!(p.text, "blocked access denied access to this site is denied by order ref");
        // Runs with an entity, a digit or a URL cannot be matched literally: left out.
        assert_eq!(p.phrases, vec!["Access Denied".to_string()]);
        assert_eq!(p.signature.len(), HASHES);
    }

    #[test]
    fn a_declared_charset_decodes_and_phrases_stay_ascii_for_binary_bodies() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode("<p>Доступ ограничен</p><p>Access restricted by law</p>");
        let body = MaybeBinary::from_bytes(bytes.into_owned());
        assert!(matches!(body, MaybeBinary::Binary(_)));
        let p = page(String::new(), &body, "text/html; charset=windows-1251", "");
        assert_eq!(p.text, "доступ ограничен access restricted by law");
        assert_eq!(p.phrases, vec!["Access restricted by law".to_string()]);
    }

    #[test]
    fn only_unexplained_http_diff_web_measurements_are_candidates() {
        let m = |blocking: &str, fps: &str| {
            format!(
                r#"{{"input":"https://news.example/a","test_keys":{{"blocking":{blocking},"x_fingerprints":{fps},
                "requests":[{{"response":{{"body":"<p>Site blocked by the regulator</p>","headers":{{}},"title":"Blocked"}}}}]}}}}"#
            )
        };
        let p = candidate("vigil_web_connectivity", &m(r#""http-diff""#, "[]")).expect("a candidate");
        assert_eq!(p.domain, "news.example");
        assert_eq!(p.title, "Blocked");
        assert_eq!(p.phrases, vec!["Site blocked by the regulator".to_string()]);
        assert!(candidate("vigil_web_connectivity", &m(r#""http-diff""#, r#"["ooni.x"]"#)).is_none());
        assert!(candidate("vigil_web_connectivity", &m(r#""dns""#, "[]")).is_none());
        assert!(candidate("vigil_platform", &m(r#""http-diff""#, "[]")).is_none());
    }

    #[test]
    fn near_duplicates_sign_alike_and_different_pages_do_not() {
        let sig = |s: &str| page(String::new(), &MaybeBinary::from(s), "", "").signature;
        let a = sig("<p>This website has been blocked in accordance with the law on information. Request 1111</p>");
        let b = sig("<p>This website has been blocked in accordance with the law on information. Request 2222</p>");
        let c = sig("<p>Welcome to our shop: fresh bread, cakes and coffee every morning of the week</p>");
        assert_eq!(similarity(&a, &b), 1.0);
        assert!(similarity(&a, &c) < 0.1);
        assert_eq!(signature_from_bytes(&signature_bytes(&a)), a);
    }
}
