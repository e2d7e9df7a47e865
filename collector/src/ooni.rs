//! `import-ooni`: OONI's measurements as OONI publishes them (JSON Lines, gzipped JSON Lines,
//! single `.json` files) into `ooni_measurements` and observations with source `ooni`
//! (docs/ooni-import.md). Parsing is lenient (any key OONI adds is fine; only the fields read
//! here must make sense), every size and count is bounded (`config::ImportLimits`), and the
//! rows are never Vigil measurements: not signed, never served as signed evidence.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};
use vigil_detect::obs::{Meta, Observation, PlatformKind, Source, What, parse_utc};
use vigil_report::{Mechanism, MechanismFamily, PlatformStatus, limits};

use crate::config::ImportLimits;
use crate::ooni_store::OoniRow;
use crate::server::AppState;

/// The built-in battery (the probe's), whose endpoint hosts say which platform a URL is.
const BUILTIN_BATTERY: &str = include_str!("../../probe/data/battery.toml");
/// The longest `report_id` and `measurement_uid` taken (OONI's are about 60 and 40 characters).
const MAX_REPORT_ID: usize = 128;
const MAX_UID: usize = 64;
/// Measurements per writer transaction.
const BATCH: usize = 1000;
/// OONI's IM tests and the battery platform each measures.
const IM_TESTS: &[(&str, &str)] =
    &[("whatsapp", "whatsapp"), ("telegram", "telegram"), ("signal", "signal"), ("facebook_messenger", "messenger")];

/// Which platform a measured URL or IM test belongs to: the battery's endpoint hosts.
#[derive(Debug, Clone, Default)]
pub struct Battery {
    /// Host of an `http(s)://` endpoint (lower case, no `www.`) → platform id (first wins).
    hosts: HashMap<String, String>,
    /// Platform id → kind.
    kinds: HashMap<String, PlatformKind>,
}

impl Battery {
    /// The probe's built-in battery.
    pub fn builtin() -> Battery {
        Battery::from_toml(BUILTIN_BATTERY).expect("the built-in battery parses")
    }

    /// A battery file (the probe's TOML: `[[platform]]` with `id`, `kind`, `[[platform.endpoint]]`
    /// with `input`); what is wrong with it otherwise.
    pub fn from_toml(text: &str) -> Result<Battery, String> {
        crate::config::battery_platform_ids(text)?;
        let table: toml::Table = toml::from_str(text).map_err(|e| format!("not TOML: {e}"))?;
        let mut b = Battery::default();
        for p in table.get("platform").and_then(|p| p.as_array()).into_iter().flatten() {
            let Some(id) = p.get("id").and_then(|i| i.as_str()) else { continue };
            let kind = match p.get("kind").and_then(|k| k.as_str()) {
                Some("control") => PlatformKind::Control,
                _ => PlatformKind::Platform,
            };
            b.kinds.insert(id.to_string(), kind);
            for e in p.get("endpoint").and_then(|e| e.as_array()).into_iter().flatten() {
                let Some(input) = e.get("input").and_then(|i| i.as_str()) else { continue };
                if let Some(host) = url_host(input) {
                    b.hosts.entry(host).or_insert_with(|| id.to_string());
                }
            }
        }
        Ok(b)
    }

    /// The platform of a measured URL (by its host), with its kind.
    pub fn platform_of_url(&self, url: &str) -> Option<(&str, PlatformKind)> {
        let id = self.hosts.get(&url_host(url)?)?;
        Some((id, self.kinds.get(id).copied().unwrap_or(PlatformKind::Platform)))
    }

    /// The platform `id` if the battery has it.
    pub fn platform(&self, id: &str) -> Option<(&str, PlatformKind)> {
        self.kinds.get_key_value(id).map(|(k, v)| (k.as_str(), *v))
    }
}

/// The host of an `http(s)://` URL, lower case, without a trailing dot or a leading `www.`.
fn url_host(input: &str) -> Option<String> {
    let u = url::Url::parse(input).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    let host = u.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    Some(host.strip_prefix("www.").map(str::to_string).unwrap_or(host))
}

