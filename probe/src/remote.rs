//! The collector-signed probe configuration (`GET /api/v1/probe-config`): fetched before each
//! battery, checked with the pinned collector key (following its rotations), and kept verbatim
//! beside the pin (`probe-config.json`) so it survives restarts and outages. The probe uses its
//! local fingerprints (`fingerprint::local`); a statement older than the kept one is ignored.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use vigil_report::Signed;
use vigil_report::protocol::{LocalFingerprint, ProbeConfigStatement};

use crate::config::Config;
use crate::daemon::Probe;
use crate::fingerprint::{FingerprintSet, Fingerprints, LocalError};
use crate::measure::Engine;
use crate::spool::atomic;
use crate::upload::{Collector, UploadError};

/// The kept configuration's file name, beside the collector pin.
pub const FILE_NAME: &str = "probe-config.json";
/// How long fetching the configuration may hold up a battery.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest kept file read back (the collector's answers are bounded at 4 MiB).
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Errors fetching, checking or keeping the configuration; each names the file or the cause.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("probe_config_io: {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("probe_config_invalid: {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("probe_config_timeout: no answer within {} s", FETCH_TIMEOUT.as_secs())]
    Timeout,
    #[error(transparent)]
    Upload(#[from] UploadError),
}

impl RemoteError {
    pub fn label(&self) -> &'static str {
        match self {
            RemoteError::Io { .. } => "probe_config_io",
            RemoteError::Invalid { .. } => "probe_config_invalid",
            RemoteError::Timeout => "probe_config_timeout",
            RemoteError::Upload(e) => e.label(),
        }
    }
}

/// A configuration as the probe keeps it: the statement verbatim (its signature can be checked
/// again) and its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    pub statement: Signed,
    /// The payload, with the local fingerprint rows that could be read.
    pub config: ProbeConfigStatement,
    /// The rows that are not a `LocalFingerprint` (a field missing or unknown, a wrong type),
    /// refused alone.
    pub unreadable: Vec<LocalError>,
    /// The position in the statement of each row of `config.fingerprints`.
    positions: Vec<usize>,
}

impl Kept {
    /// The payload of `statement`, read row by row.
    pub fn read(statement: Signed) -> Result<Kept, String> {
        let mut payload: serde_json::Value = serde_json::from_str(&statement.payload).map_err(|e| e.to_string())?;
        let rows = match payload.as_object_mut().and_then(|o| o.remove("fingerprints")) {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(rows)) => rows,
            Some(_) => return Err("fingerprints: expected an array".into()),
        };
        let mut config: ProbeConfigStatement = serde_json::from_value(payload).map_err(|e| e.to_string())?;
        if config.kind != "probe-config" {
            return Err(format!("statement kind {:?} is not \"probe-config\"", config.kind));
        }
        if issued_at(&config).is_none() {
            return Err(format!("issued_at {:?} is not an RFC 3339 time", config.issued_at));
        }
        let (mut unreadable, mut positions) = (Vec::new(), Vec::new());
        for (index, row) in rows.into_iter().enumerate() {
            let name = row.get("name").and_then(|n| n.as_str()).unwrap_or_default().to_string();
            match serde_json::from_value::<LocalFingerprint>(row) {
                Ok(row) => {
                    config.fingerprints.push(row);
                    positions.push(index);
                }
                Err(e) => unreadable.push(LocalError::unreadable(index, name, e.to_string())),
            }
        }
        Ok(Kept { statement, config, unreadable, positions })
    }
}

/// Where the configuration is kept: beside the collector pin.
pub fn path(config: &Config) -> PathBuf {
    config.identity.collector_path().with_file_name(FILE_NAME)
}

fn issued_at(config: &ProbeConfigStatement) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(&config.issued_at, &Rfc3339).ok()
}

