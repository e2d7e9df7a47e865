//! getaddrinfo's errors as OONI labels, as OONI's netxlite maps them (`getaddrinfo_linux.go`):
//! EAI_NONAME is `dns_nxdomain_error`, EAI_NODATA `dns_no_answer`, EAI_SYSTEM the errno it
//! carries (by [`crate::from_io`]), and every other code (EAI_AGAIN, EAI_FAIL, EAI_MEMORY, ...)
//! `dns_server_misbehaving`.

use std::io;

use dns_lookup::{LookupError, LookupErrorKind};
use vigil_report::Failure;

/// The OONI label of a getaddrinfo error (taken by value: only the error's own `io::Error` says
/// which errno an EAI_SYSTEM carried).
pub fn from_getaddrinfo(err: LookupError) -> Failure {
    match err.kind() {
        LookupErrorKind::NoName => Failure::DnsNxdomain,
        LookupErrorKind::NoData => Failure::DnsNoAnswer,
        // The errno of EAI_SYSTEM, or an error before getaddrinfo ran (a NUL in the name).
        LookupErrorKind::System => crate::from_io(&io::Error::from(err)),
        LookupErrorKind::IO if err.error_num() == 0 => crate::from_io(&io::Error::from(err)),
        // Every other code, EAI_ADDRFAMILY and others the crate does not name included.
        _ => Failure::DnsServerMisbehaving,
    }
}

/// The label of a getaddrinfo call that did not finish: the blocking task died (panicked or was
/// cancelled at shutdown).
pub fn from_join(err: &tokio::task::JoinError) -> Failure {
    Failure::unknown(format!("getaddrinfo task: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn getaddrinfo_codes_map_as_ooni_maps_them() {
        // glibc's EAI_* values.
        let cases = [
            (-2, Failure::DnsNxdomain),           // EAI_NONAME
            (-5, Failure::DnsNoAnswer),           // EAI_NODATA
            (-3, Failure::DnsServerMisbehaving),  // EAI_AGAIN
            (-4, Failure::DnsServerMisbehaving),  // EAI_FAIL
            (-10, Failure::DnsServerMisbehaving), // EAI_MEMORY
            (-6, Failure::DnsServerMisbehaving),  // EAI_FAMILY
            (-9, Failure::DnsServerMisbehaving),  // EAI_ADDRFAMILY (not named by dns-lookup)
        ];
        for (code, want) in cases {
            assert_eq!(from_getaddrinfo(LookupError::new(code)), want, "EAI code {code}");
        }
    }

    #[test]
    fn an_error_before_the_lookup_is_classified_as_io() {
        let nul = LookupError::from(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(from_getaddrinfo(nul), Failure::ConnectionRefused);
        let odd = LookupError::from(io::Error::other("name contains a NUL"));
        assert_eq!(from_getaddrinfo(odd).label(), "unknown_failure: name contains a NUL");
    }

    #[tokio::test]
    async fn a_real_lookup_of_a_reserved_name_is_nxdomain_or_no_answer() {
        // `.invalid` never resolves (RFC 6761); without network the resolver may also fail.
        let err = tokio::task::spawn_blocking(|| dns_lookup::lookup_host("vigil-test.invalid").map(|a| a.count()))
            .await
            .unwrap()
            .unwrap_err();
        let failure = from_getaddrinfo(err);
        assert!(failure.is_dns(), "{failure}");
    }
}
