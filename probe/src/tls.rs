//! TCP connect and TLS handshake measurements for one address, with the SNI-swap control
//! that tells SNI filtering apart from IP blocking.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::Resumption;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, ProtocolVersion, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use vigil_report::{Failure, TcpConnect, TcpStatus, TlsHandshake};

use crate::clock::Clock;
use crate::failure_map;

/// Why the TLS client configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read CA file {path}: {source}")]
    ReadCaFile { path: PathBuf, source: rustls::pki_types::pem::Error },
    #[error("CA file {path} holds no certificate")]
    NoCertificate { path: PathBuf },
    #[error("CA file {path} holds an unusable certificate: {source}")]
    BadCertificate { path: PathBuf, source: rustls::Error },
    #[error("cannot build the TLS client configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The TCP and TLS records of one address (see [`probe_address`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AddressResult {
    pub tcp: Vec<TcpConnect>,
    pub tls: Vec<TlsHandshake>,
}

/// What [`probe_address`] needs: both client configs, timeouts and the ALPN to offer.
#[derive(Debug, Clone)]
pub struct TlsProbeConfig {
    pub verified: Arc<ClientConfig>,
    pub unverified: Arc<ClientConfig>,
    pub connect_timeout: Duration,
    pub handshake_timeout: Duration,
    pub alpn: Vec<Vec<u8>>,
}

impl TlsProbeConfig {
    /// OONI's numbers: 10 s to connect, 10 s to handshake; ALPN `http/1.1`.
    pub fn new(verified: Arc<ClientConfig>) -> Self {
        TlsProbeConfig {
            verified,
            unverified: no_verify_config(),
            connect_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            alpn: vec![b"http/1.1".to_vec()],
        }
    }
}

