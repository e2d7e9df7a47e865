//! The measurement envelope (OONI base data format, df-000) and the test keys of Vigil's tests.
//!
//! Field names follow OONI where OONI has the concept; Vigil's additions are documented in
//! `docs/measurement-format.md`. There is deliberately no `probe_ip` field: a probe's own
//! address never enters a measurement.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Blocking, ControlResponse, Failure, MaybeBinary, Mechanism, PlatformStatus};

/// One measurement in the OONI base format; `K` is the test's `test_keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measurement<K> {
    /// Unique id of this measurement (idempotency key for upload).
    pub id: String,
    pub data_format_version: String,
    /// UTC, `YYYY-MM-DD HH:MM:SS` (OONI's layout).
    pub measurement_start_time: String,
    /// UTC, `YYYY-MM-DD HH:MM:SS`: when the run (battery or `check`) started.
    pub test_start_time: String,
    pub input: Option<String>,
    pub test_name: String,
    pub test_version: String,
    pub software_name: String,
    pub software_version: String,
    /// `AS<n>`; `AS0` when unknown (the collector fills it in from the submitting address).
    pub probe_asn: String,
    /// ISO country code; `ZZ` when unknown.
    pub probe_cc: String,
    /// The system resolver's address, when known (never the probe's own address).
    pub resolver_ip: Option<String>,
    /// Seconds the test took.
    pub test_runtime: f64,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub test_keys: K,
}

/// One DNS query and its answers (OONI `queries[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsQuery {
    /// `system`, `udp` or `doh`.
    pub engine: String,
    /// Resolver address (`ip:port`) or DoH URL; empty for the system resolver.
    pub resolver_address: String,
    pub hostname: String,
    /// `A`, `AAAA` (or `ANY` for the system resolver, which asks for both).
    pub query_type: String,
    pub answers: Vec<DnsAnswer>,
    pub failure: Option<Failure>,
    /// Seconds since the test started.
    pub t0: f64,
    pub t: f64,
    /// For UDP: every response that arrived within the listening window, in arrival order.
    /// Two different answers here mean on-path injection.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub x_responses: Vec<DnsResponseRecord>,
}

/// One address in a DNS answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsAnswer {
    /// `A` or `AAAA`.
    pub answer_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<String>,
    pub ttl: Option<u32>,
}

impl DnsAnswer {
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        self.ipv4.as_deref().or(self.ipv6.as_deref())?.parse().ok()
    }

    pub fn from_ip(ip: std::net::IpAddr, ttl: Option<u32>) -> Self {
        match ip {
            std::net::IpAddr::V4(v4) => {
                DnsAnswer { answer_type: "A".into(), ipv4: Some(v4.to_string()), ipv6: None, ttl }
            }
            std::net::IpAddr::V6(v6) => {
                DnsAnswer { answer_type: "AAAA".into(), ipv4: None, ipv6: Some(v6.to_string()), ttl }
            }
        }
    }
}

/// One UDP response as received (for injection evidence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsResponseRecord {
    /// Milliseconds after the query was sent.
    pub after_ms: u64,
    /// DNS response code (`NoError`, `NXDomain`, ...).
    pub rcode: String,
    pub addrs: Vec<String>,
}

/// A TCP connect attempt (OONI `tcp_connect[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcpConnect {
    pub ip: String,
    pub port: u16,
    pub status: TcpStatus,
    pub t0: f64,
    pub t: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcpStatus {
    pub success: bool,
    pub failure: Option<Failure>,
}

/// A TLS handshake (OONI `tls_handshakes[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsHandshake {
    /// `ip:port`.
    pub address: String,
    pub server_name: String,
    pub failure: Option<Failure>,
    pub tls_version: Option<String>,
    pub cipher_suite: Option<String>,
    pub negotiated_protocol: Option<String>,
    /// The handshake ran without certificate verification (the SNI-swap control does).
    pub no_tls_verify: bool,
    /// Vigil: this handshake is the SNI-swap control for a failed handshake to the same address.
    #[serde(default)]
    pub x_sni_swap: bool,
    pub t0: f64,
    pub t: f64,
}

