//! The control ("test helper") the collector serves to probes: it fetches a URL from the
//! collector's vantage point and answers OONI's web-connectivity control protocol
//! ([`vigil_report::ControlRequest`] → [`vigil_report::ControlResponse`], `POST /`).
//!
//! It refuses loopback, private, link-local and other non-public targets and the collector's own
//! addresses ([`TargetPolicy`]; in the field every address of every interface of the host,
//! [`LocalAddresses`]), on the first URL, on every redirect and on the probe's `tcp_connect` list,
//! so it cannot be turned against the network or the host it runs on.
//!
//! [`decoy`] is the throttling test's decoy server (any SNI, one pinned certificate).

pub mod decoy;
mod failure;
mod fetch;
mod local;
mod measure;
mod policy;
mod resolve;
mod server;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;

pub use failure::{classify as classify_failure, refused};
/// The network type of [`TargetPolicy::lab`].
pub use ipnet::IpNet;
pub use local::{INTERFACE_REFRESH, InterfaceSource, LocalAddresses, SystemInterfaces};
pub use measure::{MAX_CONTROL_ADDRESSES, MAX_PROBE_ENDPOINTS, measure};
pub use policy::{Refusal, TargetPolicy, is_non_public};
pub use resolve::{Resolver, SystemResolver};
pub use server::{MAX_REQUEST_BYTES, router};

/// How the control measures.
#[derive(Clone)]
pub struct ControlConfig {
    pub resolver: Arc<dyn Resolver>,
    pub policy: TargetPolicy,
    /// Whom TLS handshakes and HTTPS fetches trust.
    pub tls: Arc<rustls::ClientConfig>,
    /// Bound of each step: DNS, each TCP connect, each TLS handshake, the whole HTTP fetch.
    pub timeout: Duration,
    /// The ASN of an address (0 when unknown).
    pub asn_lookup: Arc<dyn Fn(IpAddr) -> u32 + Send + Sync>,
}

impl fmt::Debug for ControlConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControlConfig").field("policy", &self.policy).field("timeout", &self.timeout).finish()
    }
}

/// Why the control did not measure a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// The request is unusable: malformed JSON, a bad URL or scheme, too many endpoints.
    #[error("{0}")]
    BadRequest(String),
    #[error("request body larger than {0} bytes")]
    BodyTooLarge(usize),
    /// Every address of the host is one the control may not reach.
    #[error("{host} has no public address: the control does not connect to private, local or its own addresses")]
    TargetNotPublic { host: String },
    /// The host is (only) the collector's own host: one of its interfaces or configured addresses.
    #[error("{host} is the collector's own host: the control never connects to an address of its own host")]
    TargetOwnAddress { host: String },
}

impl ControlError {
    /// The stable label of the error (`error.code` in the HTTP answer).
    pub fn code(&self) -> &'static str {
        match self {
            ControlError::BadRequest(_) => "bad_request",
            ControlError::BodyTooLarge(_) => "body_too_large",
            ControlError::TargetNotPublic { .. } => "target_not_public",
            ControlError::TargetOwnAddress { .. } => "target_own_address",
        }
    }

    /// The HTTP status the error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ControlError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ControlError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ControlError::TargetNotPublic { .. } | ControlError::TargetOwnAddress { .. } => StatusCode::FORBIDDEN,
        }
    }
}

/// A TLS client configuration trusting the public web PKI (Mozilla's roots, ring provider), the
/// control's default in the field.
pub fn public_roots_tls() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