/// The configuration kept at `path`, if any.
pub fn load(path: &Path) -> Result<Option<Kept>, RemoteError> {
    let io = |source| RemoteError::Io { path: path.into(), source };
    let invalid = |message: String| RemoteError::Invalid { path: path.into(), message };
    let size = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        other => other.map_err(io)?.len(),
    };
    if size > MAX_FILE_BYTES {
        return Err(invalid(format!("{size} bytes, more than {MAX_FILE_BYTES}")));
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let statement: Signed = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    Kept::read(statement).map(Some).map_err(invalid)
}

/// Keep `statement` at `path`, atomically.
fn save(path: &Path, statement: &Signed) -> Result<(), RemoteError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut text = serde_json::to_string_pretty(statement).unwrap_or_default();
    text.push('\n');
    atomic::replace(&atomic::tmp_path(dir), path, text.as_bytes(), 0o644)
        .map_err(|source| RemoteError::Io { path: path.into(), source })
}

/// What a refresh did.
#[derive(Debug, Clone, PartialEq)]
pub enum Refreshed {
    /// A new configuration is kept.
    New(Box<Kept>),
    /// The collector sent what is already kept (perhaps dated anew): nothing is written.
    Same,
    /// The collector sent a configuration older than the kept one (a replay): ignored.
    Older { issued_at: String },
}

/// Fetch the collector's configuration, check its signature with the pinned key (or the chain of
/// rotations from it) and keep it at `path` unless it is older than the one kept there.
pub async fn refresh(collector: &mut Collector, path: &Path) -> Result<Refreshed, RemoteError> {
    let statement =
        tokio::time::timeout(FETCH_TIMEOUT, collector.probe_config()).await.map_err(|_| RemoteError::Timeout)??;
    let invalid = |message: String| {
        RemoteError::Upload(UploadError::BadAnswer { url: crate::upload::PROBE_CONFIG_PATH.into(), message })
    };
    let received = Kept::read(statement).map_err(invalid)?;
    // A kept file that no longer reads is replaced by the fresh statement.
    let kept = load(path).ok().flatten();
    if let Some(kept) = &kept {
        // The collector dates each answer: a new date alone is no new configuration (and no
        // write to flash every hour).
        let undated = |k: &Kept| {
            (
                ProbeConfigStatement { issued_at: String::new(), ..k.config.clone() },
                k.unreadable.clone(),
                k.positions.clone(),
            )
        };
        if undated(kept) == undated(&received) {
            return Ok(Refreshed::Same);
        }
        if issued_at(&received.config) < issued_at(&kept.config) {
            return Ok(Refreshed::Older { issued_at: received.config.issued_at });
        }
    }
    save(path, &received.statement)?;
    Ok(Refreshed::New(Box::new(received)))
}

/// Refresh from the pinned collector (when enrolled), logging what happened, then return the
/// configuration kept (the fresh one, or the one kept earlier when the collector cannot be
/// reached or its answer does not check out).
pub async fn update(probe: &Probe, log: &mut dyn FnMut(String)) -> Option<Kept> {
    let path = path(&probe.config);
    match probe.collector() {
        Ok(mut collector) => match refresh(&mut collector, &path).await {
            Ok(Refreshed::New(kept)) => {
                let n = kept.config.fingerprints.len() + kept.unreadable.len();
                log(format!("probe configuration issued at {} kept ({n} local fingerprints)", kept.config.issued_at));
                return Some(*kept);
            }
            Ok(Refreshed::Same) => {}
            Ok(Refreshed::Older { issued_at }) => {
                log(format!("probe configuration issued at {issued_at} is older than the kept one: ignored"))
            }
            Err(e) => log(format!("probe configuration not refreshed ({e}): the kept one stays")),
        },
        // Not enrolled: nothing to fetch, and the upload says so.
        Err(UploadError::NotEnrolled(_)) => {}
        Err(e) => log(format!("probe configuration not refreshed ({e}): the kept one stays")),
    }
    match load(&path) {
        Ok(kept) => kept,
        Err(e) => {
            log(format!("kept probe configuration unusable ({e}): built-in fingerprints only"));
            None
        }
    }
}

