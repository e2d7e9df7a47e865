//! OONI's failure strings (df-007): the stable labels every failed operation is recorded with.

use serde::{Deserialize, Serialize};

/// A failed operation, labelled with OONI's vocabulary so Vigil's data sits beside OONI's.
///
/// Serialized as the bare label string (`"connection_reset"`); anything outside the vocabulary
/// is `unknown_failure: <text>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum Failure {
    DnsNxdomain,
    DnsNoAnswer,
    DnsRefused,
    DnsServerFailure,
    /// The resolver failed in a way that says nothing more (OONI: getaddrinfo's EAI_AGAIN,
    /// EAI_FAIL and other codes; a DNS reply with an unexpected rcode).
    DnsServerMisbehaving,
    /// A DNS reply that is not a valid message (OONI: dns_reply_with_wrong_query_id etc.).
    DnsBogusReply,
    GenericTimeout,
    ConnectionRefused,
    ConnectionReset,
    Eof,
    HostUnreachable,
    NetworkUnreachable,
    SslInvalidHostname,
    SslUnknownAuthority,
    SslInvalidCertificate,
    SslFailedHandshake,
    HttpInvalidRedirectLocationHost,
    /// More than the allowed number of redirects.
    HttpTooManyRedirects,
    /// The response could not be parsed as HTTP.
    HttpProtocolError,
    Unknown(String),
}

impl Failure {
    /// The stable label, as written into measurements.
    pub fn label(&self) -> &str {
        match self {
            Failure::DnsNxdomain => "dns_nxdomain_error",
            Failure::DnsNoAnswer => "dns_no_answer",
            Failure::DnsRefused => "dns_refused_error",
            Failure::DnsServerFailure => "dns_server_failure",
            Failure::DnsServerMisbehaving => "dns_server_misbehaving",
            Failure::DnsBogusReply => "dns_bogus_reply",
            Failure::GenericTimeout => "generic_timeout_error",
            Failure::ConnectionRefused => "connection_refused",
            Failure::ConnectionReset => "connection_reset",
            Failure::Eof => "eof_error",
            Failure::HostUnreachable => "host_unreachable",
            Failure::NetworkUnreachable => "network_unreachable",
            Failure::SslInvalidHostname => "ssl_invalid_hostname",
            Failure::SslUnknownAuthority => "ssl_unknown_authority",
            Failure::SslInvalidCertificate => "ssl_invalid_certificate",
            Failure::SslFailedHandshake => "ssl_failed_handshake",
            Failure::HttpInvalidRedirectLocationHost => "http_invalid_redirect_location_host",
            Failure::HttpTooManyRedirects => "http_too_many_redirects",
            Failure::HttpProtocolError => "http_protocol_error",
            Failure::Unknown(text) => text,
        }
    }

    /// Build an `unknown_failure: <text>` for anything outside the vocabulary.
    pub fn unknown(text: impl std::fmt::Display) -> Self {
        Failure::Unknown(format!("unknown_failure: {text}"))
    }

    /// A DNS failure (the name did not resolve to addresses).
    pub fn is_dns(&self) -> bool {
        matches!(
            self,
            Failure::DnsNxdomain
                | Failure::DnsNoAnswer
                | Failure::DnsRefused
                | Failure::DnsServerFailure
                | Failure::DnsServerMisbehaving
                | Failure::DnsBogusReply
        )
    }

    /// A certificate failure: the peer answered TLS but its certificate did not validate.
    pub fn is_certificate(&self) -> bool {
        matches!(self, Failure::SslInvalidHostname | Failure::SslUnknownAuthority | Failure::SslInvalidCertificate)
    }

    const ALL: [Failure; 19] = [
        Failure::DnsNxdomain,
        Failure::DnsNoAnswer,
        Failure::DnsRefused,
        Failure::DnsServerFailure,
        Failure::DnsServerMisbehaving,
        Failure::DnsBogusReply,
        Failure::GenericTimeout,
        Failure::ConnectionRefused,
        Failure::ConnectionReset,
        Failure::Eof,
        Failure::HostUnreachable,
        Failure::NetworkUnreachable,
        Failure::SslInvalidHostname,
        Failure::SslUnknownAuthority,
        Failure::SslInvalidCertificate,
        Failure::SslFailedHandshake,
        Failure::HttpInvalidRedirectLocationHost,
        Failure::HttpTooManyRedirects,
        Failure::HttpProtocolError,
    ];
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl From<Failure> for String {
    fn from(f: Failure) -> String {
        f.label().to_string()
    }
}

impl From<String> for Failure {
    fn from(s: String) -> Failure {
        Failure::ALL.iter().find(|f| f.label() == s).cloned().unwrap_or(Failure::Unknown(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_through_json() {
        for f in Failure::ALL.iter().cloned().chain([Failure::unknown("boom")]) {
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.label()));
            let back: Failure = serde_json::from_str(&json).unwrap();
            assert_eq!(back, f);
        }
        assert_eq!(Failure::unknown("x").label(), "unknown_failure: x");
    }
}
