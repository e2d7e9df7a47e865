//! Maps the errors of the control's own measurements (io, rustls, hyper, reqwest) to OONI's
//! failure labels.
//!
//! A small sibling of the probe's `failure_map`: the control must not depend on the probe, so the
//! handful of mappings it needs live here too (raw errno values aside, which std's error kinds
//! cover on the collector's platforms).

use std::error::Error as StdError;
use std::io;

use rustls::CertificateError;
use vigil_report::Failure;

use crate::policy::Refusal;
use crate::resolve::{DnsFailure, Refused};

/// The label written when the policy stopped the control from connecting somewhere
/// (`unknown_failure: refused: ...`, saying why).
pub fn refused(why: Refusal) -> Failure {
    Failure::unknown(why)
}

/// More redirects than a browser follows.
#[derive(Debug, thiserror::Error)]
#[error("more than {0} redirects")]
pub(crate) struct TooManyRedirects(pub usize);

/// The OONI label for an error, from the first error in its chain that says what happened.
pub(crate) fn classify(err: &(dyn StdError + 'static)) -> Failure {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(failure) = label(e) {
            return failure;
        }
        cause = next_cause(e);
    }
    Failure::unknown(chain_text(err))
}

/// The cause of `e`. An `io::Error` wrapping another error reports that error's *source* as its
/// own, skipping the wrapped error itself; descend into it instead.
fn next_cause<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
        Some(inner) => Some(inner),
        None => e.source(),
    }
}

fn label(e: &(dyn StdError + 'static)) -> Option<Failure> {
    if let Some(Refused(why)) = e.downcast_ref::<Refused>() {
        return Some(refused(*why));
    }
    if let Some(DnsFailure(failure)) = e.downcast_ref::<DnsFailure>() {
        return Some(failure.clone());
    }
    if e.is::<TooManyRedirects>() {
        return Some(Failure::HttpTooManyRedirects);
    }
    if let Some(e) = e.downcast_ref::<reqwest::Error>()
        && e.is_timeout()
    {
        return Some(Failure::GenericTimeout);
    }
    if e.is::<tokio::time::error::Elapsed>() {
        return Some(Failure::GenericTimeout);
    }
    if let Some(e) = e.downcast_ref::<rustls::Error>() {
        return Some(tls_failure(e));
    }
    if let Some(e) = e.downcast_ref::<io::Error>()
        && let Some(failure) = io_failure(e.kind())
    {
        return Some(failure);
    }
    if let Some(e) = e.downcast_ref::<hyper::Error>() {
        if e.is_incomplete_message() {
            return Some(Failure::Eof);
        }
        if e.is_parse() {
            return Some(Failure::HttpProtocolError);
        }
    }
    None
}

fn io_failure(kind: io::ErrorKind) -> Option<Failure> {
    use io::ErrorKind::*;
    Some(match kind {
        ConnectionRefused => Failure::ConnectionRefused,
        ConnectionReset | ConnectionAborted | BrokenPipe => Failure::ConnectionReset,
        UnexpectedEof => Failure::Eof,
        TimedOut => Failure::GenericTimeout,
        HostUnreachable => Failure::HostUnreachable,
        NetworkUnreachable => Failure::NetworkUnreachable,
        _ => return None,
    })
}

fn tls_failure(e: &rustls::Error) -> Failure {
    match e {
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

fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = next_cause(err);
    while let Some(e) = cause {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = next_cause(e);
    }
    text
}

/// The text of the first `<title>` element, trimmed ("" when there is none).
pub(crate) fn title(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let Some(open) = lower.find("<title") else {
        return String::new();
    };
    let Some(start) = lower[open..].find('>').map(|i| open + i + 1) else {
        return String::new();
    };
    let end = lower[start..].find("</title").map_or(html.len(), |i| start + i);
    html[start..end].trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_found_case_insensitively() {
        assert_eq!(title("<html><TITLE lang=en> Just a moment... </Title>"), "Just a moment...");
        assert_eq!(title("<title>Unclosed"), "Unclosed");
        assert_eq!(title("<p>no title</p>"), "");
    }

    #[test]
    fn errors_map_to_ooni_labels_through_their_chain() {
        let refused_io = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(classify(&refused_io), Failure::ConnectionRefused);
        let expired = rustls::Error::InvalidCertificate(CertificateError::Expired);
        let wrapped = io::Error::new(io::ErrorKind::InvalidData, expired);
        assert_eq!(classify(&wrapped), Failure::SslInvalidCertificate);
        let unknown = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        assert_eq!(classify(&unknown), Failure::SslUnknownAuthority);
        let policy = io::Error::other(Refused(Refusal::NotPublic));
        assert_eq!(classify(&policy).label(), "unknown_failure: refused: not a public address");
        let own = io::Error::other(Refused(Refusal::OwnAddress));
        assert_eq!(classify(&own).label(), "unknown_failure: refused: an address of the control's own host");
        assert_eq!(classify(&io::Error::other(TooManyRedirects(10))), Failure::HttpTooManyRedirects);
        assert_eq!(classify(&io::Error::other(DnsFailure(Failure::DnsNxdomain))), Failure::DnsNxdomain);
        let odd = io::Error::other("odd");
        assert_eq!(classify(&odd).label(), "unknown_failure: odd");
    }
}