/// The built-in fingerprints plus the valid local rows of `kept`; each refused row is logged.
pub fn fingerprints(kept: Option<&Kept>, log: &mut dyn FnMut(String)) -> FingerprintSet {
    let Some(kept) = kept else { return FingerprintSet::builtin() };
    let (set, errors) = Fingerprints::with_local(&kept.config.fingerprints);
    // Positions in the statement, not among the rows that could be read.
    let mut errors: Vec<LocalError> = errors
        .into_iter()
        .map(|e| LocalError { index: kept.positions.get(e.index).copied().unwrap_or(e.index), ..e })
        .chain(kept.unreadable.iter().cloned())
        .collect();
    errors.sort_by_key(|e| e.index);
    for e in errors {
        log(e.to_string());
    }
    set
}

/// A configuration's local rows: those read, and those that could not be.
type Rows = (Vec<LocalFingerprint>, Vec<LocalError>);

/// The engine measuring with the kept configuration's fingerprints, rebuilt only when they
/// change (shared by the daemon's runs).
pub struct Current {
    inner: Mutex<(Option<Rows>, Arc<Engine>)>,
}

impl Current {
    /// `engine` with the fingerprints of `kept`.
    pub fn new(engine: Engine, kept: Option<&Kept>, log: &mut dyn FnMut(String)) -> Current {
        let rows = kept.map(|k| (k.config.fingerprints.clone(), k.unreadable.clone()));
        let engine = Engine { fingerprints: Arc::new(fingerprints(kept, log)), ..engine };
        Current { inner: Mutex::new((rows, Arc::new(engine))) }
    }

