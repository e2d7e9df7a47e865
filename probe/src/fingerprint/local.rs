//! Local fingerprints: blockpage rows an operator promoted on the collector, received in the
//! signed probe configuration. Each row is checked here (no regular expressions, bounded sizes,
//! a `local.` name) before it joins the built-in set; a bad row is refused alone.

use std::fmt;

use vigil_report::protocol::LocalFingerprint;

use super::{Fingerprint, Fingerprints, FpScope, Literal, Location, PatternType};

/// At most this many local rows are used; the rest are refused.
pub const MAX_LOCAL_ROWS: usize = 1000;
/// Longest pattern, in bytes.
pub const MAX_PATTERN_BYTES: usize = 4096;
/// Shortest `contains` pattern on a body, in bytes: a shorter one occurs in ordinary pages.
pub const MIN_BODY_CONTAINS_BYTES: usize = 8;
/// Longest name (`local.` included) and header name.
pub const MAX_NAME_BYTES: usize = 64;
/// At most this many countries per row.
pub const MAX_COUNTRIES: usize = 250;
/// OONI's confidence for a local row: an operator confirmed the cluster it comes from.
const LOCAL_CONFIDENCE: u8 = 8;

/// A local row that was refused: which one, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalError {
    /// The row's position in the statement (0-based).
    pub index: usize,
    pub name: String,
    pub field: &'static str,
    /// The refused value, shortened for the log.
    pub value: String,
    pub reason: String,
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "local fingerprint #{} ({:?}) refused: {}", self.index, shorten(&self.name), self.field)?;
        if !self.value.is_empty() {
            write!(f, " {:?}", self.value)?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl LocalError {
    /// A row that is not a `LocalFingerprint` at all (a field missing or unknown, a wrong type).
    pub fn unreadable(index: usize, name: String, reason: String) -> LocalError {
        LocalError { index, name: shorten(&name), field: "row", value: String::new(), reason: shorten(&reason) }
    }
}

/// At most 60 characters of `s`, for a log line.
fn shorten(s: &str) -> String {
    const KEEP: usize = 60;
    match s.char_indices().nth(KEEP) {
        Some((end, _)) => format!("{}...", &s[..end]),
        None => s.to_string(),
    }
}

/// The built-in fingerprints and the local rows received from the collector, matched together.
#[derive(Debug)]
pub struct FingerprintSet {
    builtin: &'static Fingerprints,
    local: Fingerprints,
}

impl FingerprintSet {
    /// The built-in fingerprints alone.
    pub fn builtin() -> FingerprintSet {
        FingerprintSet { builtin: Fingerprints::builtin(), local: Fingerprints::default() }
    }

    /// Both sets, built-in first.
    pub fn sets(&self) -> [&Fingerprints; 2] {
        [self.builtin, &self.local]
    }

    /// The local rows that were kept.
    pub fn local(&self) -> &[Fingerprint] {
        self.local.all()
    }
}

impl Fingerprints {
    /// The built-in fingerprints plus the valid rows of `rows` (at most [`MAX_LOCAL_ROWS`]); the
    /// refused ones come back, each naming its row and field.
    pub fn with_local(rows: &[LocalFingerprint]) -> (FingerprintSet, Vec<LocalError>) {
        let (local, errors) = Fingerprints::local(rows);
        (FingerprintSet { builtin: Fingerprints::builtin(), local }, errors)
    }

    /// The valid rows of `rows` alone.
    pub fn local(rows: &[LocalFingerprint]) -> (Fingerprints, Vec<LocalError>) {
        let mut fps = Fingerprints::default();
        let mut contains = Vec::new();
        let mut errors = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            if index >= MAX_LOCAL_ROWS {
                errors.push(LocalError {
                    index,
                    name: row.name.clone(),
                    field: "fingerprints",
                    value: format!("{} rows", rows.len()),
                    reason: format!("more than {MAX_LOCAL_ROWS} rows: this one and the following are not used"),
                });
                break;
            }
            if fps.all.iter().any(|f| f.name == row.name) {
                errors.push(error(index, row, "name", &row.name, "used by an earlier row".into()));
                continue;
            }
            let (location, kind) = match check(row) {
                Ok(checked) => checked,
                Err((field, value, reason)) => {
                    errors.push(error(index, row, field, value, reason));
                    continue;
                }
            };
            fps.all.push(Fingerprint {
                name: row.name.clone(),
                scope: FpScope::Local,
                confidence: LOCAL_CONFIDENCE,
                location: location.clone(),
                countries: row.expected_countries.clone(),
            });
            let fp = fps.all.len() - 1;
            let rule = Literal { fp, kind, pattern: row.pattern.clone() };
            match location {
                Location::Header(name) => fps.headers.entry(name).or_default().push(rule),
                _ if kind == PatternType::Contains => contains.push((fp, rule.pattern)),
                _ => fps.body_other.push(rule),
            }
        }
        fps.body_contains = super::ContainsSet::new(contains);
        (fps, errors)
    }
}

