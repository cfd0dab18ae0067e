//! Group commit: commits are written to the WAL without waiting for the
//! disk (`synchronous = NORMAL`), and an answer waits for one `fsync` of
//! the WAL that covers its writes, shared by every answer waiting then.
//!
//! With `synchronous = FULL` each commit waits for its own `fsync` while
//! it holds the connection, so twenty clients sending at once queue behind
//! twenty disk flushes; here they share one. Nothing acknowledged is lost
//! either way: a killed process leaves its writes in the OS (WAL mode is
//! durable against that at any `synchronous` level), and a machine that
//! loses power loses only writes no answer has reported yet, because every
//! answer waits for [`GroupSync::wait`] first (`crate::durable`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The `fsync`s of one database's WAL, shared between waiters.
pub(super) struct GroupSync {
    wal: PathBuf,
    /// The connection's `total_changes` that the last `fsync` covered.
    synced: Mutex<u64>,
    /// How many `fsync`s were done (for tests and curiosity).
    flushes: std::sync::atomic::AtomicU64,
}

impl GroupSync {
    /// The WAL beside `db` (SQLite names it `<db>-wal`); the folder is
    /// synced once so that the WAL's own directory entry is on disk.
    pub(super) fn new(db: &Path) -> std::io::Result<GroupSync> {
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        if let Some(folder) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(folder)?.sync_all()?;
        }
        Ok(GroupSync {
            wal: PathBuf::from(wal),
            synced: Mutex::new(0),
            flushes: Default::default(),
        })
    }

    /// Returns once every change counted in `written` (read under the
    /// connection lock after the caller's writes) is on disk. `changes`
    /// reads the connection's `total_changes` under its lock, where no
    /// transaction is half done, so what it counts is all in the WAL.
    pub(super) fn wait(&self, written: u64, changes: impl Fn() -> Result<u64, String>) -> Result<(), String> {
        let mut synced = self.synced.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if *synced >= written {
            return Ok(());
        }
        let covered = changes()?;
        match File::open(&self.wal) {
            Ok(wal) => wal
                .sync_data()
                .map_err(|e| format!("syncing {}: {e}", self.wal.display()))?,
            // No WAL: everything was checkpointed into the database file,
            // which SQLite syncs after a checkpoint.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("opening {}: {e}", self.wal.display())),
        }
        self.flushes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *synced = covered;
        Ok(())
    }

    #[cfg(test)]
    pub(super) fn flushes(&self) -> u64 {
        self.flushes.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::super::SqlStore;
    use crate::store::Storage;

    /// A wait after a write syncs once; a wait with nothing new written,
    /// or for writes an earlier sync already covered, does not sync again.
    #[test]
    fn a_sync_covers_what_was_written_before_it_and_no_more_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlStore::sqlite(&dir.path().join("db")).unwrap();
        let opened = store.flushes();
        assert_eq!(opened, 1, "the migrations are synced when the store opens");

        store.wait_durable().unwrap();
        assert_eq!(store.flushes(), opened, "nothing was written since");

        store.create_user("@a:x", "hash").unwrap();
        store.wait_durable().unwrap();
        assert_eq!(store.flushes(), opened + 1, "a write is synced before the answer");
        store.wait_durable().unwrap();
        assert_eq!(store.flushes(), opened + 1, "the same write is not synced twice");

        // Waiters that come while one sync covers their writes share it.
        store.create_user("@b:x", "hash").unwrap();
        store.create_user("@c:x", "hash").unwrap();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| store.wait_durable().unwrap());
            }
        });
        assert_eq!(store.flushes(), opened + 2, "eight waiters, one sync");
        assert!(dir.path().join("db-wal").exists(), "the WAL is what gets synced");
    }
}