/// Why a measurement was left out (counted by reason, never an error).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Skip {
    /// A JSON value that is not an object with a `report_id`.
    NotOoni,
    /// A test this import does not read (`dash`, `ndt`, ...).
    Test(String),
    /// A Web Connectivity URL whose host no battery platform measures.
    OutsideBattery,
    /// An IM test whose platform the battery does not have.
    PlatformNotInBattery(String),
    /// A field read here is missing or out of its bounds.
    BadField(&'static str),
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::NotOoni => f.write_str("not an OONI measurement (no report_id)"),
            Skip::Test(t) => write!(f, "test {t} is not imported"),
            Skip::OutsideBattery => f.write_str("URL host outside the battery"),
            Skip::PlatformNotInBattery(p) => write!(f, "platform {p} not in the battery"),
            Skip::BadField(field) => write!(f, "bad or missing {field}"),
        }
    }
}

/// Whether a replayed JSON line is one of OONI's measurements: it has a `report_id` and no
/// Vigil wrapper (`signature`, `measurement`).
pub fn is_ooni(v: &Value) -> bool {
    v.get("report_id").is_some() && v.get("signature").is_none() && v.get("measurement").is_none()
}

/// The arrival time taken for an OONI measurement: its start plus its runtime (OONI does not
/// say when it was uploaded). None when the start does not parse.
pub fn received_at(v: &Value) -> Option<i64> {
    let at = parse_utc(v.get("measurement_start_time")?.as_str()?)?;
    Some(at + runtime(v))
}

