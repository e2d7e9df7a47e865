//! A page's text in the charset it declares (a byte-order mark, the `Content-Type` header's
//! `charset`, else a `<meta>` in its first 1024 bytes), so fingerprints written in Unicode match a
//! windows-1251 or KOI8-R blockpage. UTF-8, UTF-16 and the single-byte charsets (tables generated
//! from encoding_rs by build.rs, 256 bytes each) are decoded; multi-byte legacy charsets
//! (GBK, Big5, EUC-KR, Shift_JIS, EUC-JP) are read as UTF-8 like before, since their tables would
//! cost a router build more than its remaining size budget (docs/firmware.md); their blockpages
//! still match on their ASCII (links, titles, trackers).

use std::borrow::Cow;

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
        Some(label) => match single_byte(label) {
            Some(table) if !body.is_ascii() => Cow::Owned(
                body.iter()
                    .map(|&b| match b {
                        0..0x80 => char::from(b),
                        _ => char::from_u32(u32::from(table[usize::from(b - 0x80)]))
                            .unwrap_or(char::REPLACEMENT_CHARACTER),
                    })
                    .collect(),
            ),
            _ => String::from_utf8_lossy(body),
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
        // Multi-byte legacy charsets and unknown labels stay UTF-8 (lossy).
        assert_eq!(decode("é".as_bytes(), Some("text/html; charset=gbk")), "é");
        assert_eq!(decode("é".as_bytes(), Some("text/html; charset=x-nonsense")), "é");
    }
}
