//! Verdicts: OONI's `blocking` value and Vigil's finer `mechanism`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// OONI Web Connectivity's `blocking` key, with OONI's exact values and meaning:
/// `false` (not blocked), `"dns"`, `"tcp_ip"`, `"http-failure"`, `"http-diff"`, or `null`
/// (cannot tell, e.g. no control).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Blocking {
    /// `null`: not enough information to decide.
    Unknown,
    /// `false`: the probe saw what the control saw, or the site is down everywhere.
    No,
    Dns,
    TcpIp,
    HttpFailure,
    HttpDiff,
}

impl Blocking {
    /// The JSON value OONI writes.
    pub fn to_json(self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Blocking::Unknown => Value::Null,
            Blocking::No => Value::Bool(false),
            other => Value::String(other.label().to_string()),
        }
    }

    /// Short label for tables and metrics: `null`, `false`, `dns`, `tcp_ip`, ...
    pub fn label(self) -> &'static str {
        match self {
            Blocking::Unknown => "null",
            Blocking::No => "false",
            Blocking::Dns => "dns",
            Blocking::TcpIp => "tcp_ip",
            Blocking::HttpFailure => "http-failure",
            Blocking::HttpDiff => "http-diff",
        }
    }

    /// Blocking was found (any of the string values).
    pub fn is_blocked(self) -> bool {
        !matches!(self, Blocking::Unknown | Blocking::No)
    }
}

impl Serialize for Blocking {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Blocking {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Null => Ok(Blocking::Unknown),
            serde_json::Value::Bool(false) => Ok(Blocking::No),
            serde_json::Value::String(s) => match s.as_str() {
                "dns" => Ok(Blocking::Dns),
                "tcp_ip" => Ok(Blocking::TcpIp),
                "http-failure" => Ok(Blocking::HttpFailure),
                "http-diff" => Ok(Blocking::HttpDiff),
                other => Err(D::Error::custom(format!("unknown blocking value {other:?}"))),
            },
            other => Err(D::Error::custom(format!("invalid blocking value {other}"))),
        }
    }
}

/// Vigil's finer account of *how* an endpoint was blocked (or why it is not called blocked).
///
/// Labels are stable: the collector groups events on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    /// The resolver said the name does not exist while the reference resolved it.
    DnsNxdomain,
    /// No usable answer (empty, refused, server failure) while the reference resolved it.
    DnsNoAnswer,
    /// The resolver did not answer at all (timeout) while the reference did.
    DnsTimeout,
    /// Two different answers to one query: an on-path injector raced the real resolver.
    DnsInjection,
    /// An answer matches a known injected address (OONI's DNS fingerprints).
    DnsKnownBlockpageIp,
    /// A private/reserved (bogon) address while the reference gives public ones.
    DnsBogon,
    /// Answers share nothing (IP, ASN, valid TLS) with the reference.
    DnsInconsistent,
    /// TCP connect timed out (packets dropped) while the control connects.
    TcpIpBlackhole,
    /// TCP connect refused (RST to SYN) while the control connects.
    TcpIpRefused,
    /// Host or network unreachable (ICMP) while the control connects.
    TcpIpUnreachable,
    /// TLS reset after the ClientHello with this SNI; the same IP with another SNI works.
    TlsSniReset,
    /// TLS handshake timed out with this SNI; another SNI works.
    TlsSniTimeout,
    /// TLS closed (FIN) after the ClientHello with this SNI; another SNI works.
    TlsSniEof,
    /// TLS fails whatever the SNI, while the control completes it.
    TlsFailure,
    /// The certificate does not validate on the probe but does on the control (interception).
    TlsCertificate,
    /// The HTTP exchange was reset (e.g. on the Host header) while the control fetched it.
    HttpReset,
    /// The HTTP exchange timed out while the control fetched it.
    HttpTimeout,
    /// The connection closed before a response while the control fetched it.
    HttpEof,
    /// Another HTTP failure while the control fetched it.
    HttpFailure,
    /// A known blockpage (OONI's HTTP fingerprints) was served, directly or via redirect.
    HttpBlockpage,
    /// The page differs from the control's (status, body, headers, title).
    HttpDiff,
}

/// The coarse mechanism families the collector publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MechanismFamily {
    Dns,
    TcpIp,
    TlsSni,
    Http,
}

impl Mechanism {
    pub fn family(self) -> MechanismFamily {
        use Mechanism::*;
        match self {
            DnsNxdomain | DnsNoAnswer | DnsTimeout | DnsInjection | DnsKnownBlockpageIp | DnsBogon
            | DnsInconsistent => MechanismFamily::Dns,
            TcpIpBlackhole | TcpIpRefused | TcpIpUnreachable => MechanismFamily::TcpIp,
            TlsSniReset | TlsSniTimeout | TlsSniEof | TlsFailure | TlsCertificate => MechanismFamily::TlsSni,
            HttpReset | HttpTimeout | HttpEof | HttpFailure | HttpBlockpage | HttpDiff => MechanismFamily::Http,
        }
    }

    /// The stable label (same as the JSON value).
    pub fn label(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }
}

/// A platform's overall status in one run of the battery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlatformStatus {
    /// Every endpoint group has at least one reachable endpoint.
    Ok,
    /// At least one endpoint group is blocked as a whole.
    Blocked,
    /// Endpoints fail, but the evidence does not say blocked (site down, no control...).
    Unknown,
    /// Everything failed, the neutral controls included: the network itself is down.
    NetworkDown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_uses_oonis_exact_json_values() {
        let cases = [
            (Blocking::Unknown, "null"),
            (Blocking::No, "false"),
            (Blocking::Dns, "\"dns\""),
            (Blocking::TcpIp, "\"tcp_ip\""),
            (Blocking::HttpFailure, "\"http-failure\""),
            (Blocking::HttpDiff, "\"http-diff\""),
        ];
        for (b, json) in cases {
            assert_eq!(serde_json::to_string(&b).unwrap(), json);
            assert_eq!(serde_json::from_str::<Blocking>(json).unwrap(), b);
        }
        assert!(serde_json::from_str::<Blocking>("true").is_err());
        assert!(serde_json::from_str::<Blocking>("\"tcp-ip\"").is_err());
    }

    #[test]
    fn mechanism_labels_and_families() {
        assert_eq!(Mechanism::TlsSniReset.label(), "tls_sni_reset");
        assert_eq!(Mechanism::TlsSniReset.family(), MechanismFamily::TlsSni);
        assert_eq!(Mechanism::DnsInjection.family(), MechanismFamily::Dns);
        assert_eq!(Mechanism::TcpIpRefused.family(), MechanismFamily::TcpIp);
        assert_eq!(Mechanism::HttpBlockpage.family(), MechanismFamily::Http);
    }
}
