//! The collector's configuration: every default written once, here.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use vigil_control::ControlConfig;
use vigil_detect::Params;

use crate::error::CollectorError;

/// Default listening address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default request body limit of `POST /api/v1/submit` (8 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Default number of measurements per batch.
pub const DEFAULT_MAX_BATCH: usize = 1000;
/// Default tolerance for measurement times in the future (clock skew), seconds.
pub const DEFAULT_FUTURE_TOLERANCE_SECS: u64 = 600;
/// Default rate of new open enrollments per client network (per minute; also the burst).
pub const DEFAULT_OPEN_ENROLLMENTS_PER_MINUTE: u32 = 10;
/// Default rate of control requests per client network in `open` mode (per minute; also the
/// burst; 0: none).
pub const DEFAULT_CONTROL_PER_MINUTE: u32 = 120;
/// Default rate of control requests per enrolled probe key in `enrolled` mode (per minute; also
/// the burst; 0: none): five runs of the built-in battery (98 endpoints, one control request
/// each) a minute.
pub const DEFAULT_CONTROL_PER_KEY_PER_MINUTE: u32 = 500;
/// Default rate of control requests refused for their authentication (unsigned, unknown key,
/// bad signature...) per client network in `enrolled` mode (per minute; also the burst; 0:
/// none); over it such requests get 429.
pub const DEFAULT_CONTROL_AUTH_FAILURES_PER_MINUTE: u32 = 30;
/// Default rate of enrollment requests per client network (per minute; also the burst; 0: none).
pub const DEFAULT_ENROLL_PER_MINUTE: u32 = 30;
/// Default rate of heavy public reads per client network (per minute; also the burst; 0: none).
pub const DEFAULT_READS_PER_MINUTE: u32 = 300;
/// Default number of client networks each rate limit tracks (only a refilled bucket is dropped for a newcomer; else newcomers share an overflow bucket).
pub const DEFAULT_MAX_TRACKED_NETWORKS: usize = 10_000;
/// Minutes between battery runs announced in the probe configuration.
pub const DEFAULT_INTERVAL_MINUTES: u32 = 60;
/// How often the collector records itself alive (its own uptime), seconds.
pub const DEFAULT_UPTIME_INTERVAL_SECS: u64 = 30;
/// Bound of each step of the control (DNS, connect, handshake, fetch), seconds.
pub const DEFAULT_CONTROL_TIMEOUT_SECS: u64 = 10;
/// Whom the control serves by default: enrolled probes only.
pub const DEFAULT_CONTROL_MODE: ControlMode = ControlMode::Enrolled;
/// How far a signed control request's time may be from the collector's clock, seconds (either
/// way; also how long a captured request could be replayed).
pub const DEFAULT_CONTROL_CLOCK_TOLERANCE_SECS: u64 = 600;

/// Whom the control (`POST /api/v1/control`) serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlMode {
    /// Requests signed by an enrolled, unrevoked probe key (docs/collector.md, "The control").
    Enrolled,
    /// Anyone: labs and public test helpers.
    Open,
    /// No one: the route answers `control_disabled`.
    Off,
}

impl std::fmt::Display for ControlMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ControlMode::Enrolled => "enrolled",
            ControlMode::Open => "open",
            ControlMode::Off => "off",
        })
    }
}

impl std::str::FromStr for ControlMode {
    type Err = String;

