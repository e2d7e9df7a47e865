//! The decoy's TLS: its certificate is pinned (it answers every SNI with the same one, so the
//! name cannot be checked); the handshake signatures are still verified with ring, so only the
//! holder of the decoy's key can answer (`tls::signatures_only_config`).

use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// A client config that accepts exactly the certificate in the PEM file `path`.
pub fn pinned_config(path: &Path) -> Result<Arc<ClientConfig>, String> {
    let cert = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("throttle.decoy_cert {}: {e}", path.display()))?
        .next()
        .ok_or_else(|| format!("throttle.decoy_cert {}: no certificate in the file", path.display()))?
        .map_err(|e| format!("throttle.decoy_cert {}: {e}", path.display()))?;
    Ok(crate::tls::signatures_only_config(Some(cert.into_owned())))
}
