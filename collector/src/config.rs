//! The collector's configuration: every default written once, here.

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
/// Default rate of open enrollments (overall, per minute; also the burst).
pub const DEFAULT_OPEN_ENROLLMENTS_PER_MINUTE: u32 = 10;
/// Minutes between battery runs announced in the probe configuration.
pub const DEFAULT_INTERVAL_MINUTES: u32 = 60;
/// Bound of each step of the control (DNS, connect, handshake, fetch), seconds.
pub const DEFAULT_CONTROL_TIMEOUT_SECS: u64 = 10;
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
    pub open_enrollments_per_minute: u32,
    /// Bearer token of the admin endpoints; none → admin disabled.
    pub operator_token: Option<String>,
    /// This collector's public base URL (for the `control_url` of the probe configuration).
    pub public_url: Option<String>,
    /// A battery (TOML) handed to probes in their configuration.
    pub battery_toml: Option<String>,
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
            operator_token: None,
            public_url: None,
            battery_toml: None,
            trust_proxy: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch: DEFAULT_MAX_BATCH,
            future_tolerance: Duration::from_secs(DEFAULT_FUTURE_TOLERANCE_SECS),
            interval_minutes: DEFAULT_INTERVAL_MINUTES,
            own_addresses: Vec::new(),
            control_timeout: Duration::from_secs(DEFAULT_CONTROL_TIMEOUT_SECS),
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECS),
            body_timeout: Duration::from_secs(DEFAULT_BODY_TIMEOUT_SECS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_other_body_bytes: DEFAULT_MAX_OTHER_BODY_BYTES,
            control: None,
            detection: Params::default(),
            live_detection: true,
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("vigil.sqlite")
    }

    pub fn key_path(&self) -> PathBuf {
        self.data_dir.join("collector.key")
    }

    /// The control URL announced to probes, when the public URL is known.
    pub fn control_url(&self) -> Option<String> {
        self.public_url.as_ref().map(|u| format!("{}/api/v1/control", u.trim_end_matches('/')))
    }
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
    fn the_shipped_detection_file_equals_the_defaults() {
        let text = include_str!("../detection.toml");
        assert_eq!(parse_detection(text).expect("parses"), Params::default());
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
    fn secrets_compare_exactly() {
        assert!(secret_eq("abc", "abc"));
        assert!(!secret_eq("abc", "abd"));
        assert!(!secret_eq("abc", "abcd"));
    }
}
