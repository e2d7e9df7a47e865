//! A lab certificate authority: issues leaf certificates (valid, expired, self-signed) for the
//! fake TLS servers, and hands its root to the clients that must trust it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// A certificate and its private key, as rustls wants them.
pub type CertAndKey = (CertificateDer<'static>, PrivateKeyDer<'static>);

/// A throw-away CA for tests. Every instance has a fresh key; nothing outside the test trusts it.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

impl TestCa {
    /// Create a CA ("Vigil Lab CA"). Panics only if key generation fails, which ring never does.
    pub fn new() -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name = name("Vigil Lab CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(365);
        params.not_after = now + Duration::days(3650);
        let key = KeyPair::generate().expect("testkit: CA key generation");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("testkit: CA self-signing");
        TestCa { issuer }
    }

    /// The CA certificate (DER).
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// The CA certificate (PEM).
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// Write the CA certificate as `vigil-lab-ca.pem` in `dir` and return the file's path.
    /// Panics with the path if the file cannot be written (a broken test setup).
    pub fn write_pem(&self, dir: impl AsRef<Path>) -> PathBuf {
        let path = dir.as_ref().join("vigil-lab-ca.pem");
        if let Err(e) = std::fs::write(&path, self.cert_pem()) {
            panic!("testkit: cannot write {}: {e}", path.display());
        }
        path
    }

    /// A root store trusting only this CA.
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert_der()).expect("testkit: CA certificate is a valid trust anchor");
        roots
    }

    /// A rustls client configuration trusting only this CA (ring provider).
    pub fn client_config(&self) -> rustls::ClientConfig {
        client_config(self.root_store())
    }

    /// A leaf for `names` (DNS names, punycode IDNs or IP literals), valid from yesterday for
    /// 30 days.
    pub fn leaf(&self, names: &[&str]) -> CertAndKey {
        let now = OffsetDateTime::now_utc();
        self.issue(names, now - Duration::days(1), now + Duration::days(30))
    }

    /// A leaf for `names` whose validity ended ten days ago.
    pub fn leaf_expired(&self, names: &[&str]) -> CertAndKey {
        let now = OffsetDateTime::now_utc();
        self.issue(names, now - Duration::days(60), now - Duration::days(10))
    }

    fn issue(&self, names: &[&str], from: OffsetDateTime, until: OffsetDateTime) -> CertAndKey {
        let params = leaf_params(names, from, until);
        let key = KeyPair::generate().expect("testkit: leaf key generation");
        let cert = params.signed_by(&key, &self.issuer).expect("testkit: leaf signing");
        (cert.der().clone(), private_key(&key))
    }
}

/// A self-signed certificate for `names`, not issued by any [`TestCa`].
pub fn self_signed(names: &[&str]) -> CertAndKey {
    let now = OffsetDateTime::now_utc();
    let params = leaf_params(names, now - Duration::days(1), now + Duration::days(30));
    let key = KeyPair::generate().expect("testkit: key generation");
    let cert = params.self_signed(&key).expect("testkit: self-signing");
    (cert.der().clone(), private_key(&key))
}

/// A rustls client configuration (ring provider, safe protocol versions) over `roots`.
pub fn client_config(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("testkit: ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

fn leaf_params(names: &[&str], from: OffsetDateTime, until: OffsetDateTime) -> CertificateParams {
    let sans: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = match CertificateParams::new(sans) {
        Ok(params) => params,
        Err(e) => panic!("testkit: invalid certificate names {names:?}: {e}"),
    };
    params.distinguished_name = name(names.first().copied().unwrap_or("vigil lab leaf"));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.not_before = from;
    params.not_after = until;
    params
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

fn private_key(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}
