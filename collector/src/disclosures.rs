//! Disclosures: what platforms and registries say about shutdowns and restrictions, in Vigil's
//! versioned format (`docs/disclosures.md`), read from CSV, JSON or JSON Lines. Pure parsing
//! and validation; bad rows are reported by line and field while the good ones are kept.
//! The #KeepItOn STOP layout is read by `disclosures_stop`, the reconciliation with Vigil's
//! events is `disclosures_reconcile`, storage is `disclosures_store`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use crate::disclosures_time::{Granularity, When, date_at, parse_iso_date, parse_when};

/// The disclosure format version this collector reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// What the discloser says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisclosureType {
    /// A platform (or service) made unreachable.
    Blocked,
    /// Slowed down.
    Throttled,
    /// The network (mobile, fixed or all) cut.
    Shutdown,
}

impl DisclosureType {
    pub fn label(self) -> &'static str {
        match self {
            DisclosureType::Blocked => "blocked",
            DisclosureType::Throttled => "throttled",
            DisclosureType::Shutdown => "shutdown",
        }
    }

    /// The Vigil event type it corresponds to (`EventType::label`).
    pub fn event_label(self) -> &'static str {
        match self {
            DisclosureType::Blocked => "blocking",
            DisclosureType::Throttled => "throttling",
            DisclosureType::Shutdown => "shutdown",
        }
    }

    fn parse(s: &str) -> Option<DisclosureType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "blocked" | "block" | "blocking" => Some(DisclosureType::Blocked),
            "throttled" | "throttle" | "throttling" => Some(DisclosureType::Throttled),
            "shutdown" => Some(DisclosureType::Shutdown),
            _ => None,
        }
    }
}

/// One disclosure, validated. `platform` is a Vigil platform id (`facebook`, `whatsapp`, `x`, ...)
/// or `all` (every platform: a network shutdown); `source` is who published it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disclosure {
    pub format_version: u32,
    /// The publisher's own identifier of the record, if it has one.
    pub id: Option<String>,
    pub source: String,
    pub platform: String,
    /// The services named, as stated (e.g. `Messenger`, `mobile data`).
    pub services: Vec<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    pub asn: Option<u32>,
    pub region: Option<String>,
    /// The networks concerned, as stated (e.g. `mobile`, `fixed`).
    pub network: Option<String>,
    pub start: When,
    /// None: ongoing (as of publication).
    pub end: Option<When>,
    #[serde(rename = "type")]
    pub kind: DisclosureType,
    pub cause: Option<String>,
    /// Who requested or ordered it, as stated.
    pub government_request: Option<String>,
    pub source_url: Option<String>,
    pub published_at: Option<When>,
}

impl Disclosure {
    /// The stable key of the disclosure: from `source` and `id` when the publisher gave an id
    /// (a re-published record replaces the old one), otherwise from its whole content (a
    /// re-imported row is the same row). `d-` and 24 hex digits of SHA-256.
    pub fn key(&self) -> String {
        let material = match &self.id {
            Some(id) => format!("id\n{}\n{id}", self.source),
            None => format!("content\n{}", serde_json::to_string(self).unwrap_or_default()),
        };
        let digest = Sha256::digest(material.as_bytes());
        let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        format!("d-{hex}")
    }
}

/// A row that could not be read: its line (1-based, in the file), the field and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub line: usize,
    pub field: Option<String>,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}: {field}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// A file that cannot be read at all (its header, its encoding).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FileError(pub String);

/// The input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum InputFormat {
    /// Vigil's format as CSV with a header row.
    Csv,
    /// Vigil's format as a JSON array or JSON Lines.
    Json,
    /// Access Now's #KeepItOn STOP dataset (CSV export).
    Stop,
}

impl InputFormat {
    pub fn parse(s: &str) -> Option<InputFormat> {
        match s {
            "csv" => Some(InputFormat::Csv),
            "json" | "jsonl" => Some(InputFormat::Json),
            "stop" => Some(InputFormat::Stop),
            _ => None,
        }
    }
}

/// What a file held: the good rows (with their line) and the bad ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub rows: Vec<(usize, Disclosure)>,
    pub errors: Vec<RowError>,
    /// Records read (a STOP row may yield several disclosures, or none).
    pub records: usize,
}

/// Called every `PROGRESS_EVERY` records with the number read.
pub type Progress<'a> = &'a mut dyn FnMut(usize);
pub const PROGRESS_EVERY: usize = 10_000;

/// Parse a file of the given format.
pub fn parse(text: &str, format: InputFormat, progress: Progress<'_>) -> Result<Parsed, FileError> {
    match format {
        InputFormat::Csv => parse_csv(text, progress),
        InputFormat::Json => Ok(parse_json(text, progress)),
        InputFormat::Stop => crate::disclosures_stop::parse(text, progress),
    }
}

