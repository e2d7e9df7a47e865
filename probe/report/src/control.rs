//! The control ("test helper") protocol: the probe asks an uncensored vantage point for its
//! view of a URL. Shape follows OONI's web connectivity test helper (`POST /`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::MaybeBinary;

/// What the probe sends to the control endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlRequest {
    /// The URL (or `tcpconnect://host:port`) to measure.
    pub http_request: String,
    #[serde(default)]
    pub http_request_headers: BTreeMap<String, Vec<String>>,
    /// `ip:port` endpoints the probe resolved, so the control can test them too and report
    /// their ASNs (never the probe's own address).
    #[serde(default)]
    pub tcp_connect: Vec<String>,
}

/// The control's uncensored view.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ControlResponse {
    pub dns: ControlDns,
    /// Keyed by `ip:port`.
    #[serde(default)]
    pub tcp_connect: BTreeMap<String, ControlTcp>,
    /// Keyed by `ip:port`.
    #[serde(default)]
    pub tls_handshake: BTreeMap<String, ControlTls>,
    pub http_request: Option<ControlHttp>,
    /// Keyed by IP: ASN of each address (the control's and the probe's).
    #[serde(default)]
    pub ip_info: BTreeMap<String, IpInfo>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ControlDns {
    pub failure: Option<String>,
    pub addrs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlTcp {
    pub status: bool,
    pub failure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlTls {
    pub server_name: String,
    pub status: bool,
    pub failure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ControlHttp {
    pub body_length: i64,
    pub failure: Option<String>,
    /// The page's `<title>` as its bytes (a string when UTF-8, else OONI's base64 object).
    pub title: MaybeBinary,
    /// The first value of each header, byte for byte (a string when UTF-8, else base64).
    pub headers: BTreeMap<String, MaybeBinary>,
    pub status_code: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpInfo {
    /// 0 when unknown.
    pub asn: u32,
    /// OONI's flags: 1 = resolved by the probe, 2 = resolved by the control, 4 = bogon,
    /// 8 = valid TLS for the name on this address.
    pub flags: u32,
}