    fn from_str(s: &str) -> Result<ControlMode, String> {
        match s {
            "enrolled" => Ok(ControlMode::Enrolled),
            "open" => Ok(ControlMode::Open),
            "off" => Ok(ControlMode::Off),
            other => Err(format!("unknown control mode {other:?}: use enrolled, open or off")),
        }
    }
}
/// The SQLite WAL's limit (64 MiB): past it the writer restarts the WAL between transactions,
/// and the file is cut back to it; one write transaction carries at most an eighth of it.
pub const DEFAULT_WAL_LIMIT_BYTES: u64 = 64 * 1024 * 1024;
/// The writer connection's page cache (64 MiB): the leaf pages of the tables and indexes every
/// stored measurement appends to stay in memory between transactions instead of being read back
/// (SQLite's default is 2 MiB, 128 of the 16 KiB pages). Memory, not durability: every COMMIT
/// still syncs the WAL.
pub const DEFAULT_WRITER_CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// Time a client has to send a request's whole header, from when the server starts waiting for
/// it (connection accepted, or the previous response sent), seconds.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// A connection with no request in flight and no byte moved for this long is closed, seconds.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 5;
/// Time a client has to send a request's whole body, from when the handler starts reading it
/// (408 `request_timeout` after), seconds.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 60;
/// Connections served at once; more are answered 503 `too_many_connections` and closed at once.
/// Lowered at start to fit the descriptor limit (`RLIMIT_NOFILE` less [`FD_RESERVE`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Descriptors kept for the database, the control's outgoing sockets and files when the
/// connection cap is fitted to `RLIMIT_NOFILE`.
pub const FD_RESERVE: u64 = 64;
/// Request body limit of every route with a body except submit (`max_body_bytes`), the control
/// (`vigil_control::MAX_REQUEST_BYTES`) and the disclosure import (`MAX_IMPORT_BYTES`).
pub const DEFAULT_MAX_OTHER_BODY_BYTES: usize = 64 * 1024;

/// Blockpage candidates kept (the oldest dropped past it; 0: discovery off).
pub const DEFAULT_BLOCKPAGE_MAX_CANDIDATES: usize = 10_000;

/// `import-ooni` and `replay`: the longest line (one measurement) read, bytes (OONI's largest
/// Web Connectivity measurements, with their body snapshots, stay well under it).
pub const DEFAULT_IMPORT_MAX_LINE_BYTES: usize = 8 * 1024 * 1024;
/// `import-ooni`: lines (measurements) read from one file; OONI's hourly files per country
/// and test hold far fewer.
pub const DEFAULT_IMPORT_MAX_LINES: usize = 500_000;
/// `import-ooni`: bytes read from one file once decompressed (a `.jsonl.gz` bomb stops here).
pub const DEFAULT_IMPORT_MAX_FILE_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// `import-ooni DIR`: measurement files (`.jsonl`, `.jsonl.gz`, `.json`) taken from a directory
/// tree, and how deep it is walked.
pub const DEFAULT_IMPORT_MAX_FILES: usize = 10_000;
pub const IMPORT_MAX_DEPTH: usize = 8;

