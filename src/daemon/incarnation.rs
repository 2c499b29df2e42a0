//! The incarnation number: every start of a node gets one larger than all before it, kept in
//! `node-<id>.incarnation` and written durably before the node talks to anyone.
//!
//! Incarnations are what let peers tell a restarted node from its dead predecessor
//! (PROTOCOL.md). This module only keeps the number; it does not decide what a new
//! incarnation means to the protocol.

use super::env::Storage;
use crate::logdir;
use maekawa_core::id::NodeId;
use std::path::{Path, PathBuf};

/// The incarnation file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {why}; check that the directory is writable (see --log-dir)")]
pub struct IncarnationError {
    /// The file.
    pub path: PathBuf,
    /// What failed.
    pub why: String,
}

/// The incarnation the node's last process had, or `None` when its file is missing (a first
/// start, a lost disk, a new host: see `recall`).
pub fn previous_incarnation(dir: &Path, id: NodeId) -> Result<Option<u64>, IncarnationError> {
    let path = logdir::incarnation(dir, id);
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| IncarnationError {
                why: format!("holds '{}', not a number", text.trim()),
                path,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(IncarnationError {
            path,
            why: e.to_string(),
        }),
    }
}

/// How much of the end of its node log a start reads for its last `start` line.
const LOG_TAIL_BYTES: u64 = 4 << 20;

/// The incarnation of the last `start` line in the last 4 MiB of the node's log, if any: what
/// a node that lost its incarnation file but kept its logs (the journal and the incarnation
/// deleted, the logs elsewhere) knows of itself when no live peer remembers it.
pub fn last_logged_incarnation(dir: &Path, id: NodeId) -> Option<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(logdir::node_log(dir, id)).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))
        .ok()?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).ok()?;
    String::from_utf8_lossy(&tail)
        .lines()
        .rev()
        .filter(|l| l.contains("\"event\":\"start\""))
        .find_map(|l| match crate::node_event::parse_line(l).ok()?.event {
            crate::node_event::NodeEvent::Start { incarnation, .. } => Some(incarnation),
            _ => None,
        })
}

/// Durably stores `incarnation` as this node's.
///
/// The number is written to a temporary file, synced, renamed over the old one and the
/// rename made durable through `storage`, so a crash leaves the old number or the new one.
pub fn store_incarnation(
    dir: &Path,
    id: NodeId,
    incarnation: u64,
    storage: &dyn Storage,
) -> Result<(), IncarnationError> {
    let path = logdir::incarnation(dir, id);
    let err = |why: String| IncarnationError {
        path: path.clone(),
        why,
    };
    let tmp = path.with_extension("incarnation.tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(|e| err(e.to_string()))?;
        writeln!(f, "{incarnation}").map_err(|e| err(e.to_string()))?;
        storage
            .sync_new_file(&f, &tmp)
            .map_err(|e| err(e.to_string()))?;
    }
    storage
        .rename(&tmp, &path)
        .map_err(|e| err(e.to_string()))?;
    storage.sync_dir(&path).map_err(|e| err(e.to_string()))?;
    Ok(())
}