    pub fn engine(&self) -> Arc<Engine> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).1.clone()
    }

    /// The engine for `kept`: the current one if its local fingerprints are the same, else a new
    /// one (nothing kept: the current one).
    pub fn apply(&self, kept: Option<&Kept>, log: &mut dyn FnMut(String)) -> Arc<Engine> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let rows = kept.map(|k| (k.config.fingerprints.clone(), k.unreadable.clone()));
        if rows.is_some() && rows != inner.0 {
            let engine = Engine { fingerprints: Arc::new(fingerprints(kept, log)), ..(*inner.1).clone() };
            *inner = (rows, Arc::new(engine));
        }
        inner.1.clone()
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use vigil_report::STATEMENT_FORMAT;

    use super::*;

    fn statement(kind: &str, issued_at: &str, pattern: &str) -> Signed {
        let config = ProbeConfigStatement {
            kind: kind.into(),
            issued_at: issued_at.into(),
            interval_minutes: 60,
            control_url: None,
            battery_toml: None,
            fingerprints: vec![LocalFingerprint {
                name: "local.c1".into(),
                location_found: "body".into(),
                pattern_type: "contains".into(),
                pattern: pattern.into(),
                expected_countries: vec!["UZ".into()],
            }],
        };
        Signed::sign_json(STATEMENT_FORMAT, &config, &SigningKey::from_bytes(&[7; 32])).unwrap()
    }

    #[test]
    fn a_kept_configuration_round_trips_and_a_bad_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        assert_eq!(load(&path).unwrap(), None, "nothing kept yet");
        let s = statement("probe-config", "2026-01-01T00:00:00Z", "this page is blocked");
        save(&path, &s).unwrap();
        let kept = load(&path).unwrap().unwrap();
        assert_eq!(kept.statement, s);
        assert_eq!(kept.config.fingerprints[0].name, "local.c1");

        let bad = |text: &str| {
            std::fs::write(&path, text).unwrap();
            let e = load(&path).unwrap_err().to_string();
            assert!(e.starts_with("probe_config_invalid: ") && e.contains(FILE_NAME), "{e}");
            assert_eq!(load(&path).unwrap_err().label(), "probe_config_invalid");
            e
        };
        bad("{not json");
        let ack = serde_json::to_string(&statement("ack", "2026-01-01T00:00:00Z", "x")).unwrap();
        assert!(bad(&ack).contains("\"ack\" is not \"probe-config\""));
        let undated = serde_json::to_string(&statement("probe-config", "yesterday", "x")).unwrap();
        assert!(bad(&undated).contains("\"yesterday\" is not an RFC 3339 time"));
        std::fs::write(&path, vec![b' '; MAX_FILE_BYTES as usize + 1]).unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("more than"));
    }

    #[test]
    fn a_row_that_cannot_be_read_is_refused_alone_and_named_by_its_position() {
        let payload = serde_json::json!({
            "kind": "probe-config", "issued_at": "2026-01-01T00:00:00Z", "interval_minutes": 60,
            "control_url": null, "battery_toml": null,
            "fingerprints": [
                {"name": "local.a", "location_found": "body", "pattern_type": "contains",
                 "pattern": "this page is blocked", "expected_countries": ["UZ"]},
                {"name": "local.b", "location_found": "body", "pattern_type": "contains",
                 "pattern": "this page is blocked", "expected_countries": [], "scope": "nat"},
                {"name": 5},
                {"name": "local.d", "location_found": "body", "pattern_type": "regexp",
                 "pattern": "blocked.*", "expected_countries": []},
                {"name": "local.e", "location_found": "header.server", "pattern_type": "full",
                 "pattern": "Filter", "expected_countries": ["TJ"]}
            ]
        });
        let key = SigningKey::from_bytes(&[7; 32]);
        let kept = Kept::read(Signed::sign(STATEMENT_FORMAT, payload.to_string(), &key)).unwrap();
        let names: Vec<&str> = kept.config.fingerprints.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["local.a", "local.d", "local.e"]);
        let mut lines = Vec::new();
        let set = fingerprints(Some(&kept), &mut |l| lines.push(l));
        let local: Vec<&str> = set.local().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(local, ["local.a", "local.e"]);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].starts_with("local fingerprint #1 (\"local.b\") refused: row: unknown field `scope`"),
            "{lines:?}"
        );
        assert!(lines[1].starts_with("local fingerprint #2 (\"\") refused: row: invalid type"), "{lines:?}");
        assert!(
            lines[2].starts_with("local fingerprint #3 (\"local.d\") refused: pattern_type \"regexp\""),
            "{lines:?}"
        );

        let not_rows = serde_json::json!({"kind": "probe-config", "issued_at": "2026-01-01T00:00:00Z",
            "interval_minutes": 60, "control_url": null, "battery_toml": null, "fingerprints": {}});
        let e = Kept::read(Signed::sign(STATEMENT_FORMAT, not_rows.to_string(), &key)).unwrap_err();
        assert_eq!(e, "fingerprints: expected an array");
    }

    fn engine() -> Engine {
        crate::runner::engine(&Config::default()).unwrap()
    }

    #[test]
    fn the_engine_is_rebuilt_only_when_the_kept_configuration_changes() {
        let kept = |pattern: &str| {
            let statement = statement("probe-config", "2026-01-01T00:00:00Z", pattern);
            Kept::read(statement).unwrap()
        };
        let mut lines = Vec::new();
        let mut log = |l: String| lines.push(l);
        let current = Current::new(engine(), None, &mut log);
        let first = current.engine();
        assert!(Arc::ptr_eq(&first, &current.apply(None, &mut log)), "nothing kept: the same engine");
        let a = kept("this page is blocked");
        let with_a = current.apply(Some(&a), &mut log);
        assert!(!Arc::ptr_eq(&first, &with_a));
        assert!(Arc::ptr_eq(&with_a, &current.apply(Some(&a), &mut log)), "same configuration: same engine");
        let mut redated = a.clone();
        redated.config.issued_at = "2026-01-02T00:00:00Z".into();
        assert!(Arc::ptr_eq(&with_a, &current.apply(Some(&redated), &mut log)), "a new date alone: same engine");
        // A refused row is logged once, when the configuration changes.
        let b = kept("short");
        current.apply(Some(&b), &mut log);
        current.apply(Some(&b), &mut log);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("local fingerprint #0 (\"local.c1\") refused: pattern"), "{lines:?}");
    }
}
