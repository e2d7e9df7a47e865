//! The one mapping of Rust network errors (io, rustls, hyper, reqwest, tokio timeouts, getaddrinfo) to OONI's
//! failure labels (df-007), used by both the probe and the control so the two sides' failures
//! compare.
//!
//! One rule, modelled on OONI's netxlite (`NewErrWrapper` keeps the classification made at the
//! lowest layer): walk the error's cause chain and keep the label of the **innermost** error that
//! is recognised; the outer errors are wrappers that say less (`InvalidData`, "error sending
//! request"). When nothing is recognised: `unknown_failure: <innermost error's text>`.
//!
//! `io::Error::source()` skips the error it wraps, so an `io::Error` is looked into with
//! `get_ref()` (where tokio-rustls puts its `rustls::Error`). An error already classified by the
//! caller is carried as [`Classified`], and a caller's own error types are recognised through the
//! `extra` hook of [`classify_with`] — both at their place in the chain, under the same rule.

use std::error::Error;
use std::io;

use rustls::CertificateError;
use vigil_report::Failure;

mod getaddrinfo;

pub use getaddrinfo::{from_getaddrinfo, from_join};

/// An error whose OONI label was already decided where it happened (netxlite's `ErrWrapper`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified(pub Failure);

impl std::fmt::Display for Classified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.label())
    }
}

impl Error for Classified {}

/// The label of an error: its innermost recognised cause, else `unknown_failure: <innermost text>`.
pub fn classify(err: &(dyn Error + 'static)) -> Failure {
    classify_with(err, &|_| None)
}

/// [`classify`], also recognising the caller's own error types with `extra` (asked first for each
/// error in the chain; the innermost recognised error still wins).
pub fn classify_with(
    err: &(dyn Error + 'static),
    extra: &dyn Fn(&(dyn Error + 'static)) -> Option<Failure>,
) -> Failure {
    let mut found = None;
    let mut innermost = err;
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(failure) = extra(e).or_else(|| known(e)) {
            found = Some(failure);
        }
        innermost = e;
        current = next_cause(e);
    }
    found.unwrap_or_else(|| Failure::unknown(innermost))
}

/// The label of an `io::Error` (its wrapped error, kind or raw OS error), by the same rule.
pub fn from_io(err: &io::Error) -> Failure {
    classify(err)
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

/// The next error of the chain: what an `io::Error` wraps, else `source()`.
fn next_cause<'a>(e: &'a (dyn Error + 'static)) -> Option<&'a (dyn Error + 'static)> {
    match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
        Some(inner) => Some(inner),
        None => e.source(),
    }
}

/// The label of one error of a chain, if that error by itself says what happened.
fn known(e: &(dyn Error + 'static)) -> Option<Failure> {
    if let Some(Classified(failure)) = e.downcast_ref::<Classified>() {
        return Some(failure.clone());
    }
    if let Some(e) = e.downcast_ref::<io::Error>() {
        return from_kind(e.kind()).or_else(|| e.raw_os_error().and_then(from_errno));
    }
    if let Some(e) = e.downcast_ref::<rustls::Error>() {
        return Some(from_rustls(e));
    }
    if let Some(e) = e.downcast_ref::<reqwest::Error>()
        && e.is_timeout()
    {
        return Some(Failure::GenericTimeout);
    }
    if e.is::<tokio::time::error::Elapsed>() {
        return Some(Failure::GenericTimeout);
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
mod tests;