/// Everything `vigil-collector serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Holds `vigil.sqlite` and `collector.key`.
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// IP-to-ASN file (iptoasn.com TSV or `network,asn,country` CSV); none → AS0/ZZ.
    pub asn_db: Option<PathBuf>,
    /// Accepted enrollment tokens; empty → no token enrolls.
    pub enroll_tokens: Vec<String>,
    /// Enrollment without a token, rate-limited.
    pub open_enrollment: bool,
    /// New open enrollments per client network (IPv4 /24, IPv6 /48) and minute.
    pub open_enrollments_per_minute: u32,
    /// Per client network and minute: control requests (`open` mode), enrollment requests, heavy
    /// public reads (`routes.rs` marks them); 0 lifts a limit.
    pub control_per_minute: u32,
    pub enroll_per_minute: u32,
    pub reads_per_minute: u32,
    /// `enrolled` mode: authenticated control requests per probe key and minute (0: no limit).
    pub control_per_key_per_minute: u32,
    /// `enrolled` mode: control requests refused for their authentication per client network
    /// and minute (0: no limit).
    pub control_auth_failures_per_minute: u32,
    /// Client networks each of these limits tracks at once (memory bound; beyond it, newcomers share an overflow bucket until a bucket has refilled).
    pub max_tracked_networks: usize,
    /// Bearer token of the admin endpoints; none → admin disabled.
    pub operator_token: Option<String>,
    /// This collector's public base URL (for the `control_url` of the probe configuration).
    pub public_url: Option<String>,
    /// A battery (TOML) handed to probes in their configuration.
    pub battery_toml: Option<String>,
    /// Platform ids probes may report besides the built-in battery's and `battery_toml`'s
    /// (`--platform`); summaries of any other platform are stored but kept off the timelines.
    pub platforms: Vec<String>,
    /// Take the client address from the last `X-Forwarded-For` entry (appended by the reverse proxy).
    pub trust_proxy: bool,
    pub max_body_bytes: usize,
    pub max_batch: usize,
    pub future_tolerance: Duration,
    pub interval_minutes: u32,
    /// The collector's own public addresses (besides the listen address and the public URL's):
    /// the control refuses them.
    pub own_addresses: Vec<IpAddr>,
    pub control_timeout: Duration,
    /// Whom the control serves (`--control`).
    pub control_mode: ControlMode,
    /// Accepted distance between a signed control request's time and the collector's clock.
    pub control_clock_tolerance: Duration,
    /// The WAL's limit in bytes: the WAL file stays under it plus one write transaction.
    pub wal_limit_bytes: u64,
    /// See [`DEFAULT_WRITER_CACHE_BYTES`].
    pub writer_cache_bytes: u64,
    /// See [`DEFAULT_HEADER_READ_TIMEOUT_SECS`].
    pub header_read_timeout: Duration,
    /// See [`DEFAULT_IDLE_TIMEOUT_SECS`].
    pub idle_timeout: Duration,
    /// See [`DEFAULT_BODY_TIMEOUT_SECS`].
    pub body_timeout: Duration,
    /// See [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// See [`DEFAULT_MAX_OTHER_BODY_BYTES`].
    pub max_other_body_bytes: usize,
    /// A ready control configuration (tests, labs); None builds the field one (system resolver,
    /// public web PKI, non-public and own addresses refused).
    pub control: Option<Arc<ControlConfig>>,
    /// Detection parameters (`--detection FILE`; `collector/detection.toml` holds the defaults).
    pub detection: Params,
    /// Run detection passes while serving (off for `demo`, whose simulated probes stop now).
    pub live_detection: bool,
    /// The time the public reads take as "now" (Unix s): None is the system clock. The demo's
    /// `--end` sets it, so its pages show the simulated period as of its end. Detection and
    /// ingest always use the system clock.
    pub read_clock: Option<i64>,
    /// How often the serving collector records itself alive (`uptime`): after a crash, its
    /// downtime is known to within this.
    pub uptime_interval: Duration,
    /// See [`DEFAULT_BLOCKPAGE_MAX_CANDIDATES`].
    pub blockpage_max_candidates: usize,
    /// Blockpage clustering: LSH rows per band, similarity, and what a published cluster spans.
    pub blockpages: crate::blockpages_cluster::Params,
    /// Bounds of `import-ooni` and `replay` (see [`ImportLimits`]).
    pub import: ImportLimits,
}

/// What one `import-ooni` (and `replay`) reads at most: each bound is an error naming the file
/// (and line) that passes it; what was imported before stays imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLimits {
    /// See [`DEFAULT_IMPORT_MAX_LINE_BYTES`].
    pub max_line_bytes: usize,
    /// See [`DEFAULT_IMPORT_MAX_LINES`].
    pub max_lines: usize,
    /// See [`DEFAULT_IMPORT_MAX_FILE_BYTES`].
    pub max_file_bytes: u64,
    /// See [`DEFAULT_IMPORT_MAX_FILES`].
    pub max_files: usize,
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits {
            max_line_bytes: DEFAULT_IMPORT_MAX_LINE_BYTES,
            max_lines: DEFAULT_IMPORT_MAX_LINES,
            max_file_bytes: DEFAULT_IMPORT_MAX_FILE_BYTES,
            max_files: DEFAULT_IMPORT_MAX_FILES,
        }
    }
}

