//! Translations: one TOML file per language in `dashboard/i18n/` (embedded in the binary), the
//! language chosen by `?lang=` or the `Accept-Language` header, and messages with `{name}`
//! placeholders; a message that counts is a table of plural forms (`one`, `two`, `few`, `many`,
//! `other`, chosen by the language's `plural` rule). Adding a language is adding a file and a
//! line to [`FILES`].

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

/// How a language chooses a plural form for a count (CLDR's cardinal rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Plural {
    /// `one` for 1, else `other` (English, German, Spanish, Persian ...).
    OneOther,
    /// `zero`, `one`, `two`, `few` (3–10), `many` (11–99, by the last two digits), `other`.
    Arabic,
    /// Always `other` (Chinese, Turkish, Indonesian ...).
    None,
}

impl Plural {
    /// The form for `n`.
    pub fn category(self, n: u64) -> &'static str {
        match self {
            Plural::OneOther if n == 1 => "one",
            Plural::OneOther | Plural::None => "other",
            Plural::Arabic => match (n, n % 100) {
                (0, _) => "zero",
                (1, _) => "one",
                (2, _) => "two",
                (_, 3..=10) => "few",
                (_, 11..=99) => "many",
                _ => "other",
            },
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    name: String,
    dir: Dir,
    plural: Plural,
}

/// A message: text, or plural forms by category (`other` required).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Msg {
    Text(String),
    Forms(BTreeMap<String, String>),
}

impl Msg {
    fn other(&self) -> &str {
        match self {
            Msg::Text(s) => s,
            Msg::Forms(f) => f.get("other").map_or("", String::as_str),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    language: Meta,
    text: BTreeMap<String, Msg>,
}

/// One language: its code, own name, direction, plural rule and messages.
#[derive(Debug)]
pub struct Lang {
    pub code: &'static str,
    pub name: String,
    pub dir: Dir,
    pub plural: Plural,
    text: BTreeMap<String, Msg>,
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
    let err = |message: String| I18nError { code: code.into(), message };
    let f: File = toml::from_str(text).map_err(|e| err(e.to_string()))?;
    for (key, msg) in &f.text {
        if let Msg::Forms(forms) = msg {
            if !forms.contains_key("other") {
                return Err(err(format!("{key}: plural forms need `other`")));
            }
            if let Some(bad) =
                forms.keys().find(|k| !["zero", "one", "two", "few", "many", "other"].contains(&k.as_str()))
            {
                return Err(err(format!("{key}: unknown plural form {bad:?}")));
            }
        }
    }
    Ok(Lang { code, name: f.language.name, dir: f.language.dir, plural: f.language.plural, text: f.text })
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
            Some(m) => m.other(),
            None => all()[0].text.get(key).map_or(key, Msg::other),
        }
    }

    /// The message `key` for the count `n` (its plural form), with `{n}` filled.
    pub fn n(&self, key: &str, n: impl TryInto<u64> + Copy + Display) -> String {
        let count = n.try_into().unwrap_or(u64::MAX);
        let (lang, msg) = match self.text.get(key) {
            Some(m) => (self, Some(m)),
            None => (&all()[0], all()[0].text.get(key)),
        };
        let text = match msg {
            Some(Msg::Forms(forms)) => {
                let cat = lang.plural.category(count);
                forms.get(cat).or_else(|| forms.get("other")).map_or(key, String::as_str)
            }
            Some(m) => m.other(),
            None => key,
        };
        text.replace("{n}", &n.to_string())
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
                assert!(!theirs.other().trim().is_empty(), "{}.toml: {key} is empty", lang.code);
                assert_eq!(
                    placeholders(en.t(key)),
                    placeholders(theirs.other()),
                    "{}.toml: {key} placeholders",
                    lang.code
                );
                let plural = |m: &Msg| matches!(m, Msg::Forms(_));
                assert_eq!(
                    plural(&en.text[key]),
                    plural(theirs),
                    "{}.toml: {key}: plural forms as in English",
                    lang.code
                );
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
        let head = "[language]\nname = \"X\"\ndir = \"ltr\"\nplural = \"one-other\"\n";
        let e = parse("xx", &head.replace("ltr", "up")).unwrap_err();
        assert!(e.to_string().starts_with("dashboard/i18n/xx.toml"), "{e}");
        assert!(parse("xx", &format!("{head}colour = 1\n[text]\n")).is_err());
        let e = parse("xx", &format!("{head}[text]\nk = {{ one = \"a\" }}\n")).unwrap_err();
        assert!(e.to_string().contains("k: plural forms need `other`"), "{e}");
        assert!(parse("xx", &format!("{head}[text]\nk = {{ other = \"a\", lots = \"b\" }}\n")).is_err());
        let en = by_code("en").unwrap();
        assert_eq!((en.n("probes_n", 1), en.n("probes_n", 3)), ("1 probe".into(), "3 probes".into()));
        let ar = by_code("ar").unwrap();
        let days: Vec<String> = [1, 2, 7, 14, 30, 100].iter().map(|d| ar.n("days_n", *d)).collect();
        assert_eq!(days, ["يوم واحد", "يومان", "7 أيام", "14 يومًا", "30 يومًا", "100 يوم"]);
        assert_eq!(Plural::Arabic.category(103), "few");
        assert_eq!(Plural::None.category(1), "other");
        assert_eq!(en.t("no_such_key"), "no_such_key");
    }
}