/// Install ring as the process-wide rustls provider (for reqwest); calling it twice is fine.
pub fn install_crypto_provider() {
    // Err only means a provider is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Platforms' own roots, beside Mozilla's: Signal's servers chain to Signal's private CA
/// (see probe/data/SOURCES.md).
const PLATFORM_ROOTS: &str = include_str!("../data/signal-ca.pem");

/// Trust roots: webpki-roots (Mozilla), the platforms' own roots, and optional extra PEM CA files
/// (the CLI's --ca-file, for lab CAs).
pub fn client_config(extra_ca_pem_files: &[PathBuf]) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    for cert in CertificateDer::pem_slice_iter(PLATFORM_ROOTS.as_bytes()) {
        let cert =
            cert.map_err(|source| TlsSetupError::ReadCaFile { path: "probe/data/signal-ca.pem".into(), source })?;
        roots.add(cert).map_err(TlsSetupError::Config)?;
    }
    for path in extra_ca_pem_files {
        add_pem_file(&mut roots, path)?;
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // Every handshake is a measurement: never skip certificate checks by resuming a session.
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

fn add_pem_file(roots: &mut RootCertStore, path: &Path) -> Result<(), TlsSetupError> {
    let read_error = |source| TlsSetupError::ReadCaFile { path: path.to_path_buf(), source };
    let mut added = 0;
    for cert in CertificateDer::pem_file_iter(path).map_err(read_error)? {
        let cert = cert.map_err(read_error)?;
        roots.add(cert).map_err(|source| TlsSetupError::BadCertificate { path: path.to_path_buf(), source })?;
        added += 1;
    }
    if added == 0 {
        return Err(TlsSetupError::NoCertificate { path: path.to_path_buf() });
    }
    Ok(())
}

/// A config that accepts any certificate (for the SNI-swap control only: it asks "does the
/// server answer TLS with this other SNI?", not "is it authentic?").
pub fn no_verify_config() -> Arc<ClientConfig> {
    signatures_only_config(None)
}

/// A config that checks only the handshake signatures (with ring), so the peer must hold the key
/// of the certificate it sent: any certificate when `pinned` is None, else exactly `pinned`.
/// Sessions are never resumed (every handshake is measured).
pub fn signatures_only_config(pinned: Option<CertificateDer<'static>>) -> Arc<ClientConfig> {
    let provider = provider();
    let verifier = SignaturesOnly { pinned, algorithms: provider.signature_verification_algorithms };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring's default provider supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    Arc::new(config)
}

/// Accepts any certificate chain (or only the pinned certificate), but still checks the handshake
/// signatures.
#[derive(Debug)]
struct SignaturesOnly {
    pinned: Option<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for SignaturesOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.pinned {
            Some(pin) if pin.as_ref() != end_entity.as_ref() => {
                Err(rustls::Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure))
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Connect to `addr` within `timeout`; the record, and the stream when it succeeded.
pub async fn tcp_connect(addr: SocketAddr, timeout: Duration, clock: &Clock) -> (TcpConnect, Option<TcpStream>) {
    let t0 = clock.elapsed();
    let result = tokio::time::timeout(timeout, TcpStream::connect(addr)).await;
    let t = clock.elapsed();
    let (failure, stream) = match result {
        Ok(Ok(stream)) => (None, Some(stream)),
        Ok(Err(err)) => (Some(failure_map::from_io(&err)), None),
        Err(_elapsed) => (Some(Failure::GenericTimeout), None),
    };
    let record = TcpConnect {
        ip: addr.ip().to_string(),
        port: addr.port(),
        status: TcpStatus { success: failure.is_none(), failure },
        t0,
        t,
    };
    (record, stream)
}

/// Handshake over `stream` with `sni` within `timeout`; the record, and the TLS stream when it
/// succeeded. `no_tls_verify` only labels the record: verification is whatever `config` does.
pub async fn tls_handshake(
    stream: TcpStream,
    addr: SocketAddr,
    sni: &str,
    config: Arc<ClientConfig>,
    no_tls_verify: bool,
    timeout: Duration,
    clock: &Clock,
) -> (TlsHandshake, Option<TlsStream<TcpStream>>) {
    let t0 = clock.elapsed();
    let mut record = TlsHandshake {
        address: addr.to_string(),
        server_name: sni.to_string(),
        failure: None,
        tls_version: None,
        cipher_suite: None,
        negotiated_protocol: None,
        no_tls_verify,
        x_sni_swap: false,
        t0,
        t: t0,
    };
    let server_name = match ascii_server_name(sni) {
        Ok(name) => name,
        Err(failure) => {
            record.failure = Some(failure);
            return (record, None);
        }
    };
    if let ServerName::DnsName(name) = &server_name {
        record.server_name = name.as_ref().to_string();
    }
    let connect = TlsConnector::from(config).connect(server_name, stream);
    let result = tokio::time::timeout(timeout, connect).await;
    record.t = clock.elapsed();
    match result {
        Ok(Ok(tls)) => {
            let (_, conn) = tls.get_ref();
            record.tls_version = conn.protocol_version().map(version_name);
            record.cipher_suite = conn
                .negotiated_cipher_suite()
                .and_then(|suite| suite.suite().as_str())
                .map(|name| name.replacen("TLS13_", "TLS_", 1));
            record.negotiated_protocol = conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned());
            (record, Some(tls))
        }
        Ok(Err(err)) => {
            record.failure = Some(failure_map::from_io(&err));
            (record, None)
        }
        Err(_elapsed) => {
            record.failure = Some(Failure::GenericTimeout);
            (record, None)
        }
    }
}

/// The SNI rustls needs: an IP literal as is (rustls then sends no SNI), a hostname in its
/// ASCII (punycode), lower-case form.
fn ascii_server_name(sni: &str) -> Result<ServerName<'static>, Failure> {
    if let Ok(ip) = sni.parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    let invalid = || Failure::unknown(format!("invalid server name {sni:?}"));
    match url::Host::parse(sni).map_err(|_| invalid())? {
        url::Host::Domain(ascii) => ServerName::try_from(ascii).map_err(|_| invalid()),
        url::Host::Ipv4(ip) => Ok(ServerName::IpAddress(IpAddr::V4(ip).into())),
        url::Host::Ipv6(ip) => Ok(ServerName::IpAddress(IpAddr::V6(ip).into())),
    }
}

fn version_name(version: ProtocolVersion) -> String {
    match version {
        ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        other => format!("{other:?}"),
    }
}

fn with_alpn(config: &Arc<ClientConfig>, alpn: &[Vec<u8>]) -> Arc<ClientConfig> {
    let mut config = ClientConfig::clone(config);
    config.alpn_protocols = alpn.to_vec();
    Arc::new(config)
}

/// The whole sequence for one address: connect, handshake with `sni`; if the handshake fails
/// (not if TCP fails), a fresh connection to the same address with `swap_sni` and the
/// no-verify config, whose handshake is recorded with `x_sni_swap = true`. The swap's TCP
/// connect is recorded too (a second `tcp_connect` entry for the same address). When the first
/// handshake timed out and the swap's succeeded, `sni` is asked once more on a fresh connection
/// (a third handshake, not a swap): a timeout can be the path's for a moment (a saturated link,
/// the probe's own download beside it), and only one that recurs after another name got
/// through is the name's.
pub async fn probe_address(
    addr: SocketAddr,
    sni: &str,
    swap_sni: &str,
    cfg: &TlsProbeConfig,
    clock: &Clock,
) -> AddressResult {
    let mut out = AddressResult::default();
    let (tcp, stream) = tcp_connect(addr, cfg.connect_timeout, clock).await;
    out.tcp.push(tcp);
    let Some(stream) = stream else {
        return out;
    };
    let verified = with_alpn(&cfg.verified, &cfg.alpn);
    let (handshake, _tls) =
        tls_handshake(stream, addr, sni, verified.clone(), false, cfg.handshake_timeout, clock).await;
    let failed = handshake.failure.is_some();
    let timed_out = handshake.failure == Some(Failure::GenericTimeout);
    out.tls.push(handshake);
    if !failed {
        return out;
    }

    let (tcp, stream) = tcp_connect(addr, cfg.connect_timeout, clock).await;
    out.tcp.push(tcp);
    let Some(stream) = stream else {
        return out;
    };
    let unverified = with_alpn(&cfg.unverified, &cfg.alpn);
    let (mut swap, _tls) = tls_handshake(stream, addr, swap_sni, unverified, true, cfg.handshake_timeout, clock).await;
    swap.x_sni_swap = true;
    let swap_ok = swap.failure.is_none();
    out.tls.push(swap);
    if !(timed_out && swap_ok) {
        return out;
    }

    let (tcp, stream) = tcp_connect(addr, cfg.connect_timeout, clock).await;
    out.tcp.push(tcp);
    let Some(stream) = stream else {
        return out;
    };
    let (again, _tls) = tls_handshake(stream, addr, sni, verified, false, cfg.handshake_timeout, clock).await;
    out.tls.push(again);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, Issuer, KeyPair, date_time_ymd};
    use rustls::ServerConfig;
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use rustls::server::Acceptor;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;
    use tokio_rustls::LazyConfigAcceptor;

    const NAME: &str = "vigil.test";

    fn test_ca() -> CertifiedIssuer<'static, KeyPair> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
    }

    /// A server config whose certificate for `name` is signed by `ca`.
    fn server_config(ca: &Issuer<'_, KeyPair>, name: &str, expired: bool, tls12_only: bool) -> Arc<ServerConfig> {
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        if expired {
            params.not_before = date_time_ymd(2000, 1, 1);
            params.not_after = date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, ca).unwrap();
        let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let versions: &[&rustls::SupportedProtocolVersion] =
            if tls12_only { &[&rustls::version::TLS12] } else { rustls::DEFAULT_VERSIONS };
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }

    /// What a test server does once it has read a whole ClientHello.
    enum Behaviour {
        /// Complete the handshake.
        Serve(Arc<ServerConfig>),
        /// Complete the handshake only for SNI `good`; reset the connection for any other.
        ServeOnly(&'static str, Arc<ServerConfig>),
        /// Never answer.
        Silent,
        /// Complete the handshake only for SNI `good`; never answer any other.
        SilentUnless(&'static str, Arc<ServerConfig>),
        /// Never answer the first connection; complete the handshake on every later one.
        SilentOnce(std::sync::atomic::AtomicBool, Arc<ServerConfig>),
        /// Close cleanly (FIN).
        Close,
    }

    async fn server(ip: &str, behaviour: Behaviour) -> SocketAddr {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let behaviour = Arc::new(behaviour);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(handle(tcp, behaviour.clone()));
            }
        });
        addr
    }

    async fn handle(mut tcp: TcpStream, behaviour: Arc<Behaviour>) {
        let Ok(start) = LazyConfigAcceptor::new(Acceptor::default(), &mut tcp).await else {
            return;
        };
        let sni = start.client_hello().server_name().map(str::to_string);
        let config = match &*behaviour {
            Behaviour::Serve(config) => config.clone(),
            Behaviour::ServeOnly(good, config) if sni.as_deref() == Some(*good) => config.clone(),
            Behaviour::ServeOnly(..) => {
                drop(start);
                // SO_LINGER 0 makes close() send RST; with zero it does not block.
                #[allow(deprecated)]
                tcp.set_linger(Some(Duration::ZERO)).unwrap();
                return;
            }
            Behaviour::SilentUnless(good, config) if sni.as_deref() == Some(*good) => config.clone(),
            Behaviour::SilentOnce(done, config) if done.swap(true, std::sync::atomic::Ordering::SeqCst) => {
                config.clone()
            }
            Behaviour::Silent | Behaviour::SilentUnless(..) | Behaviour::SilentOnce(..) => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            }
            Behaviour::Close => return,
        };
        if let Ok(mut tls) = start.into_stream(config).await {
            // Hold the connection until the client closes it.
            let _ = tls.read(&mut [0; 1]).await;
        }
    }

    /// A probe config trusting `ca`, with short timeouts.
    fn probe_config(ca: &CertifiedIssuer<'_, KeyPair>) -> (tempfile::TempDir, TlsProbeConfig) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, ca.pem()).unwrap();
        let mut cfg = TlsProbeConfig::new(client_config(&[path]).unwrap());
        cfg.connect_timeout = Duration::from_secs(2);
        cfg.handshake_timeout = Duration::from_secs(2);
        (dir, cfg)
    }

    async fn handshake_failure(addr: SocketAddr, sni: &str, cfg: &TlsProbeConfig) -> String {
        let clock = Clock::start();
        let (tcp, stream) = tcp_connect(addr, cfg.connect_timeout, &clock).await;
        assert!(tcp.status.success);
        let config = cfg.verified.clone();
        let timeout = cfg.handshake_timeout;
        let (record, tls) = tls_handshake(stream.unwrap(), addr, sni, config, false, timeout, &clock).await;
        assert!(tls.is_none());
        assert!(record.tls_version.is_none());
        record.failure.expect("handshake should fail").to_string()
    }

    #[tokio::test]
    async fn connect_to_a_closed_port_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let (record, stream) = tcp_connect(addr, Duration::from_secs(2), &Clock::start()).await;
        assert!(stream.is_none());
        assert!(!record.status.success);
        assert_eq!(record.status.failure.unwrap().label(), "connection_refused");
        assert_eq!((record.ip.as_str(), record.port), ("127.0.0.1", addr.port()));
    }

    #[tokio::test]
    async fn connect_to_a_listener_succeeds() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (record, stream) = tcp_connect(addr, Duration::from_secs(2), &Clock::start()).await;
        assert!(stream.is_some());
        assert_eq!(record.status, TcpStatus { success: true, failure: None });
        assert!(record.t >= record.t0);
    }

    #[tokio::test]
    async fn handshake_succeeds_with_a_ca_from_an_extra_file() {
        let ca = test_ca();
        let addr = server("127.0.0.1", Behaviour::Serve(server_config(&ca, NAME, false, false))).await;
        let (_dir, cfg) = probe_config(&ca);
        let result = probe_address(addr, NAME, "swap.test", &cfg, &Clock::start()).await;
        assert_eq!(result.tcp.len(), 1);
        assert_eq!(result.tls.len(), 1, "no SNI swap after a good handshake");
        let tls = &result.tls[0];
        assert_eq!(tls.failure, None);
        assert_eq!(tls.address, format!("127.0.0.1:{}", addr.port()));
        assert_eq!(tls.server_name, NAME);
        assert_eq!(tls.tls_version.as_deref(), Some("TLSv1.3"));
        assert!(tls.cipher_suite.as_deref().unwrap().starts_with("TLS_AES_"), "{tls:?}");
        assert_eq!(tls.negotiated_protocol.as_deref(), Some("http/1.1"));
        assert!(!tls.no_tls_verify && !tls.x_sni_swap);
    }

    #[tokio::test]
    async fn tls12_handshake_reports_its_version_and_suite() {
        let ca = test_ca();
        let addr = server("127.0.0.1", Behaviour::Serve(server_config(&ca, NAME, false, true))).await;
        let (_dir, cfg) = probe_config(&ca);
        let result = probe_address(addr, NAME, "swap.test", &cfg, &Clock::start()).await;
        let tls = &result.tls[0];
        assert_eq!(tls.failure, None);
        assert_eq!(tls.tls_version.as_deref(), Some("TLSv1.2"));
        assert!(tls.cipher_suite.as_deref().unwrap().starts_with("TLS_ECDHE_"), "{tls:?}");
    }

    #[tokio::test]
    async fn certificate_problems_get_their_labels() {
        let ca = test_ca();
        let (_dir, cfg) = probe_config(&ca);
        let good = server("127.0.0.1", Behaviour::Serve(server_config(&ca, NAME, false, false))).await;
        assert_eq!(handshake_failure(good, "other.test", &cfg).await, "ssl_invalid_hostname");

        let expired = server("127.0.0.1", Behaviour::Serve(server_config(&ca, NAME, true, false))).await;
        assert_eq!(handshake_failure(expired, NAME, &cfg).await, "ssl_invalid_certificate");

        let mozilla_only = TlsProbeConfig::new(client_config(&[]).unwrap());
        assert_eq!(handshake_failure(good, NAME, &mozilla_only).await, "ssl_unknown_authority");
    }

    #[tokio::test]
    async fn reset_on_sni_then_the_swap_succeeds() {
        let ca = test_ca();
        let config = server_config(&ca, "innocuous.test", false, false);
        let addr = server("127.0.0.1", Behaviour::ServeOnly("innocuous.test", config)).await;
        let (_dir, cfg) = probe_config(&ca);
        let result = probe_address(addr, "blocked.test", "innocuous.test", &cfg, &Clock::start()).await;
        assert_eq!(result.tcp.len(), 2);
        assert!(result.tcp.iter().all(|t| t.status.success));
        let [first, swap] = &result.tls[..] else {
            panic!("expected two handshakes: {result:?}");
        };
        assert_eq!(first.failure.as_ref().unwrap().label(), "connection_reset");
        assert!(!first.x_sni_swap && !first.no_tls_verify);
        assert_eq!(swap.failure, None);
        assert_eq!(swap.server_name, "innocuous.test");
        assert!(swap.x_sni_swap && swap.no_tls_verify);
        assert!(swap.t0 >= first.t);
    }

    /// A timeout the path caused for a moment: the swap gets through, and so does the real name
    /// when asked again (three handshakes, the last one good).
    #[tokio::test]
    async fn a_timeout_then_a_good_swap_asks_the_real_name_again() {
        let ca = test_ca();
        let config = server_config(&ca, NAME, false, false);
        let addr = server("127.0.0.1", Behaviour::SilentOnce(false.into(), config)).await;
        let (_dir, mut cfg) = probe_config(&ca);
        cfg.handshake_timeout = Duration::from_millis(300);
        let result = probe_address(addr, NAME, "innocuous.test", &cfg, &Clock::start()).await;
        let [first, swap, again] = &result.tls[..] else {
            panic!("expected three handshakes: {result:?}");
        };
        assert_eq!(first.failure.as_ref().unwrap().label(), "generic_timeout_error");
        assert!(swap.x_sni_swap && swap.failure.is_none());
        assert!(!again.x_sni_swap && !again.no_tls_verify && again.server_name == NAME);
        assert_eq!(again.failure, None);
        assert_eq!(result.tcp.len(), 3);
    }

    /// A censor that drops the name's ClientHello drops it again: the SNI's signature stands.
    #[tokio::test]
    async fn a_name_dropped_twice_around_a_good_swap_stays_failed() {
        let ca = test_ca();
        let config = server_config(&ca, "innocuous.test", false, false);
        let addr = server("127.0.0.1", Behaviour::SilentUnless("innocuous.test", config)).await;
        let (_dir, mut cfg) = probe_config(&ca);
        cfg.handshake_timeout = Duration::from_millis(300);
        let result = probe_address(addr, "blocked.test", "innocuous.test", &cfg, &Clock::start()).await;
        let failures: Vec<Option<&str>> = result.tls.iter().map(|h| h.failure.as_ref().map(|f| f.label())).collect();
        assert_eq!(failures, [Some("generic_timeout_error"), None, Some("generic_timeout_error")]);
        // A reset is the censor's at once: no second ask.
        let addr = server(
            "127.0.0.1",
            Behaviour::ServeOnly("innocuous.test", server_config(&ca, "innocuous.test", false, false)),
        )
        .await;
        let result = probe_address(addr, "blocked.test", "innocuous.test", &cfg, &Clock::start()).await;
        assert_eq!(result.tls.len(), 2);
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        let ca = test_ca();
        let addr = server("127.0.0.1", Behaviour::Silent).await;
        let (_dir, mut cfg) = probe_config(&ca);
        cfg.handshake_timeout = Duration::from_millis(300);
        assert_eq!(handshake_failure(addr, NAME, &cfg).await, "generic_timeout_error");
    }

    #[tokio::test]
    async fn close_after_client_hello_is_eof() {
        let ca = test_ca();
        let addr = server("127.0.0.1", Behaviour::Close).await;
        let (_dir, cfg) = probe_config(&ca);
        assert_eq!(handshake_failure(addr, NAME, &cfg).await, "eof_error");
    }

    #[tokio::test]
    async fn ipv6_address_is_bracketed() {
        if std::net::TcpListener::bind("[::1]:0").is_err() {
            eprintln!("skipping: ::1 unavailable");
            return;
        }
        let ca = test_ca();
        let addr = server("::1", Behaviour::Serve(server_config(&ca, NAME, false, false))).await;
        let (_dir, cfg) = probe_config(&ca);
        let result = probe_address(addr, NAME, "swap.test", &cfg, &Clock::start()).await;
        assert_eq!(result.tcp[0].ip, "::1");
        assert_eq!(result.tls[0].address, format!("[::1]:{}", addr.port()));
        assert_eq!(result.tls[0].failure, None);
    }

    #[test]
    fn server_names_are_ascii() {
        let name = ascii_server_name("Bücher.Example").unwrap();
        assert_eq!(name.to_str(), "xn--bcher-kva.example");
        let ip = ascii_server_name("::1").unwrap();
        assert!(matches!(ip, ServerName::IpAddress(_)));
        assert!(ascii_server_name("bad name").is_err());
    }

    #[test]
    fn bad_ca_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = client_config(&[missing]).unwrap_err();
        assert!(matches!(err, TlsSetupError::ReadCaFile { .. }), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = client_config(&[empty]).unwrap_err();
        assert!(matches!(err, TlsSetupError::NoCertificate { .. }), "{err}");
    }
}

#[cfg(test)]
mod platform_root_tests {
    use rustls_pki_types::{CertificateDer, pem::PemObject};

    #[test]
    fn signals_root_parses_and_is_accepted_as_a_trust_anchor() {
        let certs: Vec<_> = CertificateDer::pem_slice_iter(super::PLATFORM_ROOTS.as_bytes()).collect();
        assert_eq!(certs.len(), 1);
        let mut roots = rustls::RootCertStore::empty();
        roots.add(certs[0].as_ref().unwrap().clone()).unwrap();
        assert_eq!(roots.len(), 1);
        super::client_config(&[]).unwrap();
    }
}