impl Config {
    /// A configuration with every default, storing in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            listen: DEFAULT_LISTEN.parse().expect("the default listen address parses"),
            asn_db: None,
            enroll_tokens: Vec::new(),
            open_enrollment: false,
            open_enrollments_per_minute: DEFAULT_OPEN_ENROLLMENTS_PER_MINUTE,
            control_per_minute: DEFAULT_CONTROL_PER_MINUTE,
            enroll_per_minute: DEFAULT_ENROLL_PER_MINUTE,
            reads_per_minute: DEFAULT_READS_PER_MINUTE,
            control_per_key_per_minute: DEFAULT_CONTROL_PER_KEY_PER_MINUTE,
            control_auth_failures_per_minute: DEFAULT_CONTROL_AUTH_FAILURES_PER_MINUTE,
            max_tracked_networks: DEFAULT_MAX_TRACKED_NETWORKS,
            operator_token: None,
            public_url: None,
            battery_toml: None,
            platforms: Vec::new(),
            trust_proxy: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch: DEFAULT_MAX_BATCH,
            future_tolerance: Duration::from_secs(DEFAULT_FUTURE_TOLERANCE_SECS),
            interval_minutes: DEFAULT_INTERVAL_MINUTES,
            own_addresses: Vec::new(),
            control_timeout: Duration::from_secs(DEFAULT_CONTROL_TIMEOUT_SECS),
            control_mode: DEFAULT_CONTROL_MODE,
            control_clock_tolerance: Duration::from_secs(DEFAULT_CONTROL_CLOCK_TOLERANCE_SECS),
            wal_limit_bytes: DEFAULT_WAL_LIMIT_BYTES,
            writer_cache_bytes: DEFAULT_WRITER_CACHE_BYTES,
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECS),
            body_timeout: Duration::from_secs(DEFAULT_BODY_TIMEOUT_SECS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_other_body_bytes: DEFAULT_MAX_OTHER_BODY_BYTES,
            control: None,
            detection: Params::default(),
            live_detection: true,
            read_clock: None,
            uptime_interval: Duration::from_secs(DEFAULT_UPTIME_INTERVAL_SECS),
            blockpage_max_candidates: DEFAULT_BLOCKPAGE_MAX_CANDIDATES,
            blockpages: crate::blockpages_cluster::Params::default(),
            import: ImportLimits::default(),
        }
    }

    /// "Now" for the public reads (pages, timelines, charts, disclosures): `read_clock` or the
    /// system clock.
    pub fn read_now(&self) -> i64 {
        self.read_clock.unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp())
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("vigil.sqlite")
    }

    pub fn key_path(&self) -> PathBuf {
        self.data_dir.join("collector.key")
    }

    /// The platform ids the collector turns into observations: the probe's built-in battery,
    /// the connectivity check, the configured battery's and `platforms`.
    pub fn known_platforms(&self) -> HashSet<String> {
        let mut known: HashSet<String> =
            vigil_report::limits::BUILTIN_PLATFORM_IDS.iter().map(|s| s.to_string()).collect();
        known.insert(vigil_report::limits::CONNECTIVITY_CHECK.to_string());
        // `--battery` is checked at start (`battery_platform_ids`); a config built in code with a
        // bad battery contributes no platform.
        known.extend(self.battery_toml.as_deref().and_then(|t| battery_platform_ids(t).ok()).unwrap_or_default());
        known.extend(self.platforms.iter().cloned());
        known
    }

    /// The control URL announced to probes, when the public URL is known.
    pub fn control_url(&self) -> Option<String> {
        self.public_url.as_ref().map(|u| format!("{}/api/v1/control", u.trim_end_matches('/')))
    }
}

/// The platform ids of a battery (TOML, the probe's `[[platform]]` tables), or what is wrong
/// with it: not TOML, no `[[platform]]` table, a platform without a string `id`, an id out of
/// bounds or used twice. (The probe checks the rest of the battery, its endpoints and kinds.)
pub fn battery_platform_ids(text: &str) -> Result<Vec<String>, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| format!("not TOML: {e}"))?;
    let Some(list) = table.get("platform") else { return Err("no [[platform]] table".into()) };
    let Some(list) = list.as_array() else { return Err("platform must be an array of tables ([[platform]])".into()) };
    if list.is_empty() {
        return Err("no [[platform]] table".into());
    }
    let mut ids: Vec<String> = Vec::with_capacity(list.len());
    for (i, p) in list.iter().enumerate() {
        let Some(id) = p.get("id").and_then(|i| i.as_str()) else {
            return Err(format!("platform {} has no string id", i + 1));
        };
        vigil_report::limits::platform_id("platform id", id).map_err(|e| format!("platform {}: {e}", i + 1))?;
        if ids.iter().any(|seen| seen == id) {
            return Err(format!("platform id {id:?} is used twice"));
        }
        ids.push(id.to_string());
    }
    Ok(ids)
}

