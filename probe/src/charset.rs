//! A page's text in the charset it declares (a byte-order mark, the `Content-Type` header's
//! `charset`, else a `<meta>` in its first 1024 bytes), so fingerprints written in Unicode match a
//! windows-1251 or KOI8-R blockpage. UTF-8, UTF-16 and the single-byte charsets (tables generated
//! from encoding_rs by build.rs, 256 bytes each) are decoded in full. The multi-byte legacy
//! charsets (GBK, Big5, EUC-KR, Shift_JIS, EUC-JP) are decoded only as far as the characters the
//! shipped HTTP fingerprints are written with (build.rs keeps their codes, a few KB), every other
//! character read as U+FFFD: enough to match a GBK blockpage's Chinese row, while encoding_rs's full
//! tables would cost a router build more than its remaining size budget (docs/firmware.md).

use std::borrow::Cow;

/// A multi-byte charset's (two-byte code, UTF-16 unit) pairs, sorted by code.
type Codes = &'static [([u8; 2], u16)];

include!(concat!(env!("OUT_DIR"), "/charsets.rs"));

/// How far into the page a `<meta charset>` is looked for (the HTML standard's prescan).
const PRESCAN: usize = 1024;

/// `body` as text: decoded by its byte-order mark, the `Content-Type` header's charset or its
/// `<meta>` declaration, in that order; UTF-8 (invalid bytes replaced) otherwise.
pub fn decode<'a>(body: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    match body {
        [0xEF, 0xBB, 0xBF, rest @ ..] => return String::from_utf8_lossy(rest),
        [0xFF, 0xFE, rest @ ..] => return Cow::Owned(utf16(rest, u16::from_le_bytes)),
        [0xFE, 0xFF, rest @ ..] => return Cow::Owned(utf16(rest, u16::from_be_bytes)),
        _ => {}
    }
    let label = content_type.and_then(charset_param).or_else(|| meta_charset(body));
    match label.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("utf-16le" | "utf-16") => Cow::Owned(utf16(body, u16::from_le_bytes)),
        Some("utf-16be") => Cow::Owned(utf16(body, u16::from_be_bytes)),
        Some(_) if body.is_ascii() => String::from_utf8_lossy(body),
        Some(label) => match single_byte(label) {
            Some(table) => Cow::Owned(
                body.iter()
                    .map(|&b| match b {
                        0..0x80 => char::from(b),
                        _ => char::from_u32(u32::from(table[usize::from(b - 0x80)]))
                            .unwrap_or(char::REPLACEMENT_CHARACTER),
                    })
                    .collect(),
            ),
            None => match multi_byte(label) {
                Some((name, codes)) => Cow::Owned(decode_multi_byte(body, name, codes)),
                None => String::from_utf8_lossy(body),
            },
        },
        None => String::from_utf8_lossy(body),
    }
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
}

fn single_byte(label: &str) -> Option<&'static [u16; 128]> {
    SINGLE_BYTE.iter().find(|(_, labels, _)| labels.contains(&label)).map(|(_, _, table)| table)
}

fn multi_byte(label: &str) -> Option<(&'static str, Codes)> {
    MULTI_BYTE.iter().find(|(_, labels, _)| labels.contains(&label)).map(|(name, _, codes)| (*name, *codes))
}

/// A multi-byte legacy page: ASCII as is, each two-byte code found in `codes`, U+FFFD for the
/// rest, keeping to the charset's byte structure so the text after a character stays aligned.
fn decode_multi_byte(body: &[u8], name: &str, codes: Codes) -> String {
    let mut out = String::with_capacity(body.len());
    let mut i = 0;
    while let Some(&lead) = body.get(i) {
        if lead < 0x80 {
            out.push(char::from(lead));
            i += 1;
            continue;
        }
        let next = body.get(i + 1).copied();
        let width = match (name, lead, next) {
            // A trail byte is never below 0x40: the lead stands alone and the next byte is read anew.
            (_, _, None) => 1,
            (_, _, Some(trail)) if trail < 0x40 && name != "GBK" => 1,
            ("GBK", _, Some(0x30..=0x39)) => 4,
            ("Shift_JIS", 0xA1..=0xDF, _) => 1,
            ("EUC-JP", 0x8F, _) => 3,
            (_, 0x80 | 0xFF, _) => 1,
            (_, _, Some(trail)) if trail < 0x40 => 1,
            _ => 2,
        };
        let pair = body.get(i..i + 2).filter(|_| width == 2).map(|p| [p[0], p[1]]);
        let found = pair.and_then(|p| codes.binary_search_by_key(&p, |(code, _)| *code).ok());
        let c = found.and_then(|k| char::from_u32(u32::from(codes[k].1)));
        out.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
        i += width;
    }
    out
}

