//! The throttling test's decoy (`docs/throttling.md`): a TLS server that answers a ClientHello
//! with ANY server name using one self-signed certificate (probes pin it), and serves
//! `GET /vigil/object?bytes=N` with N pseudo-random bytes (default 160 KiB, at most 4 MiB).
//! A censor that throttles by SNI slows the probe's transfer with the platform's name but not the
//! one with an innocuous name to the same address: that is the comparison the probe makes.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

/// The object's path.
pub const OBJECT_PATH: &str = "/vigil/object";
/// Bytes served when the request names none.
pub const DEFAULT_BYTES: u64 = 160 * 1024;
/// Bytes served at most.
pub const MAX_BYTES: u64 = 4 * 1024 * 1024;
/// Connections served at once; beyond, new ones wait.
const MAX_CONNECTIONS: usize = 128;
/// A connection (request and answer) ends by then.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Errors setting the decoy up, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum DecoyError {
    #[error("decoy_io: {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("decoy_cert: {0}")]
    Cert(String),
}

/// The certificate file probes pin (`throttle.decoy_cert`) in `dir`.
pub fn cert_path(dir: &Path) -> PathBuf {
    dir.join("decoy-cert.pem")
}

/// Load the decoy's certificate and key from `dir` (`decoy-cert.pem`, `decoy-key.pem`), creating
/// them (key mode 0600) on first use.
pub fn load_or_create(dir: &Path) -> Result<Arc<ServerConfig>, DecoyError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DecoyError::Io { path, source }
    };
    let (cert_file, key_file) = (cert_path(dir), dir.join("decoy-key.pem"));
    if !cert_file.exists() || !key_file.exists() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let made = rcgen::generate_simple_self_signed(vec!["vigil-decoy".to_string()])
            .map_err(|e| DecoyError::Cert(e.to_string()))?;
        write_private(&key_file, made.signing_key.serialize_pem().as_bytes()).map_err(io(&key_file))?;
        std::fs::write(&cert_file, made.cert.pem()).map_err(io(&cert_file))?;
    }
    let cert = CertificateDer::from_pem_file(&cert_file)
        .map_err(|e| DecoyError::Cert(format!("{}: {e}", cert_file.display())))?;
    let key = PrivateKeyDer::from_pem_file(&key_file)
        .map_err(|e| DecoyError::Cert(format!("{}: {e}", key_file.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DecoyError::Cert(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(|e| DecoyError::Cert(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(bytes)
}

/// Serve until `shutdown` resolves.
pub async fn serve(listener: TcpListener, config: Arc<ServerConfig>, shutdown: impl Future<Output = ()>) {
    let acceptor = TlsAcceptor::from(config);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = &mut shutdown => return,
        };
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
            _ = &mut shutdown => return,
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let _ = answer(tls).await;
                }
            })
            .await;
            drop(permit);
        });
    }
}

/// Read one request head and answer it.
async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut tls: S) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tls.read(&mut buf).await?;
        if n == 0 || head.len() > 8192 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let Some(bytes) = requested_bytes(&String::from_utf8_lossy(&head)) else {
        let body = "not found: the decoy serves GET /vigil/object?bytes=N\n";
        let reply = format!(
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        tls.write_all(reply.as_bytes()).await?;
        return tls.shutdown().await;
    };
    let header = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {bytes}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    );
    tls.write_all(header.as_bytes()).await?;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; 16 * 1024];
    let mut left = bytes;
    while left > 0 {
        // xorshift: incompressible bytes, cheap to make.
        for word in chunk.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
        }
        let n = left.min(chunk.len() as u64) as usize;
        tls.write_all(&chunk[..n]).await?;
        left -= n as u64;
    }
    tls.shutdown().await
}

/// The object size a request head asks for, `None` when it is not `GET /vigil/object[?bytes=N]`.
pub fn requested_bytes(head: &str) -> Option<u64> {
    let line = head.lines().next()?;
    let mut parts = line.split_whitespace();
    if parts.next()? != "GET" {
        return None;
    }
    let target = parts.next()?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != OBJECT_PATH {
        return None;
    }
    let mut bytes = DEFAULT_BYTES;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        if let Some(v) = pair.strip_prefix("bytes=") {
            bytes = v.parse().ok()?;
        }
    }
    Some(bytes.min(MAX_BYTES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_name_the_object_and_its_size() {
        assert_eq!(requested_bytes("GET /vigil/object HTTP/1.1\r\n"), Some(DEFAULT_BYTES));
        assert_eq!(requested_bytes("GET /vigil/object?bytes=1000 HTTP/1.1\r\n"), Some(1000));
        assert_eq!(requested_bytes("GET /vigil/object?bytes=999999999 HTTP/1.1\r\n"), Some(MAX_BYTES));
        assert_eq!(requested_bytes("GET /vigil/object?bytes=x HTTP/1.1\r\n"), None);
        assert_eq!(requested_bytes("GET / HTTP/1.1\r\n"), None);
        assert_eq!(requested_bytes("POST /vigil/object HTTP/1.1\r\n"), None);
    }

    #[tokio::test]
    async fn the_certificate_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path()).unwrap();
        let first = std::fs::read(cert_path(dir.path())).unwrap();
        load_or_create(dir.path()).unwrap();
        assert_eq!(std::fs::read(cert_path(dir.path())).unwrap(), first);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("decoy-key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
