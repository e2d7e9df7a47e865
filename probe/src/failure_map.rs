//! Maps Rust errors (io, rustls, reqwest) to OONI failure labels, so measurements record
//! `connection_reset` or `ssl_invalid_hostname`, never free-form error text.

use std::error::Error;
use std::io;

use rustls::CertificateError;
use vigil_report::Failure;

/// Walk an error's `source()` chain and return the OONI label of the most specific (innermost)
/// error we recognise; `unknown_failure: <innermost error's text>` when none is recognised.
///
/// `io::Error::source()` skips the error it wraps, so each `io::Error` is also looked into
/// with `get_ref()` (that is where tokio-rustls puts its `rustls::Error`).
pub fn from_error(err: &(dyn Error + 'static)) -> Failure {
    innermost_known(err).unwrap_or_else(|| {
        let mut innermost = err;
        while let Some(next) = innermost.source() {
            innermost = next;
        }
        Failure::unknown(innermost)
    })
}

/// The label of an `io::Error`: its kind, its raw OS error, or the rustls error it wraps.
pub fn from_io(err: &io::Error) -> Failure {
    io_known(err).unwrap_or_else(|| Failure::unknown(err))
}

/// The label of a rustls error: certificate problems by kind, anything else a failed handshake.
pub fn from_rustls(err: &rustls::Error) -> Failure {
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Failure::SslInvalidHostname
            }
            CertificateError::UnknownIssuer => Failure::SslUnknownAuthority,
            _ => Failure::SslInvalidCertificate,
        },
        _ => Failure::SslFailedHandshake,
    }
}

/// The label of one error in a chain, if we recognise that error by itself.
fn known(err: &(dyn Error + 'static)) -> Option<Failure> {
    if let Some(io_err) = err.downcast_ref::<io::Error>() {
        return io_known(io_err);
    }
    if let Some(tls_err) = err.downcast_ref::<rustls::Error>() {
        return Some(from_rustls(tls_err));
    }
    if let Some(req_err) = err.downcast_ref::<reqwest::Error>()
        && req_err.is_timeout()
    {
        return Some(Failure::GenericTimeout);
    }
    if err.is::<tokio::time::error::Elapsed>() {
        return Some(Failure::GenericTimeout);
    }
    None
}

/// The label of the innermost error of the chain that we recognise.
fn innermost_known(err: &(dyn Error + 'static)) -> Option<Failure> {
    let mut found = None;
    let mut current = Some(err);
    while let Some(e) = current {
        found = known(e).or(found);
        current = e.source();
    }
    found
}

fn io_known(err: &io::Error) -> Option<Failure> {
    // A wrapped error (rustls inside tokio-rustls, or anything with a chain) says more than
    // the wrapper's kind, which is usually just `InvalidData` or `Other`.
    let inner = err.get_ref().and_then(|inner| innermost_known(inner));
    inner.or_else(|| from_kind(err.kind())).or_else(|| err.raw_os_error().and_then(from_errno))
}

fn from_kind(kind: io::ErrorKind) -> Option<Failure> {
    use io::ErrorKind as K;
    Some(match kind {
        K::ConnectionRefused => Failure::ConnectionRefused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => Failure::ConnectionReset,
        K::TimedOut => Failure::GenericTimeout,
        K::UnexpectedEof => Failure::Eof,
        K::HostUnreachable => Failure::HostUnreachable,
        K::NetworkUnreachable => Failure::NetworkUnreachable,
        _ => return None,
    })
}

/// Raw errno values, for errors whose kind std did not classify. These are the generic Linux
/// numbers; MIPS and SPARC number errors differently, so there std's kinds must do.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    not(any(
        target_arch = "mips",
        target_arch = "mips32r6",
        target_arch = "mips64",
        target_arch = "mips64r6",
        target_arch = "sparc",
        target_arch = "sparc64"
    ))
))]
fn from_errno(code: i32) -> Option<Failure> {
    Some(match code {
        104 => Failure::ConnectionReset,    // ECONNRESET
        110 => Failure::GenericTimeout,     // ETIMEDOUT
        111 => Failure::ConnectionRefused,  // ECONNREFUSED
        101 => Failure::NetworkUnreachable, // ENETUNREACH
        113 => Failure::HostUnreachable,    // EHOSTUNREACH
        _ => return None,
    })
}

