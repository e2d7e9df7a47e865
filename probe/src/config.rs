//! The probe's configuration: one TOML file, unknown keys rejected by name, every default written
//! once here. The shipped sample `probe/vigil-probe.toml` must equal [`Config::default`] (tested).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Errors loading a configuration; the message names the file and the offending key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config_read: cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config_parse: {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config_invalid: {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl ConfigError {
    /// Stable short label.
    pub fn label(&self) -> &'static str {
        match self {
            ConfigError::Read { .. } => "config_read",
            ConfigError::Parse { .. } => "config_parse",
            ConfigError::Invalid { .. } => "config_invalid",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct Config {
    pub probe: ProbeSection,
    pub dns: DnsSection,
    pub network: NetworkSection,
    pub control: ControlSection,
    pub battery: BatterySection,
    pub identity: IdentitySection,
    pub spool: SpoolSection,
    pub upload: UploadSection,
    pub schedule: ScheduleSection,
    pub throttle: ThrottleSection,
}

/// Where the probe is. Left unknown, the collector fills country and ASN in from the address the
/// probe uploads from (and never stores that address).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeSection {
    /// ISO country code, `ZZ` when unknown.
    pub country: String,
    /// `AS<n>`, `AS0` when unknown.
    pub asn: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsSection {
    /// Ask the system resolver (getaddrinfo), i.e. what apps on this network get.
    pub system: bool,
    /// Plain UDP resolvers, `ip` or `ip:port` (ISP and public).
    pub resolvers: Vec<String>,
    /// Encrypted reference resolver (DoH URL); empty for none.
    pub doh: String,
    pub timeout_ms: u64,
    /// Keep listening this long after the first UDP answer (injection evidence).
    pub linger_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSection {
    pub connect_timeout_ms: u64,
    pub tls_timeout_ms: u64,
    pub http_timeout_ms: u64,
    /// Endpoints measured at once.
    pub concurrency: usize,
    /// The innocuous SNI of the SNI-swap control.
    pub swap_sni: String,
    /// Extra trust roots (PEM), e.g. a lab CA.
    pub ca_files: Vec<PathBuf>,
    /// Lab only: networks that count as public and may be measured. Empty in the field, where the
    /// probe never connects to local or private (RFC 1918) addresses.
    pub lab_nets: Vec<String>,
    /// Measure IPv6 addresses: `auto` (when the host has a global IPv6 route), `always`, `never`.
    pub ipv6: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlSection {
    /// The control (test helper) endpoint; empty for none.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatterySection {
    /// Platform ids to measure; empty for the whole battery.
    pub platforms: Vec<String>,
    /// A battery file replacing the built-in one; empty for the built-in.
    pub file: Option<PathBuf>,
}

/// The probe's key and the collector it is enrolled with (see `docs/probe-spool.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentitySection {
    /// The probe's Ed25519 secret key (hex), created on first start with mode 0600.
    pub key_file: PathBuf,
    /// The pinned collector (URL and key), written by `vigil-probe enroll`; unset means
    /// `collector.json` next to `key_file`.
    pub collector_file: Option<PathBuf>,
}

/// The store-and-forward spool: every signed measurement is on flash before it is uploaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolSection {
    pub dir: PathBuf,
    /// Size bound of the spool; beyond it routine successes are shed first, then the oldest evidence.
    pub max_bytes: u64,
    /// HTTP body bytes kept in a measurement that is evidence (routine successes keep none).
    pub evidence_body_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadSection {
    /// Measurements per submission.
    pub batch_size: usize,
    /// Exponential backoff with full jitter while the collector is unreachable: base and cap, seconds.
    pub backoff_base_s: u64,
    pub backoff_max_s: u64,
    /// The collector's request body limit (its `--max-body-bytes`): submissions are kept under
    /// it, and a measurement alone over it is set aside, never sent.
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleSection {
    /// Minutes between battery runs of `vigil-probe run` (each wait is randomised by ±10%).
    pub interval_minutes: u32,
    /// Seconds between heartbeats of `vigil-probe run` (each wait is randomised by ±20%). The
    /// collector's shutdown detection assumes its own nominal interval (default 300 s).
    pub heartbeat_seconds: u32,
}

/// The throttling test (`docs/throttling.md`): per platform, the platform's SNI against an
/// innocuous SNI on the decoy (T1/C1) and the platform's CDN object against a control object (T2/C2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleSection {
    /// `vigil-probe run` runs the test after the battery (when a decoy or a control object is set).
    pub enabled: bool,
    /// Platform ids to test; empty: every battery platform with a `[platform.throttle]` table.
    pub platforms: Vec<String>,
    /// The decoy server, `ip:port`, serving test objects for any SNI (`vigil-collector decoy`);
    /// empty: no T1/C1 arms.
    pub decoy: String,
    /// The decoy's certificate (PEM), pinned: the decoy answers any SNI with it.
    pub decoy_cert: Option<PathBuf>,
    /// Path of the object on the decoy.
    pub decoy_path: String,
    /// Innocuous SNIs for arm C1 (one is picked at random per run).
    pub innocuous_snis: Vec<String>,
    /// Arm C2: a control object (https://) on a provider like the platforms' CDNs; empty: no T2/C2 arms.
    pub control_object: String,
    /// Body bytes read per transfer.
    pub object_bytes: u64,
    /// Cap of one transfer (connect to last byte).
    pub cap_ms: u64,
    /// Pause between transfers.
    pub gap_ms: u64,
    /// T/C pairs per arm at most (the first two may end it early when clean).
    pub pairs: u32,
    /// Bytes one platform's run may receive at most (a pair is not started beyond it).
    pub budget_bytes: u64,
    /// Delay of the confirmation rerun before a `throttled` verdict.
    pub confirm_delay_s: u64,
    /// The control must reach this goodput for a `throttled` verdict (else `link_too_slow`).
    pub min_control_kbps: f64,
    /// The daemon starts a test at most this often (a run of every platform costs a few MB).
    pub interval_hours: u64,
}

impl Default for ThrottleSection {
    fn default() -> Self {
        ThrottleSection {
            enabled: true,
            platforms: Vec::new(),
            decoy: String::new(),
            decoy_cert: None,
            decoy_path: "/vigil/object".into(),
            innocuous_snis: vec!["www.example.org".into(), "www.example.net".into(), "www.example.com".into()],
            control_object: String::new(),
            object_bytes: 160 * 1024,
            cap_ms: 8000,
            gap_ms: 3000,
            pairs: 4,
            budget_bytes: 2 * 1024 * 1024,
            confirm_delay_s: 600,
            min_control_kbps: 1000.0,
            interval_hours: 6,
        }
    }
}

/// The error for a decoy the probe may not measure (checked at load and again by the tester).
pub(crate) fn decoy_not_public(addr: SocketAddr) -> String {
    format!(
        "throttle.decoy: {addr} is not a public address; the probe measures local networks only when network.lab_nets lists them (lab only)"
    )
}

impl ThrottleSection {
    /// Check values that parse but make no sense, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if !self.decoy.is_empty() {
            self.decoy.parse::<SocketAddr>().map_err(|_| format!("throttle.decoy: {:?} is not ip:port", self.decoy))?;
            if self.decoy_cert.is_none() {
                return Err("throttle.decoy_cert: needed with throttle.decoy (the decoy's pinned certificate)".into());
            }
        }
        if !(1..=168).contains(&self.interval_hours) {
            return Err(format!("throttle.interval_hours: {} is not between 1 and 168", self.interval_hours));
        }
        if !self.decoy_path.starts_with('/') {
            return Err(format!("throttle.decoy_path: {:?} must start with /", self.decoy_path));
        }
        if self.innocuous_snis.is_empty() {
            return Err("throttle.innocuous_snis: needs at least one name".into());
        }
        if !self.control_object.is_empty() {
            let url = url::Url::parse(&self.control_object).map_err(|e| format!("throttle.control_object: {e}"))?;
            if url.scheme() != "https" {
                return Err("throttle.control_object: must be an https:// URL".into());
            }
        }
        if self.object_bytes < 64 * 1024 || self.object_bytes > 4 * 1024 * 1024 {
            return Err(format!("throttle.object_bytes: {} is not between 65536 and 4194304", self.object_bytes));
        }
        if self.cap_ms < 500 {
            return Err(format!("throttle.cap_ms: {} is less than 500", self.cap_ms));
        }
        if !(2..=8).contains(&self.pairs) {
            return Err(format!("throttle.pairs: {} is not between 2 and 8", self.pairs));
        }
        if !self.min_control_kbps.is_finite() || self.min_control_kbps < 0.0 {
            return Err("throttle.min_control_kbps: must be 0 or more".into());
        }
        Ok(())
    }
}