fn error(index: usize, row: &LocalFingerprint, field: &'static str, value: &str, reason: String) -> LocalError {
    LocalError { index, name: row.name.clone(), field, value: shorten(value), reason }
}

type Refusal<'a> = (&'static str, &'a str, String);

/// The row's location and pattern type, or the field at fault.
fn check(row: &LocalFingerprint) -> Result<(Location, PatternType), Refusal<'_>> {
    let name_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    match row.name.strip_prefix("local.") {
        None => return Err(("name", &row.name, "must start with \"local.\"".into())),
        Some("") => return Err(("name", &row.name, "nothing after \"local.\"".into())),
        Some(_) if row.name.len() > MAX_NAME_BYTES => {
            return Err(("name", &row.name, format!("longer than {MAX_NAME_BYTES} bytes")));
        }
        Some(_) if !row.name.chars().all(name_chars) => {
            return Err(("name", &row.name, "only ASCII letters, digits, '.', '_' and '-'".into()));
        }
        Some(_) => {}
    }
    let header_chars = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_');
    let location = match row.location_found.as_str() {
        "body" => Location::Body,
        other => match other.strip_prefix("header.") {
            Some(h) if !h.is_empty() && h.len() <= MAX_NAME_BYTES && h.chars().all(header_chars) => {
                Location::Header(h.to_string())
            }
            _ => {
                let reason = "expected body or header.<name> (lowercase letters, digits, '-', '_')";
                return Err(("location_found", other, reason.into()));
            }
        },
    };
    let kind = match row.pattern_type.as_str() {
        "contains" => PatternType::Contains,
        "prefix" => PatternType::Prefix,
        "full" => PatternType::Full,
        other => {
            return Err((
                "pattern_type",
                other,
                "expected contains, prefix or full (no regexp from the network)".into(),
            ));
        }
    };
    let pattern = row.pattern.as_str();
    if pattern.is_empty() {
        return Err(("pattern", pattern, "empty".into()));
    }
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(("pattern", pattern, format!("longer than {MAX_PATTERN_BYTES} bytes")));
    }
    if location == Location::Body && kind == PatternType::Contains && pattern.len() < MIN_BODY_CONTAINS_BYTES {
        let reason = format!("a body pattern shorter than {MIN_BODY_CONTAINS_BYTES} bytes matches ordinary pages");
        return Err(("pattern", pattern, reason));
    }
    if row.expected_countries.len() > MAX_COUNTRIES {
        let reason = format!("more than {MAX_COUNTRIES} countries");
        return Err(("expected_countries", "", reason));
    }
    if let Some(bad) =
        row.expected_countries.iter().find(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Err(("expected_countries", bad, "expected two uppercase letters (ISO 3166)".into()));
    }
    Ok((location, kind))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    pub(crate) fn row(name: &str, location: &str, kind: &str, pattern: &str, countries: &[&str]) -> LocalFingerprint {
        LocalFingerprint {
            name: name.into(),
            location_found: location.into(),
            pattern_type: kind.into(),
            pattern: pattern.into(),
            expected_countries: countries.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn good() -> LocalFingerprint {
        row("local.c42", "body", "contains", "Sahifa mavjud emas", &["UZ"])
    }

    /// The one refusal of a statement holding `bad` between two good rows.
    fn refusal(bad: LocalFingerprint) -> LocalError {
        let rows = [good(), bad, row("local.c43", "header.server", "full", "Filter/1.0", &[])];
        let (fps, errors) = Fingerprints::local(&rows);
        let kept: Vec<&str> = fps.all().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(kept, ["local.c42", "local.c43"], "the good rows are kept");
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.into_iter().next().unwrap()
    }

    #[test]
    fn each_bad_field_is_refused_alone_and_named() {
        let cases = [
            (row("ooni.uz_1", "body", "contains", "Sahifa mavjud emas", &[]), "name", "local."),
            (row("local.", "body", "contains", "Sahifa mavjud emas", &[]), "name", "nothing after"),
            (row(&format!("local.{}", "x".repeat(60)), "body", "contains", "Sahifa mavjud", &[]), "name", "longer"),
            (row("local.a b", "body", "contains", "Sahifa mavjud emas", &[]), "name", "only ASCII"),
            (row("local.c42", "body", "contains", "Sahifa mavjud emas", &[]), "name", "earlier row"),
            (row("local.x", "dns", "full", "10.10.34.34", &[]), "location_found", "expected body"),
            (row("local.x", "header.Server", "full", "Filter", &[]), "location_found", "lowercase"),
            (row("local.x", "header.", "full", "Filter", &[]), "location_found", "expected body"),
            (row("local.x", "body", "regexp", "Sahifa.*emas", &[]), "pattern_type", "no regexp"),
            (row("local.x", "body", "contains", "", &[]), "pattern", "empty"),
            (row("local.x", "body", "contains", &"a".repeat(4097), &[]), "pattern", "longer than 4096"),
            (row("local.x", "body", "contains", "html", &[]), "pattern", "ordinary pages"),
            (row("local.x", "body", "contains", "Sahifa mavjud emas", &["uz"]), "expected_countries", "uppercase"),
            (row("local.x", "body", "contains", "Sahifa mavjud emas", &["UZB"]), "expected_countries", "two"),
        ];
        for (bad, field, reason) in cases {
            let e = refusal(bad.clone());
            assert_eq!((e.index, e.field), (1, field), "{bad:?}: {e}");
            assert!(e.reason.contains(reason), "{bad:?}: {e}");
            let line = e.to_string();
            assert!(line.starts_with("local fingerprint #1 ("), "{line}");
            assert!(line.contains(field), "{line}");
        }
    }

    #[test]
    fn a_long_refused_value_is_shortened_in_the_log() {
        let e = refusal(row("local.x", "body", "contains", &"é".repeat(5000), &[]));
        assert!(e.to_string().len() < 300, "{e}");
        assert!(e.value.ends_with("..."));
    }

    #[test]
    fn rows_beyond_the_limit_are_refused_once() {
        let rows: Vec<LocalFingerprint> = (0..MAX_LOCAL_ROWS + 5)
            .map(|i| row(&format!("local.c{i}"), "body", "contains", &format!("blocked page number {i}!"), &["UZ"]))
            .collect();
        let (fps, errors) = Fingerprints::local(&rows);
        assert_eq!(fps.all().len(), MAX_LOCAL_ROWS);
        assert_eq!(errors.len(), 1, "one line, not one per row");
        assert_eq!((errors[0].index, errors[0].field), (MAX_LOCAL_ROWS, "fingerprints"));
    }

    fn http<'a>(fps: &'a Fingerprints, body: &str, headers: &[(&str, &str)], cc: &str) -> Vec<(&'a str, bool)> {
        let headers: BTreeMap<String, String> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        fps.match_http(body, &headers, cc).into_iter().map(|m| (m.fingerprint.name.as_str(), m.confirmed)).collect()
    }

    #[test]
    fn local_rows_match_by_location_and_type_and_confirm_only_in_their_countries() {
        let rows = [
            good(),
            row("local.p", "body", "prefix", "<html><!-- filter", &["UZ", "TJ"]),
            row("local.f", "body", "full", "blocked", &["UZ"]),
            row("local.h", "header.x-filter", "prefix", "deny", &["UZ"]),
        ];
        let (fps, errors) = Fingerprints::local(&rows);
        assert!(errors.is_empty(), "{errors:?}");
        let page = "<html><body>Sahifa mavjud emas</body></html>";
        assert_eq!(http(&fps, page, &[], "UZ"), [("local.c42", true)]);
        assert_eq!(http(&fps, page, &[], "KZ"), [("local.c42", false)], "elsewhere it matches without confirming");
        assert_eq!(http(&fps, "<html><!-- filter v2 -->", &[], "TJ"), [("local.p", true)]);
        assert_eq!(http(&fps, "x <html><!-- filter", &[], "TJ"), [], "a prefix is a prefix");
        assert_eq!(http(&fps, "blocked", &[], "UZ"), [("local.f", true)]);
        assert_eq!(http(&fps, "blocked!", &[], "UZ"), []);
        assert_eq!(http(&fps, "", &[("X-Filter", "deny all")], "UZ"), [("local.h", true)]);
        assert_eq!(http(&fps, "Sahifa mavjud", &[("Server", "deny")], "UZ"), []);
        let local = &fps.all()[0];
        assert!(local.confirms_with_control_difference(), "a local row confirms anywhere with a control difference");
        assert_eq!(local.scope.as_str(), "local");
    }

    #[test]
    fn the_set_keeps_the_builtin_rows_and_adds_the_local_ones() {
        let (set, errors) = Fingerprints::with_local(&[good()]);
        assert!(errors.is_empty());
        let [builtin, local] = set.sets();
        assert!(std::ptr::eq(builtin, Fingerprints::builtin()));
        assert_eq!(local.all().len(), 1);
        assert_eq!(set.local()[0].name, "local.c42");
        assert!(FingerprintSet::builtin().local().is_empty());
    }
}
