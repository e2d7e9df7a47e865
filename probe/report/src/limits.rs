//! Bounds on the strings a probe sends that the collector stores or publishes: each field's
//! length and character set, the oldest accepted measurement time, and the built-in battery's
//! platform ids. Defined once here so the probe never writes what the collector refuses.

/// Oldest accepted measurement time: 2012-01-01T00:00:00Z (Unix seconds), before any probe data.
/// Measurements may arrive months late (spooled through a long shutdown), so the floor is a fixed
/// date, never "now minus a window". Query parameters (`since`, `from`, ...) use the same floor.
pub const FIRST_TIME: i64 = 1_325_376_000;
/// [`FIRST_TIME`] as RFC 3339, for messages.
pub const FIRST_TIME_TEXT: &str = "2012-01-01T00:00:00Z";

/// Longest platform id (`[a-z0-9_.-]`).
pub const MAX_PLATFORM_ID: usize = 32;
/// Longest `software_name`/`software_version`/`test_version`/`data_format_version`/`resolver_ip`
/// (printable ASCII).
pub const MAX_VERSION: usize = 64;
/// Longest `test_name` (`[a-z0-9_]`).
pub const MAX_TEST_NAME: usize = 64;
/// Longest `input` (no control characters).
pub const MAX_INPUT: usize = 2048;
/// Most `annotations`; longest annotation key (`[a-z0-9_.-]`) and value (no control characters).
pub const MAX_ANNOTATIONS: usize = 32;
pub const MAX_ANNOTATION_KEY: usize = 64;
pub const MAX_ANNOTATION_VALUE: usize = 256;

/// The platform ids of the probe's built-in battery (`probe/data/battery.toml`; a probe test
/// checks they are equal), and the id of the connectivity check a probe spools when offline.
pub const BUILTIN_PLATFORM_IDS: &[&str] = &[
    "facebook",
    "instagram",
    "whatsapp",
    "messenger",
    "x",
    "youtube",
    "tiktok",
    "telegram",
    "signal",
    "vk",
    "reddit",
    "linkedin",
    "bluesky",
    "example",
    "wikipedia",
];
/// `platform` of the connectivity check (all controls) spooled when a heartbeat fails.
pub const CONNECTIVITY_CHECK: &str = "controls";

/// A field that is out of bounds: `field` names it, `rule` says what it must be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} must be {rule}")]
pub struct BadField {
    pub field: &'static str,
    pub rule: String,
}

fn check(field: &'static str, ok: bool, rule: impl FnOnce() -> String) -> Result<(), BadField> {
    if ok { Ok(()) } else { Err(BadField { field, rule: rule() }) }
}

fn all(s: &str, min: usize, max: usize, byte: impl Fn(u8) -> bool) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(byte)
}

fn id_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
}

fn printable(b: u8) -> bool {
    (0x20..0x7f).contains(&b)
}

/// A platform id: `[a-z0-9_.-]{1,32}`.
pub fn platform_id(field: &'static str, s: &str) -> Result<(), BadField> {
    check(field, all(s, 1, MAX_PLATFORM_ID, id_byte), || format!("1 to {MAX_PLATFORM_ID} characters of [a-z0-9_.-]"))
}

/// A version or software name: printable ASCII, at most 64 characters (may be empty).
pub fn version(field: &'static str, s: &str) -> Result<(), BadField> {
    check(field, all(s, 0, MAX_VERSION, printable), || format!("at most {MAX_VERSION} printable ASCII characters"))
}

/// A test name: `[a-z0-9_]{1,64}`.
pub fn test_name(s: &str) -> Result<(), BadField> {
    let byte = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    check("test_name", all(s, 1, MAX_TEST_NAME, byte), || format!("1 to {MAX_TEST_NAME} characters of [a-z0-9_]"))
}

/// Text shown to readers: at most `max` bytes, no control characters.
pub fn text(field: &'static str, s: &str, max: usize) -> Result<(), BadField> {
    check(field, s.len() <= max && !s.chars().any(char::is_control), || {
        format!("at most {max} bytes without control characters")
    })
}

/// `probe_asn`: `AS` and up to 10 digits.
pub fn asn_label(s: &str) -> Result<(), BadField> {
    let ok = s.strip_prefix("AS").is_some_and(|n| all(n, 1, 10, |b| b.is_ascii_digit()));
    check("probe_asn", ok, || "AS followed by 1 to 10 digits".into())
}

/// `probe_cc`: two ASCII capital letters.
pub fn country(s: &str) -> Result<(), BadField> {
    check("probe_cc", all(s, 2, 2, |b| b.is_ascii_uppercase()), || "two capital letters (ZZ when unknown)".into())
}

/// The annotations: at most 32, keys `[a-z0-9_.-]{1,64}`, values text of at most 256 bytes.
pub fn annotations<'a>(pairs: impl ExactSizeIterator<Item = (&'a String, &'a String)>) -> Result<(), BadField> {
    check("annotations", pairs.len() <= MAX_ANNOTATIONS, || format!("at most {MAX_ANNOTATIONS} entries"))?;
    for (k, v) in pairs {
        check("annotations", all(k, 1, MAX_ANNOTATION_KEY, id_byte), || {
            format!("keyed by 1 to {MAX_ANNOTATION_KEY} characters of [a-z0-9_.-]")
        })?;
        text("annotations", v, MAX_ANNOTATION_VALUE)?;
    }
    Ok(())
}

/// The kind of a platform summary: `platform` or `control`.
pub fn platform_kind(s: &str) -> Result<(), BadField> {
    check("test_keys.kind", matches!(s, "platform" | "control"), || "\"platform\" or \"control\"".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_ids_are_short_lowercase_words() {
        for good in ["x", "telegram", "a.b-c_9", &"p".repeat(32)] {
            assert!(platform_id("platform", good).is_ok(), "{good}");
        }
        for bad in ["", "Telegram", "ctl\u{1}plat", "=cmd|' /C calc'!A0", "a b", &"p".repeat(33)] {
            let e = platform_id("test_keys.platform", bad).unwrap_err();
            assert_eq!(e.field, "test_keys.platform");
            assert!(e.to_string().starts_with("test_keys.platform must be 1 to 32"), "{e}");
        }
        for id in BUILTIN_PLATFORM_IDS.iter().chain([&CONNECTIVITY_CHECK]) {
            assert!(platform_id("platform", id).is_ok(), "{id}");
        }
    }

    #[test]
    fn versions_texts_and_labels() {
        assert!(version("software_version", "0.1.0").is_ok());
        assert!(version("software_version", "").is_ok());
        assert!(version("software_version", &"1".repeat(65)).is_err());
        assert!(version("software_version", "1\n2").is_err());
        assert!(version("software_version", "é").is_err());
        assert!(test_name("vigil_platform").is_ok());
        assert!(test_name("Vigil").is_err() && test_name("").is_err());
        assert!(text("input", "https://example.com/é", MAX_INPUT).is_ok());
        assert!(text("input", "a\u{7}", MAX_INPUT).is_err());
        assert!(asn_label("AS0").is_ok() && asn_label("AS64500").is_ok());
        assert!(asn_label("64500").is_err() && asn_label("AS").is_err() && asn_label("AS12345678901").is_err());
        assert!(country("ZZ").is_ok() && country("zz").is_err() && country("ZZZ").is_err());
        assert!(platform_kind("control").is_ok() && platform_kind("other").is_err());
    }
}