impl Default for IdentitySection {
    fn default() -> Self {
        IdentitySection { key_file: "/var/lib/vigil-probe/probe.key".into(), collector_file: None }
    }
}

impl IdentitySection {
    /// Where the collector pin lives.
    pub fn collector_path(&self) -> PathBuf {
        match &self.collector_file {
            Some(path) => path.clone(),
            None => self.key_file.with_file_name("collector.json"),
        }
    }
}

impl Default for SpoolSection {
    fn default() -> Self {
        SpoolSection {
            dir: "/var/lib/vigil-probe/spool".into(),
            max_bytes: 4 * 1024 * 1024,
            evidence_body_bytes: 64 * 1024,
        }
    }
}

impl Default for UploadSection {
    fn default() -> Self {
        UploadSection {
            batch_size: 200,
            backoff_base_s: 30,
            backoff_max_s: 3600,
            max_body_bytes: crate::upload::DEFAULT_MAX_BODY_BYTES,
        }
    }
}

impl Default for ScheduleSection {
    fn default() -> Self {
        ScheduleSection { interval_minutes: 60, heartbeat_seconds: 300 }
    }
}

impl Default for ProbeSection {
    fn default() -> Self {
        ProbeSection { country: "ZZ".into(), asn: "AS0".into() }
    }
}

