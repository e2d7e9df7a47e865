//! OONI's HTTP comparisons between the probe's response and the control's: body proportion,
//! uncommon headers and title words.

use std::collections::{BTreeMap, BTreeSet};

/// Header names so common that sharing them says nothing (OONI's list).
const COMMON_HEADERS: &[&str] = &[
    "date",
    "content-type",
    "server",
    "cache-control",
    "vary",
    "set-cookie",
    "location",
    "expires",
    "x-powered-by",
    "content-encoding",
    "last-modified",
    "accept-ranges",
    "pragma",
    "x-frame-options",
    "etag",
    "x-content-type-options",
    "age",
    "via",
    "p3p",
    "x-xss-protection",
    "content-language",
    "cf-ray",
    "strict-transport-security",
    "link",
    "x-varnish",
    "content-length",
    "connection",
    "transfer-encoding",
    "keep-alive",
    "alt-svc",
];

/// min(len) / max(len); 1.0 when both are empty.
pub fn body_proportion(a: u64, b: u64) -> f64 {
    let (lo, hi) = (a.min(b), a.max(b));
    if hi == 0 { 1.0 } else { lo as f64 / hi as f64 }
}

fn uncommon(headers: &BTreeMap<String, String>) -> BTreeSet<String> {
    headers.keys().map(|k| k.to_ascii_lowercase()).filter(|k| !COMMON_HEADERS.contains(&k.as_str())).collect()
}

/// Headers match when the two responses carry the same header names (case aside), or share at
/// least one uncommon header name (OONI's `HTTPHeadersMatch`).
pub fn headers_match(probe: &BTreeMap<String, String>, control: &BTreeMap<String, String>) -> bool {
    let names = |h: &BTreeMap<String, String>| h.keys().map(|k| k.to_ascii_lowercase()).collect::<BTreeSet<_>>();
    names(probe) == names(control) || !uncommon(probe).is_disjoint(&uncommon(control))
}

fn long_words(title: &str) -> BTreeSet<String> {
    title.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() >= 5).map(str::to_lowercase).collect()
}

/// Titles match when no word of five or more letters is in only one of them; `None` when neither
/// title has such a word (nothing to compare).
pub fn title_match(probe: &str, control: &str) -> Option<bool> {
    let (a, b) = (long_words(probe), long_words(control));
    if a.is_empty() && b.is_empty() {
        return None;
    }
    Some(a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> BTreeMap<String, String> {
        names.iter().map(|n| (n.to_string(), "x".to_string())).collect()
    }

    #[test]
    fn proportion_is_symmetric_and_bounded() {
        assert_eq!(body_proportion(0, 0), 1.0);
        assert_eq!(body_proportion(50, 100), 0.5);
        assert_eq!(body_proportion(100, 50), 0.5);
        assert_eq!(body_proportion(0, 10), 0.0);
    }

    #[test]
    fn only_uncommon_headers_count() {
        assert!(!headers_match(&headers(&["Date", "Server"]), &headers(&["Date", "Server", "Vary"])));
        assert!(headers_match(&headers(&["Date", "X-FB-Debug"]), &headers(&["x-fb-debug"])));
        assert!(!headers_match(&headers(&["X-A"]), &headers(&["X-B"])));
    }

    /// OONI's rule before the uncommon ones: the same header names on both sides match, common or
    /// not (a large download: the same `Content-Type`, `Content-Length`, `Date`).
    #[test]
    fn the_same_header_names_match() {
        assert!(headers_match(&headers(&["Date", "Server"]), &headers(&["date", "server"])));
        assert!(headers_match(
            &headers(&["Content-Length", "Content-Type"]),
            &headers(&["content-type", "content-length"])
        ));
        assert!(!headers_match(&headers(&["Content-Length", "Content-Type"]), &headers(&["content-type"])));
    }

    #[test]
    fn titles_compare_long_words() {
        assert_eq!(title_match("Facebook - log in", "Facebook – Log In or Sign Up"), Some(true));
        assert_eq!(title_match("Access denied by order", "Facebook"), Some(false));
        assert_eq!(title_match("", ""), None);
        assert_eq!(title_match("Home", "Home"), None);
    }
}
