//! Maps the errors of the control's own measurements to OONI's failure labels through
//! `vigil-failure`, the mapping the probe uses too (plus the control's own error types), and
//! finds a page's title.

use std::error::Error as StdError;

use vigil_report::{Failure, MaybeBinary};

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

/// The OONI label for an error: `vigil_failure`'s one rule (the innermost recognised error of
/// the chain), which also knows the control's own errors (policy refusals, DNS failures, too
/// many redirects).
pub fn classify(err: &(dyn StdError + 'static)) -> Failure {
    vigil_failure::classify_with(err, &label)
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
    None
}

/// The bytes of the first `<title>` element, trimmed (empty when there is none): kept as
/// received, so a title that is not UTF-8 is published as OONI's base64 object.
pub(crate) fn title(html: &[u8]) -> MaybeBinary {
    let lower = html.to_ascii_lowercase();
    let find = |from: usize, what: &[u8]| lower[from..].windows(what.len()).position(|w| w == what).map(|i| from + i);
    let Some(open) = find(0, b"<title") else {
        return MaybeBinary::default();
    };
    let Some(start) = lower[open..].iter().position(|b| *b == b'>').map(|i| open + i + 1) else {
        return MaybeBinary::default();
    };
    let end = find(start, b"</title").unwrap_or(html.len());
    MaybeBinary::from_bytes(html[start..end].trim_ascii().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::CertificateError;
    use std::io;

    #[test]
    fn titles_are_found_case_insensitively() {
        assert_eq!(title(b"<html><TITLE lang=en> Just a moment... </Title>"), "Just a moment...");
        assert_eq!(title(b"<title>Unclosed"), "Unclosed");
        assert_eq!(title(b"<p>no title</p>"), "");
        assert_eq!(title(b"<title"), "");
    }

    #[test]
    fn a_title_that_is_not_utf8_keeps_its_bytes() {
        // windows-1251 "Доступ ограничен".
        let bytes = b"\xc4\xee\xf1\xf2\xf3\xef \xee\xe3\xf0\xe0\xed\xe8\xf7\xe5\xed";
        let page = [b"<html><title>".as_slice(), bytes, b"</title></html>"].concat();
        let t = title(&page);
        assert!(matches!(t, MaybeBinary::Binary(_)), "{t:?}");
        assert_eq!(t.as_bytes(), bytes);
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
        // The one rule shared with the probe: the innermost recognised error wins over a
        // recognised wrapper (this control used to keep the outer `connection_reset`).
        let reset_by_tls = io::Error::new(
            io::ErrorKind::ConnectionReset,
            rustls::Error::InvalidCertificate(CertificateError::Expired),
        );
        assert_eq!(classify(&reset_by_tls), Failure::SslInvalidCertificate);
        let refused_wrapped = io::Error::new(io::ErrorKind::TimedOut, Refused(Refusal::NotPublic));
        assert_eq!(classify(&refused_wrapped).label(), "unknown_failure: refused: not a public address");
        let odd = io::Error::other("odd");
        assert_eq!(classify(&odd).label(), "unknown_failure: odd");
    }
}