impl Default for DnsSection {
    fn default() -> Self {
        DnsSection {
            system: true,
            resolvers: vec!["8.8.8.8:53".into()],
            doh: "https://1.1.1.1/dns-query".into(),
            timeout_ms: 4000,
            linger_ms: 500,
        }
    }
}

impl Default for NetworkSection {
    fn default() -> Self {
        NetworkSection {
            connect_timeout_ms: 10_000,
            tls_timeout_ms: 10_000,
            http_timeout_ms: 10_000,
            concurrency: 32,
            swap_sni: "example.org".into(),
            ca_files: Vec::new(),
            lab_nets: Vec::new(),
            ipv6: "auto".into(),
        }
    }
}

/// The shipped sample, equal to the defaults.
pub const SAMPLE: &str = include_str!("../vigil-probe.toml");

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Parse { path: path.into(), message: e.to_string() })?;
        config.validate().map_err(|message| ConfigError::Invalid { path: path.into(), message })?;
        Ok(config)
    }

    /// Check values that parse but make no sense, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        for r in &self.dns.resolvers {
            parse_resolver(r).map_err(|e| format!("dns.resolvers: {e}"))?;
        }
        if !self.dns.doh.is_empty() {
            let url = url::Url::parse(&self.dns.doh).map_err(|e| format!("dns.doh: {e}"))?;
            if !matches!(url.scheme(), "https" | "http") {
                return Err("dns.doh: must be an https:// URL".into());
            }
        }
        if !self.control.url.is_empty() {
            url::Url::parse(&self.control.url).map_err(|e| format!("control.url: {e}"))?;
        }
        let mut lab_nets = Vec::new();
        for n in &self.network.lab_nets {
            lab_nets.push(n.parse::<ipnet::IpNet>().map_err(|e| format!("network.lab_nets: {n:?}: {e}"))?);
        }
        // The decoy is measured like any target: never a local or private address outside a lab.
        if let Ok(addr) = self.throttle.decoy.parse::<SocketAddr>()
            && !crate::bogon::Scope::lab(lab_nets).may_measure(addr.ip())
        {
            return Err(decoy_not_public(addr));
        }
        if self.network.concurrency == 0 {
            return Err("network.concurrency: must be at least 1".into());
        }
        if !matches!(self.network.ipv6.as_str(), "auto" | "always" | "never") {
            return Err(format!("network.ipv6: {:?} is not auto, always or never", self.network.ipv6));
        }
        let cc = &self.probe.country;
        if cc.len() != 2 || !cc.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(format!("probe.country: {cc:?} is not a two-letter upper-case country code"));
        }
        if self.probe.asn.strip_prefix("AS").is_none_or(|n| n.parse::<u32>().is_err()) {
            return Err(format!("probe.asn: {:?} is not of the form AS<number>", self.probe.asn));
        }
        for (key, ms) in [
            ("dns.timeout_ms", self.dns.timeout_ms),
            ("network.connect_timeout_ms", self.network.connect_timeout_ms),
            ("network.tls_timeout_ms", self.network.tls_timeout_ms),
            ("network.http_timeout_ms", self.network.http_timeout_ms),
        ] {
            if ms == 0 {
                return Err(format!("{key}: must be more than 0"));
            }
        }
        self.throttle.validate()?;
        self.validate_spool_and_upload()
    }

    fn validate_spool_and_upload(&self) -> Result<(), String> {
        if self.identity.key_file.as_os_str().is_empty() {
            return Err("identity.key_file: must not be empty".into());
        }
        if self.spool.dir.as_os_str().is_empty() {
            return Err("spool.dir: must not be empty".into());
        }
        if self.spool.max_bytes < 64 * 1024 {
            return Err(format!("spool.max_bytes: {} is less than 65536", self.spool.max_bytes));
        }
        if self.upload.batch_size == 0 || self.upload.batch_size > 10_000 {
            return Err(format!("upload.batch_size: {} is not between 1 and 10000", self.upload.batch_size));
        }
        if self.upload.max_body_bytes < 64 * 1024 {
            return Err(format!("upload.max_body_bytes: {} is under 65536", self.upload.max_body_bytes));
        }
        if self.upload.backoff_base_s == 0 {
            return Err("upload.backoff_base_s: must be at least 1".into());
        }
        if self.upload.backoff_max_s < self.upload.backoff_base_s {
            return Err("upload.backoff_max_s: must be at least upload.backoff_base_s".into());
        }
        if self.schedule.interval_minutes == 0 {
            return Err("schedule.interval_minutes: must be at least 1".into());
        }
        if self.schedule.heartbeat_seconds < 2 {
            return Err("schedule.heartbeat_seconds: must be at least 2".into());
        }
        Ok(())
    }

    pub fn dns_timeout(&self) -> Duration {
        Duration::from_millis(self.dns.timeout_ms)
    }
}

