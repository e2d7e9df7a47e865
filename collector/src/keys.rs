//! The collector's Ed25519 key on disk: `collector.key` (standard base64 of the 32-byte secret,
//! mode 0600), generated on first start, and the staged file used while rotating it.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use rand::TryRngCore;

use crate::error::CollectorError;

/// A fresh key from the operating system's random source.
pub fn generate() -> Result<SigningKey, CollectorError> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut seed)
        .map_err(|e| CollectorError::Key { path: String::new(), message: format!("no randomness: {e}") })?;
    Ok(SigningKey::from_bytes(&seed))
}

fn key_error(path: &Path, message: impl Into<String>) -> CollectorError {
    CollectorError::Key { path: path.display().to_string(), message: message.into() }
}

/// The staged next key, written during a rotation before the database records it.
pub fn staged_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".new");
    PathBuf::from(p)
}

/// Read a key file, refusing one that others can read.
pub fn read(path: &Path) -> Result<SigningKey, CollectorError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).map_err(|e| CollectorError::io("stat", path, e))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(key_error(path, format!("mode {:o} lets others read it; chmod 600 it", mode & 0o777)));
        }
    }
    let text = fs::read_to_string(path).map_err(|e| CollectorError::io("read", path, e))?;
    let bytes = B64.decode(text.trim()).map_err(|_| key_error(path, "not base64"))?;
    let seed: [u8; 32] = bytes.try_into().map_err(|_| key_error(path, "not 32 bytes"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Write `key` to a fresh temporary file beside `path` (mode 0600, fsynced) and return its path.
fn write_tmp(path: &Path, key: &SigningKey) -> Result<PathBuf, CollectorError> {
    let tmp = {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".tmp.{}.{:016x}", std::process::id(), rand::random::<u64>()));
        PathBuf::from(p)
    };
    let _ = fs::remove_file(&tmp);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(|e| CollectorError::io("create", &tmp, e))?;
    let text = format!("{}\n", B64.encode(key.to_bytes()));
    file.write_all(text.as_bytes()).map_err(|e| CollectorError::io("write", &tmp, e))?;
    file.sync_all().map_err(|e| CollectorError::io("fsync", &tmp, e))?;
    Ok(tmp)
}

/// Write `key` to `path` durably (a temporary file, fsync, rename, fsync of the directory).
pub fn write(path: &Path, key: &SigningKey) -> Result<(), CollectorError> {
    let tmp = write_tmp(path, key)?;
    fs::rename(&tmp, path).map_err(|e| CollectorError::io("rename", path, e))?;
    sync_dir(path)
}

/// Make a rename in `path`'s directory durable.
pub fn sync_dir(path: &Path) -> Result<(), CollectorError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| CollectorError::io("fsync", dir, e))
}

/// Load the key, creating it on first start. Creation links the new file into place, which
/// fails if another process created the key meanwhile: then that key is read, so two collectors
/// started at once on one data dir never end up signing with different keys.
pub fn load_or_create(path: &Path) -> Result<SigningKey, CollectorError> {
    if path.exists() {
        return read(path);
    }
    let key = generate()?;
    let tmp = write_tmp(path, &key)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_dir(path)?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path),
        Err(e) => Err(CollectorError::io("link", path, e)),
    }
}

/// Finish or undo an interrupted rotation: `is_recorded(key_id)` says whether the database holds
/// the staged key's rotation statement; then the staged key becomes current, else it is dropped.
pub fn recover_rotation(path: &Path, is_recorded: impl Fn(&str) -> bool) -> Result<(), CollectorError> {
    let staged = staged_path(path);
    if !staged.exists() {
        return Ok(());
    }
    let key = read(&staged)?;
    if is_recorded(&vigil_report::signed::key_id(&key.verifying_key())) {
        fs::rename(&staged, path).map_err(|e| CollectorError::io("rename", &staged, e))?;
    } else {
        fs::remove_file(&staged).map_err(|e| CollectorError::io("remove", &staged, e))?;
    }
    sync_dir(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_mode_0600_then_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("collector.key");
        let a = load_or_create(&path).unwrap();
        let b = load_or_create(&path).unwrap();
        assert_eq!(a.to_bytes(), b.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(read(&path), Err(CollectorError::Key { .. })));
        }
    }

    #[test]
    fn racing_first_starts_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("collector.key");
        let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| load_or_create(&path).unwrap().to_bytes())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]), "every racer must load the one key on disk");
        assert_eq!(read(&path).unwrap().to_bytes(), keys[0]);
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");
    }

    #[test]
    fn an_unrecorded_staged_key_is_dropped_and_a_recorded_one_promoted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("collector.key");
        let old = load_or_create(&path).unwrap();
        let new = generate().unwrap();
        write(&staged_path(&path), &new).unwrap();
        recover_rotation(&path, |_| false).unwrap();
        assert_eq!(read(&path).unwrap().to_bytes(), old.to_bytes());
        assert!(!staged_path(&path).exists());
        write(&staged_path(&path), &new).unwrap();
        recover_rotation(&path, |_| true).unwrap();
        assert_eq!(read(&path).unwrap().to_bytes(), new.to_bytes());
    }
}
