//! Certificates of a [`super::WebServer`]: one per site, picked by SNI; a default for the rest.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::{CertKind, Site};
use crate::ca::{CertAndKey, TestCa, self_signed};
use crate::zone::normalize;

/// The name on [`CertKind::WrongName`] certificates.
pub const WRONG_NAME: &str = "wrong-name.invalid";
/// The name on the certificate served for unknown SNIs.
pub const DEFAULT_NAME: &str = "default.lab.test";

#[derive(Debug)]
struct SniResolver {
    by_name: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
    /// Used as the name when the client sends no SNI (an IP-literal URL).
    ip: String,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name().map(normalize).unwrap_or_else(|| self.ip.clone());
        Some(self.by_name.get(&name).unwrap_or(&self.default).clone())
    }
}

/// A server configuration presenting each site's certificate for its names.
pub(super) fn server_config(ca: &TestCa, sites: &[Site], ip: IpAddr) -> Arc<rustls::ServerConfig> {
    let mut by_name = HashMap::new();
    for site in sites {
        let names: Vec<&str> = site.names.iter().map(String::as_str).collect();
        let key = certified(match site.cert {
            CertKind::Valid => ca.leaf(&names),
            CertKind::Expired => ca.leaf_expired(&names),
            CertKind::WrongName => ca.leaf(&[WRONG_NAME]),
            CertKind::SelfSigned => self_signed(&names),
        });
        for name in &site.names {
            by_name.insert(normalize(name), key.clone());
        }
    }
    let default = certified(ca.leaf(&[DEFAULT_NAME]));
    let resolver = SniResolver { by_name, default, ip: ip.to_string() };
    let config = rustls::ServerConfig::builder().with_no_client_auth().with_cert_resolver(Arc::new(resolver));
    Arc::new(config)
}

fn certified((cert, key): CertAndKey) -> Arc<CertifiedKey> {
    let provider = rustls::crypto::ring::default_provider();
    let key =
        CertifiedKey::from_der(vec![cert], key, &provider).expect("testkit: generated key matches its certificate");
    Arc::new(key)
}