/// `ip` or `ip:port` (`[v6]:port`); port 53 by default.
pub fn parse_resolver(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{text:?} is not an IP address or IP:port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_sample_equals_the_defaults() {
        let parsed = Config::parse(SAMPLE, Path::new("vigil-probe.toml")).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let err = Config::parse("[dns]\nresolverz = []\n", Path::new("x.toml")).unwrap_err();
        assert_eq!(err.label(), "config_parse");
        assert!(err.to_string().contains("resolverz"), "{err}");
        let err = Config::parse("[nope]\n", Path::new("x.toml")).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("[dns]\nresolvers = [\"not-an-ip\"]\n", "dns.resolvers"),
            ("[network]\nlab_nets = [\"10.0.0.0/33\"]\n", "network.lab_nets"),
            ("[network]\nconcurrency = 0\n", "network.concurrency"),
            ("[probe]\ncountry = \"iran\"\n", "probe.country"),
            ("[probe]\nasn = \"12345\"\n", "probe.asn"),
            ("[dns]\ntimeout_ms = 0\n", "dns.timeout_ms"),
            ("[spool]\nmax_bytes = 10\n", "spool.max_bytes"),
            ("[upload]\nbatch_size = 0\n", "upload.batch_size"),
            ("[upload]\nbackoff_base_s = 60\nbackoff_max_s = 30\n", "upload.backoff_max_s"),
            ("[schedule]\ninterval_minutes = 0\n", "schedule.interval_minutes"),
            ("[schedule]\nheartbeat_seconds = 1\n", "schedule.heartbeat_seconds"),
            ("[throttle]\ndecoy = \"nowhere\"\n", "throttle.decoy"),
            ("[throttle]\ndecoy = \"1.2.3.4:443\"\n", "throttle.decoy_cert"),
            ("[throttle]\ndecoy = \"192.168.1.1:443\"\ndecoy_cert = \"/d.pem\"\n", "throttle.decoy"),
            ("[throttle]\npairs = 1\n", "throttle.pairs"),
            ("[throttle]\ninterval_hours = 0\n", "throttle.interval_hours"),
            ("[throttle]\ncontrol_object = \"http://x.example/\"\n", "throttle.control_object"),
        ] {
            let err = Config::parse(text, Path::new("x.toml")).unwrap_err();
            assert_eq!(err.label(), "config_invalid", "{text}");
            assert!(err.to_string().contains(key), "{err} should name {key}");
        }
    }

    #[test]
    fn the_collector_pin_sits_next_to_the_key_unless_set() {
        let mut identity = IdentitySection { key_file: "/data/vigil/probe.key".into(), collector_file: None };
        assert_eq!(identity.collector_path(), Path::new("/data/vigil/collector.json"));
        identity.collector_file = Some("/etc/vigil/pin.json".into());
        assert_eq!(identity.collector_path(), Path::new("/etc/vigil/pin.json"));
    }

    #[test]
    fn resolvers_default_to_port_53() {
        assert_eq!(parse_resolver("9.9.9.9").unwrap(), "9.9.9.9:53".parse().unwrap());
        assert_eq!(parse_resolver("[::1]:5353").unwrap(), "[::1]:5353".parse().unwrap());
    }
}
