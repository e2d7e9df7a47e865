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
            concurrency: 16,
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
        for n in &self.network.lab_nets {
            n.parse::<ipnet::IpNet>().map_err(|e| format!("network.lab_nets: {n:?}: {e}"))?;
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
        ] {
            let err = Config::parse(text, Path::new("x.toml")).unwrap_err();
            assert_eq!(err.label(), "config_invalid", "{text}");
            assert!(err.to_string().contains(key), "{err} should name {key}");
        }
    }

    #[test]
    fn resolvers_default_to_port_53() {
        assert_eq!(parse_resolver("9.9.9.9").unwrap(), "9.9.9.9:53".parse().unwrap());
        assert_eq!(parse_resolver("[::1]:5353").unwrap(), "[::1]:5353".parse().unwrap());
    }
}