fn runtime(v: &Value) -> i64 {
    v.get("test_runtime")
        .and_then(Value::as_f64)
        .filter(|r| r.is_finite())
        .map_or(0, |r| r.clamp(0.0, 86_400.0).ceil() as i64)
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The row (and observation) of one OONI measurement `v`; `raw` is its text as read.
pub fn convert(v: &Value, raw: &str, battery: &Battery) -> Result<OoniRow, Skip> {
    if !v.is_object() || v.get("report_id").is_none() {
        return Err(Skip::NotOoni);
    }
    let report_id = str_field(v, "report_id")
        .filter(|r| !r.is_empty() && r.len() <= MAX_REPORT_ID && r.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or(Skip::BadField("report_id"))?;
    let test_name = str_field(v, "test_name").ok_or(Skip::BadField("test_name"))?;
    let start = str_field(v, "measurement_start_time").ok_or(Skip::BadField("measurement_start_time"))?;
    let at = parse_utc(start).filter(|&t| t >= limits::FIRST_TIME).ok_or(Skip::BadField("measurement_start_time"))?;
    let cc = str_field(v, "probe_cc").filter(|c| limits::country(c).is_ok()).ok_or(Skip::BadField("probe_cc"))?;
    let asn = str_field(v, "probe_asn")
        .filter(|a| limits::asn_label(a).is_ok())
        .and_then(|a| a.strip_prefix("AS")?.parse::<u32>().ok())
        .ok_or(Skip::BadField("probe_asn"))?;
    let input = match v.get("input") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if limits::text("input", s, limits::MAX_INPUT).is_ok() => Some(s.as_str()),
        Some(_) => return Err(Skip::BadField("input")),
    };
    let tk = v.get("test_keys").filter(|t| t.is_object()).ok_or(Skip::BadField("test_keys"))?;
    let (platform, kind, verdict) = if test_name == "web_connectivity" {
        let url = input.ok_or(Skip::BadField("input"))?;
        let (p, k) = battery.platform_of_url(url).ok_or(Skip::OutsideBattery)?;
        (p, k, web_connectivity(tk))
    } else if let Some((_, id)) = IM_TESTS.iter().find(|(t, _)| *t == test_name) {
        let (p, k) = battery.platform(id).ok_or_else(|| Skip::PlatformNotInBattery(id.to_string()))?;
        (p, k, im(test_name, tk, v, at))
    } else {
        let name = if limits::test_name(test_name).is_ok() { test_name } else { "(unreadable)" };
        return Err(Skip::Test(name.to_string()));
    };
    let uid = match v.get("measurement_uid") {
        None | Some(Value::Null) => derived_uid(report_id, input, start),
        Some(Value::String(u))
            if !u.is_empty()
                && u.len() <= MAX_UID
                && u.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-') =>
        {
            u.clone()
        }
        Some(_) => return Err(Skip::BadField("measurement_uid")),
    };
    let (status, family, mechanism) = verdict;
    let observation = Observation {
        at,
        received_at: at + runtime(v),
        probe: format!("ooni:{report_id}"),
        cc: cc.to_string(),
        asn,
        measurement_id: Some(uid.clone()),
        what: What::Platform { platform: platform.to_string(), kind, status, family, mechanism },
        meta: Meta { source: Source::Ooni, run: Some(report_id.to_string()), ..Meta::default() },
    };
    Ok(OoniRow {
        uid,
        report_id: report_id.to_string(),
        test_name: test_name.to_string(),
        input: input.map(str::to_string),
        measurement_start_time: start.to_string(),
        probe_cc: cc.to_string(),
        probe_asn: asn,
        payload: keep_payload(v, raw),
        observation: Some(observation),
    })
}

/// `"ooni-"` + hex SHA-256 of `report_id`, `input` and the start time (one per line of those).
pub fn derived_uid(report_id: &str, input: Option<&str>, start: &str) -> String {
    let mut h = Sha256::new();
    for part in [report_id, input.unwrap_or(""), start] {
        h.update(part.as_bytes());
        h.update(b"\n");
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("ooni-{hex}")
}

/// The payload stored: the text as published, unless its `probe_ip` is not OONI's placeholder
/// (a file from elsewhere): the collector never keeps a probe's address.
fn keep_payload(v: &Value, raw: &str) -> String {
    match v.get("probe_ip") {
        None | Some(Value::Null) => raw.trim().to_string(),
        Some(Value::String(ip)) if ip == "127.0.0.1" => raw.trim().to_string(),
        Some(_) => {
            let mut v = v.clone();
            v["probe_ip"] = Value::String("127.0.0.1".into());
            v.to_string()
        }
    }
}

type Verdict = (PlatformStatus, Option<MechanismFamily>, Option<Mechanism>);

const OK: Verdict = (PlatformStatus::Ok, None, None);
const UNKNOWN: Verdict = (PlatformStatus::Unknown, None, None);

fn blocked(m: Mechanism) -> Verdict {
    (PlatformStatus::Blocked, Some(m.family()), Some(m))
}

fn blocked_family(f: MechanismFamily) -> Verdict {
    (PlatformStatus::Blocked, Some(f), None)
}

/// Web Connectivity (ts-017): `blocking` false → ok; `dns`, `tcp_ip`, `http-diff` → blocked by
/// that family; `http-failure` → TLS when the failure is a TLS one (an `ssl_*` failure or a
/// failed TLS handshake), else HTTP; `null`, anything else or a control failure → unknown.
fn web_connectivity(tk: &Value) -> Verdict {
    if tk.get("control_failure").is_some_and(|f| !f.is_null()) {
        return UNKNOWN;
    }
    let failure = str_field(tk, "http_experiment_failure");
    match tk.get("blocking") {
        Some(Value::Bool(false)) => OK,
        Some(Value::String(b)) => match b.as_str() {
            "dns" => match str_field(tk, "dns_experiment_failure") {
                Some("dns_nxdomain_error") => blocked(Mechanism::DnsNxdomain),
                _ => blocked(Mechanism::DnsInconsistent),
            },
            "tcp_ip" => match tcp_failure(tk) {
                Some("connection_refused") => blocked(Mechanism::TcpIpRefused),
                Some("generic_timeout_error") => blocked(Mechanism::TcpIpBlackhole),
                Some("host_unreachable" | "network_unreachable") => blocked(Mechanism::TcpIpUnreachable),
                _ => blocked_family(MechanismFamily::TcpIp),
            },
            "http-diff" => blocked(Mechanism::HttpDiff),
            "http-failure" if tls_failed(tk, failure) => match failure {
                Some("connection_reset") => blocked(Mechanism::TlsSniReset),
                Some("generic_timeout_error") => blocked(Mechanism::TlsSniTimeout),
                Some("eof_error") => blocked(Mechanism::TlsSniEof),
                Some(f) if f.starts_with("ssl_") && f != "ssl_failed_handshake" => blocked(Mechanism::TlsCertificate),
                _ => blocked(Mechanism::TlsFailure),
            },
            "http-failure" => match failure {
                Some("connection_reset") => blocked(Mechanism::HttpReset),
                Some("generic_timeout_error") => blocked(Mechanism::HttpTimeout),
                Some("eof_error") => blocked(Mechanism::HttpEof),
                _ => blocked(Mechanism::HttpFailure),
            },
            _ => UNKNOWN,
        },
        _ => UNKNOWN,
    }
}

/// The first failure among the first TCP connects (bounded scan).
fn tcp_failure(tk: &Value) -> Option<&str> {
    tk.get("tcp_connect")?.as_array()?.iter().take(64).find_map(|c| c.get("status")?.get("failure")?.as_str())
}

/// A TLS failure: an `ssl_*` HTTP failure, or a TLS handshake that failed (bounded scan).
fn tls_failed(tk: &Value, failure: Option<&str>) -> bool {
    failure.is_some_and(|f| f.starts_with("ssl_"))
        || tk
            .get("tls_handshakes")
            .and_then(Value::as_array)
            .is_some_and(|hs| hs.iter().take(64).any(|h| h.get("failure").is_some_and(|f| !f.is_null())))
}

/// The family of an IM service's failure string: `dns_*` DNS, `ssl_*` TLS, a refused or
/// unreachable connect TCP/IP, anything else HTTP.
fn family_of(failure: Option<&str>) -> MechanismFamily {
    match failure {
        Some(f) if f.starts_with("dns_") => MechanismFamily::Dns,
        Some(f) if f.starts_with("ssl_") => MechanismFamily::TlsSni,
        Some("connection_refused" | "host_unreachable" | "network_unreachable") => MechanismFamily::TcpIp,
        _ => MechanismFamily::Http,
    }
}

/// Each flag of an IM test: Some(true) blocked, Some(false) ok, None not said.
fn status_flag(tk: &Value, key: &str) -> Option<bool> {
    match str_field(tk, key)? {
        "blocked" => Some(true),
        "ok" => Some(false),
        _ => None,
    }
}

fn bool_flag(tk: &Value, keys: &[&str]) -> Option<bool> {
    keys.iter().find_map(|k| tk.get(*k).and_then(Value::as_bool))
}

/// The IM tests (ts-018 WhatsApp, ts-019 Facebook Messenger, ts-020 Telegram, ts-029 Signal):
/// blocked when any of the test's flags says blocked (the family of the first, in the order
/// below), ok when every flag says ok, else unknown. Signal measurements of test version 0.2.0
/// after 2022-10-19 are unknown (ts-029: their status cannot be trusted).
fn im(test_name: &str, tk: &Value, v: &Value, at: i64) -> Verdict {
    // (blocked?, family) per flag, in order of precedence.
    let flags: Vec<(Option<bool>, MechanismFamily)> = match test_name {
        "whatsapp" => vec![
            (status_flag(tk, "whatsapp_endpoints_status"), MechanismFamily::TcpIp),
            (status_flag(tk, "registration_server_status"), family_of(str_field(tk, "registration_server_failure"))),
            (status_flag(tk, "whatsapp_web_status"), family_of(str_field(tk, "whatsapp_web_failure"))),
        ],
        "telegram" => vec![
            (bool_flag(tk, &["telegram_tcp_blocking"]), MechanismFamily::TcpIp),
            (bool_flag(tk, &["telegram_http_blocking"]), MechanismFamily::Http),
            (status_flag(tk, "telegram_web_status"), family_of(str_field(tk, "telegram_web_failure"))),
        ],
        "signal" => {
            let untrusted = str_field(v, "test_version") == Some("0.2.0") && at >= 1_666_137_600;
            if untrusted {
                return UNKNOWN;
            }
            vec![(status_flag(tk, "signal_backend_status"), family_of(str_field(tk, "signal_backend_failure")))]
        }
        "facebook_messenger" => vec![
            (bool_flag(tk, &["facebook_dns_blocking", "facebook-dns-blocking"]), MechanismFamily::Dns),
            (bool_flag(tk, &["facebook_tcp_blocking", "facebook-tcp-blocking"]), MechanismFamily::TcpIp),
        ],
        _ => return UNKNOWN,
    };
    if let Some((_, family)) = flags.iter().find(|(b, _)| *b == Some(true)) {
        return blocked_family(*family);
    }
    if flags.iter().all(|(b, _)| *b == Some(false)) { OK } else { UNKNOWN }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub files: usize,
    pub lines: usize,
    /// New measurements stored.
    pub imported: usize,
    /// Measurements already stored (same uid).
    pub duplicates: usize,
    /// Measurements left out, by reason.
    pub skipped: BTreeMap<String, usize>,
}

impl ImportReport {
    /// One line: imported, duplicates, skipped by reason.
    pub fn summary(&self) -> String {
        let skipped: usize = self.skipped.values().sum();
        let mut out = format!(
            "{} files, {} measurements: {} imported, {} duplicates, {skipped} skipped",
            self.files, self.lines, self.imported, self.duplicates
        );
        for (reason, n) in &self.skipped {
            out.push_str(&format!("\n  skipped {n}: {reason}"));
        }
        out
    }
}

/// Why an import stopped (what was stored before stays stored).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{path}: line {line}: {message}")]
    Line { path: String, line: usize, message: String },
    #[error(transparent)]
    Store(#[from] crate::writer::StoreFailure),
}

/// Converts and stores OONI measurements in batches (one writer transaction each).
pub struct Importer<'a> {
    state: &'a AppState,
    battery: Battery,
    pending: Vec<OoniRow>,
    pub report: ImportReport,
}

impl<'a> Importer<'a> {
    pub fn new(state: &'a AppState, battery: Battery) -> Self {
        Importer { state, battery, pending: Vec::new(), report: ImportReport::default() }
    }

    /// Take one parsed measurement (`raw` its text); stored at the next [`Importer::flush`] or
    /// when a batch is full.
    pub async fn add(&mut self, v: &Value, raw: &str) -> Result<(), crate::writer::StoreFailure> {
        self.report.lines += 1;
        match convert(v, raw, &self.battery) {
            Ok(row) => self.pending.push(row),
            Err(skip) => *self.report.skipped.entry(skip.to_string()).or_default() += 1,
        }
        if self.pending.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Store what is pending (one transaction).
    pub async fn flush(&mut self) -> Result<(), crate::writer::StoreFailure> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        let n = rows.len();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let new = self.state.writer.import_ooni(rows, now).await?;
        self.report.imported += new;
        self.report.duplicates += n - new;
        Ok(())
    }
}

/// The measurement files of `path`: the file itself, or those under a directory (sorted; at
/// most `limits.max_files`, walked at most `IMPORT_MAX_DEPTH` deep).
pub fn files_of(path: &Path, limits: &ImportLimits) -> Result<Vec<PathBuf>, ImportError> {
    let err = |p: &Path, message: String| ImportError::File { path: p.display().to_string(), message };
    let meta = std::fs::metadata(path).map_err(|e| err(path, e.to_string()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut dirs = vec![(path.to_path_buf(), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| err(&dir, e.to_string()))?;
        for entry in entries {
            let entry = entry.map_err(|e| err(&dir, e.to_string()))?;
            let p = entry.path();
            let ft = entry.file_type().map_err(|e| err(&p, e.to_string()))?;
            if ft.is_dir() {
                if depth + 1 < crate::config::IMPORT_MAX_DEPTH {
                    dirs.push((p, depth + 1));
                }
            } else if ft.is_file() && kind_of(&p).is_some() {
                out.push(p);
                if out.len() > limits.max_files {
                    return Err(err(
                        path,
                        format!("more than {} measurement files (import-ooni --max-files)", limits.max_files),
                    ));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Jsonl,
    JsonlGz,
    Json,
}

fn kind_of(p: &Path) -> Option<FileKind> {
    let name = p.file_name()?.to_str()?.to_ascii_lowercase();
    if name.ends_with(".jsonl.gz") {
        Some(FileKind::JsonlGz)
    } else if name.ends_with(".jsonl") {
        Some(FileKind::Jsonl)
    } else if name.ends_with(".json") {
        Some(FileKind::Json)
    } else {
        None
    }
}

/// Read one line of at most `max` bytes (without its `\n`) into `buf`; Ok(false) at the end.
/// A longer line is an error; nothing more than `max + 1` bytes of it is held.
pub fn read_line_bounded(r: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> std::io::Result<bool> {
    buf.clear();
    let mut any = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(any);
        }
        any = true;
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if buf.len() + take > max {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("line longer than {max} bytes (import-ooni --max-line-bytes)"),
            ));
        }
        buf.extend_from_slice(&chunk[..take]);
        r.consume(if done { take + 1 } else { take });
        if done {
            return Ok(true);
        }
    }
}

/// Import one file into `imp` (see [`import_path`]).
async fn import_file(
    imp: &mut Importer<'_>,
    path: &Path,
    limits: &ImportLimits,
    progress: bool,
) -> Result<(), ImportError> {
    let name = path.display().to_string();
    let file_err = |message: String| ImportError::File { path: name.clone(), message };
    let file = std::fs::File::open(path).map_err(|e| file_err(e.to_string()))?;
    let kind = kind_of(path).unwrap_or(FileKind::Jsonl);
    let inner: Box<dyn Read> = match kind {
        FileKind::JsonlGz => Box::new(flate2::read::MultiGzDecoder::new(file)),
        _ => Box::new(file),
    };
    let mut reader = BufReader::with_capacity(256 * 1024, inner.take(limits.max_file_bytes));
    imp.report.files += 1;
    let mut buf = Vec::new();
    let mut line = 0;
    let mut read = 0u64;
    let mut shown = Instant::now();
    let max_line = limits.max_line_bytes;
    loop {
        let got = if kind == FileKind::Json {
            // One document: the whole file is its "line".
            if line > 0 {
                break;
            }
            buf.clear();
            (&mut reader).take(max_line as u64 + 1).read_to_end(&mut buf).map_err(|e| file_err(e.to_string()))?;
            if buf.len() > max_line {
                Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("a .json file longer than {max_line} bytes (import-ooni --max-line-bytes)"),
                ))
            } else {
                Ok(true)
            }
        } else {
            read_line_bounded(&mut reader, &mut buf, max_line)
        };
        line += 1;
        let bad = |message: String| ImportError::Line { path: name.clone(), line, message };
        match got {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                imp.flush().await?;
                return Err(bad(e.to_string()));
            }
        }
        read += buf.len() as u64 + 1;
        if read > limits.max_file_bytes {
            imp.flush().await?;
            return Err(file_err(format!(
                "more than {} bytes once decompressed (import-ooni --max-file-bytes)",
                limits.max_file_bytes
            )));
        }
        if line > limits.max_lines {
            imp.flush().await?;
            return Err(bad(format!("more than {} lines in one file (import-ooni --max-lines)", limits.max_lines)));
        }
        let Ok(text) = std::str::from_utf8(&buf) else {
            imp.flush().await?;
            return Err(bad("not UTF-8 text (binary data?)".into()));
        };
        if text.trim().is_empty() {
            continue;
        }
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                imp.flush().await?;
                return Err(bad(format!("not JSON: {e}")));
            }
        };
        match v {
            Value::Array(items) if kind == FileKind::Json => {
                for item in items.iter().take(limits.max_lines) {
                    imp.add(item, &item.to_string()).await?;
                }
            }
            v => imp.add(&v, text).await?,
        }
        if progress && shown.elapsed() >= Duration::from_secs(1) {
            shown = Instant::now();
            eprintln!("  {name}: {line} lines, {} imported so far", imp.report.imported + imp.pending.len());
        }
    }
    imp.flush().await?;
    Ok(())
}