/// One HTTP round trip (OONI `requests[]`); redirects are one entry each, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpTransaction {
    pub request: HttpRequest,
    pub response: Option<HttpResponse>,
    pub failure: Option<Failure>,
    pub t0: f64,
    pub t: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpResponse {
    pub code: u16,
    /// The first value of each header (OONI's `headers` map), as received: a string when valid
    /// UTF-8, else base64 (like `body`).
    pub headers: BTreeMap<String, MaybeBinary>,
    /// Every header line in the order received, repeated names included (two `Set-Cookie`, two
    /// `Server`), as `[name, value]` pairs (OONI's `headers_list`). Absent in records made before
    /// it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers_list: Vec<(String, MaybeBinary)>,
    /// Body snapshot, at most 512 KiB, byte for byte: a string when it is valid UTF-8, else
    /// `{"format": "base64", "data": ...}`.
    pub body: MaybeBinary,
    pub body_is_truncated: bool,
    /// Bytes of body received (up to the cap).
    pub body_length: u64,
    pub title: Option<String>,
}

/// `test_keys` of `vigil_web_connectivity`: one endpoint (URL or host:port).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebKeys {
    /// Battery context: the platform and endpoint group this input belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_group: Option<String>,
    pub client_resolver: Option<String>,
    pub queries: Vec<DnsQuery>,
    pub tcp_connect: Vec<TcpConnect>,
    pub tls_handshakes: Vec<TlsHandshake>,
    pub requests: Vec<HttpTransaction>,
    pub control: Option<ControlResponse>,
    pub control_failure: Option<String>,
    pub dns_experiment_failure: Option<Failure>,
    /// `consistent`, `inconsistent`, or null when there was nothing to compare with.
    pub dns_consistency: Option<String>,
    pub http_experiment_failure: Option<Failure>,
    pub body_length_match: Option<bool>,
    pub body_proportion: Option<f64>,
    pub status_code_match: Option<bool>,
    pub headers_match: Option<bool>,
    pub title_match: Option<bool>,
    pub blocking: Blocking,
    pub accessible: Option<bool>,
    /// Vigil's finer mechanism when blocked; null when not blocked or unknown.
    pub mechanism: Option<Mechanism>,
    /// The verdict is proven by the probe alone (injection, fingerprint, SNI-swap...).
    pub x_confirmed: bool,
    /// Fingerprints (DNS or HTTP) that matched, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub x_fingerprints: Vec<String>,
    /// Human-readable reasons behind the verdict, most important first.
    pub x_reasons: Vec<String>,
}

/// `test_keys` of `vigil_platform`: one platform's verdict in one battery run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformKeys {
    pub platform: String,
    /// `platform` or `control` (a neutral site).
    pub kind: String,
    pub status: PlatformStatus,
    /// The dominant mechanism among blocked endpoints.
    pub mechanism: Option<Mechanism>,
    pub endpoints: Vec<PlatformEndpoint>,
    pub reasons: Vec<String>,
}

/// One endpoint's verdict inside a platform summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformEndpoint {
    pub input: String,
    pub group: String,
    pub measurement_id: String,
    pub blocking: Blocking,
    pub accessible: Option<bool>,
    pub mechanism: Option<Mechanism>,
}

/// `test_keys` of `vigil_heartbeat`: the probe's light sign of life, sent every few minutes.
/// Never an address; the software version is the envelope's `software_version`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatKeys {
    /// Measurements waiting in the probe's spool when it sent this (as last counted).
    pub spooled: u64,
    /// Seconds since the probe started.
    pub uptime_s: u64,
    /// Bytes of complete spool segments.
    #[serde(default)]
    pub spool_bytes: u64,
    /// Routine successes shed by the spool's size bound since it was created.
    #[serde(default)]
    pub dropped_routine: u64,
    /// Evidence shed by the spool's size bound since it was created.
    #[serde(default)]
    pub dropped_evidence: u64,
    /// Measurements the collector refused (moved to `rejected/`).
    #[serde(default)]
    pub rejected: u64,
    /// The probe's last words: it is stopping (SIGTERM), so the silence after this heartbeat is
    /// not the network's. Absent (false) in every other heartbeat.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopping: bool,
}

/// The probe's decision for one throttling run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThrottleVerdict {
    Ok,
    Throttled,
    Inconclusive,
}

/// How a throttle acted, as the probe sees it (`docs/throttling.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThrottleMechanism {
    /// Excess packets dropped (Russia 2021): a target rate with bursty, lossy arrivals.
    Policer,
    /// Excess packets queued: a smooth, slow flow.
    Shaper,
    /// The TLS handshake takes far longer than the control's (Turkey 2023).
    HandshakeDelay,
    /// The flow stalls for good after a few KiB (Russia 2025, ~16-20 KB).
    Truncation,
}