/// The fields of the format, in the CSV column order of `docs/disclosures.md`.
pub const FIELDS: &[&str] = &[
    "format_version",
    "id",
    "source",
    "platform",
    "services",
    "country",
    "asn",
    "region",
    "network",
    "start",
    "end",
    "type",
    "cause",
    "government_request",
    "source_url",
    "published_at",
];
const REQUIRED: &[&str] = &["format_version", "source", "platform", "country", "start", "type"];

/// A field's error.
type FieldResult<T> = Result<T, (String, String)>;

fn field_err<T>(field: &str, reason: impl Into<String>) -> FieldResult<T> {
    Err((field.to_string(), reason.into()))
}

/// A Vigil platform id from a name as disclosers write it (`Twitter` -> `x`).
pub fn canonical_platform(name: &str) -> String {
    let n = name.trim().to_ascii_lowercase();
    match n.as_str() {
        "twitter" | "twitter/x" | "x (twitter)" | "x/twitter" => "x".into(),
        "facebook messenger" | "fb messenger" => "messenger".into(),
        "*" | "any" | "every" | "internet" | "network" => "all".into(),
        _ => n,
    }
}

/// Validate one record given as field -> text (empty text = absent).
pub fn validate(fields: &BTreeMap<String, String>) -> FieldResult<Disclosure> {
    let get = |k: &str| fields.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    if let Some(k) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return field_err(k, "unknown field");
    }
    for k in REQUIRED {
        if get(k).is_none() {
            return field_err(k, "required");
        }
    }
    let version = get("format_version").unwrap_or_default();
    match version.parse::<u32>() {
        Ok(FORMAT_VERSION) => {}
        _ => return field_err("format_version", format!("{version:?} is not supported (this collector reads 1)")),
    }
    let country = get("country").unwrap_or_default().to_ascii_uppercase();
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return field_err("country", format!("{country:?}: expected an ISO 3166-1 alpha-2 code"));
    }
    let asn = match get("asn") {
        None => None,
        Some(a) => match a.trim_start_matches("AS").trim_start_matches("as").parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => return field_err("asn", format!("{a:?}: expected a number (e.g. 64500 or AS64500)")),
        },
    };
    let when = |k: &str| get(k).map(|v| parse_when(v).map_err(|e| (k.to_string(), e))).transpose();
    let start = when("start")?.expect("required");
    let end = when("end")?;
    let published_at = when("published_at")?;
    if let Some(e) = end
        && (e.granule().1 < start.granule().0 || (e.at < start.at && e.granularity == start.granularity))
    {
        return field_err("end", format!("{e} is before the start {start}"));
    }
    let kind = get("type").unwrap_or_default();
    let Some(kind) = DisclosureType::parse(kind) else {
        return field_err("type", format!("{kind:?}: expected blocked, throttled or shutdown"));
    };
    let platform = canonical_platform(get("platform").unwrap_or_default());
    if !platform.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return field_err("platform", format!("{platform:?}: expected a platform id (e.g. whatsapp) or all"));
    }
    if let Some(u) = get("source_url")
        && url::Url::parse(u).map(|u| !["http", "https"].contains(&u.scheme())).unwrap_or(true)
    {
        return field_err("source_url", format!("{u:?}: expected an http(s) URL"));
    }
    let services = get("services")
        .map(|s| s.split(';').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
        .unwrap_or_default();
    let text = |k: &str| get(k).map(String::from);
    Ok(Disclosure {
        format_version: FORMAT_VERSION,
        id: text("id"),
        source: get("source").unwrap_or_default().to_string(),
        platform,
        services,
        country,
        asn,
        region: text("region"),
        network: text("network"),
        start,
        end,
        kind,
        cause: text("cause"),
        government_request: text("government_request"),
        source_url: text("source_url"),
        published_at,
    })
}

fn push(out: &mut Parsed, line: usize, r: FieldResult<Disclosure>) {
    match r {
        Ok(d) => out.rows.push((line, d)),
        Err((field, reason)) => out.errors.push(RowError { line, field: Some(field), reason }),
    }
}

/// The line of a record, from its byte offset, counted forwards as the reader moves on (the csv
/// crate's own line count is off by one in files with CRLF line ends).
pub struct Lines<'a> {
    text: &'a str,
    byte: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Lines<'a> {
        Lines { text, byte: 0, line: 1 }
    }

    /// The 1-based line of `pos` (offsets must not go backwards).
    pub fn at(&mut self, pos: Option<&csv::Position>) -> usize {
        let Some(byte) = pos.map(|p| p.byte() as usize) else { return self.line };
        // With CRLF line ends a record's position may point at the `\n` before it.
        let bytes = self.text.as_bytes();
        let mut byte = byte.min(bytes.len());
        while byte < bytes.len() && (bytes[byte] == b'\r' || bytes[byte] == b'\n') {
            byte += 1;
        }
        if byte > self.byte {
            self.line += self.text.as_bytes()[self.byte..byte].iter().filter(|b| **b == b'\n').count();
            self.byte = byte;
        }
        self.line
    }
}

