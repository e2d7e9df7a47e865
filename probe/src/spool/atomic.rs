//! Crash-safe files on flash: write a temporary file, fsync it, move it into place, fsync the
//! directory. After a crash the target is either absent, or the old version, or the complete new
//! one; never a torn file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A temporary file name in `dir`, unique to this process and call, recognisable by
/// [`tmp_owner`] (`<pid>-<random>.part`).
pub fn tmp_path(dir: &Path) -> PathBuf {
    let tag: u64 = rand::random();
    dir.join(format!("{}-{tag:016x}.part", std::process::id()))
}

/// The process id that wrote a temporary file, if the name is one of [`tmp_path`]'s.
pub fn tmp_owner(name: &str) -> Option<u32> {
    name.strip_suffix(".part")?.split_once('-')?.0.parse().ok()
}

fn write_synced(tmp: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).mode(mode).open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Replace `target` with `bytes` (created with `mode`), through `tmp` (same file system).
pub fn replace(tmp: &Path, target: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let result =
        write_synced(tmp, bytes, mode).and_then(|()| fs::rename(tmp, target)).and_then(|()| sync_parent(target));
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result
}

/// Create `target` with `bytes` unless it exists (then `AlreadyExists`, and `target` is untouched):
/// two processes starting at once never overwrite each other's file.
pub fn create_new(tmp: &Path, target: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let result = write_synced(tmp, bytes, mode).and_then(|()| fs::hard_link(tmp, target));
    let _ = fs::remove_file(tmp);
    result?;
    sync_parent(target)
}

/// Delete `path` durably.
pub fn remove(path: &Path) -> io::Result<()> {
    fs::remove_file(path)?;
    sync_parent(path)
}

/// fsync the directory holding `path`, so a rename or unlink in it survives a power cut.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_and_create_new() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        replace(&tmp_path(dir.path()), &target, b"one", 0o600).unwrap();
        replace(&tmp_path(dir.path()), &target, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        let err = create_new(&tmp_path(dir.path()), &target, b"three", 0o600).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&target).unwrap(), b"two");
        // No temporary file is left behind either way.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn tmp_names_carry_the_writer_pid() {
        let p = tmp_path(Path::new("/x"));
        let name = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(tmp_owner(name), Some(std::process::id()));
        assert_eq!(tmp_owner("000001-abc-routine.jsonl"), None);
    }
}
