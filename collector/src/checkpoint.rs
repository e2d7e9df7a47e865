//! WAL checkpoints off the writer's path: the writer connection never checkpoints (so a COMMIT
//! only appends to the WAL and syncs it); this thread copies the WAL into the database every
//! quarter second with a PASSIVE checkpoint, which never blocks the writer or readers.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::CollectorError;

const INTERVAL: Duration = Duration::from_millis(250);

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
                loop {
                    let last = !matches!(stopped.recv_timeout(INTERVAL), Err(RecvTimeoutError::Timeout));
                    // A failed checkpoint (busy) is retried at the next tick; the WAL stays valid.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
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

    #[test]
    fn the_wal_is_copied_into_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let conn = crate::store::open_and_migrate(&path).unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        for i in 0..200 {
            conn.execute("INSERT INTO key_rotations (new_key_id, statement) VALUES (?1, ?2)", (i, "x".repeat(4000)))
                .unwrap();
        }
        Checkpointer::start(&path).unwrap().stop();
        let after = std::fs::metadata(&path).unwrap().len();
        assert!(after > before + 200 * 4000, "{before} -> {after}");
    }
}