/// Read a CSV file: its header (trimmed, without a byte-order mark, lower case), checked by
/// `check_header`, then every record with its line, counted and with progress; a record that is
/// not CSV is a bad row, every other goes to `row`.
pub(crate) fn read_csv(
    text: &str,
    progress: Progress<'_>,
    check_header: impl FnOnce(&[String]) -> Result<(), FileError>,
    mut row: impl FnMut(&mut Parsed, usize, &[String], &csv::StringRecord),
) -> Result<Parsed, FileError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| FileError(format!("line 1: header: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    check_header(&header)?;
    let mut out = Parsed::default();
    let mut lines = Lines::new(text);
    for record in reader.records() {
        out.records += 1;
        if out.records.is_multiple_of(PROGRESS_EVERY) {
            progress(out.records);
        }
        match record {
            Ok(record) => {
                let line = lines.at(record.position());
                row(&mut out, line, &header, &record);
            }
            Err(e) => {
                let line = lines.at(e.position());
                out.errors.push(RowError { line, field: None, reason: format!("not CSV: {e}") });
            }
        }
    }
    Ok(out)
}

/// Vigil's CSV: a header row naming the columns (any order; unknown columns refuse the file).
pub fn parse_csv(text: &str, progress: Progress<'_>) -> Result<Parsed, FileError> {
    let check = |header: &[String]| {
        if let Some(h) = header.iter().find(|h| !FIELDS.contains(&h.as_str())) {
            return Err(FileError(format!("line 1: unknown column {h:?} (columns: {})", FIELDS.join(", "))));
        }
        if let Some(k) = REQUIRED.iter().find(|k| !header.iter().any(|h| h == *k)) {
            return Err(FileError(format!("line 1: the required column {k:?} is missing")));
        }
        Ok(())
    };
    read_csv(text, progress, check, |out, line, header, record| {
        if record.len() != header.len() {
            let reason = format!("{} fields, the header has {}", record.len(), header.len());
            out.errors.push(RowError { line, field: None, reason });
            return;
        }
        let fields = header.iter().cloned().zip(record.iter().map(String::from)).collect();
        push(out, line, validate(&fields));
    })
}

fn json_fields(v: &Value) -> FieldResult<BTreeMap<String, String>> {
    let Some(obj) = v.as_object() else { return field_err("record", "expected a JSON object") };
    let mut out = BTreeMap::new();
    for (k, v) in obj {
        let text = match v {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Array(items) if k == "services" => {
                let mut names = Vec::new();
                for item in items {
                    match item.as_str() {
                        Some(s) if !s.contains(';') => names.push(s.to_string()),
                        _ => return field_err(k, "expected an array of names (without ';')"),
                    }
                }
                names.join(";")
            }
            _ => return field_err(k, "expected a string or a number"),
        };
        out.insert(k.clone(), text);
    }
    Ok(out)
}

/// Vigil's JSON: an array of objects, or JSON Lines (one object per line). Errors name the line
/// (for an array: the line its object starts on).
pub fn parse_json(text: &str, progress: Progress<'_>) -> Parsed {
    let mut out = Parsed::default();
    let mut one = |out: &mut Parsed, line: usize, v: Result<Value, String>| {
        out.records += 1;
        if out.records.is_multiple_of(PROGRESS_EVERY) {
            progress(out.records);
        }
        match v {
            Ok(v) => push(out, line, json_fields(&v).and_then(|f| validate(&f))),
            Err(reason) => out.errors.push(RowError { line, field: None, reason }),
        }
    };
    if text.trim_start().starts_with('[') {
        // Stream the array's elements, keeping each one's starting line.
        let start = text.find('[').unwrap_or(0) + 1;
        let mut rest = &text[start..];
        loop {
            let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
            if trimmed.starts_with(']') || trimmed.is_empty() {
                break;
            }
            let at = text.len() - trimmed.len();
            let line = text[..at].matches('\n').count() + 1;
            let mut stream = serde_json::Deserializer::from_str(trimmed).into_iter::<Value>();
            match stream.next() {
                Some(Ok(v)) => {
                    rest = &trimmed[stream.byte_offset()..];
                    one(&mut out, line, Ok(v));
                }
                Some(Err(e)) => {
                    one(&mut out, line, Err(format!("not JSON: {e}")));
                    break;
                }
                None => break,
            }
        }
    } else {
        for (i, l) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            one(&mut out, i + 1, serde_json::from_str::<Value>(l).map_err(|e| format!("not JSON: {e}")));
        }
    }
    out
}

#[cfg(test)]
#[path = "disclosures_tests.rs"]
mod tests;
