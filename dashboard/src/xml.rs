//! Text made safe for XML 1.0 (the Atom feed, SVG charts, the dashboard's inline SVG): the one
//! place that decides what a client-supplied string becomes in XML output.
//!
//! XML 1.0 cannot carry C0 control characters other than TAB, LF and CR, nor U+FFFE and U+FFFF
//! (not even as character references); such a character is replaced by U+FFFD (the replacement
//! character), so that a reader sees that something was there and two names that differ only by
//! it do not read the same. Lone surrogates cannot occur in a Rust string.

use std::borrow::Cow;

/// Whether XML 1.0 allows `c` in a document (production `Char`).
pub fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `s` with every character XML 1.0 does not allow replaced by U+FFFD; nothing else is changed
/// (for templates that escape markup themselves, such as maud).
pub fn clean(s: &str) -> Cow<'_, str> {
    if s.chars().all(allowed) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().map(|c| if allowed(c) { c } else { '\u{FFFD}' }).collect())
    }
}

/// `s` escaped for XML text and attribute values (`& < > " '`), with every character XML 1.0
/// does not allow replaced by U+FFFD.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if allowed(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped_and_forbidden_characters_are_replaced() {
        assert_eq!(text("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
        assert_eq!(text("ctl\u{1}\u{b}plat"), "ctl\u{FFFD}\u{FFFD}plat");
        assert_eq!(text("\u{0}x\u{1f}\u{fffe}\u{ffff}"), "\u{FFFD}x\u{FFFD}\u{FFFD}\u{FFFD}");
        // TAB LF CR, DEL and C1 controls, and characters beyond the BMP are allowed.
        assert_eq!(text("a\tb\nc\rd\u{7f}\u{85}😀é"), "a\tb\nc\rd\u{7f}\u{85}😀é");
        assert_eq!(clean("ok <b>"), Cow::Borrowed("ok <b>"));
        assert_eq!(clean("x\u{8}y<"), "x\u{FFFD}y<");
    }

    #[test]
    fn every_character_that_comes_out_is_allowed() {
        let all: String = (0u32..0x11_0000).filter_map(char::from_u32).collect();
        assert!(text(&all).chars().all(allowed));
        assert!(clean(&all).chars().all(allowed));
    }
}
