//! Maps Rust errors (io, rustls, hyper, reqwest) to OONI failure labels, so measurements record
//! `connection_reset` or `ssl_invalid_hostname`, never free-form error text.
//!
//! The mapping and its one rule (the innermost recognised error of the chain wins) live in
//! `vigil-failure`, shared with the control so the two sides' failures compare.

use std::error::Error;

use vigil_report::Failure;

pub use vigil_failure::{from_io, from_rustls};

/// The OONI label of an error, by `vigil_failure::classify`'s rule.
pub fn from_error(err: &(dyn Error + 'static)) -> Failure {
    vigil_failure::classify(err)
}
