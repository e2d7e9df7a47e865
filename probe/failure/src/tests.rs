use super::*;
use rustls::AlertDescription;
use rustls::pki_types::ServerName;

fn io(kind: io::ErrorKind) -> io::Error {
    io::Error::new(kind, "test")
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

/// A caller's own error type, recognised only through `classify_with`'s hook.
#[derive(Debug, thiserror::Error)]
#[error("refused by policy")]
struct Policy;

fn policy(e: &(dyn Error + 'static)) -> Option<Failure> {
    e.is::<Policy>().then(|| Failure::unknown("refused: policy"))
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
    let alert = rustls::Error::AlertReceived(AlertDescription::HandshakeFailure);
    assert_eq!(from_rustls(&alert), Failure::SslFailedHandshake);
    assert_eq!(from_rustls(&rustls::Error::General("x".into())), Failure::SslFailedHandshake);
}

#[test]
fn an_io_error_wrapping_rustls_takes_the_rustls_label() {
    // What tokio-rustls returns when certificate verification fails.
    let inner = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
    let err = io::Error::new(io::ErrorKind::InvalidData, inner);
    assert_eq!(from_io(&err), Failure::SslUnknownAuthority);
    assert_eq!(classify(&wrap(err)), Failure::SslUnknownAuthority);
}

/// The one rule: where two errors of a chain are both recognised, the innermost wins (the copies
/// disagreed here: the control kept the outermost).
#[test]
fn the_innermost_recognised_error_wins_over_a_recognised_wrapper() {
    // An io::Error whose own kind is known, wrapping a more precise cause.
    let chain = io::Error::new(io::ErrorKind::TimedOut, io(io::ErrorKind::ConnectionRefused));
    assert_eq!(classify(&chain), Failure::ConnectionRefused);
    let chain = wrap(io::Error::new(
        io::ErrorKind::ConnectionReset,
        rustls::Error::InvalidCertificate(CertificateError::NotValidForName),
    ));
    assert_eq!(classify(&chain), Failure::SslInvalidHostname);
    // An already classified error deep in the chain keeps its label.
    let chain = wrap(io::Error::new(io::ErrorKind::TimedOut, Classified(Failure::DnsNxdomain)));
    assert_eq!(classify(&chain), Failure::DnsNxdomain);
    // Unrecognised errors below a recognised one do not erase it.
    let chain = wrap(io::Error::new(io::ErrorKind::UnexpectedEof, wrap(std::fmt::Error)));
    assert_eq!(classify(&chain), Failure::Eof);
}

#[test]
fn a_callers_own_errors_follow_the_same_rule() {
    let chain = wrap(io::Error::new(io::ErrorKind::ConnectionRefused, Policy));
    assert_eq!(classify_with(&chain, &policy).label(), "unknown_failure: refused: policy");
    // Without the hook the policy error is not known: the io kind around it is the label.
    assert_eq!(classify(&chain), Failure::ConnectionRefused);
    // The hook's error outside a more precise cause loses to it.
    let chain = io::Error::other(wrap(io(io::ErrorKind::ConnectionReset)));
    assert_eq!(classify_with(&chain, &policy), Failure::ConnectionReset);
}

#[test]
fn unknown_chains_report_the_innermost_text() {
    let chain = wrap(wrap(std::fmt::Error));
    assert_eq!(classify(&chain).label(), "unknown_failure: an error occurred when formatting an argument");
    assert_eq!(classify(&io::Error::other("odd")).label(), "unknown_failure: odd");
}

#[tokio::test]
async fn elapsed_is_a_timeout() {
    let elapsed =
        tokio::time::timeout(std::time::Duration::from_millis(1), std::future::pending::<()>()).await.unwrap_err();
    assert_eq!(classify(&wrap(elapsed)), Failure::GenericTimeout);
}

#[tokio::test]
async fn reqwest_timeout_is_a_timeout() {
    let _ = rustls::crypto::ring::default_provider().install_default();
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
    assert_eq!(classify(&err), Failure::GenericTimeout);
    server.abort();
}

/// A response cut short: hyper's incomplete message, as reqwest reports it, is an eof_error.
#[tokio::test]
async fn a_truncated_response_is_eof() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = sock.read(&mut buf).await;
        sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort").await.unwrap();
    });
    let client = reqwest::Client::builder().build().unwrap();
    let response = client.get(format!("http://{addr}/")).send().await.unwrap();
    let err = response.bytes().await.unwrap_err();
    let label = classify(&err);
    assert!(label == Failure::Eof || label == Failure::ConnectionReset, "{label:?}: {err:?}");
    server.abort();
}