/// Import a file or a directory tree of OONI measurement files into `state`, with `battery`
/// telling platforms apart. On an error, what was read before it is stored; the report so far
/// is returned with the error.
pub async fn import_path(
    state: &AppState,
    path: &Path,
    battery: Battery,
    limits: &ImportLimits,
    progress: bool,
) -> Result<ImportReport, (ImportReport, ImportError)> {
    let mut imp = Importer::new(state, battery);
    let files = files_of(path, limits).map_err(|e| (ImportReport::default(), e))?;
    for (i, f) in files.iter().enumerate() {
        if progress && files.len() > 1 {
            eprintln!("  file {}/{}: {}", i + 1, files.len(), f.display());
        }
        if let Err(e) = import_file(&mut imp, f, limits, progress).await {
            return Err((imp.report, e));
        }
    }
    Ok(imp.report)
}

/// `vigil-collector import-ooni PATH --data-dir DIR`: the summary, or the error (with the
/// summary of what was stored before it).
pub async fn run(path: &Path, config: crate::Config, battery: Option<&Path>) -> Result<String, String> {
    let battery = match battery {
        None => Battery::builtin(),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("--battery {}: {e}", p.display()))?;
            Battery::from_toml(&text).map_err(|e| format!("--battery {}: {e}", p.display()))?
        }
    };
    let limits = config.import;
    let collector = crate::server::Collector::open(config).map_err(|e| e.to_string())?;
    let state = collector.state().clone();
    let result = import_path(&state, path, battery, &limits, true).await;
    drop(state);
    tokio::task::spawn_blocking(move || collector.close()).await.map_err(|e| e.to_string())?;
    match result {
        Ok(r) => Ok(r.summary()),
        Err((r, e)) => Err(format!("{e}\n(stored before the error: {})", r.summary())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wc(blocking: Value, extra: Value) -> Value {
        let mut tk = serde_json::json!({"blocking": blocking, "control_failure": null});
        for (k, v) in extra.as_object().unwrap() {
            tk[k] = v.clone();
        }
        tk
    }

    #[test]
    fn web_connectivity_verdicts_map_to_families() {
        use serde_json::json;
        assert_eq!(web_connectivity(&wc(json!(false), json!({}))), OK);
        assert_eq!(web_connectivity(&wc(json!(null), json!({}))), UNKNOWN);
        assert_eq!(web_connectivity(&wc(json!("dns"), json!({}))).1, Some(MechanismFamily::Dns));
        assert_eq!(web_connectivity(&wc(json!("tcp_ip"), json!({}))).1, Some(MechanismFamily::TcpIp));
        assert_eq!(web_connectivity(&wc(json!("http-diff"), json!({}))).2, Some(Mechanism::HttpDiff));
        let tls = wc(
            json!("http-failure"),
            json!({"http_experiment_failure": "connection_reset",
            "tls_handshakes": [{"failure": "connection_reset"}]}),
        );
        assert_eq!(web_connectivity(&tls), blocked(Mechanism::TlsSniReset));
        let cert = wc(json!("http-failure"), json!({"http_experiment_failure": "ssl_invalid_hostname"}));
        assert_eq!(web_connectivity(&cert).1, Some(MechanismFamily::TlsSni));
        let http = wc(json!("http-failure"), json!({"http_experiment_failure": "connection_reset"}));
        assert_eq!(web_connectivity(&http), blocked(Mechanism::HttpReset));
        let control = wc(json!("dns"), json!({"control_failure": "generic_timeout_error"}));
        assert_eq!(web_connectivity(&control), UNKNOWN);
    }

    #[test]
    fn the_builtin_battery_tells_platforms_by_host() {
        let b = Battery::builtin();
        assert_eq!(b.platform_of_url("https://twitter.com/x").map(|p| p.0), Some("x"));
        assert_eq!(b.platform_of_url("https://www.twitter.com/").map(|p| p.0), Some("x"));
        assert_eq!(b.platform_of_url("http://WEB.WhatsApp.com./").map(|p| p.0), Some("whatsapp"));
        assert_eq!(b.platform_of_url("https://www.example.com/"), Some(("example", PlatformKind::Control)));
        assert_eq!(b.platform_of_url("https://scontent.xx.fbcdn.net/").map(|p| p.0), Some("facebook"));
        assert_eq!(b.platform_of_url("https://ooni.org/"), None);
        assert_eq!(b.platform_of_url("not a url"), None);
        assert_eq!(b.platform("messenger").map(|p| p.0), Some("messenger"));
    }

    #[test]
    fn lines_are_read_within_their_bound() {
        let mut r = std::io::Cursor::new(b"ab\ncdef\n\nlast".to_vec());
        let mut buf = Vec::new();
        assert!(read_line_bounded(&mut r, &mut buf, 4).unwrap());
        assert_eq!(buf, b"ab");
        assert!(read_line_bounded(&mut r, &mut buf, 4).unwrap());
        assert_eq!(buf, b"cdef");
        assert!(read_line_bounded(&mut r, &mut buf, 4).unwrap());
        assert_eq!(buf, b"");
        assert!(read_line_bounded(&mut r, &mut buf, 4).unwrap());
        assert_eq!(buf, b"last");
        assert!(!read_line_bounded(&mut r, &mut buf, 4).unwrap());
        let mut r = std::io::Cursor::new(b"abcde\n".to_vec());
        let e = read_line_bounded(&mut r, &mut buf, 4).unwrap_err();
        assert!(e.to_string().contains("longer than 4 bytes"), "{e}");
    }
}