/// Read detection parameters from a TOML file; a key missing from it keeps its default, an
/// unknown key is an error naming the key and the file.
pub fn load_detection(path: &Path) -> Result<Params, CollectorError> {
    let text = std::fs::read_to_string(path).map_err(|e| CollectorError::io("read", path, e))?;
    parse_detection(&text).map_err(|e| CollectorError::Config(format!("detection parameters {}: {e}", path.display())))
}

/// Parse detection parameters (TOML).
pub fn parse_detection(text: &str) -> Result<Params, String> {
    toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
}

/// Compare two secrets without an early exit on the first differing byte.
pub fn secret_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_url_joins_the_public_url() {
        let mut c = Config::new("/tmp/x");
        assert_eq!(c.control_url(), None);
        c.public_url = Some("https://c.example/".into());
        assert_eq!(c.control_url().as_deref(), Some("https://c.example/api/v1/control"));
    }

    #[test]
    fn an_enrolled_probe_may_run_the_built_in_battery_several_times_a_minute() {
        let battery = include_str!("../../probe/data/battery.toml");
        let endpoints = battery.lines().filter(|l| l.trim() == "[[platform.endpoint]]").count();
        assert!(endpoints >= 90, "the battery's endpoints are counted: {endpoints}");
        let runs = DEFAULT_CONTROL_PER_KEY_PER_MINUTE as usize / endpoints;
        assert!(
            runs >= 3,
            "{DEFAULT_CONTROL_PER_KEY_PER_MINUTE} control requests a minute: {runs} runs of {endpoints}"
        );
    }

    #[test]
    fn known_platforms_are_the_builtin_battery_the_configured_one_and_the_listed_ones() {
        let mut c = Config::new("/tmp/x");
        let k = c.known_platforms();
        assert!(k.contains("telegram") && k.contains("controls") && !k.contains("twitter"));
        c.battery_toml = Some("[[platform]]\nid = \"lab_1\"\n[[platform]]\nid = \"lab_2\"\n".into());
        c.platforms = vec!["extra".into()];
        let k = c.known_platforms();
        assert!(["telegram", "lab_1", "lab_2", "extra"].iter().all(|p| k.contains(*p)), "{k:?}");
    }

    #[test]
    fn the_shipped_detection_file_equals_the_defaults() {
        let text = include_str!("../detection.toml");
        assert_eq!(parse_detection(text).expect("parses"), Params::default());
        // ...and names every parameter, so the file is their list.
        let defaults = toml::Value::try_from(Params::default()).unwrap();
        for key in defaults.as_table().unwrap().keys() {
            assert!(text.lines().any(|l| l.starts_with(&format!("{key} "))), "{key} is missing from detection.toml");
        }
    }

    #[test]
    fn detection_files_are_partial_and_strict() {
        let p = parse_detection("block_min_probes = 3\n").expect("parses");
        assert_eq!(p, Params { block_min_probes: 3, ..Params::default() });
        let e = parse_detection("block_min_probs = 3\n").unwrap_err();
        assert!(e.contains("block_min_probs"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.toml");
        std::fs::write(&path, "cusum_h = 4.0\ncolour = 1\n").unwrap();
        let e = load_detection(&path).unwrap_err().to_string();
        assert!(e.contains("colour") && e.contains("d.toml"), "{e}");
    }

    #[test]
    fn control_modes_parse_and_unknown_ones_are_named() {
        assert_eq!("enrolled".parse(), Ok(ControlMode::Enrolled));
        assert_eq!("open".parse(), Ok(ControlMode::Open));
        assert_eq!("off".parse(), Ok(ControlMode::Off));
        let e = "public".parse::<ControlMode>().unwrap_err();
        assert!(e.contains("\"public\"") && e.contains("enrolled, open or off"), "{e}");
        assert_eq!(Config::new("/tmp/x").control_mode, ControlMode::Enrolled, "enrolled probes only by default");
        for mode in [ControlMode::Enrolled, ControlMode::Open, ControlMode::Off] {
            assert_eq!(mode.to_string().parse(), Ok(mode));
        }
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(secret_eq("abc", "abc"));
        assert!(!secret_eq("abc", "abd"));
        assert!(!secret_eq("abc", "abcd"));
    }
}
