//! One process per node id (PROTOCOL.md §3): a node holds an advisory lock on
//! `<log-dir>/node-<id>.lock` for as long as it runs, so a second process with the same id
//! refuses to start and names the PID that holds it.
//!
//! The lock, not the PID written in the file, is what decides: the OS releases it when the
//! holder exits, however it dies (`kill -9` included), so a stale file never blocks a restart and
//! a recycled PID is never mistaken for a live node. The PID is only there for the message.
//! This module must not delete the lock file (a process that opened the old inode would then lock
//! a different file than the next starter) nor signal the holder: stopping it is the user's call.

use crate::logdir;
use maekawa_core::id::NodeId;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why this process may not run as the node.
#[derive(Debug, thiserror::Error)]
pub enum ProcessLockError {
    /// Another live process holds the node id.
    #[error("node {node} is already running ({}); stop it first ({})", holder(.pid, .path), how_to_stop(.pid))]
    Held {
        /// The node id asked for.
        node: NodeId,
        /// The holder's PID as it wrote it in the lock file; `None` if it has not written it yet
        /// or the file holds something else.
        pid: Option<u32>,
        /// The lock file.
        path: PathBuf,
    },
    /// The lock file could not be opened, locked or written.
    #[error("{path}: cannot {op} the node's lock file ({source}); check that --log-dir exists and is writable")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// What was being done, e.g. "lock".
        op: &'static str,
        /// The underlying error.
        source: io::Error,
    },
}

fn holder(pid: &Option<u32>, path: &Path) -> String {
    match pid {
        Some(pid) => format!("PID {pid}, holds {}", path.display()),
        None => format!("holds {}, PID not recorded", path.display()),
    }
}

fn how_to_stop(pid: &Option<u32>) -> String {
    match pid {
        Some(pid) => format!("scripts/stop.sh or kill {pid}"),
        None => "scripts/stop.sh".to_owned(),
    }
}

/// Proof that this process is the only one running as its node id; keep it alive for the
/// life of the process. The lock goes when it is dropped or the process ends, however it ends.
#[derive(Debug)]
pub struct ProcessLock {
    file: File,
    path: PathBuf,
}

impl ProcessLock {
    /// Takes `<dir>/node-<node>.lock` without waiting and writes this process's PID into it, or
    /// says which process already holds it, so two processes never vote as the same node.
    pub fn acquire(dir: &Path, node: NodeId) -> Result<ProcessLock, ProcessLockError> {
        let path = logdir::process_lock(dir, node);
        let io_err = |op| {
            let path = path.clone();
            move |source| ProcessLockError::Io { path, op, source }
        };
        // No truncation before the lock is ours: the holder's PID must survive our attempt.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err("open"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(ProcessLockError::Held {
                    node,
                    pid: holder_pid(&path),
                    path,
                })
            }
            Err(TryLockError::Error(e)) => return Err(io_err("lock")(e)),
        }
        file.set_len(0).map_err(io_err("truncate"))?;
        writeln!(file, "{}", std::process::id()).map_err(io_err("write the PID into"))?;
        file.flush().map_err(io_err("write the PID into"))?;
        Ok(ProcessLock { file, path })
    }

    /// The lock file, for messages and logs.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ProcessLock {
    /// Unlocks explicitly rather than relying on close: the lock then goes at once even if the
    /// descriptor was duplicated (e.g. by a fork), which would otherwise keep it held.
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Reads the holder's PID. The holder truncates the file before writing its PID, so an empty
/// file is retried briefly before giving up.
fn holder_pid(path: &Path) -> Option<u32> {
    for attempt in 0..5 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        match std::fs::read_to_string(path) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => return text.trim().parse().ok(),
            Err(_) => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquires_and_writes_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let lock = ProcessLock::acquire(dir.path(), NodeId(1)).unwrap();
        assert_eq!(lock.path(), dir.path().join("node-1.lock"));
        assert_eq!(
            std::fs::read_to_string(lock.path()).unwrap(),
            format!("{}\n", std::process::id())
        );
    }

    #[test]
    fn second_acquire_is_refused_naming_the_holder_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = ProcessLock::acquire(dir.path(), NodeId(1)).unwrap();
        // flock locks belong to the open file description, so a second open in the same process
        // conflicts just as another process would.
        let err = ProcessLock::acquire(dir.path(), NodeId(1)).unwrap_err();
        let me = std::process::id();
        match &err {
            ProcessLockError::Held { node, pid, path } => {
                assert_eq!(*node, NodeId(1));
                assert_eq!(*pid, Some(me));
                assert_eq!(path, first.path());
            }
            other => panic!("expected Held, got {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            format!(
                "node 1 is already running (PID {me}, holds {}); stop it first (scripts/stop.sh or kill {me})",
                first.path().display()
            )
        );
        assert_eq!(
            std::fs::read_to_string(first.path()).unwrap(),
            format!("{me}\n"),
            "a refused attempt leaves the holder's PID in place"
        );
        drop(first);
        let second = ProcessLock::acquire(dir.path(), NodeId(1)).unwrap();
        assert_eq!(
            std::fs::read_to_string(second.path()).unwrap(),
            format!("{me}\n")
        );
    }

    #[test]
    fn a_stale_file_does_not_block_and_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node-3.lock");
        std::fs::write(&path, "4000000000 and some leftover text\n").unwrap();
        let lock = ProcessLock::acquire(dir.path(), NodeId(3)).unwrap();
        assert_eq!(
            std::fs::read_to_string(lock.path()).unwrap(),
            format!("{}\n", std::process::id())
        );
    }

    #[test]
    fn different_node_ids_do_not_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let _a = ProcessLock::acquire(dir.path(), NodeId(1)).unwrap();
        let _b = ProcessLock::acquire(dir.path(), NodeId(2)).unwrap();
    }

    #[test]
    fn held_without_a_readable_pid_still_says_who_to_stop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node-1.lock");
        let holder = File::create(&path).unwrap();
        holder.try_lock().unwrap();
        let err = ProcessLock::acquire(dir.path(), NodeId(1)).unwrap_err();
        assert!(
            matches!(err, ProcessLockError::Held { pid: None, .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("PID not recorded"), "{msg}");
        assert!(msg.ends_with("stop it first (scripts/stop.sh)"), "{msg}");
    }

    #[test]
    fn missing_directory_is_an_io_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir");
        let err = ProcessLock::acquire(&missing, NodeId(1)).unwrap_err();
        assert!(
            matches!(err, ProcessLockError::Io { op: "open", .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("no-such-dir/node-1.lock"), "{msg}");
        assert!(msg.contains("--log-dir"), "{msg}");
    }
}