/// `charset=...` of a `Content-Type` value (quotes and spaces removed).
fn charset_param(value: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|param| {
        let (name, v) = param.split_once('=')?;
        name.trim().eq_ignore_ascii_case("charset").then(|| v.trim().trim_matches(['"', '\'']).trim().to_string())
    })
}

/// The charset a `<meta charset=...>` or `<meta http-equiv=Content-Type content="...; charset=...">`
/// in the first 1024 bytes declares.
fn meta_charset(body: &[u8]) -> Option<String> {
    let head = body[..body.len().min(PRESCAN)].to_ascii_lowercase();
    let mut rest = head.as_slice();
    while let Some(at) = find(rest, b"<meta") {
        let tag = &rest[at..];
        let end = tag.iter().position(|&b| b == b'>').unwrap_or(tag.len());
        if let Some(cs) = find(&tag[..end], b"charset") {
            let value = tag[cs + 7..end]
                .iter()
                .skip_while(|b| b.is_ascii_whitespace() || **b == b'=' || **b == b'"' || **b == b'\'');
            let label: String = value
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'))
                .map(|&b| char::from(b))
                .collect();
            if !label.is_empty() {
                return Some(label);
            }
        }
        rest = &tag[end.min(tag.len())..];
        if rest.len() == tag.len() {
            break;
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_charset_decodes_windows_1251() {
        // "Доступ" in windows-1251.
        let body = b"<p>\xc4\xee\xf1\xf2\xf3\xef</p>";
        assert_eq!(decode(body, Some("text/html; charset=windows-1251")), "<p>Доступ</p>");
        assert_eq!(decode(body, Some("text/html; charset=\"CP1251\"")), "<p>Доступ</p>");
        // Without a declaration the bytes are not UTF-8: replaced, as before.
        assert!(decode(body, None).contains('\u{fffd}'));
    }

    #[test]
    fn meta_charset_decodes_koi8_r_when_the_header_names_none() {
        // "Доступ" in KOI8-R.
        let body = b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=koi8-r\"></head>\xe4\xcf\xd3\xd4\xd5\xd0";
        assert!(decode(body, Some("text/html")).ends_with("Доступ"));
        let body = b"<meta charset='KOI8-R'>\xe4\xcf\xd3\xd4\xd5\xd0";
        assert!(decode(body, None).ends_with("Доступ"));
    }

    #[test]
    fn the_header_wins_over_meta_and_a_bom_over_both() {
        let body = b"<meta charset=koi8-r>\xc4\xee\xf1\xf2\xf3\xef";
        assert!(decode(body, Some("text/html; charset=windows-1251")).ends_with("Доступ"));
        let utf16: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("Доступ".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(decode(&utf16, Some("text/html; charset=windows-1251")), "Доступ");
        assert_eq!(decode("\u{feff}Доступ".as_bytes(), None), "Доступ");
    }

    #[test]
    fn whatwg_aliases_and_unknown_labels() {
        // latin1 is windows-1252 on the web: 0x80 is the euro sign.
        assert_eq!(decode(b"\x80", Some("text/html; charset=iso-8859-1")), "€");
        // TIS-620 is windows-874; Thai "ก" is 0xA1.
        assert_eq!(decode(b"\xa1", Some("text/html; charset=TIS-620")), "ก");
        // Unknown labels stay UTF-8 (lossy).
        assert_eq!(decode("é".as_bytes(), Some("text/html; charset=x-nonsense")), "é");
    }

    /// The multi-byte charsets decode the characters fingerprints are written with: 屏蔽 ("blocked",
    /// cp.e_unk_china_web_blocked) in GBK, 不當 (cp.e_unk_org_tw_1_satellite) in Big5, 청소년
    /// (ooni.kr_5) in EUC-KR; other characters become U+FFFD without eating the ASCII after them.
    #[test]
    fn multi_byte_pages_decode_the_fingerprints_characters() {
        let gbk = b"<p>\xc6\xc1\xb1\xce</p>";
        assert_eq!(decode(gbk, Some("text/html; charset=GBK")), "<p>屏蔽</p>");
        assert_eq!(decode(gbk, Some("text/html; charset=gb2312")), "<p>屏蔽</p>");
        let big5 = b"<title>\xa4\xa3\xb7\xed</title>";
        assert_eq!(decode(big5, Some("text/html; charset=big5")), "<title>不當</title>");
        let euc_kr = b"<meta charset=euc-kr><title>\xc3\xbb\xbc\xd2\xb3\xe2</title>";
        assert!(decode(euc_kr, None).ends_with("<title>청소년</title>"));
        // 鳥 ("bird") is in no fingerprint; a lone lead byte before '<' does not swallow it.
        assert_eq!(decode(b"\xc4\xf1<b>\xc4<i>", Some("text/html; charset=gbk")), "\u{fffd}<b>\u{fffd}<i>");
        // Shift_JIS half-width katakana are one byte.
        assert_eq!(decode(b"\xb1a", Some("text/html; charset=shift_jis")), "\u{fffd}a");
    }
}