#[cfg(not(all(
    any(target_os = "linux", target_os = "android"),
    not(any(
        target_arch = "mips",
        target_arch = "mips32r6",
        target_arch = "mips64",
        target_arch = "mips64r6",
        target_arch = "sparc",
        target_arch = "sparc64"
    ))
)))]
fn from_errno(_code: i32) -> Option<Failure> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::AlertDescription;
    use rustls::pki_types::ServerName;

    fn io(kind: io::ErrorKind) -> io::Error {
        io::Error::new(kind, "test")
    }

    #[test]
    fn io_kinds_map_to_labels() {
        use io::ErrorKind as K;
        let cases = [
            (K::ConnectionRefused, "connection_refused"),
            (K::ConnectionReset, "connection_reset"),
            (K::ConnectionAborted, "connection_reset"),
            (K::BrokenPipe, "connection_reset"),
            (K::TimedOut, "generic_timeout_error"),
            (K::UnexpectedEof, "eof_error"),
            (K::HostUnreachable, "host_unreachable"),
            (K::NetworkUnreachable, "network_unreachable"),
        ];
        for (kind, label) in cases {
            assert_eq!(from_io(&io(kind)).label(), label, "{kind:?}");
        }
        assert_eq!(from_io(&io::Error::other("weird")).label(), "unknown_failure: weird");
    }

    #[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
    #[test]
    fn raw_os_errors_map_to_labels() {
        let cases = [
            (104, Failure::ConnectionReset),
            (113, Failure::HostUnreachable),
            (101, Failure::NetworkUnreachable),
            (111, Failure::ConnectionRefused),
        ];
        for (code, label) in cases {
            assert_eq!(from_io(&io::Error::from_raw_os_error(code)), label, "errno {code}");
            assert_eq!(from_errno(code), Some(label), "errno {code}");
        }
        assert_eq!(from_errno(2), None);
    }

    #[test]
    fn certificate_errors_map_to_ssl_labels() {
        let name = ServerName::try_from("vigil.test").unwrap();
        let cases = [
            (CertificateError::NotValidForName, Failure::SslInvalidHostname),
            (
                CertificateError::NotValidForNameContext { expected: name, presented: vec!["other.test".into()] },
                Failure::SslInvalidHostname,
            ),
            (CertificateError::UnknownIssuer, Failure::SslUnknownAuthority),
            (CertificateError::Expired, Failure::SslInvalidCertificate),
            (CertificateError::NotValidYet, Failure::SslInvalidCertificate),
            (CertificateError::BadSignature, Failure::SslInvalidCertificate),
            (CertificateError::Revoked, Failure::SslInvalidCertificate),
            (CertificateError::BadEncoding, Failure::SslInvalidCertificate),
        ];
        for (cert, label) in cases {
            let err = rustls::Error::InvalidCertificate(cert.clone());
            assert_eq!(from_rustls(&err), label, "{cert:?}");
        }
    }

    #[test]
    fn other_rustls_errors_are_failed_handshakes() {
        let alert = rustls::Error::AlertReceived(AlertDescription::HandshakeFailure);
        assert_eq!(from_rustls(&alert), Failure::SslFailedHandshake);
        let general = rustls::Error::General("x".into());
        assert_eq!(from_rustls(&general), Failure::SslFailedHandshake);
    }

    #[test]
    fn io_error_wrapping_rustls_uses_the_rustls_label() {
        // What tokio-rustls returns when certificate verification fails.
        let inner = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let err = io::Error::new(io::ErrorKind::InvalidData, inner);
        assert_eq!(from_io(&err), Failure::SslUnknownAuthority);
        assert_eq!(from_error(&err), Failure::SslUnknownAuthority);
    }

    /// A wrapper error, like hyper's or reqwest's, whose source is the real cause.
    #[derive(Debug, thiserror::Error)]
    #[error("wrapper: {source}")]
    struct Wrapper {
        source: Box<dyn Error + Send + Sync + 'static>,
    }

    fn wrap(e: impl Error + Send + Sync + 'static) -> Wrapper {
        Wrapper { source: Box::new(e) }
    }

    #[test]
    fn from_error_walks_the_chain_to_the_innermost_known_error() {
        let rustls_err = rustls::Error::InvalidCertificate(CertificateError::NotValidForName);
        let io_err = io::Error::other(rustls_err);
        let chain = wrap(wrap(io_err));
        assert_eq!(from_error(&chain), Failure::SslInvalidHostname);

        let chain = wrap(io(io::ErrorKind::ConnectionReset));
        assert_eq!(from_error(&chain), Failure::ConnectionReset);

        // An io::Error wrapping an io::Error: the inner kind wins over `Other`.
        let chain = wrap(io::Error::other(io(io::ErrorKind::UnexpectedEof)));
        assert_eq!(from_error(&chain), Failure::Eof);
    }

    #[test]
    fn from_error_reports_the_innermost_text_when_unknown() {
        let chain = wrap(wrap(std::fmt::Error));
        assert_eq!(from_error(&chain).label(), "unknown_failure: an error occurred when formatting an argument");
    }

    #[tokio::test]
    async fn elapsed_is_a_timeout() {
        let elapsed =
            tokio::time::timeout(std::time::Duration::from_millis(1), std::future::pending::<()>()).await.unwrap_err();
        assert_eq!(from_error(&wrap(elapsed)), Failure::GenericTimeout);
    }

    #[tokio::test]
    async fn reqwest_timeout_is_a_timeout() {
        crate::tls::install_crypto_provider();
        // A listener that accepts and never answers makes reqwest time out.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            drop(sock);
        });
        let client = reqwest::Client::builder().timeout(std::time::Duration::from_millis(200)).build().unwrap();
        let err = client.get(format!("http://{addr}/")).send().await.unwrap_err();
        assert!(err.is_timeout());
        assert_eq!(from_error(&err), Failure::GenericTimeout);
        server.abort();
    }
}