/// `test_keys` of `vigil_throttling` (one platform, one run). Everything after
/// `control_goodput_kbps` was added with the probe's test; older records lack it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThrottlingKeys {
    pub platform: String,
    /// Median target goodput over median control goodput (of the arm that decided the verdict).
    pub ratio: f64,
    pub verdict: ThrottleVerdict,
    pub throttled_rate_kbps: Option<f64>,
    pub control_goodput_kbps: Option<f64>,
    /// Throttled with a median ratio <= 0.1.
    #[serde(default)]
    pub severe: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<ThrottleMechanism>,
    /// Why the verdict is `inconclusive` (`link_too_slow`, `not_significant`, `control_failed`,
    /// `unconfirmed`, ...), or why `ok` is only partly supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A confirmation rerun agreed with a `throttled` first pass.
    #[serde(default)]
    pub confirmed: bool,
    /// One summary per arm pair and pass (`sni`: T1/C1, `cdn`: T2/C2).
    #[serde(default)]
    pub arms: Vec<ThrottleArm>,
    /// Every transfer, in the order made.
    #[serde(default)]
    pub transfers: Vec<ThrottleTransfer>,
    /// Bytes received by all transfers of this run (TLS payload, headers included).
    #[serde(default)]
    pub bytes_received: u64,
}

impl ThrottlingKeys {
    /// The summary fields only (what the collector's detection reads), no arms or transfers.
    pub fn summary(
        platform: &str,
        ratio: f64,
        verdict: ThrottleVerdict,
        throttled_rate_kbps: Option<f64>,
        control_goodput_kbps: Option<f64>,
    ) -> ThrottlingKeys {
        ThrottlingKeys {
            platform: platform.to_string(),
            ratio,
            verdict,
            throttled_rate_kbps,
            control_goodput_kbps,
            severe: false,
            mechanism: None,
            reason: None,
            confirmed: false,
            arms: Vec::new(),
            transfers: Vec::new(),
            bytes_received: 0,
        }
    }
}

/// The comparison of one target arm with its control in one pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThrottleArm {
    /// `sni` (T1 vs C1, same decoy server) or `cdn` (T2 vs C2, the platform's object vs a control object).
    pub arm: String,
    /// 1 for the first pass, 2 for the confirmation rerun.
    pub pass: u32,
    pub verdict: ThrottleVerdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<ThrottleMechanism>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Median goodput T / median goodput C.
    pub ratio: Option<f64>,
    /// One-sided exact Mann-Whitney p (T slower than C) on goodput.
    pub p_goodput: Option<f64>,
    /// One-sided exact Mann-Whitney p (T handshake longer than C's).
    pub p_handshake: Option<f64>,
    pub target_goodput_kbps: Option<f64>,
    pub control_goodput_kbps: Option<f64>,
    pub target_handshake_ms: Option<f64>,
    pub control_handshake_ms: Option<f64>,
    /// T/C pairs made.
    pub pairs: u32,
    /// Stopped after two pairs that both sat in 0.7-1.4.
    pub early_stop: bool,
}

/// One transfer of one arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThrottleTransfer {
    /// `T1`, `C1`, `T2` or `C2`.
    pub arm: String,
    pub pass: u32,
    /// The SNI sent (and the Host header).
    pub sni: String,
    /// `ip:port` of the server (never the probe's own address).
    pub address: String,
    /// Seconds since the test started.
    pub t0: f64,
    pub connect_ms: Option<f64>,
    pub tls_handshake_ms: Option<f64>,
    /// From the request sent to the first response byte.
    pub ttfb_ms: Option<f64>,
    /// Body bytes received (decrypted).
    pub bytes: u64,
    /// Bytes the network delivered after the request (TLS records, as they arrived): the
    /// timing measures below are taken on these.
    #[serde(default)]
    pub received: u64,
    /// kbit/s after the first 32 KiB (the average of what arrived when fewer did).
    pub goodput_kbps: Option<f64>,
    /// Bytes received before the first stall of >= 2 s; `null` when it never stalled.
    pub bytes_before_stall: Option<u64>,
    pub longest_stall_ms: f64,
    /// The object arrived whole before the cap.
    pub complete: bool,
    /// Share of 250 ms windows (after the first 32 KiB) in which nothing arrived.
    pub idle_fraction: Option<f64>,
    /// kbit/s of the first 8 KiB after the first byte (a policer's burst passes at line rate).
    #[serde(default)]
    pub initial_kbps: Option<f64>,
    pub failure: Option<Failure>,
}
