//! Keeping the WAL bounded. The writer connection never checkpoints on its own
//! (`wal_autocheckpoint=0`: a COMMIT only appends to the WAL and syncs it). This thread copies
//! the WAL into the database every quarter second with a PASSIVE checkpoint, which never blocks
//! the writer or readers, and empties the WAL file (TRUNCATE) once a tick passed without a write.
//!
//! A PASSIVE checkpoint never lets the WAL start over while the writer keeps appending, so under
//! saturating ingest the WAL would grow without end. The writer therefore calls
//! [`WalLimit::after_commit`] between transactions: once the WAL file is over the limit it runs a
//! RESTART checkpoint itself (no write can starve it: the writer is the only writer), and with
//! `journal_size_limit` the next COMMIT cuts the file back to the limit. The WAL file thus stays
//! under the limit plus one write transaction, and a transaction carries at most
//! [`WalLimit::group_bytes`] of measurements.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::CollectorError;

const INTERVAL: Duration = Duration::from_millis(250);
/// How long the writer's RESTART checkpoint waits for readers still on the old WAL (reads are
/// short); when they outlast it, the checkpoint is tried again after the next transaction.
const RESTART_WAIT: Duration = Duration::from_secs(2);
/// The writer's busy timeout outside checkpoints (`store::configure`).
const WRITER_BUSY: Duration = Duration::from_secs(10);
/// The least measurement bytes a write transaction may carry, whatever the limit.
const MIN_GROUP_BYTES: usize = 256 * 1024;

/// The WAL's bound: its file and the size past which the writer restarts it.
#[derive(Debug, Clone)]
pub struct WalLimit {
    wal: PathBuf,
    bytes: u64,
}

/// `name.sqlite` → `name.sqlite-wal`.
pub fn wal_path(db_path: &Path) -> PathBuf {
    let mut wal = db_path.as_os_str().to_owned();
    wal.push("-wal");
    wal.into()
}

/// The WAL file's size; 0 when there is none.
pub fn wal_size(db_path: &Path) -> u64 {
    std::fs::metadata(wal_path(db_path)).map_or(0, |m| m.len())
}

/// `PRAGMA wal_checkpoint(mode)`: (busy, frames in the WAL, frames copied into the database).
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(bool, i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get::<_, i64>(0)? != 0, r.get(1)?, r.get(2)?))
    })
}

impl WalLimit {
    pub fn new(db_path: &Path, bytes: u64) -> WalLimit {
        WalLimit { wal: wal_path(db_path), bytes }
    }

    /// The measurement bytes one write transaction may carry: an eighth of the limit. A
    /// transaction's WAL frames are whole 16 KiB pages (rows, indexes, observations, blockpage
    /// candidates), several times the measurement bytes; an eighth keeps the file within about
    /// one and a half times the limit.
    pub fn group_bytes(&self) -> usize {
        usize::try_from(self.bytes / 8).unwrap_or(usize::MAX).max(MIN_GROUP_BYTES)
    }

    /// Set up the writer connection: no automatic checkpoints, and a restarted WAL is cut back
    /// to the limit at the next COMMIT.
    pub fn configure(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let limit = i64::try_from(self.bytes).unwrap_or(i64::MAX);
        conn.query_row(&format!("PRAGMA journal_size_limit = {limit}"), [], |_| Ok(()))
    }

    /// Called by the writer between transactions (after the replies went out): when the WAL
    /// file is over the limit, copy it into the database and make the next transaction start
    /// the WAL over. Returns whether a checkpoint ran to completion.
    pub fn after_commit(&self, conn: &Connection) -> bool {
        if std::fs::metadata(&self.wal).map_or(0, |m| m.len()) <= self.bytes {
            return false;
        }
        let _ = conn.busy_timeout(RESTART_WAIT);
        // Busy (a reader outlasted the wait) or failed: the WAL stays valid; tried again later.
        let done = matches!(checkpoint(conn, "RESTART"), Ok((false, _, _)));
        let _ = conn.busy_timeout(WRITER_BUSY);
        done
    }
}

/// The running checkpointer; it stops (after a last checkpoint) when this is dropped.
#[derive(Debug)]
pub struct Checkpointer {
    _stop: Sender<()>,
    handle: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub fn start(db_path: &Path) -> Result<Checkpointer, CollectorError> {
        let conn = Connection::open(db_path)
            .and_then(|c| c.busy_timeout(Duration::from_secs(5)).map(|()| c))
            .map_err(|source| CollectorError::Db { path: db_path.display().to_string(), source })?;
        let (stop, stopped) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("vigil-checkpoint".into())
            .spawn(move || {
                let mut last_frames = -1;
                loop {
                    let last = !matches!(stopped.recv_timeout(INTERVAL), Err(RecvTimeoutError::Timeout));
                    // A failed checkpoint (busy) is retried at the next tick; the WAL stays valid.
                    // At the stop there is no next tick: a failed last checkpoint ends the thread
                    // (the WAL is still valid; the next start copies it).
                    let Ok((_, frames, copied)) = checkpoint(&conn, "PASSIVE") else {
                        if last {
                            return;
                        }
                        continue;
                    };
                    // Nothing written since the last tick and all of it copied: empty the file.
                    let idle = frames > 0 && frames == copied && frames == last_frames;
                    if idle || last {
                        let _ = checkpoint(&conn, "TRUNCATE");
                    }
                    last_frames = frames;
                    if last {
                        return;
                    }
                }
            })
            .map_err(|e| CollectorError::io("spawn checkpointer", db_path, e))?;
        Ok(Checkpointer { _stop: stop, handle: Some(handle) })
    }

    /// Stop after a last checkpoint and wait for it.
    pub fn stop(mut self) {
        let handle = self.handle.take();
        drop(self);
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(conn: &Connection, rows: usize) {
        for i in 0..rows {
            conn.execute(
                "INSERT INTO key_rotations (new_key_id, statement) VALUES (?1, ?2)",
                (i as i64, "x".repeat(4000)),
            )
            .unwrap();
        }
    }

    #[test]
    fn the_wal_is_copied_into_the_database_and_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let conn = crate::store::open_and_migrate(&path).unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        fill(&conn, 200);
        assert!(wal_size(&path) > 200 * 4000);
        Checkpointer::start(&path).unwrap().stop();
        let after = std::fs::metadata(&path).unwrap().len();
        assert!(after > before + 200 * 4000, "{before} -> {after}");
        assert_eq!(wal_size(&path), 0, "the last checkpoint empties the WAL");
    }

    #[test]
    fn the_writer_restarts_a_wal_over_the_limit_and_the_file_is_cut_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let conn = crate::store::open_and_migrate(&path).unwrap();
        let limit = WalLimit::new(&path, 256 * 1024);
        limit.configure(&conn).unwrap();
        assert!(limit.group_bytes() >= MIN_GROUP_BYTES);
        fill(&conn, 100);
        let grown = wal_size(&path);
        assert!(grown > 256 * 1024, "{grown}");
        assert!(limit.after_commit(&conn), "a checkpoint ran");
        // The next transaction starts the WAL over and cuts the file back to the limit.
        fill(&conn, 1);
        assert!(wal_size(&path) <= 256 * 1024, "{}", wal_size(&path));
        assert!(!limit.after_commit(&conn), "under the limit: nothing to do");
    }
}
