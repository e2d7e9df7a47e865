//! The probe's identity: its Ed25519 key (created on first start, kept in a 0600 file, never sent
//! anywhere) and the collector it is enrolled with (the "pin": URL and collector key).

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use vigil_report::signed::{decode_public_key, key_id};

use crate::spool::atomic;

/// Errors reading or writing the key or the pin; each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("key_io: {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("key_permissions: {path} is readable by group or others (mode {mode:03o}); run `chmod 600 {path}`")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("key_invalid: {path}: not an Ed25519 secret key (64 hex digits)")]
    Invalid { path: PathBuf },
    #[error("key_random: the system random source failed: {0}")]
    Random(String),
    #[error("pin_invalid: {path}: {message}")]
    Pin { path: PathBuf, message: String },
}

impl IdentityError {
    /// Stable short label.
    pub fn label(&self) -> &'static str {
        match self {
            IdentityError::Io { .. } => "key_io",
            IdentityError::Permissions { .. } => "key_permissions",
            IdentityError::Invalid { .. } => "key_invalid",
            IdentityError::Random(_) => "key_random",
            IdentityError::Pin { .. } => "pin_invalid",
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError + '_ {
    move |source| IdentityError::Io { path: path.to_path_buf(), source }
}

/// Load the key at `path`, creating it first if there is none. `true` when it was created now.
pub fn load_or_create(path: &Path) -> Result<(SigningKey, bool), IdentityError> {
    match load_if_exists(path)? {
        Some(key) => Ok((key, false)),
        None => create(path).map(|key| (key, true)),
    }
}

/// The key at `path`, or `None` when there is no file yet.
pub fn load_if_exists(path: &Path) -> Result<Option<SigningKey>, IdentityError> {
    match fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path)(e)),
        Ok(_) => load(path).map(Some),
    }
}

/// Load the key at `path`, refusing a file that group or others may read.
pub fn load(path: &Path) -> Result<SigningKey, IdentityError> {
    let meta = fs::metadata(path).map_err(io_error(path))?;
    if !meta.is_file() {
        return Err(IdentityError::Invalid { path: path.into() });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(IdentityError::Permissions { path: path.into(), mode });
    }
    let text = fs::read_to_string(path).map_err(|_| IdentityError::Invalid { path: path.into() })?;
    let bytes = decode_hex32(text.trim()).ok_or_else(|| IdentityError::Invalid { path: path.into() })?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// Create a fresh key at `path` (its directory is created with mode 0700 if missing). If another
/// process created one meanwhile, that one is loaded instead: a key file is never overwritten.
pub fn create(path: &Path) -> Result<SigningKey, IdentityError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io_error(dir))?;
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut secret).map_err(|e| IdentityError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&secret);
    let text = format!("{}\n", encode_hex(&secret));
    secret.fill(0);
    match atomic::create_new(&atomic::tmp_path(dir), path, text.as_bytes(), 0o600) {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load(path),
        Err(e) => Err(io_error(path)(e)),
    }
}

/// The probe's key id (what the collector calls it).
pub fn probe_key_id(key: &SigningKey) -> String {
    key_id(&key.verifying_key())
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// The collector a probe is enrolled with: its base URL and the key its statements must verify
/// with (trusted on enrollment, then changed only by following a signed rotation chain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorPin {
    /// Base URL, e.g. `https://collector.example/`.
    pub url: String,
    /// The collector's current public key (standard base64) and its id.
    pub collector_key: String,
    pub collector_key_id: String,
    /// This probe's key id, as the collector enrolled it.
    pub key_id: String,
}

impl CollectorPin {
    /// The pin at `path`, or `None` when the probe is not enrolled yet.
    pub fn load(path: &Path) -> Result<Option<CollectorPin>, IdentityError> {
        let text = match fs::read_to_string(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            other => other.map_err(io_error(path))?,
        };
        let pin: CollectorPin = serde_json::from_str(&text)
            .map_err(|e| IdentityError::Pin { path: path.into(), message: e.to_string() })?;
        pin.check().map_err(|message| IdentityError::Pin { path: path.into(), message })?;
        Ok(Some(pin))
    }

    /// Write the pin atomically.
    pub fn save(&self, path: &Path) -> Result<(), IdentityError> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io_error(dir))?;
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        atomic::replace(&atomic::tmp_path(dir), path, text.as_bytes(), 0o644).map_err(io_error(path))
    }

    /// The URL parses and the key matches its id.
    pub fn check(&self) -> Result<(), String> {
        url::Url::parse(&self.url).map_err(|e| format!("url: {e}"))?;
        let key = self.verifying_key().map_err(|e| format!("collector_key: {e}"))?;
        if key_id(&key) != self.collector_key_id {
            return Err("collector_key_id does not match collector_key".into());
        }
        Ok(())
    }

    pub fn verifying_key(&self) -> Result<VerifyingKey, vigil_report::SignError> {
        decode_public_key(&self.collector_key)
    }

    /// `path` (e.g. `/api/v1/submit`) under the collector's base URL.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_report::signed::encode_public_key;

    #[test]
    fn hex_round_trip_and_garbage() {
        let bytes = [0xabu8; 32];
        assert_eq!(decode_hex32(&encode_hex(&bytes)), Some(bytes));
        assert_eq!(decode_hex32("ab"), None);
        assert_eq!(decode_hex32(&"zz".repeat(32)), None);
        assert_eq!(decode_hex32(&"é".repeat(32)), None);
    }

    #[test]
    fn pins_round_trip_and_bad_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/collector.json");
        assert_eq!(CollectorPin::load(&path).unwrap(), None);
        let collector = SigningKey::from_bytes(&[5; 32]).verifying_key();
        let pin = CollectorPin {
            url: "http://127.0.0.1:9/".into(),
            collector_key: encode_public_key(&collector),
            collector_key_id: key_id(&collector),
            key_id: "abc".into(),
        };
        pin.save(&path).unwrap();
        assert_eq!(CollectorPin::load(&path).unwrap(), Some(pin.clone()));
        assert_eq!(pin.endpoint("/api/v1/submit"), "http://127.0.0.1:9/api/v1/submit");
        let bad = CollectorPin { collector_key_id: "0000".into(), ..pin };
        bad.save(&path).unwrap();
        let err = CollectorPin::load(&path).unwrap_err();
        assert_eq!(err.label(), "pin_invalid");
        assert!(err.to_string().contains("collector.json"), "{err}");
    }
}
