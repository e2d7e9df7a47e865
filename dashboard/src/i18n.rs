//! Translations: one TOML file per language in `dashboard/i18n/` (embedded in the binary), the
//! language chosen by `?lang=` or the `Accept-Language` header, and messages with `{name}`
//! placeholders. Adding a language is adding a file and a line to [`FILES`].

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::OnceLock;

use serde::Deserialize;

/// The embedded translation files: (code, text). English first: the fallback.
pub const FILES: &[(&str, &str)] = &[("en", include_str!("../i18n/en.toml")), ("ar", include_str!("../i18n/ar.toml"))];

/// Writing direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    Ltr,
    Rtl,
}

impl Dir {
    pub fn attr(self) -> &'static str {
        match self {
            Dir::Ltr => "ltr",
            Dir::Rtl => "rtl",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    name: String,
    dir: Dir,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    language: Meta,
    text: BTreeMap<String, String>,
}

/// One language: its code, own name, direction and messages.
#[derive(Debug)]
pub struct Lang {
    pub code: &'static str,
    pub name: String,
    pub dir: Dir,
    text: BTreeMap<String, String>,
}

/// A translation file that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("dashboard/i18n/{code}.toml: {message}")]
pub struct I18nError {
    pub code: String,
    pub message: String,
}

/// Parse one translation file.
pub fn parse(code: &'static str, text: &str) -> Result<Lang, I18nError> {
    let f: File = toml::from_str(text).map_err(|e| I18nError { code: code.into(), message: e.to_string() })?;
    Ok(Lang { code, name: f.language.name, dir: f.language.dir, text: f.text })
}

/// Every embedded language, parsed once (a file that does not parse is a bug the tests catch).
pub fn all() -> &'static [Lang] {
    static LANGS: OnceLock<Vec<Lang>> = OnceLock::new();
    LANGS.get_or_init(|| FILES.iter().map(|(code, text)| parse(code, text).unwrap_or_else(|e| panic!("{e}"))).collect())
}

/// A language by code (`ar`, `en-GB` → `en`); None if not translated.
pub fn by_code(code: &str) -> Option<&'static Lang> {
    let primary = code.split(['-', '_']).next().unwrap_or("").trim().to_ascii_lowercase();
    all().iter().find(|l| l.code == primary)
}

/// The language for a request: `?lang=` if translated (explicit: links keep it), else the best
/// of `Accept-Language` by quality, else English.
pub fn choose(query: Option<&str>, accept_language: Option<&str>) -> (&'static Lang, bool) {
    if let Some(l) = query.and_then(by_code) {
        return (l, true);
    }
    let mut best: Option<(f32, &'static Lang)> = None;
    for part in accept_language.unwrap_or("").split(',') {
        let mut it = part.split(';');
        let tag = it.next().unwrap_or("").trim();
        let q = it.find_map(|p| p.trim().strip_prefix("q=")).map_or(1.0, |q| q.trim().parse::<f32>().unwrap_or(0.0));
        if q <= 0.0 {
            continue;
        }
        if let Some(l) = by_code(tag)
            && best.is_none_or(|(bq, _)| q > bq)
        {
            best = Some((q, l));
        }
    }
    (best.map_or(&all()[0], |(_, l)| l), false)
}

impl Lang {
    /// The message `key` (English if this language lacks it; the key itself if none has it).
    pub fn t<'a>(&'a self, key: &'a str) -> &'a str {
        match self.text.get(key) {
            Some(s) => s,
            None => all()[0].text.get(key).map_or(key, String::as_str),
        }
    }

    /// The message `key` with its `{name}` placeholders filled.
    pub fn f(&self, key: &str, args: &[(&str, &dyn Display)]) -> String {
        let mut s = self.t(key).to_string();
        for (name, value) in args {
            s = s.replace(&format!("{{{name}}}"), &value.to_string());
        }
        s
    }

    /// The keys this language translates.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.text.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders(s: &str) -> Vec<&str> {
        let mut out: Vec<&str> = s.split('{').skip(1).filter_map(|p| p.split_once('}').map(|(n, _)| n)).collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn every_language_has_every_english_key_with_the_same_placeholders() {
        let en = &all()[0];
        assert_eq!(en.code, "en");
        for lang in &all()[1..] {
            for key in en.keys() {
                let theirs = lang.text.get(key).unwrap_or_else(|| panic!("{}.toml lacks {key}", lang.code));
                assert!(!theirs.trim().is_empty(), "{}.toml: {key} is empty", lang.code);
                assert_eq!(placeholders(en.t(key)), placeholders(theirs), "{}.toml: {key} placeholders", lang.code);
            }
            for key in lang.keys() {
                assert!(en.text.contains_key(key), "{}.toml has {key}, which en.toml lacks", lang.code);
            }
        }
    }

    #[test]
    fn the_language_comes_from_the_query_then_accept_language() {
        assert_eq!(choose(Some("ar"), Some("en")).0.code, "ar");
        assert!(choose(Some("ar"), None).1);
        assert_eq!(choose(Some("xx"), Some("ar-EG,en;q=0.5")).0.code, "ar");
        assert_eq!(choose(None, Some("fr, en;q=0.4, ar;q=0.8")).0.code, "ar");
        assert_eq!(choose(None, Some("ar;q=0, en-GB")).0.code, "en");
        assert_eq!(choose(None, Some("fr")).0.code, "en");
        let (l, explicit) = choose(None, None);
        assert_eq!((l.code, explicit), ("en", false));
        assert_eq!(by_code("ar").unwrap().dir, Dir::Rtl);
        assert_eq!(by_code("en").unwrap().dir, Dir::Ltr);
    }

    #[test]
    fn a_bad_file_is_an_error_naming_it_and_placeholders_are_filled() {
        let e = parse("xx", "[language]\nname = \"X\"\ndir = \"up\"\n[text]\n").unwrap_err();
        assert!(e.to_string().starts_with("dashboard/i18n/xx.toml"), "{e}");
        assert!(parse("xx", "[language]\nname = \"X\"\ndir = \"ltr\"\ncolour = 1\n[text]\n").is_err());
        let en = by_code("en").unwrap();
        assert_eq!(en.f("probes_n", &[("n", &3)]), "3 probes");
        assert_eq!(en.t("no_such_key"), "no_such_key");
    }
}
